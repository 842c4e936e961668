"""Queued registrations: the host that takes one records it and queues a job per suite; workers
on any machine run the suites, and whoever records the last one decides (DESIGN.md §4)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from attune_registry.domain import policy
from attune_registry.domain.errors import (
    DependentsFailedError,
    DigestMismatchError,
    EnvironmentFailedError,
    PackNotFoundError,
    RegistrationEndedError,
    ReuseNotQueuedError,
    TestsFailedError,
)
from attune_registry.domain.manifest import PackManifest, TestSuite, required_testing
from attune_registry.domain.registration import Registration
from attune_registry.domain.results import SuiteResult, TestResult
from attune_registry.domain.retries import time_budget
from attune_registry.domain.suite_event import SuiteCompleted

from attune_registry.application.commands import InstallCommand, Queued, RegisterCommand
from attune_registry.application.dependencies import NoActivePacks, check_dependencies
from attune_registry.application.dependents import NOTHING_TO_RUN, DependentsPlan, DependentsTests
from attune_registry.application.packs_path import DependencyFolders
from attune_registry.application.ports import (
    NO_CONTEXT,
    ActivePackReader,
    Environments,
    JobQueue,
    PackFetcher,
    PackLoader,
    ReleaseBlobStore,
    Releases,
    SuiteContext,
    SuiteRunner,
    merged,
)
from attune_registry.application.register import LEASE_GRACE, RegistrationOutcome
from attune_registry.application.registry import SAVE_ATTEMPTS, PackRegistry
from attune_registry.application.retries import run_with_retries

# How long a queued registration may wait for workers before its lease lets another attempt
# take the ref over (the default of the operator's setting); `pack cancel` ends it sooner.
QUEUE_WAIT = timedelta(hours=1)


class QueueRegistration:
    """The first half of a queued registration, on the host that takes it: validate, keep the
    release (here and in the database, where workers find it), take the ref's lease, queue."""

    def __init__(self, registry: PackRegistry, loader: PackLoader, releases: Releases,
                 blobs: ReleaseBlobStore, queue: JobQueue,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 lease_grace: Callable[[], timedelta] = lambda: LEASE_GRACE,
                 queue_wait: Callable[[], timedelta] = lambda: QUEUE_WAIT,
                 active: ActivePackReader | None = None,
                 dependents: DependentsTests | None = None) -> None:
        self.registry = registry
        self.active = active or NoActivePacks()
        # The dependents an upgrade must not break: refused here when a range excludes it;
        # their suites run on the worker that decides (``decide``).
        self.dependents = dependents
        self.loader = loader
        self.releases = releases
        self.blobs = blobs
        self.queue = queue
        self.clock = clock
        self.lease_grace = lease_grace
        self.queue_wait = queue_wait

    def __call__(self, command: RegisterCommand) -> Queued:
        """Raises: RegistryError for every refusal (as ``RegisterPack``), before anything is
        recorded; a failure to queue rejects the registration it opened (ReuseNotQueuedError:
        ``--reuse`` asked; a pack's own ``testing.reuse`` is ignored here: its suites run)."""
        if command.reuse:
            raise ReuseNotQueuedError()
        allowance = self.lease_grace() + self.queue_wait()
        source = self.loader.load(command.path)
        manifest = source.manifest
        self.registry.check_can_register(manifest.ref, replace=command.replaces_active,
                                         now=self.clock())
        check_dependencies(manifest, self.active)
        plan = self.dependents.plan(manifest, command) if self.dependents else NOTHING_TO_RUN
        testing = required_testing(manifest)
        with source.snapshot() as snapshot:
            digest = snapshot.content_digest
            if command.expected_digest is not None and digest != command.expected_digest:
                raise DigestMismatchError(manifest.ref, digest, command.expected_digest)
            path = source.source_path if command.origin is None else self.releases.path_of(digest)
            now = self.clock()
            budget = timedelta(seconds=sum(time_budget(s) for s in testing.test_suites)
                               + plan.budget_seconds)
            registration_id = self.registry.request_registration(
                command, manifest=manifest, components=source.components, source_path=path,
                content_digest=digest, lease_expires=now + budget + allowance, now=now,
                holder={"queued": True})
            try:
                self.releases.keep(snapshot)
                self.blobs.put(digest, Path(snapshot.path))
                self._share(manifest.dependencies, plan)
                self.queue.defer_suites(registration_id, len(testing.test_suites))
            except BaseException as exc:
                self.registry.reject_registration(
                    registration_id, reason="tests_not_executed",
                    message=f"registration could not be queued: {exc!r}", result=None)
                raise
        return Queued(registration_id, manifest.ref, manifest.version,
                      len(testing.test_suites))


    def _share(self, dependencies: Iterable[str], plan: DependentsPlan) -> None:
        """Store in the database, for the workers, the releases they will need besides the
        candidate's: its dependencies' (``PACKS_PATH``), and each dependent's with its other
        dependencies'."""
        refs = set(dependencies)
        for dependent in plan.dependents:
            refs.add(dependent.manifest.ref)
            refs.update(dependent.manifest.dependencies)
        for ref in sorted(refs):
            try:
                active = self.registry.active_registration(ref)
            except PackNotFoundError:
                continue  # the candidate itself, or unregistered meanwhile
            release = self.releases.restore(active.content_digest, active.source_path)
            if release is not None:
                self.blobs.put(active.content_digest, Path(release))


