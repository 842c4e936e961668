"""The register use case on the in-memory event store, with fake pack files and runners."""

from __future__ import annotations

from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError

from attune_registry.domain.errors import (
    NoTestingConfigError,
    PackAlreadyExistsError,
    RegistrationEndedError,
    RegistrationInProgressError,
    TestingDisabledError,
    TestsFailedError,
)
from attune_registry.domain.manifest import TestSuite, parse_manifest
from attune_registry.domain.origin import GitOrigin
from attune_registry.domain.pack import Pack
from attune_registry.domain.policy import suite_result
from attune_registry.domain.results import TestCaseResult

from attune_registry.application.commands import RegisterCommand
from attune_registry.application.register import LEASE_GRACE, RegisterPack
from attune_registry.application.registry import PackRegistry

from tests.packs import manifest

PINNED_TOPICS = {
    "attune:Registration.PackRegistrationRequested",
    "attune:Registration.TestSuiteCompleted",
    "attune:Registration.RegistrationCommitted",
    "attune:Registration.RegistrationRejected",
    "attune:Pack.Created",
    "attune:Pack.RegistrationOpened",
    "attune:Pack.RegistrationActivated",
    "attune:Pack.RegistrationClosed",
}


@dataclass
class FakeSnapshot:
    path: str = "/snapshot"
    content_digest: str = "d" * 64


@dataclass
class FakePack:
    manifest: Any
    source_path: str = "/packs/x"
    components: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def snapshot(self):
        yield FakeSnapshot()


class FakeLoader:
    def __init__(self) -> None:
        self.packs: dict[str, dict] = {}

    def load(self, path: str) -> FakePack:
        return FakePack(manifest=parse_manifest(self.packs[path]), source_path=path)


