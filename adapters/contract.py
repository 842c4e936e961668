"""What the front ends ask of the registry: one typed contract and the values it returns.

The CLI's commands call a ``Registry``: ``adapters.service.RegistryService`` on the local store,
or ``adapters.cli.remote.RemoteRegistry``, which asks a server over HTTP and returns the same
values, so each command prints the same in both modes. Reading commands may get only a
``RegistryReads`` (``adapters.reads.quick``: the SQLite read models, no event store). The HTTP
API calls a ``ServedRegistry``: the local service, with what only a server asks besides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, runtime_checkable
from uuid import UUID

import msgspec

from attune_registry.domain.origin import Origin
from attune_registry.domain.results import TestCaseResult
from attune_registry.domain.vocabulary import (
    RegistrationStatus,
    RejectReason,
    RunnerType,
    SuiteStatus,
)

from attune_registry.projections.activity_queries import ActivityFilter, Feed, RefState
from attune_registry.projections.case_stats import FlakyCase
from attune_registry.projections.rows import (
    ComponentRow,
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
    TokenRow,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from attune_registry.domain.comparison import RunSelector, Thresholds
    from attune_registry.domain.vocabulary import RunStatus, TriggerReason

    from attune_registry.application.activate import ActivateCommand
    from attune_registry.application.commands import InstallCommand, Queued, RegisterCommand
    from attune_registry.application.install_deps import InstalledDependency
    from attune_registry.application.ports import Progress
    from attune_registry.application.register import RegistrationOutcome
    from attune_registry.application.test_pack import TestRunOutcome

    from attune_registry.projections.queries import SortKey
    from attune_registry.projections.view import ProjectionStatus

    from attune_registry.adapters.activation import Activation
    from attune_registry.adapters.reads.compare import RunComparison
    from attune_registry.adapters.reads.versions import PackVersions

Row = TypeVar("Row")


@dataclass(frozen=True)
class Registered:
    """A committed registration together with the pack row it produced."""

    outcome: RegistrationOutcome
    pack: PackRow
    installed_dependencies: tuple[InstalledDependency, ...] = ()
    """What ``--install-deps`` installed first, in order."""


class PackDetails(msgspec.Struct, frozen=True, kw_only=True):
    """An active pack with its components and its latest test run."""

    pack: PackRow
    components: list[ComponentRow]
    latest_test: TestExecutionRow | None
    release_path: str | None = None
    """Where its release is kept (what its registration tested); None if it has none yet (a
    registration from before releases: ``pack verify`` makes it)."""


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    """An active pack's files now, against the digest its registration recorded."""

    ref: str
    version: str
    registration_id: str
    source_path: str
    """Where the registration took its files from (an install: its release)."""
    origin: Origin | None
    status: str
    """Of the release: ``ok`` (same digest), ``drifted`` (files changed) or ``missing`` (no
    release, and the recorded files of a registration from before releases changed)."""
    expected_digest: str
    actual_digest: str | None
    files_listed: bool
    """Whether a list of the files was kept (every release has one): only then are the
    changed files below known."""
    added: list[str]
    removed: list[str]
    modified: list[str]
    release_path: str | None = None
    """The release the active pack is: what its registration tested."""


class Dependency(msgspec.Struct, frozen=True, kw_only=True):
    """A pack another one declares it needs, and whether the active version satisfies it."""

    ref: str
    wanted: str
    """The version range declared (``*``: any)."""
    active_version: str | None
    """None when it is not active."""
    satisfied: bool


class Dependent(msgspec.Struct, frozen=True, kw_only=True):
    """An active pack that declares it needs the pack asked about."""

    ref: str
    version: str
    """The dependent's own active version."""
    wanted: str
    """The range it declares for the pack asked about."""
    satisfied: bool
    """Whether the active version of the pack asked about is in that range."""


