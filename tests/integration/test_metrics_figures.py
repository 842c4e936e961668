"""The registry's figures for Prometheus, folded from the event log (both stores): what they
count, that they only grow, and that a process that starts later (a restart, another worker)
reaches the same totals."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from attune_registry.domain.errors import TestsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.observability.figures import SUITE_BUCKETS, LogFigures
from attune_registry.adapters.observability.metrics import store_families

from tests.packs import failing_tests, manifest, write_pack


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


def samples(figures: LogFigures, health=None) -> dict[tuple[str, tuple], float]:
    """The figures (with the health figures if given) as a scrape shows them, parsed back by
    prometheus-client's own parser."""
    class Families:
        def collect(self):
            return iter(store_families(health, figures)) if health else figures.families()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def history(registry, tmp_path) -> None:
    """Committed, rejected, forced, skipped, installed-like, rolled back and unregistered."""
    lamp = write_pack(tmp_path / "lamp", manifest("lamp"))
    mixed = write_pack(tmp_path / "mixed", manifest("mixed"),
                       {"test_mixed.py": failing_tests(passed=3, failed=1)})
    registry.register(RegisterCommand(path=str(lamp)))
    with pytest.raises(TestsFailedError):
        registry.register(RegisterCommand(path=str(mixed)))
    registry.register(RegisterCommand(path=str(mixed), force=True))
    registry.register(RegisterCommand(
        path=str(write_pack(tmp_path / "lamp2", manifest("lamp", "2.0.0"))), skip_tests=True,
        replace=True))
    registry.roll_back("lamp", actor="cli:ops")
    registry.unregister("mixed", actor="cli:ops")
    registry.test_registered("lamp")


def test_the_figures_count_what_the_log_recorded(registry, tmp_path):
    history(registry, tmp_path)
    figures = LogFigures(registry.app.recorder)

    figures.update()

    found = samples(figures)
    assert found[("attune_registrations_requested_total", (("trigger", "register"),))] == 4
    assert found[("attune_registrations_total",
                  (("outcome", "committed"), ("trigger", "register")))] == 2
    assert found[("attune_registrations_total",
                  (("outcome", "forced"), ("trigger", "register")))] == 1
    assert found[("attune_registrations_total",
                  (("outcome", "rejected"), ("trigger", "register")))] == 1
    assert found[("attune_registration_rejections_total", (("reason", "tests_failed"),))] == 1
    assert found[("attune_rollbacks_total", (("reason", "rollback"),))] == 1
    assert found[("attune_rollbacks_total", (("reason", "unregister"),))] == 1
    # Suites: lamp's on register and on the manual run, mixed's twice; 2 + 2 + 3 + 3 cases
    # passed and 1 + 1 failed.
    runner = ("runner", "python_unittest")
    assert found[("attune_suites_total", (runner, ("status", "passed")))] == 2
    assert found[("attune_suites_total", (runner, ("status", "failed")))] == 2
    assert found[("attune_test_cases_total", (runner, ("status", "passed")))] == 10
    assert found[("attune_test_cases_total", (runner, ("status", "failed")))] == 2
    assert found[("attune_test_cases_total", (runner, ("status", "skipped")))] == 0
    assert found[("attune_suite_duration_seconds_count", (runner,))] == 4
    assert found[("attune_suite_duration_seconds_bucket", (("le", "+Inf"), runner))] == 4
    assert found[("attune_suite_duration_seconds_sum", (runner,))] > 0
    # Series that nothing counted yet are there, at 0 (an alert on increase() needs them).
    assert found[("attune_registrations_total",
                  (("outcome", "forced"), ("trigger", "install")))] == 0
    assert found[("attune_suite_duration_seconds_count", (("runner", "shell"),))] == 0


def test_suite_durations_fall_in_the_bucket_of_their_upper_bound(registry, tmp_path):
    registry.register(RegisterCommand(path=str(write_pack(tmp_path / "lamp", manifest("lamp")))))
    [run] = registry.test_history("lamp")
    seconds = run.result["test_suites"][0]["duration_ms"] / 1000
    figures = LogFigures(registry.app.recorder)

    figures.update()

    buckets = {labels[0][1]: value for (name, labels), value in samples(figures).items()
               if name == "attune_suite_duration_seconds_bucket"
               and labels[1] == ("runner", "python_unittest")}
    assert buckets == {str(bound): float(seconds <= bound) for bound in SUITE_BUCKETS} | {
        "+Inf": 1.0}


def test_a_later_update_reads_only_what_is_new_and_totals_only_grow(registry, tmp_path):
    registry.register(RegisterCommand(path=str(write_pack(tmp_path / "lamp", manifest("lamp")))))
    figures = LogFigures(registry.app.recorder)
    first = figures.update()
    before = samples(figures)

    again = figures.update()
    registry.register(RegisterCommand(
        path=str(write_pack(tmp_path / "bulb", manifest("bulb"))), skip_tests=True))
    new = figures.update()

    assert first == 3 and again == 0  # requested, one suite, committed; then nothing new
    assert new == 2  # the skipped-tests registration: requested and committed
    after = samples(figures)
    assert all(after[key] >= value for key, value in before.items())
    committed = ("attune_registrations_total", (("outcome", "committed"), ("trigger", "register")))
    assert (before[committed], after[committed]) == (1, 2)
    # A process that starts now (a restart, another worker) reaches the same totals.
    restarted = LogFigures(registry.app.recorder)
    restarted.update()
    assert samples(restarted) == after


def test_with_the_health_figures_the_store_is_up_and_the_lag_shown(registry, tmp_path):
    registry.register(RegisterCommand(path=str(write_pack(tmp_path / "lamp", manifest("lamp")))))
    figures = LogFigures(registry.app.recorder)
    figures.update()
    health = registry.health()

    found = samples(figures, health)

    assert found[("attune_store_up", ())] == 1
    assert found[("attune_projection_lag_events", ())] == health.projection_lag == 0
    assert found[("attune_event_log_head", ())] == health.log_head > 0
    queue = ("attune_queue_depth", ())
    # The queue's figures exist where a queue does: on PostgreSQL.
    assert (queue in found) == (health.queue_depth is not None)
    assert store_families(None, figures)[0].samples[0].value == 0  # the store is down


def test_a_closed_fold_reads_nothing_more_and_a_server_stops_its_fold_before_its_store(
        settings, tmp_path):
    """The fold runs in a thread of its own from start-up; the store must not close under it
    (SQLite's module crashes the process when a connection closes under another thread's
    query). Closing stops it after its batch and waits for it; stopping the server closes it."""
    import threading

    from litestar.testing import TestClient

    from attune_registry.adapters.http.app import create_app

    with build_registry(settings) as registry:
        for index in range(3):
            registry.register(RegisterCommand(
                path=str(write_pack(tmp_path / f"p{index}", manifest(f"p{index}"))),
                skip_tests=True))
        figures = LogFigures(registry.app.recorder)
        figures.close()
        assert figures.update() == 0 and figures.position == 0

        with TestClient(create_app(settings, registry)) as client:
            assert client.get("/api/v1/health").status_code == 200
            reads = client.app.state["store_reads"]
        # The server stopped: no thread of its fold is left reading, and it folds no more.
        assert not [t for t in threading.enumerate() if t.name == "metrics-fold"]
        registry.register(RegisterCommand(path=str(write_pack(tmp_path / "late",
                                                              manifest("late"))),
                                          skip_tests=True))
        assert reads.figures.update() == 0
        assert LogFigures(registry.app.recorder).update() > 0  # there was something to read
