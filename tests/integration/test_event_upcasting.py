"""Events recorded before a change of shape still load, replay and project.

`tests/fixtures/events_v1.json` holds the events of one registration (pack `lamp`, tests run)
exactly as the registry stored them before `PackRegistrationRequested` gained `origin`
(class_version 1), with only the machine's path and user replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from attune_registry.domain.origin import DirectoryOrigin

from attune_registry.application.commands import InstallCommand, RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.service import RegistryService

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "events_v1.json"
REQUESTED = "attune:Registration.PackRegistrationRequested"


def old_events(*, without_replace: bool = False) -> list[dict]:
    events = json.loads(FIXTURE.read_text())
    if without_replace:  # the oldest events, recorded before `replace` existed
        for event in events:
            if event["topic"] == REQUESTED:
                del event["state"]["replace"]
    return events


def store(registry: RegistryService, events: list[dict]) -> UUID:
    """Write ``events`` as stored rows; returns the registration's id."""
    registry.app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=json.dumps(e["state"]).encode()) for e in events])
    return UUID(next(e["originator_id"] for e in events if e["topic"] == REQUESTED))


@pytest.mark.parametrize("without_replace", [False, True], ids=["v1", "v1-before-replace"])
def test_old_request_events_load_and_project(settings, without_replace):
    events = old_events(without_replace=without_replace)
    assert all("origin" not in e["state"] and "class_version" not in e["state"] for e in events)
    with build_registry(settings) as registry:
        registration_id = store(registry, events)
        registration = registry.app.get_registration(registration_id)
        assert (registration.origin, registration.replace) == (None, False)
        assert (registration.status, registration.source_path) == ("committed", "/srv/packs/lamp")
        registry.catch_up()
        pack = registry.show("lamp").pack
        assert (pack.version, pack.origin, pack.source_path) == ("1.0.0", None, "/srv/packs/lamp")
        [row] = registry.registrations("lamp")
        assert (row.status, row.origin, row.trigger_reason) == ("committed", None, "register")
        assert registry.test_history("lamp")[0].passed == 2
        # An auditor's replay from scratch gives the same rows.
        registry.rebuild()
        assert registry.show("lamp").pack == pack


def test_new_request_events_are_version_2_with_origin(settings, tmp_path):
    from tests.packs import manifest, write_pack

    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    with build_registry(settings) as registry:
        done = registry.install(InstallCommand(source=str(pack), skip_tests=True))
        [requested] = [e for e in registry.audit(UUID(done.pack.registration_id))
                       if e.topic == REQUESTED]
        assert requested.state["class_version"] == 3  # 3 added skip_dependents
        assert requested.state["origin"] == {"type": "directory", "source": str(pack)}
        assert done.pack.origin == DirectoryOrigin(source=str(pack))


def test_old_and_new_events_side_by_side(settings, tmp_path):
    """A store with v1 history takes a v2 install of the same ref on top, and replays both."""
    from tests.packs import manifest, write_pack

    newer = write_pack(tmp_path / "lamp", manifest("lamp", "1.1.0"))
    with build_registry(settings) as registry:
        store(registry, old_events())
        registry.install(InstallCommand(source=str(newer), replace=True, skip_tests=True))
        registry.rebuild()
        rows = registry.registrations("lamp")
        assert [(r.pack_version, r.status, r.origin is None) for r in rows] == [
            ("1.1.0", "committed", False), ("1.0.0", "committed", True)]
        assert isinstance(registry.show("lamp").pack.origin, DirectoryOrigin)


SUITE = "attune:Registration.TestSuiteCompleted"


def test_suites_recorded_before_the_sandbox_load_with_no_isolation(settings):
    """``TestSuiteCompleted`` version 2 added ``isolation``; older suites say None."""
    events = old_events()
    suites = [e for e in events if e["topic"] == SUITE]
    assert suites and all("isolation" not in e["state"] for e in suites)
    with build_registry(settings) as registry:
        registration_id = store(registry, events)
        assert registry.app.get_registration(registration_id).status == "committed"
        registry.rebuild()
        [run] = registry.test_history("lamp")
        assert [s["isolation"] for s in run.result["test_suites"]] == [None] * len(suites)


def test_suites_recorded_before_workers_load_with_no_worker(settings):
    """``TestSuiteCompleted`` version 3 added ``worker``; version 2 suites say None."""
    events = old_events()
    for event in events:
        if event["topic"] == SUITE:
            event["state"].update(isolation=None, class_version=2)
    with build_registry(settings) as registry:
        registration_id = store(registry, events)
        [stored] = [e for e in registry.app.recorder.select_events(registration_id)
                    if e.topic == SUITE]
        suite = registry.app.mapper.to_domain_event(stored)
        assert (suite.worker, suite.isolation) == (None, None)
        registration = registry.app.get_registration(registration_id)
        assert registration.status == "committed" and registration.has_suite(suite.name)