class QueueInstall:
    """A queued install: fetch here, then queue what was fetched (its release is kept before
    the fetched copy goes)."""

    def __init__(self, queue: QueueRegistration, fetcher: PackFetcher) -> None:
        self.queue = queue
        self.fetcher = fetcher

    def __call__(self, command: InstallCommand) -> Queued:
        with self.fetcher.fetch(command.source, command.git_ref) as fetched:
            return self.queue(command.registering(fetched.path, fetched.origin))


class RunQueuedSuite:
    """The second half, on a worker: run one suite of a queued registration on its release
    (from the database), record it once, and decide if it was the last."""

    def __init__(self, registry: PackRegistry, runner: SuiteRunner,
                 unpacked: Callable[[str], AbstractContextManager[str]],
                 worker: Callable[[], dict[str, Any]],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 environments: Environments | None = None,
                 folders: DependencyFolders | None = None,
                 dependents: DependentsTests | None = None) -> None:
        self.registry = registry
        self.runner = runner
        # The packs the suite depends on (PACKS_PATH), from releases the host that queued it
        # stored in the database; and the dependents an accepted upgrade runs in ``decide``.
        self.folders = folders
        self.dependents = dependents
        # The pack's own Python environment, prepared on each worker; None: the runner's
        # interpreter.
        self.environments = environments
        # A private directory holding the release of a digest, removed on exit.
        self.unpacked = unpacked
        self.worker = worker
        self.clock = clock

    def __call__(self, registration_id: UUID, index: int) -> None:
        registration = self.registry.get_registration(registration_id)
        if registration.is_finished:
            return  # cancelled, or decided while this job waited
        suite = _suites(registration.manifest)[index]
        if not registration.has_suite(suite.name):
            self.runner.ready()
            with self.unpacked(registration.content_digest) as pack_dir:
                context = self._environment(registration_id, registration.manifest, pack_dir)
                if context is None:
                    return  # rejected, or ended meanwhile: no suite runs
                with self._dependencies(registration.manifest, pack_dir) as dependencies:
                    result = run_with_retries(self.runner, suite, pack_dir,
                                              context=merged(context, dependencies))
            try:
                self.registry.complete_suite(registration_id, result, worker=self.worker())
            except RegistrationEndedError:
                return  # cancelled while it ran: nothing more is recorded
        decide(self.registry, registration_id, self.dependents)

    def _dependencies(self, manifest: dict[str, Any],
                      pack_dir: str) -> AbstractContextManager[SuiteContext]:
        if self.folders is None:
            return nullcontext(NO_CONTEXT)
        return self.folders.context(PackManifest.from_dict(manifest).dependencies,
                                    beside=pack_dir)

    def _environment(self, registration_id: UUID, manifest: dict[str, Any],
                     pack_dir: str) -> SuiteContext | None:
        """The pack's Python environment on this worker, recorded once per registration;
        None when it failed (the registration is then rejected as ``environment_failed``, by
        the first worker that tries) or the registration ended."""
        if self.environments is None:
            return NO_CONTEXT
        testing = required_testing(PackManifest.from_dict(manifest))
        try:
            prepared = self.environments.prepare(pack_dir, testing)
        except EnvironmentFailedError as exc:
            with suppress(RegistrationEndedError, IntegrityError):  # another worker was first
                self.registry.reject_registration(registration_id, reason="environment_failed",
                                                  message=str(exc), result=None)
            return None
        try:
            self.registry.record_environment(registration_id, prepared.record)
        except RegistrationEndedError:
            return None
        return prepared.context