class PackDependencies(msgspec.Struct, frozen=True, kw_only=True):
    """A pack's declared dependencies and the active packs that depend on it."""

    ref: str
    version: str | None
    """Its active version; None when it is not active (it then declares nothing here)."""
    dependencies: list[Dependency]
    dependents: list[Dependent]


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a list, newest first, and how many items the whole list has."""

    rows: list[Row]
    total: int
    more: bool = False
    """Whether rows follow this page."""


class StoredEvent(msgspec.Struct, frozen=True):
    """One event of a registration as the log stores it: its topic and decoded state."""

    originator_version: int
    topic: str
    state: dict[str, Any]


class Worker(msgspec.Struct, frozen=True):
    """The process that ran a suite: a queue worker's, or the registering process's."""

    host: str
    pid: int


class RecordedSuite(msgspec.Struct, frozen=True, kw_only=True):
    """One suite a registration recorded: its outcome, counts, and who ran it."""

    name: str
    runner_type: RunnerType
    status: SuiteStatus
    total: int
    passed: int
    failed: int
    skipped: int
    duration_ms: int
    message: str | None
    worker: Worker | None
    """None for suites recorded before workers were (event class version 3)."""
    recorded_at: datetime


class RegistrationProgress(msgspec.Struct, frozen=True, kw_only=True):
    """Where a registration's suites stand: those its manifest requires and those recorded."""

    status: RegistrationStatus
    expected: list[str]
    """The suites of the request's manifest, in declared order (none when tests are skipped)."""
    recorded: list[RecordedSuite]
    """In the order they were recorded (queued suites finish in any order)."""
    pending: list[str]
    """Expected and not recorded yet."""


class RegistrationDetails(msgspec.Struct, frozen=True):
    """A registration attempt and its events, for auditors, with its progress."""

    registration: RegistrationRow
    events: list[StoredEvent]
    progress: RegistrationProgress


class RequestedUpdate(msgspec.Struct, frozen=True, kw_only=True, tag_field="event",
                      tag="requested"):
    """The request that opened a registration: the pack and the suites it must pass."""

    originator_version: int
    recorded_at: datetime
    registration_id: str
    ref: str
    pack_version: str
    requested_by: str
    suites: list[str]
    skip_tests: bool


class SuiteUpdate(RecordedSuite, frozen=True, kw_only=True, tag_field="event", tag="suite"):
    """One suite recorded, with its failing cases (the first ``MAX_FAILURES``)."""

    originator_version: int
    failures: list[TestCaseResult]


class DecidedUpdate(msgspec.Struct, frozen=True, kw_only=True, tag_field="event",
                    tag="decided"):
    """The decision that ends a registration: committed (the pack is active) or rejected."""

    originator_version: int
    recorded_at: datetime
    status: Literal["committed", "rejected"]
    reason: RejectReason | None
    """Why it was rejected; None when committed."""
    message: str | None
    forced: bool
    """Committed although its tests did not pass."""
    tests_skipped: bool
    actor: str | None
    """Who ended it (``pack cancel``); None when the registration decided itself."""
    summary: dict[str, Any] | None
    """The run's counts (the ``test_result`` document without its suites); None without a
    run."""


RegistrationUpdate = RequestedUpdate | SuiteUpdate | DecidedUpdate
"""One step of a registration as it is recorded: what ``GET /registrations/{id}/events``
sends and ``attune registration watch`` prints. The last one is always ``DecidedUpdate``."""
MAX_FAILURES = 10


class Health(msgspec.Struct, frozen=True):
    """The store is reachable, and how far the read models are behind its log; on PostgreSQL,
    the queue's figures too (None on SQLite, which has no queue)."""

    status: str
    store: str
    log_head: int
    projection_position: int
    projection_lag: int
    queue_depth: int | None = None
    """Suites of queued registrations waiting for a worker."""
    oldest_queued_seconds: float | None = None
    """How long ago the longest-waiting of them was queued; None when none waits."""
    workers_alive: int | None = None
    """Workers that showed signs of life within their stall time."""


class RunningSuite(msgspec.Struct, frozen=True, kw_only=True):
    """A suite a worker is running."""

    registration_id: str
    suite: str
    since: str
    """When the worker started it (ISO 8601, the worker's clock)."""


class WorkerRow(msgspec.Struct, frozen=True, kw_only=True):
    """An ``attune worker`` process, as it last reported itself."""

    name: str
    """``host:pid``."""
    host: str
    pid: int
    state: str
    """``alive``, or ``lost`` once its last sign of life is older than its stall time
    (``ATTUNE_WORKER_STALL_SECONDS`` of the worker): killed, or cut off from the store."""
    concurrency: int
    started_at: str
    last_seen: str
    seen_seconds_ago: float
    """``last_seen`` as an age, by the database's clock."""
    running: list[RunningSuite]


