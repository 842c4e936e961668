"""Upgrades tested against their dependents: before a registration replaces the active version
of a pack, the suites of every active pack that depends on it run against the candidate.

Two steps of ``RegisterPack``. ``plan`` runs before anything is recorded: a dependent whose
declared range the candidate's version leaves is a refusal (unless ``force``), and the
dependents to test are listed (their suites' timeouts lengthen the registration's lease).
``run`` comes after the candidate's own suites passed and before the commit: each dependent's
suites run on a fresh copy of its active release, as ``attune pack test`` runs them, with
``PACKS_PATH`` holding the candidate for the upgraded ref and the active releases for its other
dependencies. Each is recorded as a test run of the dependent with trigger ``dependency`` that
names the candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from attune_registry.domain import policy
from attune_registry.domain.dependencies import dependents_broken_by, dependents_of
from attune_registry.domain.errors import (
    DependentsActiveError,
    DependentsFailedError,
    PackNotFoundError,
    RegistryError,
    ReleaseMissingError,
)
from attune_registry.domain.manifest import PackManifest, TestingConfig, TestSuite
from attune_registry.domain.registration import Registration
from attune_registry.domain.results import SuiteResult, TestCaseResult, TestResult
from attune_registry.domain.retries import time_budget

from attune_registry.application.commands import RegistrationOptions
from attune_registry.application.packs_path import DependencyFolders
from attune_registry.application.ports import (
    ActivePackReader,
    Environments,
    NoProgress,
    PackLoader,
    Progress,
    Releases,
    SuiteRunner,
)
from attune_registry.application.registry import PackRegistry
from attune_registry.application.retries import RetryProgress
from attune_registry.application.test_pack import run_recorded


@dataclass(frozen=True)
class Dependent:
    """An active pack that depends on the ref being replaced, and the suites it will run."""

    registration: Registration
    manifest: PackManifest
    testing: TestingConfig


@dataclass(frozen=True)
class DependentsPlan:
    """The dependents whose suites an upgrade runs (none: nothing to run)."""

    dependents: tuple[Dependent, ...] = ()

    @property
    def budget_seconds(self) -> int:
        """The sum of their suites' timeouts, which the registration's lease must cover."""
        return sum(time_budget(suite) for dependent in self.dependents
                   for suite in dependent.testing.test_suites)


NOTHING_TO_RUN = DependentsPlan()


@dataclass(frozen=True)
class DependentRun:
    """One dependent's recorded run against the candidate."""

    pack_ref: str
    test_run_id: UUID
    result: TestResult
    accepted: bool
    """Whether the dependent's own testing policy accepts the run (``min_pass_rate``,
    ``on_failure``), as it would accept a registration of the dependent."""


