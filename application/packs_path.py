"""Which packs a pack's suites see through ``PACKS_PATH``: the releases of its dependencies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from domain.errors import PackNotFoundError

from application.ports import NO_CONTEXT, PacksPath, Releases, SuiteContext
from application.registry import PackRegistry


class DependencyFolders:
    """The releases of a pack's dependencies, as the context its suites run with."""

    def __init__(self, registry: PackRegistry, releases: Releases,
                 packs_path: PacksPath | None) -> None:
        self.registry = registry
        self.releases = releases
        # None: suites get no PACKS_PATH (use cases built without the adapter, in unit tests).
        self.packs_path = packs_path

    def releases_of(self, dependencies: Iterable[str], *,
                    instead: Mapping[str, str] | None = None) -> dict[str, str]:
        """ref -> release folder of each dependency's active registration, or the folder
        ``instead`` gives for it (the candidate of an upgrade). A dependency that is not
        active, or whose release is gone, is left out: the suite finds no entry for it."""
        found = {}
        for ref in dependencies:
            if instead and ref in instead:
                found[ref] = instead[ref]
                continue
            try:
                registration = self.registry.active_registration(ref)
            except PackNotFoundError:
                continue
            release = self.releases.restore(registration.content_digest,
                                            registration.source_path)
            if release is not None:
                found[ref] = release
        return found

    @contextmanager
    def context(self, dependencies: Iterable[str], *, beside: str,
                instead: Mapping[str, str] | None = None) -> Iterator[SuiteContext]:
        """A fresh ``PACKS_PATH`` with the packs ``dependencies`` name (see ``releases_of``),
        beside the copy of the pack under test at ``beside``; removed on exit.

        Raises: RegistryError when its folder cannot be written.
        """
        if self.packs_path is None:
            yield NO_CONTEXT
            return
        releases = self.releases_of(dependencies, instead=instead)
        with self.packs_path.folder(releases, beside=beside) as context:
            yield context
