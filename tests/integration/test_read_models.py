"""Read models: compensating events, components, audit, and rebuilds that match byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attune_registry.domain.errors import (
    NothingToRollBackError,
    PackNotFoundError,
    RegistrationNotFoundError,
    TestsFailedError,
)

from attune_registry.application.commands import RegisterCommand

from attune_registry.projections.queries import SortKey

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import CORE_PACK
from tests.history import insert_runs
from tests.packs import failing_tests, manifest, write_pack


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


def with_action(pack, name):
    (pack / "actions").mkdir(exist_ok=True)
    (pack / "actions" / f"{name}.yaml").write_text(
        f"name: {name}\nref: app.{name}\ndescription: the {name} action\nentry_point: {name}.sh\n")
    return pack


def two_suites(directory):
    """Pack ``tools``: an action, and a unittest and a shell suite that pass."""
    testing = {"enabled": True, "test_suites": [
        {"name": "Unit", "runner": "python_unittest", "working_dir": "tests",
         "test_files": ["test_*.py"], "timeout_seconds": 60},
        {"name": "Shell", "runner": "shell", "working_dir": ".", "test_files": ["check.sh"],
         "timeout_seconds": 60}]}
    pack = with_action(write_pack(directory, manifest("tools", testing=testing)), "build")
    (pack / "check.sh").write_text("echo 1..1\necho ok 1 - builds\n")
    return pack


def mixed_history(registry, tmp_path):
    """Commits, a rejection, a forced run, a manual run, skips, an abandoned attempt,
    a rollback and an unregister, across three refs."""
    v1 = with_action(write_pack(tmp_path / "app1", manifest("app", "1.0.0")), "deploy")
    with_action(v1, "notify")
    v2 = with_action(write_pack(tmp_path / "app2", manifest("app", "2.0.0"),
                                {"test_mixed.py": failing_tests(passed=3, failed=1)}), "deploy")
    registry.register(RegisterCommand(path=str(v1)))
    with pytest.raises(TestsFailedError):
        registry.register(RegisterCommand(path=str(v2), replace=True))
    registry.register(RegisterCommand(path=str(v2), force=True))
    registry.test_registered("app")
    registry.roll_back("app", actor="auditor")
    tools = two_suites(tmp_path / "tools")
    registry.register(RegisterCommand(path=str(tools), skip_tests=True))
    registry.register(RegisterCommand(path=str(tools), force=True))
    registry.unregister("tools", actor="auditor")
    # A registration whose process died: its lease expires and the next one takes over.
    other = write_pack(tmp_path / "other", manifest("other"))
    source = registry.cases.register_pack.loader.load(str(other))
    registry.app.request_registration(
        RegisterCommand(path=str(other), requested_by="ghost"), manifest=source.manifest,
        components=[], source_path=str(other), content_digest="x",
        lease_expires=datetime.now(UTC) - timedelta(seconds=1), now=datetime.now(UTC))
    registry.register(RegisterCommand(path=str(other)))


class TestCompensatingEvents:
    def test_rollback_restores_the_replaced_version_and_its_components(self, registry, tmp_path):
        v1 = with_action(with_action(write_pack(tmp_path / "v1", manifest("app", "1.0.0")),
                                     "deploy"), "notify")
        v2 = with_action(write_pack(tmp_path / "v2", manifest("app", "2.0.0")), "deploy")
        first = registry.register(RegisterCommand(path=str(v1))).pack
        second = registry.register(RegisterCommand(path=str(v2), replace=True)).pack
        assert [c.ref for c in registry.show("app").components] == ["app.deploy"]

        restored = registry.roll_back("app", actor="ops")

        assert (restored.version, restored.id, restored.registration_id) == (
            "1.0.0", first.id, first.registration_id)
        assert [c.ref for c in registry.show("app").components] == ["app.deploy", "app.notify"]
        [newest, oldest] = registry.registrations("app")
        assert (newest.id, newest.status, newest.reason, newest.rolled_back_by) == (
            second.registration_id, "rolled_back", "rollback", "ops")
        assert newest.restored_registration_id == first.registration_id
        assert oldest.status == "committed"
        with pytest.raises(NothingToRollBackError):
            registry.roll_back("app", actor="ops")

    def test_unregister_hides_the_pack_but_keeps_its_history(self, registry):
        registry.register(RegisterCommand(path=str(CORE_PACK)))

        ended = registry.unregister("core", actor="ops")

        assert registry.list_packs() == []
        with pytest.raises(PackNotFoundError):
            registry.show("core")
        [row] = registry.registrations("core")
        assert (row.id, row.status, row.reason) == (str(ended), "rolled_back", "unregister")
        assert len(registry.test_history("core")) == 1
        with pytest.raises(PackNotFoundError):
            registry.unregister("core", actor="ops")
        # Registering again is a fresh start under the same stable id.
        assert registry.register(RegisterCommand(path=str(CORE_PACK), skip_tests=True)).pack.id == 1

    def test_components_removed_from_the_pack_disappear_on_reregistration(self, registry,
                                                                          tmp_path):
        pack = with_action(with_action(write_pack(tmp_path / "p", manifest("app")), "a"), "b")
        registry.register(RegisterCommand(path=str(pack)))
        (pack / "actions" / "b.yaml").unlink()

        registry.register(RegisterCommand(path=str(pack), replace=True))

        assert [c.ref for c in registry.show("app").components] == ["app.a"]

    def test_an_abandoned_registration_is_recorded_as_such(self, registry, tmp_path):
        mixed_history(registry, tmp_path)
        reasons = [(r.requested_by, r.status, r.reason) for r in registry.registrations("other")]
        assert reasons[-1] == ("ghost", "rejected", "abandoned")


class TestAudit:
    def test_a_registration_reads_back_as_its_events_in_order(self, registry, tmp_path):
        pack = write_pack(tmp_path / "p", manifest("app"),
                          {"test_mixed.py": failing_tests(passed=1, failed=1)})
        with pytest.raises(TestsFailedError) as caught:
            registry.register(RegisterCommand(path=str(pack)))

        events = registry.audit(caught.value.registration_id)

        assert [(e.originator_version, e.topic) for e in events] == [
            (1, "attune:Registration.PackRegistrationRequested"),
            (2, "attune:Registration.TestSuiteCompleted"),
            (3, "attune:Registration.RegistrationRejected")]
        assert events[2].state["reason"] == "tests_failed"
        assert events[0].state["manifest"]["ref"] == "app"

    def test_unknown_registration(self, registry):
        from uuid import uuid4

        with pytest.raises(RegistrationNotFoundError):
            registry.audit(uuid4())


class TestRebuild:
    def test_a_rebuild_after_a_mixed_history_yields_identical_rows(self, registry, tmp_path):
        mixed_history(registry, tmp_path)
        registry.catch_up()
        live = registry.view.snapshot()
        assert live["pack_test_execution"] and live["pack_component"] and live["pack"]

        replayed = registry.rebuild(batch_size=7)

        assert replayed == registry.projection_status().log_head
        assert registry.view.snapshot() == live
        assert registry.projection_status().lag == 0

    def test_status_reports_lag_until_caught_up(self, registry):
        registry.register(RegisterCommand(path=str(CORE_PACK), skip_tests=True))
        registry.app.unregister("core", actor="ops", now=datetime.now(UTC))  # not projected

        behind = registry.projection_status()
        registry.catch_up()
        current = registry.projection_status()

        assert behind.lag == 2 and current.lag == 0
        assert current.position == current.log_head == behind.log_head


class TestHistoryCounts:
    """Totals come from per-ref counts the handlers keep, never from counting the rows."""

    @staticmethod
    def counted(view):
        return {(r["pack_ref"], r["status"], r["trigger_reason"]): int(r["n"])
                for r in view._select("SELECT * FROM {t}pack_test_count WHERE n <> 0", {})}

    @staticmethod
    def rows(view):
        return {(r["pack_ref"], r["status"], r["trigger_reason"]): int(r["n"])
                for r in view._select("SELECT pack_ref, status, trigger_reason, COUNT(*) AS n"
                                      " FROM {t}pack_test_execution"
                                      " GROUP BY pack_ref, status, trigger_reason", {})}

    def test_counts_equal_the_rows_after_a_mixed_history_and_after_a_rebuild(self, registry,
                                                                             tmp_path):
        mixed_history(registry, tmp_path)
        live = self.counted(registry.view)
        # Every run started as `running` and moved to its final status's count.
        assert live == self.rows(registry.view)
        assert {status for _, status, _ in live} >= {"passed", "failed", "error"}
        assert {trigger for _, _, trigger in live} == {"register", "manual"}

        registry.rebuild(batch_size=7)

        assert self.counted(registry.view) == live == self.rows(registry.view)

    def test_every_filtered_total_is_the_length_of_its_history(self, registry, tmp_path):
        mixed_history(registry, tmp_path)
        view = registry.view

        for ref in ("app", "tools", "other", "never"):
            for status in (None, "running", "passed", "failed", "error"):
                for trigger in (None, "register", "manual"):
                    rows = view.test_history(ref, limit=1000, status=status,
                                             trigger_reason=trigger)
                    assert view.count_test_history(ref, status=status,
                                                   trigger_reason=trigger) == len(rows)
            assert view.count_registrations(ref) == len(view.registrations(ref, limit=1000))
        assert view.count_registrations("app") == 3


class TestKeysetPages:
    def test_pages_after_a_sort_key_match_offset_pages_even_when_times_tie(self, registry):
        # Seven runs, three of them at the same instant: the id breaks the tie.
        start = datetime(2026, 1, 1, tzinfo=UTC)
        times = [start + timedelta(seconds=s) for s in (0, 1, 1, 1, 2, 3, 3)]
        insert_runs(registry.view, "tied", times)
        by_offset = [r.id for r in registry.view.test_history("tied", limit=100)]

        walked, after = [], None
        while page := registry.view.test_history("tied", limit=2, after=after):
            walked += [r.id for r in page]
            after = SortKey(page[-1].execution_time, page[-1].id)

        assert walked == by_offset == sorted(by_offset, key=lambda i: (times[i - 1000], i),
                                             reverse=True)
        assert registry.view.count_test_history("tied") == 7


class TestReadModelVersion:
    def test_read_models_of_another_version_are_dropped_and_rebuilt(self, settings, tmp_path):
        with build_registry(settings) as registry:
            mixed_history(registry, tmp_path)
            registry.catch_up()
            expected = registry.view.snapshot()
            # Pretend an older release made these tables, with a row it no longer would.
            with registry.view._projection_transaction() as cursor:
                cursor.execute(registry.view.dialect.sql(
                    "UPDATE {t}read_model_meta SET value = '0' WHERE key = 'version'"))
                cursor.execute(registry.view.dialect.sql(
                    "INSERT INTO {t}pack_identity (ref, id) VALUES ('stale', 99)"))

        with build_registry(settings) as reopened:
            assert reopened.projection_status().position == 0  # reset, not yet replayed
            reopened.catch_up()
            assert reopened.view.snapshot() == expected