def test_suites_recorded_before_fingerprints_load_with_none_and_single_attempts(settings):
    """``TestSuiteCompleted`` version 4 added ``fingerprint`` and ``retries``, and each case's
    ``attempts`` and ``flaky``; version 3 suites load with None, no retries, one attempt."""
    events = old_events()
    for event in events:
        if event["topic"] == SUITE:
            event["state"].update(isolation=None, worker=None, class_version=3)
    with build_registry(settings) as registry:
        registration_id = store(registry, events)
        [stored] = [e for e in registry.app.recorder.select_events(registration_id)
                    if e.topic == SUITE]
        suite = registry.app.mapper.to_domain_event(stored)
        assert (suite.fingerprint, suite.retries) == (None, [])
        assert suite.test_cases and all(
            (case["attempts"], case["flaky"]) == (1, False) for case in suite.test_cases)
        registry.rebuild()
        [run] = registry.test_history("lamp")
        assert run.fingerprint is None and run.flaky == 0
        assert [s["fingerprint"] for s in run.result["test_suites"]] == [None]


def test_new_suite_events_are_version_4_and_record_their_sandbox_and_worker(settings,
                                                                            tmp_path):
    import os

    from tests.packs import manifest, write_pack

    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    with build_registry(settings) as registry:
        done = registry.register(RegisterCommand(path=str(pack)))
        [suite] = [e for e in registry.audit(UUID(done.pack.registration_id))
                   if e.topic == SUITE]
        assert suite.state["class_version"] == 4
        assert suite.state["worker"]["pid"] == os.getpid()  # the registering process
        assert len(suite.state["fingerprint"]) == 64 and suite.state["retries"] == []
        isolation = suite.state["isolation"]
        assert isolation["mechanism"] in ("bwrap", "namespaces")
        assert isolation["network"] is False and "network" in isolation["covers"]
        assert isolation["limits"]["memory_mb"] > 0


OPENED = "attune:Pack.RegistrationOpened"
REJECTED = "attune:Registration.RegistrationRejected"


def test_leases_opened_before_holders_load_with_none_and_cannot_be_cancelled_unforced(settings):
    """``Pack.RegistrationOpened`` version 2 added ``holder``; older leases say None: their
    process cannot be judged gone, so only ``--force`` (or their expiry) ends them."""
    from datetime import UTC, datetime, timedelta

    events = [e for e in old_events() if e["topic"] in ("attune:Pack.Created", OPENED)]
    [opened] = [e for e in events if e["topic"] == OPENED]
    assert "holder" not in opened["state"]
    # Still in flight: the lease runs for another hour.
    later = datetime.now(UTC) + timedelta(hours=1)
    opened["state"]["lease_expires"] = {"_type_": "datetime_iso", "_data_": later.isoformat()}
    with build_registry(settings) as registry:
        store_rows(registry, events)
        from attune_registry.domain.errors import NotCancellableError
        from attune_registry.domain.pack import Pack

        pack = registry.app.repository.get(Pack.create_id("lamp"))
        assert pack.holder is None and pack.in_flight is not None
        with pytest.raises(NotCancellableError, match="may still be running"):
            registry.cancel("lamp", actor="cli:ops")


def test_rejections_recorded_before_actors_load_with_none(settings):
    """``RegistrationRejected`` version 2 added ``actor`` (who cancelled it); older ones say
    None and project as before."""
    events = [e for e in old_events()
              if e["topic"] in ("attune:Pack.Created", OPENED, REQUESTED)]
    requested = next(e for e in events if e["topic"] == REQUESTED)
    events.append({"originator_id": requested["originator_id"], "originator_version": 2,
                   "topic": REJECTED,
                   "state": {"reason": "tests_failed", "message": "Pack registration failed",
                             "summary": None,
                             "timestamp": requested["state"]["timestamp"]}})
    with build_registry(settings) as registry:
        registration_id = store_rows(registry, events)
        registration = registry.app.get_registration(registration_id)
        assert (registration.status, registration.reason) == ("rejected", "tests_failed")
        [event] = [e for e in registry.audit(registration_id) if e.topic == REJECTED]
        assert "actor" not in event.state  # the audit shows what was stored
        registry.rebuild()
        [row] = registry.registrations("lamp")
        assert (row.status, row.reason) == ("rejected", "tests_failed")


