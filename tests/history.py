"""Synthetic test runs written straight into the read model, for histories too long to record
run by run (the projection's own handlers are tested on real events elsewhere)."""

from __future__ import annotations

from datetime import datetime

from attune_registry.projections.sql import Writer


def insert_runs(view, ref: str, times: list[datetime], *, first_id: int = 1_000) -> None:
    """One passed ``register`` run of ``ref`` at each of ``times``, and their count."""
    with view._projection_transaction() as cursor:
        w = Writer(cursor, view.dialect)
        for n, at in enumerate(times, start=first_id):
            w.execute(
                "INSERT INTO {t}pack_test_execution (id, pack_id, pack_ref, pack_version, run_id,"
                " registration_id, test_run_id, trigger_reason, execution_time, status, outcome,"
                " total_tests, passed, failed, skipped, pass_rate, duration_ms, result, created)"
                " VALUES (:id, NULL, :ref, '1.0.0', :run, :run, NULL, 'register', :at, 'passed',"
                " 'committed', 1, 1, 0, 0, 1.0, 5, :result, :at)",
                {"id": n, "ref": ref, "run": f"run-{ref}-{n}", "at": w.timestamp(at),
                 "result": w.json({"status": "passed", "run": n, "test_suites": []})})
        w.execute(
            "INSERT INTO {t}pack_test_count AS c (pack_ref, status, trigger_reason, n)"
            " VALUES (:ref, 'passed', 'register', :n)"
            " ON CONFLICT (pack_ref, status, trigger_reason) DO UPDATE SET n = c.n + :n",
            {"ref": ref, "n": len(times)})
