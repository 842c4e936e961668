"""Run a pack's suites outside registration: a registered pack (recorded) or a directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from attune_registry.domain.errors import ReleaseMissingError
from attune_registry.domain.manifest import PackManifest, TestingConfig, required_testing
from attune_registry.domain.results import TestResult

from attune_registry.application.packs_path import DependencyFolders
from attune_registry.application.ports import (
    NO_CONTEXT,
    Environments,
    NoProgress,
    PackLoader,
    PreparedEnvironment,
    Progress,
    Releases,
    SuiteContext,
    SuiteRunner,
    merged,
)
from attune_registry.application.registry import PackRegistry
from attune_registry.application.suites import run_suites


def run_recorded(registry: PackRegistry, runner: SuiteRunner, run_id: UUID,
                 manifest: PackManifest, testing: TestingConfig, pack_dir: str, *,
                 environment: PreparedEnvironment | None, dependencies: SuiteContext,
                 progress: Progress, jobs: int, started_at: datetime,
                 worker: Callable[[], dict[str, Any] | None]) -> TestResult:
    """Run ``testing``'s suites as the test run ``run_id``: its environment recorded first,
    each suite as it ends, and the run's end, also when it is interrupted."""
    if environment is not None:
        registry.record_environment(run_id, environment.record)
    context = merged(environment.context if environment else NO_CONTEXT, dependencies)
    try:
        result = run_suites(
            runner, testing.test_suites, pack_dir, pack_ref=manifest.ref,
            pack_version=manifest.version, started_at=started_at, progress=progress,
            jobs=jobs, context=context,
            record=lambda suite: registry.complete_suite(run_id, suite, worker=worker()))
    except BaseException as exc:
        registry.complete_test_run(run_id, result=None,
                                   error=f"stopped before the end: {exc!r}")
        raise
    registry.complete_test_run(run_id, result=result)
    return result


@dataclass(frozen=True)
class TestRunOutcome:
    """What a manual run found; ``test_run_id`` is None when nothing was recorded."""

    __test__ = False

    pack_ref: str
    pack_version: str
    result: TestResult
    test_run_id: UUID | None
    source_changed: bool = False


class TestPack:
    """The manual test use case (``attune pack test``)."""

    __test__ = False

    def __init__(self, registry: PackRegistry, loader: PackLoader, runner: SuiteRunner,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 releases: Releases, default_jobs: Callable[[], int] = lambda: 1,
                 worker: Callable[[], dict[str, Any] | None] = lambda: None,
                 folders: DependencyFolders | None = None,
                 environments: Environments | None = None) -> None:
        self.registry = registry
        self.loader = loader
        self.runner = runner
        self.releases = releases
        # The process that runs the suites, as each suite's event records it.
        self.worker = worker
        self.clock = clock
        # A callable, so that a bad setting fails the runs, not start-up.
        self.default_jobs = default_jobs
        # The active releases of the packs a pack depends on, as PACKS_PATH shows them.
        self.folders = folders or DependencyFolders(registry, releases, None)
        # The pack's own Python environment; None: the runner's interpreter.
        self.environments = environments

    def registered(self, ref: str, *, requested_by: str = "cli",
                   progress: Progress | None = None, jobs: int | None = None) -> TestRunOutcome:
        """Run the active registration's suites again on its release and record it.

        The suites are the registered manifest's, the files its release's: what the
        registration tested. ``source_changed`` tells whether the release's files no longer
        have the registered digest (damaged since; ``attune pack verify`` names them).

        Raises:
            PackNotFoundError, ReleaseMissingError (no release, and the recorded files of a
                registration from before releases have changed), EnvironmentFailedError (the
                pack's requirements do not install; nothing is recorded).
        """
        jobs = jobs or self.default_jobs()
        registration = self.registry.active_registration(ref)
        manifest = PackManifest.from_dict(registration.manifest)
        testing = required_testing(manifest)
        self.runner.ready()
        release = self.releases.restore(registration.content_digest, registration.source_path)
        if release is None:
            raise ReleaseMissingError(manifest.ref, manifest.version, registration.content_digest)
        with self.loader.snapshot(release) as snapshot, \
                self.folders.context(manifest.dependencies, beside=snapshot.path) as dependencies:
            environment = self._environment(snapshot.path, testing)
            run_id = self.registry.start_test_run(
                registration, content_digest=snapshot.content_digest, requested_by=requested_by)
            result = run_recorded(
                self.registry, self.runner, run_id, manifest, testing, snapshot.path,
                environment=environment, dependencies=dependencies,
                progress=progress or NoProgress(), jobs=jobs, started_at=self.clock(),
                worker=self.worker)
        return TestRunOutcome(manifest.ref, manifest.version, result, run_id,
                              source_changed=snapshot.content_digest != registration.content_digest)

    def directory(self, path: str, *, progress: Progress | None = None,
                  jobs: int | None = None) -> TestRunOutcome:
        """Run the suites of an unregistered pack directory; nothing is recorded."""
        jobs = jobs or self.default_jobs()
        source = self.loader.load(path)
        testing = required_testing(source.manifest)
        self.runner.ready()
        with source.snapshot() as snapshot, \
                self.folders.context(source.manifest.dependencies,
                                     beside=snapshot.path) as dependencies:
            environment = self._environment(snapshot.path, testing)
            result = run_suites(
                self.runner, testing.test_suites, snapshot.path, pack_ref=source.manifest.ref,
                pack_version=source.manifest.version, started_at=self.clock(),
                progress=progress or NoProgress(), jobs=jobs,
                context=merged(environment.context if environment else NO_CONTEXT,
                               dependencies),
                record=lambda suite: None)
        return TestRunOutcome(source.manifest.ref, source.manifest.version, result, None)

    def _environment(self, pack_dir: str, testing: TestingConfig) -> PreparedEnvironment | None:
        """The pack's Python environment (None: the runner's interpreter).

        Raises: EnvironmentFailedError, before anything is recorded.
        """
        return self.environments.prepare(pack_dir, testing) if self.environments else None