class DependentsTests:
    """The two steps above; collaborators are injected by the composition root."""

    def __init__(self, registry: PackRegistry, loader: PackLoader, runner: SuiteRunner, *,
                 releases: Releases, folders: DependencyFolders,
                 active: ActivePackReader,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 worker: Callable[[], dict[str, Any] | None] = lambda: None,
                 environments: Environments | None = None) -> None:
        self.registry = registry
        self.loader = loader
        self.runner = runner
        self.releases = releases
        self.folders = folders
        # The active packs' dependencies (the read models): who depends on the ref.
        self.active = active
        self.clock = clock
        self.worker = worker
        # Each dependent's own Python environment (cached since its registration); None: the
        # runner's interpreter.
        self.environments = environments

    def plan(self, manifest: PackManifest, options: RegistrationOptions) -> DependentsPlan:
        """What replacing the active version of ``manifest.ref`` with ``manifest`` must run;
        nothing when it replaces nothing, or the tests (``skip_tests``) or the dependents'
        (``skip_dependents``) are skipped. Dependents without an enabled testing section have
        nothing to run.

        Raises:
            DependentsActiveError: an active dependent's range does not allow the candidate's
                version, and ``force`` was not given (nothing is recorded).
        """
        if not options.replaces_active or not self._is_active(manifest.ref):
            return NOTHING_TO_RUN
        active = self.active.active_packs().dependencies
        broken = dependents_broken_by(manifest.ref, manifest.version, active)
        if broken and not options.force:
            raise DependentsActiveError(manifest.ref, "switch", broken, manifest.version)
        if options.skip_tests or options.skip_dependents:
            return NOTHING_TO_RUN
        found = []
        for ref in dependents_of(manifest.ref, active):
            if not self._is_active(ref):  # unregistered since the read models were read
                continue
            registration = self.registry.active_registration(ref)
            dependent = PackManifest.from_dict(registration.manifest)
            if dependent.testing is not None and dependent.testing.enabled:
                found.append(Dependent(registration, dependent, dependent.testing))
        return DependentsPlan(tuple(found))

    def run(self, plan: DependentsPlan, candidate_id: UUID, *, candidate_release: str,
            requested_by: str, progress: Progress, jobs: int) -> list[DependentRun]:
        """Run each dependent's suites against the candidate (its release folder), recording
        each as a ``dependency`` test run; in the order of the plan.

        Raises:
            ReleaseMissingError: a dependent's release is gone (nothing can be tested).
            EnvironmentFailedError: a dependent's Python environment cannot be built.
        """
        candidate = self.registry.get_registration(candidate_id)
        self.runner.ready()
        return [self._run_one(dependent, candidate, candidate_release, requested_by,
                              progress, jobs) for dependent in plan.dependents]

    def after_queued(self, registration: Registration) -> RegistryError | None:
        """For a queued registration whose own suites were accepted, on the worker that
        decides it: plan again from what the registration recorded (a dependent may have
        been registered since it was queued), run the dependents, and return the rejection
        they call for (a range the version leaves, failing suites, or suites that could not
        run: a missing release, a failed environment), or None. It never raises for those:
        a worker's job that raised would leave the registration undecided."""
        manifest = PackManifest.from_dict(registration.manifest)
        options = RegistrationOptions(
            force=registration.force, replace=registration.replace,
            skip_tests=registration.skip_tests, skip_dependents=registration.skip_dependents)
        try:
            plan = self.plan(manifest, options)
        except DependentsActiveError as refused:
            return refused
        if not plan.dependents:
            return None
        try:
            release = self.releases.restore(registration.content_digest,
                                            registration.source_path)
            if release is None:
                raise ReleaseMissingError(manifest.ref, manifest.version,
                                          registration.content_digest)
            runs = self.run(plan, registration.id, candidate_release=release,
                            requested_by=registration.requested_by, progress=NoProgress(),
                            jobs=1)
        except RegistryError as failed:
            return failed
        return rejection(runs, registration.id, manifest)

    def _run_one(self, dependent: Dependent, candidate: Registration, candidate_release: str,
                 requested_by: str, progress: Progress, jobs: int) -> DependentRun:
        registration, manifest = dependent.registration, dependent.manifest
        release = self.releases.restore(registration.content_digest, registration.source_path)
        if release is None:
            raise ReleaseMissingError(manifest.ref, manifest.version,
                                      registration.content_digest)
        with self.loader.snapshot(release) as snapshot, self.folders.context(
                manifest.dependencies, beside=snapshot.path,
                instead={candidate.pack_ref: (candidate_release, candidate.content_digest)},
        ) as dependencies:
            environment = (self.environments.prepare(snapshot.path, dependent.testing)
                           if self.environments is not None else None)
            run_id = self.registry.start_test_run(
                registration, content_digest=snapshot.content_digest,
                requested_by=requested_by, candidate=candidate)
            result = run_recorded(
                self.registry, self.runner, run_id, manifest, dependent.testing, snapshot.path,
                environment=environment, dependencies=dependencies,
                progress=OfDependent(progress, manifest.ref), jobs=jobs,
                started_at=self.clock(), worker=self.worker)
        return DependentRun(manifest.ref, run_id, result,
                            accepted=policy.accepts(result, dependent.testing))

    def _is_active(self, ref: str) -> bool:
        try:
            self.registry.active_registration(ref)
        except PackNotFoundError:
            return False
        return True


def rejection(runs: list[DependentRun], registration_id: UUID,
              manifest: PackManifest) -> DependentsFailedError | None:
    """The rejection of the candidate ``manifest`` that failing dependents' runs call for;
    None when every one passed."""
    failed = [(run.pack_ref, run.test_run_id, run.result.to_dict())
              for run in runs if not run.accepted]
    if not failed:
        return None
    return DependentsFailedError(registration_id, manifest.ref, manifest.version, failed)


class OfDependent:
    """Progress that names the dependent before each of its suites (``web/Unit Tests``)."""

    def __init__(self, progress: Progress, ref: str) -> None:
        self.progress = progress
        self.ref = ref

    def suite_started(self, suite: TestSuite) -> None:
        self.progress.suite_started(self._named(suite))

    def case_finished(self, suite: TestSuite, case: TestCaseResult) -> None:
        self.progress.case_finished(self._named(suite), case)

    def suite_finished(self, result: SuiteResult) -> None:
        self.progress.suite_finished(msgspec.structs.replace(
            result, name=f"{self.ref}/{result.name}"))

    def suite_retrying(self, suite: TestSuite, cases: Sequence[str], attempt: int,
                       attempts: int) -> None:
        if isinstance(self.progress, RetryProgress):
            self.progress.suite_retrying(self._named(suite), cases, attempt, attempts)

    def _named(self, suite: TestSuite) -> TestSuite:
        return msgspec.structs.replace(suite, name=f"{self.ref}/{suite.name}")