def store_rows(registry: RegistryService, events: list[dict]) -> UUID:
    """``store`` for a subset of the fixture's events (the request may be among them)."""
    registry.app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=json.dumps(e["state"]).encode()) for e in events])
    requested = [e for e in events if e["topic"] == REQUESTED]
    return UUID(requested[0]["originator_id"]) if requested else UUID(int=0)


ROLLED_BACK = "attune:Registration.RegistrationRolledBack"


def _uuid(value: str) -> dict:
    return {"_type_": "uuid_hex", "_data_": value}


def test_rollbacks_recorded_before_notes_load_with_none_and_summarize(settings):
    """``RegistrationRolledBack`` version 2 added ``note`` (``--reason``); older ones say None,
    project as before, and the audit summary tells them the same way."""
    from attune_registry.adapters.reads.timeline import summarize

    events = old_events()
    requested = next(e for e in events if e["topic"] == REQUESTED)
    pack_id = events[0]["originator_id"]
    at = requested["state"]["timestamp"]
    events += [
        {"originator_id": requested["originator_id"], "originator_version": 4,
         "topic": ROLLED_BACK, "state": {"reason": "unregister", "actor": "cli:ops",
                                         "restored_registration_id": None, "timestamp": at}},
        {"originator_id": pack_id, "originator_version": 4, "topic": "attune:Pack.Unregistered",
         "state": {"registration_id": _uuid(requested["originator_id"]), "timestamp": at}}]
    with build_registry(settings) as registry:
        registration_id = store(registry, events)
        registration = registry.app.get_registration(registration_id)
        assert (registration.status, registration.reason) == ("rolled_back", "unregister")
        [event] = [e for e in registry.audit(registration_id) if e.topic == ROLLED_BACK]
        assert "note" not in event.state and "class_version" not in event.state
        told = summarize(registration_id, registry.audit(registration_id))
        registry.rebuild()
        [row] = registry.registrations("lamp")
    assert (row.status, row.reason, row.rolled_back_by, row.note) == (
        "rolled_back", "unregister", "cli:ops", None)
    assert (told.status, told.ended.by, told.ended.note) == ("rolled_back", "cli:ops", None)
    assert [step.text for step in told.timeline][-1] == "Unregistered by cli:ops: no longer active"
    # A suite from before the sandbox and the workers: no worker, no sandbox, still told.
    assert (told.suites[0].worker, told.suites[0].sandbox) == (None, None)
    assert told.request.origin is None and told.request.replace is False


def test_cancellations_recorded_before_notes_load_with_none(settings):
    """``RegistrationRejected`` version 3 added ``note``; a version 2 cancellation keeps its
    actor, now also in the read model's ``cancelled_by``, with no note."""
    events = [e for e in old_events()
              if e["topic"] in ("attune:Pack.Created", OPENED, REQUESTED)]
    requested = next(e for e in events if e["topic"] == REQUESTED)
    events.append({"originator_id": requested["originator_id"], "originator_version": 2,
                   "topic": REJECTED,
                   "state": {"reason": "abandoned", "message": "cancelled by cli:ops (with "
                             "--force)", "summary": None, "actor": "cli:ops",
                             "class_version": 2, "timestamp": requested["state"]["timestamp"]}})
    with build_registry(settings) as registry:
        registration_id = store_rows(registry, events)
        [stored] = [e for e in registry.app.recorder.select_events(registration_id)
                    if e.topic == REJECTED]
        rejected = registry.app.mapper.to_domain_event(stored)
        assert (rejected.actor, rejected.note) == ("cli:ops", None)
        registry.rebuild()
        [row] = registry.registrations("lamp")
    assert (row.status, row.reason, row.cancelled_by, row.note) == (
        "rejected", "abandoned", "cli:ops", None)


def test_new_rollbacks_and_cancellations_carry_their_note(settings, tmp_path):
    from tests.packs import manifest, write_pack

    with build_registry(settings) as registry:
        for version in ("1.0.0", "2.0.0"):
            pack = write_pack(tmp_path / version, manifest("lamp", version))
            registry.register(RegisterCommand(path=str(pack), replace=True, skip_tests=True))
        registry.roll_back("lamp", actor="cli:ops", note="2.0.0 is broken")
        [newer, _] = registry.registrations("lamp")
        [event] = [e for e in registry.audit(UUID(newer.id)) if e.topic == ROLLED_BACK]
    assert (event.state["class_version"], event.state["note"]) == (2, "2.0.0 is broken")
    assert newer.note == "2.0.0 is broken"
