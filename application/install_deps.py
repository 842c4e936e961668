"""``--install-deps``: install a pack's missing dependencies from the pack index, then the pack.

The plan comes from ``domain.resolution``: each chosen index entry is fetched once, its
``pack.yaml`` read for its own dependencies (the index does not declare them: what is
installed is what the fetched manifest says), until the plan is complete. Nothing is
installed before the whole plan is known, so a conflict installs nothing. Then each entry
is registered from the files fetched for the plan (trigger ``install``, its tests run, its
digest pinned when the index gives one), in dependency order, and the pack last. A failure
stops there: what was installed before it stays active (each passed its own tests), and the
pack is not registered.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from uuid import UUID

from attune_registry.domain.errors import RegistryError, TestsFailedError
from attune_registry.domain.manifest import PackManifest
from attune_registry.domain.resolution import IndexEntry, Resolution, Root, resolve

from attune_registry.application.commands import (
    InstallCommand,
    RegisterCommand,
    RegistrationOptions,
)
from attune_registry.application.ports import (
    ActivePackReader,
    DependencyProgress,
    FetchedPack,
    PackFetcher,
    PackIndex,
    PackLoader,
    Progress,
)
from attune_registry.application.register import RegistrationOutcome

Register = Callable[[RegisterCommand, "Progress | None"], RegistrationOutcome]
"""How one registration is made and recorded (the service's: it waits for workers when
suites run there, and brings the read models up to date before the next one)."""


@dataclass(frozen=True)
class InstalledDependency:
    ref: str
    version: str
    registration_id: UUID


@dataclass(frozen=True)
class WithDependencies:
    """The pack's registration, and the dependencies installed before it, in order."""

    outcome: RegistrationOutcome
    installed: tuple[InstalledDependency, ...]


class IndexEntryMismatchError(RegistryError):
    """Raised when an index entry's files are another pack or version than the entry says."""

    def __init__(self, entry: IndexEntry, found: PackManifest) -> None:
        super().__init__(f"The pack index's entry {entry.ref} {entry.version} holds pack "
                         f"'{found.ref}' {found.version} (its pack.yaml); fix the index entry")


class DependencyInstallError(RegistryError):
    """Raised when one of the dependencies could not be installed; ``code`` and ``details``
    are those of the failure."""

    def __init__(self, message: str, cause: RegistryError) -> None:
        super().__init__(message)
        self.code = cause.code
        self.details = cause.details


class DependencyTestsFailedError(TestsFailedError):
    """A dependency rejected by its tests: a ``TestsFailedError`` (its run is the evidence,
    as for any rejection) whose message says which dependency of which pack."""

    def __init__(self, message: str, cause: TestsFailedError) -> None:
        RegistryError.__init__(self, message)
        self.registration_id = cause.registration_id
        self.result = cause.result
        self.details = cause.details


class InstallDependencies:
    """The ``--install-deps`` use case, around a registration or an install."""

    def __init__(self, loader: PackLoader, fetcher: PackFetcher, index: PackIndex,
                 active: ActivePackReader) -> None:
        self.loader = loader
        self.fetcher = fetcher
        self.index = index
        self.active = active

    def register(self, command: RegisterCommand, register: Register,
                 progress: Progress | None = None) -> WithDependencies:
        """Install what the pack at ``command.path`` needs, then register it.

        Raises:
            DependencyConflictError: the index cannot satisfy the dependencies (nothing
                installed); DependencyInstallError or DependencyTestsFailedError: one of them
                failed; RegistryError: the index, a fetch, or the pack's own registration.
        """
        manifest = self.loader.load(command.path).manifest
        installed = self.dependencies(manifest, command, register, progress)
        return WithDependencies(register(command, progress), installed)

    def install(self, command: InstallCommand, register: Register,
                progress: Progress | None = None) -> WithDependencies:
        """Fetch ``command.source`` once, install what it needs, then register what was
        fetched (as ``InstallPack`` does). Raises: as ``register``."""
        with self.fetcher.fetch(command.source, command.git_ref) as fetched:
            manifest = self.loader.load(fetched.path).manifest
            installed = self.dependencies(manifest, command, register, progress)
            return WithDependencies(
                register(command.registering(fetched.path, fetched.origin), progress),
                installed)

    def dependencies(self, manifest: PackManifest, options: RegistrationOptions,
                     register: Register,
                     progress: Progress | None = None) -> tuple[InstalledDependency, ...]:
        """Install the missing dependencies of ``manifest``; none when the active packs
        satisfy it (the index is then not read). Raises: as ``register``."""
        if not manifest.dependencies:
            return ()
        active = self.active.active_packs()
        if not active.unmet(manifest.dependencies):
            return ()
        root = Root(manifest.ref, manifest.version, manifest.dependencies)
        index = self.index.entries()
        with ExitStack() as fetches:
            fetched: dict[tuple[str, str], FetchedPack] = {}
            manifests: dict[tuple[str, str], dict[str, str]] = {}
            while True:
                plan: Resolution = resolve(root, active.versions, index, manifests)
                if not plan.unread:
                    break
                for entry in plan.unread:
                    pack = fetches.enter_context(
                        self.fetcher.fetch(self.index.source_of(entry), entry.git_ref))
                    found = self.loader.load(pack.path).manifest
                    if (found.ref, found.version) != (entry.ref, entry.version):
                        raise IndexEntryMismatchError(entry, found)
                    fetched[(entry.ref, entry.version)] = pack
                    manifests[(entry.ref, entry.version)] = dict(found.dependencies)
            return self._install(manifest.ref, plan.installs, fetched, options, register,
                                 progress)

    def _install(self, root_ref: str, installs: tuple[IndexEntry, ...],
                 fetched: dict[tuple[str, str], FetchedPack], options: RegistrationOptions,
                 register: Register,
                 progress: Progress | None) -> tuple[InstalledDependency, ...]:
        installed: list[InstalledDependency] = []
        for step, entry in enumerate(installs, 1):
            if isinstance(progress, DependencyProgress):
                progress.installing_dependency(entry, step, len(installs))
            pack = fetched[(entry.ref, entry.version)]
            command = RegisterCommand(path=pack.path, trigger="install", origin=pack.origin,
                                      requested_by=options.requested_by, jobs=options.jobs,
                                      expected_digest=entry.digest)
            try:
                outcome = register(command, progress)
            except RegistryError as exc:
                raise _failed(root_ref, entry, installed, exc) from exc
            installed.append(InstalledDependency(entry.ref, entry.version,
                                                 outcome.registration_id))
        return tuple(installed)


def _failed(root_ref: str, entry: IndexEntry, installed: list[InstalledDependency],
            cause: RegistryError) -> RegistryError:
    before = (f" (installed before it, and still active: "
              f"{', '.join(f'{i.ref} {i.version}' for i in installed)})" if installed else "")
    message = (f"Dependency {entry.ref} {entry.version} of pack '{root_ref}' could not be "
               f"installed, so '{root_ref}' was not registered{before}: {cause}")
    if isinstance(cause, TestsFailedError):
        return DependencyTestsFailedError(message, cause)
    return DependencyInstallError(message, cause)