class RegistryReads(Protocol):
    """What the reading commands ask: active packs, their details and histories."""

    def list_packs(self) -> list[PackRow]: ...

    def show(self, ref: str) -> PackDetails:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        ...

    def test_history(self, ref: str, *, limit: int = 50, status: RunStatus | None = None,
                     trigger_reason: TriggerReason | None = None,
                     ) -> list[TestExecutionRow]:
        """Test runs of ``ref``, newest first, only those with ``status`` and
        ``trigger_reason`` when given."""
        ...

    def compare_tests(self, ref: str, from_: RunSelector | None = None,
                      to: RunSelector | None = None,
                      thresholds: Thresholds | None = None) -> RunComparison:
        """Two finished runs of ``ref`` case by case: by default its newest two; with only
        ``to``, that run and the finished one before it; with only ``from_``, that run and the
        newest.

        Raises: PackNotFoundError, TestRunNotFoundError, TestRunInProgressError.
        """
        ...

    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        """Raises: PackNotFoundError when ``ref`` was never submitted."""
        ...

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted for registration (active or not)."""
        ...

    def verify(self, ref: str) -> Verification:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        ...

    def dependencies(self, ref: str) -> PackDependencies:
        """What active ``ref`` declares, each with the active version, and the active packs
        that depend on ``ref``.

        Raises: PackNotFoundError when ``ref`` was never submitted and nothing depends on it.
        """
        ...

    def flaky_cases(self, ref: str) -> list[FlakyCase]:
        """The cases of ``ref`` that both passed and failed with one content digest and one
        environment fingerprint, or passed on a retry; most recently seen first.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        ...

    def activity(self, query: ActivityFilter) -> Feed:
        """Events of the whole log for people, in log order (``newest_first``: the reverse).

        Raises: PackNotFoundError when ``query.ref`` was never submitted.
        """
        ...

    def ref_states(self) -> list[RefState]:
        """Every ref ever submitted, active or not, with its state now, by ref."""
        ...

    def versions(self, ref: str) -> PackVersions:
        """Every committed release of ``ref``, newest commit first, with its tests, whether
        it is active, what ended it and whether its release is kept.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        ...


class Registry(RegistryReads, Protocol):
    """Everything the CLI and the HTTP API ask of the registry. Commands return once their
    events are in the read models (read-your-writes)."""

    def register(self, command: RegisterCommand,
                 progress: Progress | None = None) -> Registered: ...

    def install(self, command: InstallCommand,
                progress: Progress | None = None) -> Registered: ...

    def activate(self, command: ActivateCommand,
                 progress: Progress | None = None) -> Activation:
        """Register the kept release ``command`` names again (trigger ``activate``): tested,
        or reusing a passing run of it, and gated like any registration.

        Raises (nothing recorded): PackNotFoundError, ReleaseNotFoundError,
        AmbiguousDigestError, ReleaseAlreadyActiveError, ReleaseMissingError; then what
        ``register`` raises.
        """
        ...

    def queue(self, command: RegisterCommand) -> Queued:
        """Record the registration and queue its suites for workers; returns at once.

        Raises: QueueNeedsPostgresError (a ConfigError) on the embedded store.
        """
        ...

    def queue_install(self, command: InstallCommand) -> Queued:
        """Fetch, then queue what was fetched (as ``queue``)."""
        ...

    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        """Run an active pack's suites again; the run joins its test history."""
        ...

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        """Run the suites of a pack directory without registering or recording anything."""
        ...

    def unregister(self, ref: str, *, actor: str, note: str | None = None,
                   force: bool = False) -> UUID:
        """Deactivate ``ref`` (a compensating event); returns the registration it ends.
        ``note`` is why, in the actor's words (``--reason``), kept with the event.

        Raises: DependentsActiveError while active packs depend on ``ref`` and not
        ``force`` (with ``force`` they are recorded, ``DependentsOverridden``).
        """
        ...

    def roll_back(self, ref: str, *, actor: str, note: str | None = None,
                  force: bool = False) -> PackRow:
        """Re-activate the registration the active one replaced, whose release becomes the
        active pack's files; returns the restored pack. ``note``: as for ``unregister``.

        Raises: ReleaseMissingError when that release is gone; DependentsActiveError when
        an active dependent's range refuses the restored version and not ``force`` (nothing
        changes).
        """
        ...

    def cancel(self, ref: str, *, actor: str, force: bool = False,
               note: str | None = None) -> UUID:
        """End the registration of ``ref`` in progress whose process is gone (any, with
        ``force``), as an ``abandoned`` rejection by ``actor``; returns its id. ``note``: as
        for ``unregister``.

        Raises: PackNotFoundError, NotCancellableError.
        """
        ...

    def audit(self, registration_id: UUID) -> list[StoredEvent]:
        """Raises: RegistrationNotFoundError."""
        ...

    def watch(self, registration_id: UUID, *, after: int = 0) -> Iterator[RegistrationUpdate]:
        """Follow a registration until it is decided: its updates after event version
        ``after``, each as soon as it is recorded (a decided one replays to its decision).

        Raises: RegistrationNotFoundError (before the first update).
        """
        ...

    def prune(self, *, dry_run: bool = False) -> list[str]:
        """Remove the releases nothing can bring back (and the directories of installs from
        before releases that no registration needs); returns them."""
        ...

    def create_token(self, name: str, scope: str, *, actor: str) -> tuple[str, TokenRow]:
        """Issue a token; returns its text (shown once, never stored) and its public row."""
        ...

    def list_tokens(self) -> list[TokenRow]: ...

    def revoke_token(self, name_or_id: str, *, actor: str) -> TokenRow: ...

    def projection_status(self) -> ProjectionStatus: ...

    def rebuild(self, *, batch_size: int = 500) -> int:
        """Rebuild the read models from the whole log; returns the events replayed."""
        ...

    def workers(self) -> list[WorkerRow]:
        """The workers serving the queue, alive or lost.

        Raises: QueueNeedsPostgresError (a ConfigError) on the embedded store.
        """
        ...


