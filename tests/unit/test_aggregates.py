"""The rules of the Pack, Registration, TestRun and ApiToken aggregates, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest

from attune_registry.domain.component import Component
from attune_registry.domain.errors import (
    NotCancellableError,
    NothingToRollBackError,
    PackAlreadyExistsError,
    PackNotFoundError,
    RegistrationInProgressError,
    TokenNotFoundError,
)
from attune_registry.domain.manifest import parse_manifest
from attune_registry.domain.origin import GitOrigin
from attune_registry.domain.pack import Pack
from attune_registry.domain.policy import suite_result
from attune_registry.domain.registration import Registration, RegistrationStateError
from attune_registry.domain.results import TestCaseResult, TestSummary
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.token import (
    ApiToken,
    InvalidScopeError,
    InvalidTokenNameError,
    TokenNameTakenError,
    TokenRevokedError,
    token_meant,
)

from tests.packs import manifest

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)


def replayed(aggregate):
    """The aggregate rebuilt from the events it has not yet saved, as a repository would."""
    copy = None
    for event in aggregate.collect_events():
        copy = event.mutate(copy)
    return copy


def opened(pack: Pack) -> Pack:
    """``pack`` with a registration in flight under a lease that ends at LEASE."""
    pack.open_registration(uuid4(), replace=True, lease_expires=LEASE, now=NOW)
    return pack


def activated(pack: Pack, version: str) -> tuple[Pack, object]:
    registration_id = uuid4()
    pack.open_registration(registration_id, replace=True, lease_expires=LEASE, now=NOW)
    pack.activate(registration_id, version)
    return pack, registration_id


SUMMARY = TestSummary(pack_ref="lamp", pack_version="1.0.0", execution_time=NOW.isoformat(),
                      status="passed", total_tests=2, passed=2, failed=0, skipped=0,
                      pass_rate=1.0, duration_ms=5)


def a_suite():
    return suite_result(name="unit", runner_type="python_unittest", exit_code=0,
                        duration_ms=3, cases=[TestCaseResult(name="t.a", status="passed")])


def a_registration(**changes) -> Registration:
    fields = {"manifest": parse_manifest(manifest("lamp")), "components": [],
              "source_path": "/packs/lamp", "content_digest": "d" * 64, "force": False,
              "replace": False, "skip_tests": False, "trigger_reason": "register",
              "requested_by": "cli:alice", "origin": None}
    return Registration.request(**{**fields, **changes})


class TestPackIdentity:
    def test_a_ref_always_has_the_same_id_so_two_first_registrations_race_on_one_stream(self):
        assert Pack.create_id("lamp") == uuid5(NAMESPACE_URL, "attune:/packs/lamp")
        assert Pack(ref="lamp").id == Pack(ref="lamp").id != Pack(ref="lamp2").id


class TestPackLease:
    def test_a_new_ref_takes_the_lease_for_its_registration(self):
        pack, registration_id = Pack(ref="lamp"), uuid4()

        abandoned = pack.open_registration(registration_id, replace=False,
                                           lease_expires=LEASE, now=NOW)

        assert abandoned is None
        assert (pack.in_flight, pack.lease_expires) == (registration_id, LEASE)
        assert pack.holds_lease(registration_id, now=NOW)
        assert not pack.holds_lease(uuid4(), now=NOW)

    def test_a_second_registration_is_refused_while_the_lease_holds_and_nothing_is_recorded(
            self):
        pack = opened(Pack(ref="lamp"))
        pending = len(pack.pending_events)

        with pytest.raises(RegistrationInProgressError, match="registration in progress"):
            pack.open_registration(uuid4(), replace=True, lease_expires=LEASE, now=NOW)
        with pytest.raises(RegistrationInProgressError):
            pack.check_can_open(replace=True, now=NOW)

        assert len(pack.pending_events) == pending

    def test_an_expired_lease_is_taken_over_and_the_abandoned_registration_named(self):
        pack = Pack(ref="lamp")
        stale = uuid4()
        pack.open_registration(stale, replace=False, lease_expires=LEASE, now=NOW)
        later = LEASE + timedelta(seconds=1)

        assert not pack.holds_lease(stale, now=later)
        taken = pack.open_registration(uuid4(), replace=False, lease_expires=later + (LEASE - NOW),
                                       now=later)

        assert taken == stale
        assert pack.pending_events[-1].taken_over == stale

    def test_an_active_ref_is_replaced_only_when_asked(self):
        pack, _ = activated(Pack(ref="lamp"), "1.0.0")

        with pytest.raises(PackAlreadyExistsError, match="Pack 'lamp' already exists"):
            pack.open_registration(uuid4(), replace=False, lease_expires=LEASE, now=NOW)
        pack.open_registration(uuid4(), replace=True, lease_expires=LEASE, now=NOW)

    def test_closing_frees_the_ref_without_activating_anything(self):
        pack, registration_id = Pack(ref="lamp"), uuid4()
        pack.open_registration(registration_id, replace=False, lease_expires=LEASE, now=NOW)

        pack.close_registration(registration_id)

        assert (pack.in_flight, pack.active_registration_id) == (None, None)
        assert not pack.holds_lease(registration_id, now=NOW)

    def test_only_the_registration_in_flight_can_activate_or_close(self):
        pack = opened(Pack(ref="lamp"))

        with pytest.raises(RegistrationStateError, match="does not hold the lease"):
            pack.activate(uuid4(), "1.0.0")
        with pytest.raises(RegistrationStateError, match="does not hold the lease"):
            pack.close_registration(uuid4())


class TestPackCancel:
    """``pack cancel``: the lease of a registration whose process is gone (or any, forced)."""

    def test_a_gone_holder_releases_the_lease_and_names_the_registration(self):
        pack = Pack(ref="lamp")
        registration_id = uuid4()
        pack.open_registration(registration_id, replace=False, lease_expires=LEASE, now=NOW,
                               holder={"host": "h", "pid": 7, "started": 1})
        assert replayed(pack).holder == {"host": "h", "pid": 7, "started": 1}
        assert pack.cancel_in_flight(now=NOW, holder_gone=True, force=False) == registration_id
        assert (pack.in_flight, pack.lease_expires, pack.holder) == (None, None, None)
        pack.check_can_open(replace=False, now=NOW)  # free again

    def test_a_live_holder_needs_force_unless_its_lease_expired(self):
        pack = opened(Pack(ref="lamp"))
        with pytest.raises(NotCancellableError, match="may still be running"):
            pack.cancel_in_flight(now=NOW, holder_gone=False, force=False)
        assert pack.in_flight is not None
        pack.cancel_in_flight(now=LEASE, holder_gone=False, force=False)  # expired: abandoned
        assert pack.in_flight is None
        opened(pack).cancel_in_flight(now=NOW, holder_gone=False, force=True)
        assert pack.in_flight is None

    def test_nothing_in_flight_is_refused(self):
        with pytest.raises(NotCancellableError, match="has no registration in progress"):
            Pack(ref="lamp").cancel_in_flight(now=NOW, holder_gone=True, force=True)

    def test_the_in_progress_refusal_says_when_the_lease_expires(self):
        pack = opened(Pack(ref="lamp"))
        with pytest.raises(RegistrationInProgressError) as caught:
            pack.check_can_open(replace=True, now=NOW)
        assert caught.value.lease_expires == LEASE
        assert "lease expires 2026-12-01 12:05:00 UTC" in str(caught.value)
        started = caught.value.with_start(NOW)
        assert f"({pack.in_flight}, started 2026-12-01 12:00:00 UTC, lease expires" in str(
            started)


class TestPackRollback:
    def test_activations_stack_up_and_each_rollback_goes_one_step_further_back(self):
        pack, first = activated(Pack(ref="lamp"), "1.0.0")
        pack, second = activated(pack, "1.1.0")
        pack, third = activated(pack, "1.2.0")

        assert pack.roll_back(now=NOW) == (third, second, "1.1.0")
        assert pack.roll_back(now=NOW) == (second, first, "1.0.0")
        assert (pack.active_registration_id, pack.active_version) == (first, "1.0.0")
        with pytest.raises(NothingToRollBackError, match="no earlier registration"):
            pack.roll_back(now=NOW)

    def test_nothing_active_is_not_found_and_a_running_registration_blocks_it(self):
        with pytest.raises(PackNotFoundError, match="Pack 'lamp' not found"):
            Pack(ref="lamp").roll_back(now=NOW)

        pack, _ = activated(Pack(ref="lamp"), "1.0.0")
        pack, _ = activated(pack, "1.1.0")
        opened(pack)
        with pytest.raises(RegistrationInProgressError):
            pack.roll_back(now=NOW)
        assert pack.roll_back(now=LEASE + timedelta(seconds=1))[2] == "1.0.0"

    def test_unregister_ends_the_active_registration_and_forgets_the_stack(self):
        pack, _first = activated(Pack(ref="lamp"), "1.0.0")
        pack, second = activated(pack, "1.1.0")

        assert pack.unregister(now=NOW) == second

        assert (pack.active_registration_id, pack.previous) == (None, [])
        with pytest.raises(PackNotFoundError):
            pack.unregister(now=NOW)
        with pytest.raises(PackNotFoundError):
            pack.roll_back(now=NOW)

    def test_a_replay_of_the_events_gives_the_same_pack(self):
        pack, first = activated(Pack(ref="lamp"), "1.0.0")
        pack, _ = activated(pack, "1.1.0")
        pack.roll_back(now=NOW)
        opened(pack)
        expected = (pack.active_registration_id, pack.active_version, pack.previous,
                    pack.in_flight, pack.lease_expires)

        copy = replayed(pack)

        assert (copy.active_registration_id, copy.active_version, copy.previous,
                copy.in_flight, copy.lease_expires) == expected
        assert copy.active_registration_id == first


class TestRegistration:
    def test_the_request_records_typed_values_as_the_event_s_plain_ones(self):
        component = Component(kind="action", ref="lamp.on", label="On", description="",
                              entry_point="on.sh", definition={"runner_type": "shell"})
        origin = GitOrigin(source="https://git.example/lamp.git", ref="v1", commit="c" * 40)

        registration = a_registration(components=[component], origin=origin, replace=True)

        requested = registration.pending_events[0]
        assert requested.components == [{"kind": "action", "ref": "lamp.on", "label": "On",
                                         "description": "", "entry_point": "on.sh",
                                         "definition": {"runner_type": "shell"}}]
        assert list(requested.origin.items()) == [
            ("type", "git"), ("source", "https://git.example/lamp.git"), ("ref", "v1"),
            ("commit", "c" * 40)]
        assert (requested.pack_ref, requested.pack_version, requested.replace) == (
            "lamp", "1.0.0", True)
        assert registration.status == "requested" and not registration.is_finished

    def test_suites_then_a_commit_and_nothing_after_it(self):
        registration = a_registration()

        registration.complete_suite(a_suite())
        assert registration.status == "testing"
        registration.commit(summary=SUMMARY, forced=False, replaced_registration_id=None)

        committed = registration.pending_events[-1]
        assert committed.summary == SUMMARY.to_dict() and not committed.tests_skipped
        assert registration.is_finished
        for late in (lambda: registration.complete_suite(a_suite()),
                     lambda: registration.commit(summary=None, forced=False,
                                                 replaced_registration_id=None),
                     lambda: registration.reject(reason="tests_failed", message="x",
                                                 summary=None)):
            with pytest.raises(RegistrationStateError, match="already committed"):
                late()

    def test_a_rejection_keeps_its_reason_and_cannot_be_rolled_back(self):
        registration = a_registration()

        registration.reject(reason="tests_failed", message="2 failed", summary=SUMMARY)

        assert (registration.status, registration.reason) == ("rejected", "tests_failed")
        with pytest.raises(RegistrationStateError, match="is rejected, not committed"):
            registration.roll_back(reason="rollback", actor="alice",
                                   restored_registration_id=None)

    def test_a_committed_registration_is_rolled_back_once(self):
        registration = a_registration(skip_tests=True)
        registration.commit(summary=None, forced=False, replaced_registration_id=None)
        assert registration.pending_events[-1].tests_skipped

        registration.roll_back(reason="unregister", actor="alice", restored_registration_id=None)

        assert (registration.status, registration.reason) == ("rolled_back", "unregister")
        with pytest.raises(RegistrationStateError):
            registration.roll_back(reason="rollback", actor="alice",
                                   restored_registration_id=None)
        assert replayed(registration).status == "rolled_back"


class TestTestRun:
    def test_a_run_records_suites_and_completes_once(self):
        run = TestRun(pack_ref="lamp", pack_version="1.0.0", registration_id=uuid4(),
                      trigger_reason="manual", source_path="/p", content_digest="d",
                      requested_by="cli:alice", candidate=None)

        run.complete_suite(a_suite())
        run.complete(summary=SUMMARY)

        assert run.is_finished and run.pending_events[-1].summary == SUMMARY.to_dict()
        with pytest.raises(RegistrationStateError, match="already completed"):
            run.complete(summary=None, error="again")
        with pytest.raises(RegistrationStateError, match="already completed"):
            run.complete_suite(a_suite())


class TestApiToken:
    def test_a_name_must_be_usable_and_free_and_the_scope_known(self):
        issue = {"scope": "read", "secret_hash": "h", "issued_by": "alice"}

        with pytest.raises(InvalidTokenNameError, match="must be 1 to 100 characters"):
            ApiToken.issue(name=" ", **issue)
        with pytest.raises(InvalidTokenNameError):
            ApiToken.issue(name="x" * 101, **issue)
        with pytest.raises(TokenNameTakenError, match="A live token is already called 'ci'"):
            ApiToken.issue(name="ci", live_names=["ci"], **issue)
        with pytest.raises(InvalidScopeError, match="Unknown token scope 'admin'"):
            ApiToken.issue(name="ci", scope="admin", secret_hash="h", issued_by="alice")

    def test_write_includes_read_and_a_revoked_token_allows_nothing(self):
        writer = ApiToken.issue(name="ci", scope="write", secret_hash="h", issued_by="alice")
        reader = ApiToken.issue(name="ro", scope="read", secret_hash="h", issued_by="alice")

        assert writer.allows("read") and writer.allows("write")
        assert reader.allows("read") and not reader.allows("write")
        writer.revoke(actor="alice")
        assert not writer.allows("read")
        with pytest.raises(TokenRevokedError, match="Token 'ci' is already revoked"):
            writer.revoke(actor="alice")

    def test_a_name_means_the_one_live_token_that_has_it(self):
        tokens = [("id-1", "ci", True), ("id-2", "ci", False), ("id-3", "dup", False),
                  ("id-4", "dup", False), ("id-5", "old", True)]

        assert token_meant("ci", tokens) == "id-2"
        assert token_meant("id-3", tokens) == "id-3"
        with pytest.raises(TokenNotFoundError):
            token_meant("dup", tokens)  # two live tokens: ambiguous
        with pytest.raises(TokenNotFoundError):
            token_meant("nobody", tokens)
        with pytest.raises(TokenRevokedError, match="Token 'old' is already revoked"):
            token_meant("old", tokens)
