"""The events that record upgrades tested against their dependents, and the older events they
upcast: ``PackRegistrationRequested`` version 3 added ``skip_dependents`` (older requests read
False) and ``TestRun.TestRunRequested`` version 2 added ``candidate`` (older runs read None)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import StoredEvent

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

from tests.packs import manifest, write_pack

REQUESTED = "attune:Registration.PackRegistrationRequested"
RUN_REQUESTED = "attune:TestRun.TestRunRequested"


def test_requests_and_test_runs_recorded_before_dependents_load_and_project(settings,
                                                                           tmp_path):
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    with build_registry(Settings(home=tmp_path / "before", database_url="")) as before:
        done = before.register(RegisterCommand(path=str(pack)))
        run_id = before.test_registered("lamp").test_run_id
        transcoder = before.app.mapper.transcoder
        older = []
        for stored in before.app.recorder.select_notifications(start=1, limit=100):
            state = transcoder.decode(stored.state)
            if stored.topic == REQUESTED:  # as version 2 stored it
                assert state.pop("skip_dependents") is False
                state["class_version"] = 2
            if stored.topic == RUN_REQUESTED:  # as version 1 stored it: no class_version
                assert state.pop("candidate") is None
                assert state.pop("class_version") == 2
            older.append(StoredEvent(stored.originator_id, stored.originator_version,
                                     stored.topic, transcoder.encode(state)))

    with build_registry(settings) as registry:
        registry.app.recorder.insert_events(older)
        registration = registry.app.get_registration(done.outcome.registration_id)
        assert (registration.status, registration.skip_dependents) == ("committed", False)
        run = registry.app.repository.get(run_id)
        assert (run.trigger_reason, run.candidate, run.status) == ("manual", None, "completed")
        registry.rebuild()
        rows = registry.test_history("lamp")
        assert [(r.trigger_reason, r.outcome, r.status) for r in rows] == [
            ("manual", "manual", "passed"), ("register", "committed", "passed")]
        [stored_request] = [e for e in registry.audit(done.outcome.registration_id)
                            if e.topic == REQUESTED]
        assert "skip_dependents" not in stored_request.state  # the audit shows it as stored


def test_new_requests_are_version_3_and_new_test_runs_version_2(settings, tmp_path):
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    with build_registry(settings) as registry:
        done = registry.register(RegisterCommand(path=str(pack), skip_dependents=True))
        run_id = registry.test_registered("lamp").test_run_id
        [requested] = [e for e in registry.audit(done.outcome.registration_id)
                       if e.topic == REQUESTED]
        [run_requested] = [registry.app.mapper.transcoder.decode(e.state)
                           for e in registry.app.recorder.select_events(UUID(str(run_id)))
                           if e.topic == RUN_REQUESTED]

    assert (requested.state["class_version"], requested.state["skip_dependents"]) == (3, True)
    assert (run_requested["class_version"], run_requested["candidate"]) == (2, None)
