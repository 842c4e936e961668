"""What the use cases need from the world, as small protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from attune_registry.domain.component import Component
from attune_registry.domain.dependencies import ActivePacks
from attune_registry.domain.manifest import PackManifest, TestingConfig, TestSuite
from attune_registry.domain.origin import Origin
from attune_registry.domain.resolution import IndexEntry, PackIndexEntries
from attune_registry.domain.results import SuiteResult, TestCaseResult, TestResult


class ActivePackReader(Protocol):
    """The active packs' versions and dependencies, as of the last recorded event (what
    registrations check declared dependencies against, and unregisters dependents)."""

    def active_packs(self) -> ActivePacks: ...


class PackSnapshot(Protocol):
    """A private copy of a pack's files: tests run here, and its digest is what was tested."""

    @property
    def path(self) -> str: ...

    @property
    def content_digest(self) -> str: ...


class PackSource(Protocol):
    """A pack directory whose manifest has been read and validated."""

    @property
    def manifest(self) -> PackManifest: ...

    @property
    def source_path(self) -> str: ...

    @property
    def components(self) -> list[Component]: ...

    def snapshot(self) -> AbstractContextManager[PackSnapshot]:
        """Copy the pack to a private directory, removed when the context exits."""
        ...


class PackLoader(Protocol):
    def load(self, path: str) -> PackSource:
        """Read and validate the pack at ``path``.

        Raises:
            PackDirectoryNotFoundError, ManifestNotFoundError, ManifestError.
        """
        ...

    def snapshot(self, path: str) -> AbstractContextManager[PackSnapshot]:
        """Copy the directory at ``path`` as it is, without reading its manifest.

        Raises:
            PackDirectoryNotFoundError.
        """
        ...


class FetchedPack(Protocol):
    """A pack fetched from an install source into a private directory."""

    @property
    def path(self) -> str: ...

    @property
    def origin(self) -> Origin:
        """Where it came from, as the registration records it (credentials masked)."""
        ...


class PackFetcher(Protocol):
    def fetch(self, source: str, ref: str | None) -> AbstractContextManager[FetchedPack]:
        """Fetch ``source`` (at git ``ref``) into a private directory, removed on exit.

        Raises:
            RegistryError: the source cannot be fetched, or is refused (unsafe archive...).
        """
        ...


class Releases(Protocol):
    """The release store: the exact content each registration tested, by digest, immutable.
    The active pack's files, manual test runs and rollbacks use a registration's release."""

    def path_of(self, digest: str) -> str:
        """The directory that holds (or will hold) the release of ``digest``."""
        ...

    def keep(self, snapshot: PackSnapshot) -> bool:
        """Keep the snapshot's files (untouched by tests yet) as the release of its digest,
        atomically: all of them or none. False if nothing was written (it is kept already).

        Raises: RegistryError when they cannot be written.
        """
        ...

    def restore(self, digest: str, recorded_path: str) -> str | None:
        """The release of ``digest``, adopted from ``recorded_path`` (a registration from before
        releases) when that directory still has the digest; None if neither exists."""
        ...

    def digests(self) -> list[str]:
        """Every release the store holds (for pruning those nothing can bring back)."""
        ...

    def discard(self, digest: str) -> None:
        """Remove the release of ``digest``."""
        ...


class ReleaseBlobStore(Protocol):
    """Release contents in the database, for workers that share no files with the host that
    took the registration: put by digest, unpacked and verified against it."""

    def put(self, digest: str, directory: Path) -> bool:
        """Store the files at ``directory`` (which have ``digest``); False if already there.

        Raises: RegistryError (too large, or not that content).
        """
        ...

    def unpack(self, digest: str, target: Path) -> None:
        """Write the release of ``digest`` into the new directory ``target``, verified.

        Raises: RegistryError (missing, unsafe or not matching its digest).
        """
        ...


class JobQueue(Protocol):
    """Where queued registrations wait for workers: one job per suite."""

    def defer_suites(self, registration_id: UUID, suites: int) -> None:
        """Queue suites ``0..suites-1`` of the registration (at most once each)."""
        ...


class Progress(Protocol):
    """Receives progress while suites run (the CLI draws it on stderr)."""

    def suite_started(self, suite: TestSuite) -> None: ...

    def case_finished(self, suite: TestSuite, case: TestCaseResult) -> None: ...

    def suite_finished(self, result: SuiteResult) -> None: ...


@dataclass(frozen=True)
class SuiteContext:
    """What a pack's suites run with beyond the pack itself."""

    python: str | None = None
    """The interpreter of the pack's own Python environment; None: the runner's default."""
    read_only: tuple[str, ...] = ()
    """Folders the suites may read, and nothing else of them: the environment, the releases
    of the packs it depends on."""
    variables: tuple[tuple[str, str], ...] = ()
    """Environment variables the suites see besides the sandbox's own (``PACKS_PATH``)."""
    environment_key: str | None = None
    """The key of the pack's own Python environment (its lock: requirements, interpreter,
    index); None: the runner's own environment. Part of a suite's fingerprint."""
    dependencies: tuple[tuple[str, str], ...] = ()
    """(ref, content digest) of each pack ``PACKS_PATH`` shows the suites, by ref: part of a
    suite's fingerprint, since the suites may read them."""


