"""Which packs a pack's suites see through ``PACKS_PATH``: the releases of its dependencies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from attune_registry.domain.errors import PackNotFoundError

from attune_registry.application.ports import NO_CONTEXT, PacksPath, Releases, SuiteContext
from attune_registry.application.registry import PackRegistry


class DependencyFolders:
    """The releases of a pack's dependencies, as the context its suites run with."""

    def __init__(self, registry: PackRegistry, releases: Releases,
                 packs_path: PacksPath | None) -> None:
        self.registry = registry
        self.releases = releases
        # None: suites get no PACKS_PATH (use cases built without the adapter, in unit tests).
        self.packs_path = packs_path

    def releases_of(self, dependencies: Iterable[str], *,
                    instead: Mapping[str, tuple[str, str]] | None = None,
                    ) -> dict[str, tuple[str, str]]:
        """ref -> (release folder, content digest) of each dependency's active registration,
        or what ``instead`` gives for it (the candidate of an upgrade).
        A dependency that is not active, or whose release is gone, is left out: the suite
        finds no entry for it."""
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
                found[ref] = (release, registration.content_digest)
        return found

    def digests(self, dependencies: Iterable[str]) -> tuple[tuple[str, str], ...]:
        """What ``context`` would record of the packs it shows, without making the folder:
        (ref, digest) of each active dependency, by ref."""
        if self.packs_path is None:
            return ()
        found = []
        for ref in dependencies:
            try:
                found.append((ref, self.registry.active_registration(ref).content_digest))
            except PackNotFoundError:
                continue
        return tuple(sorted(found))

    @contextmanager
    def context(self, dependencies: Iterable[str], *, beside: str,
                instead: Mapping[str, tuple[str, str]] | None = None,
                ) -> Iterator[SuiteContext]:
        """A fresh ``PACKS_PATH`` with the packs ``dependencies`` name (see ``releases_of``;
        ``instead`` maps a ref to the folder and digest of its candidate release), beside the
        copy of the pack under test at ``beside``; removed on exit. The context records the
        digest of each pack it shows, for the suites' fingerprint.

        Raises: RegistryError when its folder cannot be written.
        """
        if self.packs_path is None:
            yield NO_CONTEXT
            return
        releases = self.releases_of(dependencies, instead=instead)
        folders = {ref: folder for ref, (folder, _) in releases.items()}
        with self.packs_path.folder(folders, beside=beside) as context:
            yield replace(context, dependencies=tuple(
                sorted((ref, digest) for ref, (_, digest) in releases.items())))
