"""Register a pack: validate, snapshot, test, then commit or reject (DESIGN.md §4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from attune_registry.domain import policy
from attune_registry.domain.errors import (
    DependentsFailedError,
    DigestMismatchError,
    EnvironmentFailedError,
    RegistrationEndedError,
    TestsFailedError,
)
from attune_registry.domain.manifest import PackManifest, TestingConfig, required_testing
from attune_registry.domain.results import TestResult
from attune_registry.domain.retries import time_budget

from attune_registry.application.commands import RegisterCommand
from attune_registry.application.dependencies import NoActivePacks, check_dependencies
from attune_registry.application.dependents import (
    NOTHING_TO_RUN,
    DependentsPlan,
    DependentsTests,
    rejection,
)
from attune_registry.application.packs_path import DependencyFolders
from attune_registry.application.ports import (
    NO_CONTEXT,
    ActivePackReader,
    Environments,
    NoProgress,
    PackLoader,
    PackSnapshot,
    PackSource,
    Progress,
    Releases,
    ReusableRun,
    ReusableRuns,
    SuiteContext,
    SuiteRunner,
    merged,
)
from attune_registry.application.registry import STORE_FAILURES, PackRegistry
from attune_registry.application.reuse import RunReuse, wanted
from attune_registry.application.suites import run_suites

# Time a registration may need beyond its suites' timeouts (snapshot, bookkeeping) before
# another process may consider it abandoned and take its lease over (the default of the
# operator's setting).
LEASE_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class RegistrationOutcome:
    """A committed registration, as the CLI and the API report it."""

    registration_id: UUID
    pack_ref: str
    pack_version: str
    tests_skipped: bool
    forced: bool
    test_result: TestResult | None
    notification_id: int
    reused: ReusableRun | None = None
    """The passing run it reused instead of running its suites (``test_result`` is that
    run's); None: its suites ran, or were skipped."""

    @property
    def all_passed(self) -> bool:
        return self.test_result is not None and self.test_result.status == "passed"


class RegisterPack:
    """The register use case; its collaborators are injected by the composition root.

    Every registration that passes validation keeps the snapshot's files, before any test
    touches them, as the release of their digest: the active pack is that release, whatever
    happens to the source directory afterwards. A registered directory records its own path
    as where it came from; an install, whose fetched files are temporary, records the
    release's path.
    """

    def __init__(
        self,
        registry: PackRegistry,
        loader: PackLoader,
        runner: SuiteRunner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        releases: Releases,
        lease_grace: Callable[[], timedelta] = lambda: LEASE_GRACE,
        default_jobs: Callable[[], int] = lambda: 1,
        holder: Callable[[], dict[str, Any] | None] = lambda: None,
        active: ActivePackReader | None = None,
        folders: DependencyFolders | None = None,
        dependents: DependentsTests | None = None,
        environments: Environments | None = None,
        reusable: ReusableRuns | None = None,
    ) -> None:
        self.registry = registry
        self.loader = loader
        self.runner = runner
        self.clock = clock
        self.releases = releases
        # Callables, so that a bad setting fails the registrations that need it, not startup.
        self.lease_grace = lease_grace
        self.default_jobs = default_jobs
        # The process that will hold the lease, as recorded for ``pack cancel``.
        self.holder = holder
        # The active packs' versions: what declared dependencies are checked against.
        self.active = active or NoActivePacks()
        # What the suites see of the packs they depend on (PACKS_PATH), and the step that
        # tests an upgrade against its dependents; None: neither (use cases built alone).
        self.folders = folders or DependencyFolders(registry, releases, None)
        self.dependents = dependents
        # The pack's own Python environment; None: the runner's interpreter (use cases built
        # alone, in tests).
        self.environments = environments
        # The passing runs a registration may reuse (``--reuse``); None: it never reuses.
        self.reuse = RunReuse(reusable, runner) if reusable is not None else None

    def __call__(self, command: RegisterCommand,
                 progress: Progress | None = None) -> RegistrationOutcome:
        """Register the pack at ``command.path``: test it and activate it only if its tests
        pass (see ``RegisterCommand`` for force, replace, skip_tests and the pinned digest).

        Raises:
            RegistryError: for every refusal the user can act on (see ``domain.errors``);
                ``TestsFailedError`` after the rejected attempt has been recorded
                (``DependentsFailedError``: an upgrade its active dependents' suites failed
                against); ``DependentsActiveError`` before anything is recorded, for an
                upgrade a dependent's range excludes; ``EnvironmentFailedError`` after the
                attempt was recorded as rejected (``environment_failed``), before any suite.
        """
        # Settings first: a bad one refuses the registration before anything is recorded.
        jobs = 1 if command.skip_tests else command.jobs or self.default_jobs()
        grace = self.lease_grace()
        source = self.loader.load(command.path)
        manifest = source.manifest
        self.registry.check_can_register(manifest.ref, replace=command.replaces_active,
                                         now=self.clock())
        check_dependencies(manifest, self.active)
        plan = self.dependents.plan(manifest, command) if self.dependents else NOTHING_TO_RUN
        testing = None if command.skip_tests else required_testing(manifest)
        if testing is not None:
            self.runner.ready()
        with source.snapshot() as snapshot:
            expected = command.expected_digest
            if expected is not None and snapshot.content_digest != expected:
                raise DigestMismatchError(manifest.ref, snapshot.content_digest, expected)
            path = (source.source_path if command.origin is None
                    else self.releases.path_of(snapshot.content_digest))
            if testing is not None and self.environments is not None:
                grace += self.environments.allowance(snapshot.path, testing)  # building it
            registration_id = self._request(command, source, snapshot, path, testing,
                                            grace + timedelta(seconds=plan.budget_seconds))
            with self._release_kept(registration_id, snapshot):
                return self._test_and_decide(registration_id, command, manifest, snapshot,
                                             testing, progress or NoProgress(), jobs, plan)

    def _request(self, command: RegisterCommand, source: PackSource, snapshot: PackSnapshot,
                 source_path: str, testing: TestingConfig | None, grace: timedelta) -> UUID:
        """``grace`` covers what runs beyond the pack's own suites (the dependents')."""
        now = self.clock()
        budget = sum(time_budget(s) for s in testing.test_suites) if testing else 0
        return self.registry.request_registration(
            command, manifest=source.manifest, components=source.components,
            source_path=source_path, content_digest=snapshot.content_digest,
            lease_expires=now + timedelta(seconds=budget) + grace, now=now,
            holder=self.holder())

    @contextmanager
    def _release_kept(self, registration_id: UUID, snapshot: PackSnapshot) -> Iterator[None]:
        """Keep the snapshot as its release (under the ref's lease: no other attempt of this
        content can be placing or removing it) while the body decides; never leave the
        registration in flight."""
        kept = False
        digest = snapshot.content_digest
        try:
            kept = self.releases.keep(snapshot)
            yield
        except STORE_FAILURES:
            # The outcome is unknown (the lease frees the ref later): keep the release, as the
            # registration may yet be the active one.
            raise
        except RegistrationEndedError:
            # Cancelled while it ran (``pack cancel --force``): the ref is another attempt's
            # now, which may be using this same release.
            raise
        except (TestsFailedError, EnvironmentFailedError):
            if kept:  # rejected and recorded already
                self.releases.discard(digest)
            raise
        except BaseException as exc:  # interrupted or crashed before a decision
            try:
                self.registry.reject_registration(
                    registration_id, reason="tests_not_executed",
                    message=f"registration stopped before a decision: {exc!r}", result=None)
            except RegistrationEndedError:
                raise exc from None  # cancelled meanwhile: as above, the release is not ours
            if kept:
                self.releases.discard(digest)
            raise

    def _test_and_decide(self, registration_id: UUID, command: RegisterCommand,
                         manifest: PackManifest, snapshot: PackSnapshot,
                         testing: TestingConfig | None, progress: Progress,
                         jobs: int, plan: DependentsPlan) -> RegistrationOutcome:
        if testing is None:
            nid = self.registry.commit_registration(registration_id, result=None, forced=False)
            return RegistrationOutcome(registration_id, manifest.ref, manifest.version,
                                       tests_skipped=True, forced=False, test_result=None,
                                       notification_id=nid)
        environment = self._environment(registration_id, snapshot, testing)
        reused = self._reusable(command, manifest, snapshot, testing, environment)
        if reused is not None:
            # Decided below exactly as if the suites had produced that run's result.
            self.registry.reuse_tests(registration_id, reused)
            result = reused.result
        else:
            with self.folders.context(manifest.dependencies,
                                      beside=snapshot.path) as dependencies:
                result = run_suites(
                    self.runner, testing.test_suites, snapshot.path, pack_ref=manifest.ref,
                    pack_version=manifest.version, started_at=self.clock(),
                    progress=progress, jobs=jobs, context=merged(environment, dependencies),
                    record=lambda suite: self.registry.complete_suite(
                        registration_id, suite, worker=self.holder()),
                )
        accepted = policy.accepts(result, testing)
        if accepted or command.force:
            broken = self._dependents_failing(plan, registration_id, command, manifest,
                                              snapshot, progress, jobs)
            if broken is not None and not command.force:
                self.registry.reject_registration(registration_id, reason="dependents_failed",
                                                  message=str(broken), result=result)
                raise broken
            forced = not accepted or broken is not None
            nid = self.registry.commit_registration(registration_id, result=result,
                                                    forced=forced)
            return RegistrationOutcome(registration_id, manifest.ref, manifest.version,
                                       tests_skipped=False, forced=forced,
                                       test_result=result, notification_id=nid,
                                       reused=reused)
        error = TestsFailedError(registration_id, result.to_dict())
        self.registry.reject_registration(registration_id, reason="tests_failed",
                                          message=str(error), result=result)
        raise error

    def _reusable(self, command: RegisterCommand, manifest: PackManifest,
                  snapshot: PackSnapshot, testing: TestingConfig,
                  environment: SuiteContext) -> ReusableRun | None:
        """The passing run this registration may stand on, if it asks for one."""
        if self.reuse is None or not wanted(command, testing):
            return None
        # The packs its suites would see count too, as the run's context records them.
        seen = merged(environment, SuiteContext(
            dependencies=self.folders.digests(manifest.dependencies)))
        return self.reuse.find(manifest.ref, snapshot.content_digest, testing, seen)

    def _environment(self, registration_id: UUID, snapshot: PackSnapshot,
                     testing: TestingConfig) -> SuiteContext:
        """The pack's Python environment, recorded; a failure rejects the registration
        (``environment_failed``) before any suite runs."""
        if self.environments is None:
            return NO_CONTEXT
        try:
            prepared = self.environments.prepare(snapshot.path, testing)
        except EnvironmentFailedError as exc:
            self.registry.reject_registration(registration_id, reason="environment_failed",
                                              message=str(exc), result=None)
            raise exc.of_registration(registration_id) from None
        self.registry.record_environment(registration_id, prepared.record)
        return prepared.context

    def _dependents_failing(self, plan: DependentsPlan, registration_id: UUID,
                            command: RegisterCommand, manifest: PackManifest,
                            snapshot: PackSnapshot, progress: Progress,
                            jobs: int) -> DependentsFailedError | None:
        """Run the suites of the plan's dependents against this registration's release; the
        rejection their failures call for, or None when they all passed (or none ran)."""
        if self.dependents is None or not plan.dependents:
            return None
        runs = self.dependents.run(
            plan, registration_id, candidate_release=self.releases.path_of(
                snapshot.content_digest), requested_by=command.requested_by,
            progress=progress, jobs=jobs)
        return rejection(runs, registration_id, manifest)