# Checkable: Litestar checks the type of what it injects into the handlers.
@runtime_checkable
class ServedRegistry(Registry, Protocol):
    """``Registry`` and what only the HTTP API asks: who a token is, pages of the lists with
    their totals, the newest test run, a registration with its events, and health."""

    def registration(self, registration_id: UUID) -> RegistrationDetails:
        """Raises: RegistrationNotFoundError."""
        ...

    def updates(self, registration_id: UUID, *, after: int = 0) -> list[RegistrationUpdate]:
        """The updates recorded so far after event version ``after``, up to the decision (no
        waiting); once it is decided, at least the decision, however late ``after`` is.

        Raises: RegistrationNotFoundError.
        """
        ...

    def latest_test(self, ref: str) -> TestExecutionRow:
        """Raises: PackNotFoundError, NoTestResultsError (known ref, no run yet)."""
        ...

    def test_execution(self, ref: str, execution_id: int) -> TestExecutionRow | None:
        """Test run ``execution_id`` of ``ref`` (any status); None when there is none."""
        ...

    def packs_page(self, *, limit: int, offset: int) -> Page[PackRow]: ...

    def ref_states_page(self, *, limit: int, offset: int) -> Page[RefState]: ...

    def test_history_page(self, ref: str, *, limit: int, offset: int = 0,
                          after: SortKey | None = None, status: RunStatus | None = None,
                          trigger_reason: TriggerReason | None = None,
                          ) -> Page[TestExecutionJsonRow]:
        """Raises: PackNotFoundError when ``ref`` has no history at all."""
        ...

    def registrations_page(self, ref: str, *, limit: int, offset: int = 0,
                           after: SortKey | None = None) -> Page[RegistrationRow]:
        """Raises: PackNotFoundError when ``ref`` was never submitted."""
        ...

    def authenticate(self, token: str | None, scope: str) -> str:
        """Who the bearer of ``token`` is, if it allows ``scope``."""
        ...

    def session_actor(self, token_id: UUID, scope: str) -> str:
        """Who the token ``token_id`` (which signed in to the dashboard) is, if it is still
        valid and allows ``scope``."""
        ...

    def health(self) -> Health: ...
