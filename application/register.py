"""Register a pack: validate, snapshot, test, then commit or reject (DESIGN.md §4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain import policy
from domain.errors import (
    DigestMismatchError,
    NoTestingConfigError,
    TestingDisabledError,
    TestsFailedError,
)
from domain.manifest import PackManifest, TestingConfig
from domain.results import TestResult

from application.ports import (
    InstalledPacks,
    NoProgress,
    PackLoader,
    PackSnapshot,
    PackSource,
    Progress,
    SuiteRunner,
)
from application.registry import STORE_FAILURES, PackRegistry
from application.suites import run_suites

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

    @property
    def all_passed(self) -> bool:
        return self.test_result is not None and self.test_result.status == "passed"


class RegisterPack:
    """The register use case; its collaborators are injected by the composition root."""

    def __init__(
        self,
        registry: PackRegistry,
        loader: PackLoader,
        runner: SuiteRunner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease_grace: Callable[[], timedelta] = lambda: LEASE_GRACE,
    ) -> None:
        self.registry = registry
        self.loader = loader
        self.runner = runner
        self.clock = clock
        # A callable, so that a bad setting fails the registrations that need it, not startup.
        self.lease_grace = lease_grace

    def __call__(
        self,
        path: str,
        *,
        force: bool = False,
        replace: bool = False,
        skip_tests: bool = False,
        requested_by: str = "cli",
        trigger_reason: str = "register",
        progress: Progress | None = None,
        jobs: int = 1,
        origin: dict[str, Any] | None = None,
        install_to: InstalledPacks | None = None,
        expected_digest: str | None = None,
    ) -> RegistrationOutcome:
        """Register the pack at ``path``; ``jobs`` suites may run at once.

        ``force`` replaces an active pack of the same ref and commits even if tests fail (the
        spec's meaning); ``replace`` only replaces, keeping the test gate (for upgrades in CI).

        With ``install_to`` (an install), the pack's files are copied into the managed store
        once the ref's lease is held and before tests run; the registration records that copy
        as its source, and ``origin`` says where the files came from. A refused attempt
        removes the copy again. ``expected_digest`` pins the content: any other is refused
        before anything is recorded.

        Raises:
            RegistryError: for every refusal the user can act on (see ``domain.errors``);
                ``TestsFailedError`` after the rejected attempt has been recorded.
        """
        grace = self.lease_grace()
        source = self.loader.load(path)
        manifest = source.manifest
        self.registry.check_can_register(manifest.ref, replace=force or replace,
                                         now=self.clock())
        testing = None if skip_tests else required_testing(manifest)
        with source.snapshot() as snapshot:
            if expected_digest is not None and snapshot.content_digest != expected_digest:
                raise DigestMismatchError(manifest.ref, snapshot.content_digest, expected_digest)
            source_path = source.source_path
            if install_to is not None:
                source_path = install_to.path_for(manifest.ref, manifest.version,
                                                  snapshot.content_digest)
            registration_id = self._request(source, snapshot, source_path, origin, force,
                                            replace, skip_tests, requested_by, trigger_reason,
                                            testing, grace)
            kept = False
            try:
                # Under the lease: no other attempt on this ref can be placing or removing it.
                kept = install_to is not None and install_to.keep(snapshot, source_path)
                return self._test_and_decide(registration_id, source, snapshot, testing,
                                             force, progress or NoProgress(), jobs)
            except STORE_FAILURES:
                # The outcome is unknown (the lease frees the ref later): keep the files, as
                # the registration may yet be the active one.
                raise
            except TestsFailedError:
                self._discard(install_to, source_path, kept)  # rejected and recorded already
                raise
            except BaseException as exc:  # interrupted or crashed: never leave it in flight
                self.registry.reject_registration(
                    registration_id,
                    reason="tests_not_executed",
                    message=f"registration stopped before a decision: {exc!r}",
                    result=None,
                )
                self._discard(install_to, source_path, kept)
                raise

    @staticmethod
    def _discard(install_to: InstalledPacks | None, path: str, kept: bool) -> None:
        if install_to is not None and kept:
            install_to.discard(path)

    def _request(
        self,
        source: PackSource,
        snapshot: PackSnapshot,
        source_path: str,
        origin: dict[str, Any] | None,
        force: bool,
        replace: bool,
        skip_tests: bool,
        requested_by: str,
        trigger_reason: str,
        testing: TestingConfig | None,
        grace: timedelta,
    ) -> UUID:
        now = self.clock()
        budget = sum(s.timeout_seconds for s in testing.test_suites) if testing else 0
        return self.registry.request_registration(
            manifest=source.manifest,
            components=source.components,
            source_path=source_path,
            content_digest=snapshot.content_digest,
            force=force,
            replace=replace,
            skip_tests=skip_tests,
            trigger_reason=trigger_reason,
            requested_by=requested_by,
            lease_expires=now + timedelta(seconds=budget) + grace,
            now=now,
            origin=origin,
        )

    def _test_and_decide(
        self,
        registration_id: UUID,
        source: PackSource,
        snapshot: PackSnapshot,
        testing: TestingConfig | None,
        force: bool,
        progress: Progress,
        jobs: int,
    ) -> RegistrationOutcome:
        manifest = source.manifest
        if testing is None:
            nid = self.registry.commit_registration(registration_id, result=None, forced=False)
            return RegistrationOutcome(registration_id, manifest.ref, manifest.version,
                                       tests_skipped=True, forced=False, test_result=None,
                                       notification_id=nid)
        result = run_suites(
            self.runner, testing.test_suites, snapshot.path, pack_ref=manifest.ref,
            pack_version=manifest.version, started_at=self.clock(), progress=progress,
            jobs=jobs, record=lambda suite: self.registry.complete_suite(registration_id, suite),
        )
        if policy.accepts(result, testing) or force:
            forced = not policy.accepts(result, testing)
            nid = self.registry.commit_registration(registration_id, result=result,
                                                    forced=forced)
            return RegistrationOutcome(registration_id, manifest.ref, manifest.version,
                                       tests_skipped=False, forced=forced, test_result=result,
                                       notification_id=nid)
        error = TestsFailedError(registration_id, result.to_dict())
        self.registry.reject_registration(registration_id, reason="tests_failed",
                                          message=str(error), result=result)
        raise error

def required_testing(manifest: PackManifest) -> TestingConfig:
    """The testing section, which running tests needs present and enabled."""
    testing = manifest.testing
    if testing is None:
        raise NoTestingConfigError(manifest.ref)
    if not testing.enabled:
        raise TestingDisabledError(manifest.ref)
    return testing