class FakeRunner:
    """Reports the given (passed, failed) per suite, or raises what it is told to."""

    def __init__(self) -> None:
        self.counts = (3, 0)
        self.raise_exc: BaseException | None = None
        self.calls: list[str] = []

    def cancel(self) -> None:
        self.cancelled = True

    def ready(self) -> None:
        pass

    def run(self, suite: TestSuite, pack_dir: str, on_case=None, context=None):
        self.calls.append(suite.name)
        if self.raise_exc:
            raise self.raise_exc
        passed, failed = self.counts
        cases = [TestCaseResult(name=f"t.p{n}", status="passed") for n in range(passed)]
        cases += [TestCaseResult(name=f"t.f{n}", status="failed", error_message="boom")
                  for n in range(failed)]
        return suite_result(name=suite.name, runner_type=suite.runner, cases=cases,
                            exit_code=1 if failed else 0, duration_ms=7)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world():
    app = PackRegistry(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    loader, runner, clock = FakeLoader(), FakeRunner(), Clock()
    loader.packs["/packs/mypack"] = manifest("mypack")
    yield app, loader, runner, clock, RegisterPack(app, loader, runner, clock,
                                                   releases=RecordingReleases(app))
    app.close()


def notifications(app: PackRegistry) -> list[Any]:
    return app.recorder.select_notifications(start=1, limit=1000)


def topics(app: PackRegistry) -> list[str]:
    return [n.topic for n in notifications(app)]


class TestRegisterPack:
    def test_passing_tests_commit_the_registration(self, world):
        app, _, runner, _, register = world

        outcome = register(RegisterCommand(path="/packs/mypack"))

        assert outcome.all_passed and not outcome.forced and not outcome.tests_skipped
        assert (outcome.test_result.total_tests, outcome.test_result.passed) == (3, 3)
        assert app.get_registration(outcome.registration_id).status == "committed"
        pack = app.repository.get(Pack.create_id("mypack"))
        assert pack.active_registration_id == outcome.registration_id and pack.in_flight is None
        assert runner.calls == ["Unit Tests"]

    def test_events_use_the_pinned_topics(self, world):
        app, _, _, _, register = world
        register(RegisterCommand(path="/packs/mypack"))
        assert set(topics(app)) == PINNED_TOPICS - {"attune:Pack.RegistrationClosed",
                                                    "attune:Registration.RegistrationRejected"}

    def test_failing_tests_reject_and_leave_nothing_active(self, world):
        app, _, runner, _, register = world
        runner.counts = (8, 2)

        with pytest.raises(TestsFailedError) as caught:
            register(RegisterCommand(path="/packs/mypack"))

        assert str(caught.value) == ("Pack registration failed: tests did not pass. "
                                     "Use force=true to register anyway.")
        rejected = app.get_registration(caught.value.registration_id)
        assert (rejected.status, rejected.reason) == ("rejected", "tests_failed")
        pack = app.repository.get(Pack.create_id("mypack"))
        assert pack.active_registration_id is None and pack.in_flight is None
        assert "attune:Registration.TestSuiteCompleted" in topics(app)

    def test_force_commits_failing_tests_and_records_it(self, world):
        app, _, runner, _, register = world
        runner.counts = (8, 2)

        outcome = register(RegisterCommand(path="/packs/mypack", force=True))

        assert outcome.forced and not outcome.all_passed
        assert (outcome.test_result.passed, outcome.test_result.total_tests) == (8, 10)
        committed = [n for n in notifications(app) if n.topic.endswith("RegistrationCommitted")]
        assert b'"forced":true' in committed[0].state

    def test_skip_tests_runs_nothing(self, world):
        _, _, runner, _, register = world
        outcome = register(RegisterCommand(path="/packs/mypack", skip_tests=True))
        assert outcome.tests_skipped and outcome.test_result is None and runner.calls == []

    def test_an_active_ref_needs_force(self, world):
        _, _, runner, _, register = world
        register(RegisterCommand(path="/packs/mypack"))

        with pytest.raises(PackAlreadyExistsError, match="Pack 'mypack' already exists. "
                                                         "Use force=true to reinstall."):
            register(RegisterCommand(path="/packs/mypack"))
        assert runner.calls == ["Unit Tests"]  # refused before running anything

    def test_forced_reregistration_replaces_the_active_one_on_commit(self, world):
        app, loader, _, _, register = world
        first = register(RegisterCommand(path="/packs/mypack"))
        loader.packs["/packs/mypack"] = manifest("mypack", "2.0.0")

        second = register(RegisterCommand(path="/packs/mypack", force=True))

        pack = app.repository.get(Pack.create_id("mypack"))
        assert (pack.active_registration_id, pack.active_version) == (second.registration_id, "2.0.0")
        assert first.registration_id != second.registration_id

    def test_an_interrupted_forced_reregistration_keeps_the_previous_version(self, world):
        app, loader, runner, _, register = world
        first = register(RegisterCommand(path="/packs/mypack"))
        loader.packs["/packs/mypack"] = manifest("mypack", "2.0.0")
        runner.raise_exc = KeyboardInterrupt()

        with pytest.raises(KeyboardInterrupt):
            register(RegisterCommand(path="/packs/mypack", force=True))

        pack = app.repository.get(Pack.create_id("mypack"))
        assert (pack.active_registration_id, pack.active_version) == (first.registration_id, "1.0.0")
        assert pack.in_flight is None

    def test_missing_or_disabled_testing_is_refused_unless_skipped(self, world):
        _, loader, _, _, register = world
        loader.packs["/none"] = manifest("none", testing=None)
        loader.packs["/off"] = manifest("off", testing={"enabled": False})

        with pytest.raises(NoTestingConfigError, match="No testing configuration found in "
                                                       "pack.yaml for pack 'none'"):
            register(RegisterCommand(path="/none"))
        with pytest.raises(TestingDisabledError, match="Testing is disabled for pack 'off'"):
            register(RegisterCommand(path="/off"))
        assert register(RegisterCommand(path="/off", skip_tests=True)).tests_skipped


class TestOneRegistrationInFlight:
    def open_lease(self, app: PackRegistry, clock: Clock, register: RegisterPack) -> None:
        """A registration that started and never finished (its process died)."""
        source = register.loader.load("/packs/mypack")
        app.request_registration(
            RegisterCommand(path="/packs/mypack", requested_by="ghost"),
            manifest=source.manifest, components=[], source_path="/packs/mypack",
            content_digest="x", lease_expires=clock.now + timedelta(seconds=60) + LEASE_GRACE,
            now=clock.now)

    def test_a_second_registration_is_refused_while_the_lease_holds(self, world):
        app, _, _, clock, register = world
        self.open_lease(app, clock, register)

        with pytest.raises(RegistrationInProgressError, match="registration in progress"):
            register(RegisterCommand(path="/packs/mypack"))

    def test_an_expired_lease_is_taken_over_and_the_old_attempt_recorded_abandoned(self, world):
        app, _, _, clock, register = world
        self.open_lease(app, clock, register)
        stale_id = app.repository.get(Pack.create_id("mypack")).in_flight
        clock.now += timedelta(seconds=60) + LEASE_GRACE + timedelta(seconds=1)

        outcome = register(RegisterCommand(path="/packs/mypack"))

        stale = app.get_registration(stale_id)
        assert (stale.status, stale.reason) == ("rejected", "abandoned")
        assert app.get_registration(outcome.registration_id).status == "committed"

    def test_a_writer_that_loses_the_race_rereads_and_gets_a_conflict(self, world):
        # Another registration is saved between our read of the Pack stream and our write:
        # the store refuses our events, and the retry sees the other registration's lease.
        app, _, _, clock, register = world
        racing = {"armed": True}
        read_pack = app._get_or_create_pack

        def read_then_lose_the_race(ref: str) -> Pack:
            pack = read_pack(ref)
            if racing.pop("armed", False):
                self.open_lease(app, clock, register)
            return pack

        app._get_or_create_pack = read_then_lose_the_race  # type: ignore[method-assign]

        with pytest.raises(RegistrationInProgressError):
            self.open_lease(app, clock, register)
        assert topics(app).count("attune:Registration.PackRegistrationRequested") == 1


class RecordingReleases:
    """The release store's port, recording what the use case asks of it and when."""

    def __init__(self, app: PackRegistry, already_there: bool = False) -> None:
        self.app = app
        self.already_there = already_there
        self.calls: list[tuple[str, str]] = []
        self.lease_held_at_keep: bool | None = None

    def path_of(self, digest: str) -> str:
        return f"/releases/{digest}"

    def keep(self, snapshot: Any) -> bool:
        self.calls.append(("keep", snapshot.content_digest))
        with suppress(AggregateNotFoundError):  # other refs than mypack are not watched
            pack = self.app.repository.get(Pack.create_id("mypack"))
            self.lease_held_at_keep = pack.in_flight is not None
        return not self.already_there

    def discard(self, digest: str) -> None:
        self.calls.append(("discard", digest))

    def restore(self, digest: str, recorded_path: str) -> str | None:
        return self.path_of(digest)

    def digests(self) -> list[str]:
        return []


ORIGIN = GitOrigin(source="https://***@example.org/p.git", ref="v1", commit="c" * 40)
INSTALL = RegisterCommand(path="/packs/mypack", trigger="install", origin=ORIGIN)


def installing(world, store: RecordingReleases) -> RegisterPack:
    """The register use case with its releases kept in ``store``."""
    app, loader, runner, clock, _ = world
    return RegisterPack(app, loader, runner, clock, releases=store)


class TestReleases:
    """Every registration keeps its release under the lease, before tests, and any attempt
    that does not commit removes it again (unless it was there already)."""

    DIGEST = "d" * 64
    PATH = f"/releases/{DIGEST}"

    def test_a_committed_install_keeps_its_files_and_records_them(self, world):
        app = world[0]
        store = RecordingReleases(app)
        outcome = installing(world, store)(INSTALL)
        registration = app.get_registration(outcome.registration_id)
        assert (registration.source_path, registration.origin) == (self.PATH, {
            "type": "git", "source": "https://***@example.org/p.git", "ref": "v1",
            "commit": "c" * 40})
        assert registration.trigger_reason == "install"
        assert store.calls == [("keep", self.DIGEST)] and store.lease_held_at_keep

    def test_a_registered_directory_keeps_a_release_and_records_its_own_path(self, world):
        app = world[0]
        store = RecordingReleases(app)
        outcome = installing(world, store)(RegisterCommand(path="/packs/mypack"))
        registration = app.get_registration(outcome.registration_id)
        assert (registration.source_path, registration.content_digest) == ("/packs/mypack",
                                                                           self.DIGEST)
        assert store.calls == [("keep", self.DIGEST)] and store.lease_held_at_keep

    def test_skipped_tests_keep_a_release_too(self, world):
        app = world[0]
        store = RecordingReleases(app)
        installing(world, store)(RegisterCommand(path="/packs/mypack", skip_tests=True))
        assert store.calls == [("keep", self.DIGEST)]

    @pytest.mark.parametrize("then", [None, KeyboardInterrupt()], ids=["records", "stopped"])
    def test_a_registration_cancelled_while_it_runs_records_nothing_more(self, world, then):
        """``pack cancel --force`` while the suites run: the process's next record is refused,
        or it is stopped; either way it leaves the release alone (the ref, and so the release,
        may be another attempt's now)."""
        app, _, runner, clock, _ = world
        store = RecordingReleases(app)
        run = runner.run

        def cancelled_meanwhile(suite, pack_dir, on_case=None, context=None):
            app.cancel_registration("mypack", actor="cli:ops", now=clock(), force=True,
                                    holder_gone=lambda holder: False)
            if then is not None:
                raise then
            return run(suite, pack_dir, on_case)

        runner.run = cancelled_meanwhile
        expected = (RegistrationEndedError if then is None else KeyboardInterrupt)
        with pytest.raises(expected):
            installing(world, store)(INSTALL)
        assert store.calls == [("keep", self.DIGEST)]
        [rejected] = [n for n in notifications(app)
                      if n.topic == "attune:Registration.RegistrationRejected"]
        assert b"cli:ops" in rejected.state
        assert "attune:Registration.TestSuiteCompleted" not in topics(app)

    def test_failing_tests_discard_the_files(self, world):
        app, _, runner, *_ = world
        runner.counts = (1, 1)
        store = RecordingReleases(app)
        with pytest.raises(TestsFailedError):
            installing(world, store)(INSTALL)
        assert store.calls == [("keep", self.DIGEST), ("discard", self.DIGEST)]

    def test_a_crash_while_testing_rejects_and_discards(self, world):
        app, _, runner, *_ = world
        runner.raise_exc = KeyboardInterrupt()
        store = RecordingReleases(app)
        with pytest.raises(KeyboardInterrupt):
            installing(world, store)(INSTALL)
        assert store.calls == [("keep", self.DIGEST), ("discard", self.DIGEST)]
        assert "attune:Registration.RegistrationRejected" in topics(app)

    def test_files_that_were_there_already_are_never_discarded(self, world):
        app, _, runner, *_ = world
        runner.counts = (1, 1)
        store = RecordingReleases(app, already_there=True)
        with pytest.raises(TestsFailedError):
            installing(world, store)(INSTALL)
        assert store.calls == [("keep", self.DIGEST)]

    def test_an_unknown_store_outcome_keeps_the_files(self, world):
        from eventsourcing.persistence import OperationalError

        app, _, runner, *_ = world
        runner.raise_exc = OperationalError("connection lost")
        store = RecordingReleases(app)
        with pytest.raises(OperationalError):
            installing(world, store)(INSTALL)
        assert store.calls == [("keep", self.DIGEST)]

    def test_a_refusal_before_the_request_touches_no_files(self, world):
        app, _, _, _, register = world
        register(RegisterCommand(path="/packs/mypack"))
        store = RecordingReleases(app)
        with pytest.raises(PackAlreadyExistsError):
            installing(world, store)(INSTALL)
        assert store.calls == []