NO_CONTEXT = SuiteContext()


def merged(first: SuiteContext, second: SuiteContext) -> SuiteContext:
    """Both contexts at once: ``second``'s interpreter where it names one, the folders and
    variables of both (``second``'s value wins for a variable both set)."""
    read_only = tuple(dict.fromkeys((*first.read_only, *second.read_only)))
    variables = tuple({**dict(first.variables), **dict(second.variables)}.items())
    return SuiteContext(python=second.python or first.python, read_only=read_only,
                        variables=variables,
                        environment_key=second.environment_key or first.environment_key,
                        dependencies=tuple(sorted(
                            {**dict(first.dependencies), **dict(second.dependencies)}.items())))


@dataclass(frozen=True)
class PreparedEnvironment:
    """A pack's Python environment, ready for its suites."""

    context: SuiteContext
    """The interpreter of the environment and the folders it needs readable."""
    record: dict[str, Any]
    """What the registration records of it (``EnvironmentPrepared``'s fields)."""


class Environments(Protocol):
    """Per-pack Python environments: the pack's requirements installed, built outside the
    sandbox, cached and shared by identical requirement sets."""

    def prepare(self, pack_dir: str, testing: TestingConfig) -> PreparedEnvironment:
        """The environment of the pack at ``pack_dir`` (its requirements file, as ``testing``
        names it or ``requirements.txt``), built now or reused.

        Raises:
            EnvironmentFailedError: the requirements cannot be installed (pip's error, capped).
            RegistryError: a bad setting (wheelhouse), an unusable cache folder.
        """
        ...

    def allowance(self, pack_dir: str, testing: TestingConfig) -> timedelta:
        """How long preparing the pack's environment may take, added to a registration's
        lease: nothing when it is built already (or empty, which takes a moment), else the
        most pip may take.

        Raises: RegistryError or ConfigError for a bad setting, before anything is recorded.
        """
        ...


class PacksPath(Protocol):
    """The folder ``PACKS_PATH`` names: the packs a suite depends on, readable by it."""

    def folder(self, releases: Mapping[str, str], *,
               beside: str) -> AbstractContextManager[SuiteContext]:
        """A fresh folder, beside the copy of the pack under test at ``beside``, with an
        entry ``<ref>`` holding the files of each release folder of ``releases`` (ref ->
        folder), readable and never writable by the suites, as the context that shows it to
        them; removed on exit.

        Raises: RegistryError when it cannot be made (a full disk).
        """
        ...


class SuiteRunner(Protocol):
    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            context: SuiteContext = NO_CONTEXT) -> SuiteResult:
        """Run one suite against the pack snapshot at ``pack_dir``; never raises for test failures.

        ``on_case`` is told about cases while the suite runs, where the runner can see them;
        ``context`` says with which interpreter, seeing what else.
        """
        ...

    def cancel(self) -> None:
        """Stop every suite still running (the caller was interrupted); they report errors."""
        ...

    def ready(self) -> None:
        """Raise, with a message naming the setting, if no suite can run here (no sandbox):
        checked before anything is recorded."""
        ...

    def fingerprint(self, context: SuiteContext = NO_CONTEXT) -> str:
        """The fingerprint the suites of a run with ``context`` get here (what
        ``SuiteResult.fingerprint`` records), known before any of them runs."""
        ...


@dataclass(frozen=True)
class ReusableRun:
    """A passing run a registration may reuse instead of running its suites."""

    run_id: str
    """A registration's id, or a test run's."""
    registration_id: str
    """The registration whose release it tested."""
    pack_version: str
    fingerprint: str
    result: TestResult


class ReusableRuns(Protocol):
    """Finds passing runs by what they tested and where (the read models' test history)."""

    def find(self, ref: str, digest: str, fingerprint: str,
             suites: Sequence[str]) -> ReusableRun | None:
        """The newest run of ``ref`` that passed every one of ``suites`` (and ran no other),
        all of them on content ``digest`` with ``fingerprint``; None if there is none.
        Runs against an upgrade candidate (trigger ``dependency``) never count."""
        ...


class NoProgress:
    """Progress that shows nothing."""

    def suite_started(self, suite: TestSuite) -> None:
        pass

    def case_finished(self, suite: TestSuite, case: TestCaseResult) -> None:
        pass

    def suite_finished(self, result: SuiteResult) -> None:
        pass


class PackIndex(Protocol):
    """The pack index ``--install-deps`` installs missing dependencies from."""

    def entries(self) -> PackIndexEntries:
        """Every ref and version the index offers, read now.

        Raises:
            RegistryError: no index is configured, or it cannot be read or is invalid.
        """
        ...

    def source_of(self, entry: IndexEntry) -> str:
        """The source to fetch ``entry`` from, as this caller may fetch it.

        Raises:
            RegistryError: the caller may not fetch that source (the API's rules).
        """
        ...


@runtime_checkable
class DependencyProgress(Progress, Protocol):
    """A ``Progress`` that is also told which dependency ``--install-deps`` installs now."""

    def installing_dependency(self, entry: IndexEntry, step: int, steps: int) -> None: ...