def decide(registry: PackRegistry, registration_id: UUID,
           dependents: DependentsTests | None = None) -> bool:
    """Commit or reject the registration once every suite is recorded; the first to try wins,
    and a writer that lost the race finds it decided. Returns whether it is decided now.

    An accepted upgrade first runs its active dependents' suites here, in the deciding
    process (``DependentsTests.after_queued``): their failure rejects it (``force``: commits
    it as forced)."""
    for _ in range(SAVE_ATTEMPTS):
        registration = registry.get_registration(registration_id)
        if registration.is_finished:
            return True
        testing = required_testing(PackManifest.from_dict(registration.manifest))
        recorded = {suite.name: suite for suite in registration.recorded_suites()}
        if any(suite.name not in recorded for suite in testing.test_suites):
            return False
        suites = [recorded[suite.name] for suite in testing.test_suites]
        result = policy.test_result(
            pack_ref=registration.pack_ref, pack_version=registration.pack_version,
            execution_time=registration.created_on.isoformat(), suites=suites,
            duration_ms=sum(suite.duration_ms for suite in suites))
        accepted = policy.accepts(result, testing)
        try:
            broken = (dependents.after_queued(registration)
                      if dependents is not None and (accepted or registration.force) else None)
            if broken is not None and not registration.force:
                registry.reject_registration(registration_id, reason="dependents_failed",
                                             message=str(broken), result=result)
            elif accepted or registration.force:
                registry.commit_registration(registration_id, result=result,
                                             forced=not accepted or broken is not None)
            else:
                registry.reject_registration(
                    registration_id, reason="tests_failed",
                    message=str(TestsFailedError(registration_id, None)), result=result)
        except (IntegrityError, RegistrationEndedError):
            continue  # another writer got there first: read again
        return True
    return registry.get_registration(registration_id).is_finished


def _suites(manifest: dict[str, Any]) -> list[TestSuite]:
    return list(required_testing(PackManifest.from_dict(manifest)).test_suites)


def wait_for_decision(registry: PackRegistry, queued: Queued, *, deadline: datetime,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                      pause: Callable[[], None] = lambda: None) -> RegistrationOutcome:
    """Wait until workers decided a queued registration, and answer as a registration that
    ran here would (a server whose tests run on workers only).

    Raises:
        TestsFailedError: rejected because its tests failed (``DependentsFailedError``:
            those of its dependents, with the recorded message).
        RegistrationEndedError: rejected otherwise (cancelled, abandoned), or still
            undecided at ``deadline``.
    """
    registration_id = queued.registration_id
    registration = registry.get_registration(registration_id)
    while not registration.is_finished:
        if clock() >= deadline:
            raise RegistrationEndedError(registration_id, "still queued", "no decision yet")
        pause()
        registration = registry.get_registration(registration_id)
    result = _recorded_result(registry, registration_id)
    if registration.status == "rejected":
        if registration.reason == "tests_failed" and result is not None:
            raise TestsFailedError(registration_id, result.to_dict())
        if registration.reason == "dependents_failed":
            raise DependentsFailedError(registration_id, registration.pack_ref,
                                        registration.pack_version, [],
                                        message=_rejection_message(registry, registration_id))
        raise RegistrationEndedError(registration_id, registration.status, registration.reason)
    forced = result is not None and not policy.accepts(
        result, required_testing(PackManifest.from_dict(registration.manifest)))
    return RegistrationOutcome(registration_id, registration.pack_ref,
                               registration.pack_version, tests_skipped=result is None,
                               forced=forced, test_result=result,
                               notification_id=registry.recorder.max_notification_id() or 0)


def _rejection_message(registry: PackRegistry, registration_id: UUID) -> str | None:
    """The message the registration's rejection recorded."""
    for stored in registry.recorder.select_events(registration_id, desc=True, limit=3):
        event = registry.mapper.to_domain_event(stored)
        if isinstance(event, Registration.RegistrationRejected):
            return event.message
    return None


def _recorded_result(registry: PackRegistry, registration_id: UUID) -> TestResult | None:
    """The run as its suites' events recorded it, cases included, in the declared order."""
    registration = registry.get_registration(registration_id)
    suites = {}
    for stored in registry.recorder.select_events(registration_id):
        event = registry.mapper.to_domain_event(stored)
        if isinstance(event, SuiteCompleted):
            suites[event.name] = SuiteResult.from_dict(
                {name: getattr(event, name) for name in SuiteResult.__struct_fields__})
    if not suites:
        return None
    declared = _suites(registration.manifest)
    ordered = [suites[suite.name] for suite in declared if suite.name in suites]
    return policy.test_result(
        pack_ref=registration.pack_ref, pack_version=registration.pack_version,
        execution_time=registration.created_on.isoformat(), suites=ordered,
        duration_ms=sum(suite.duration_ms for suite in ordered))
