"""Test-history scale: API page latency with 1,000 vs 1,000,000 rows in pack_test_execution.

For each store (a temporary SQLite file; PostgreSQL in a fresh database dropped afterwards):
  1k   the table holds 1,000 runs, all of ref `steady`
  1M   999,000 more runs of four other refs are added (`core` ends with about 250,000)
and at each size times, through the query functions the API's GET /packs/{ref}/tests runs
(the per-ref total, then the page's rows with the stored JSON passed through, then encoding):
  first page          page_size 50, newest first
  filtered page       status=failed & trigger_reason=manual
  deep page (cursor)  the oldest 50 runs, reached by cursor
  total               total_items of the ref, and of the filtered list
for `steady` (1,000 runs in both tables) and, at 1M, for `core` (its own history 250 times
longer than steady's). Each figure is the median of many calls; the 1M/1k ratio should stay
at or below 1.5. For contrast, the ways that do not scale are timed too: a deep page by offset
(`page=`) and a total by COUNT(*) (what the endpoint did before). With --http the first and
deep pages are also timed through the HTTP endpoint (Litestar's TestClient, in-process).

The rows are bulk-inserted straight into the read-model table (with the per-ref counts the
projection keeps, recomputed once after each fill), not projected from events: this measures
the read path only. Every run carries the same ~1 KB result document, the size of a small
pack's suite. PostgreSQL gets ANALYZE after the fill (what autovacuum does shortly after a
bulk load); SQLite gets none, as in production.

Usage: python bench/history_scale.py [--stores sqlite,postgres] [--repeat N] [--http]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec
from support.stores import POSTGRES_URL, throwaway_store

from attune_registry.projections.queries import SortKey
from attune_registry.projections.sql import Writer

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http.cursor import encode_cursor
from attune_registry.adapters.http.schemas import TestExecutionPage, cursor_pagination
from attune_registry.adapters.settings import Settings

SMALL, BIG = 1_000, 1_000_000
PAGE = 50
FILTER = {"status": "failed", "trigger_reason": "manual"}
RESULT = {
    "pack_ref": "core", "pack_version": "1.4.2", "execution_time": "2026-01-01T00:00:00+00:00",
    "status": "passed", "total_tests": 4, "passed": 4, "failed": 0, "skipped": 0,
    "pass_rate": 1.0, "duration_ms": 812,
    "test_suites": [{
        "name": "Unit Tests", "runner_type": "python_unittest", "status": "passed", "total": 4,
        "passed": 4, "failed": 0, "skipped": 0, "duration_ms": 790, "exit_code": 0,
        "timed_out": False, "message": None, "stdout": "",
        "stderr": "....\n" + "-" * 70 + "\nRan 4 tests in 0.012s\n\nOK\n",
        "test_cases": [{"name": f"tests.test_actions.TestActions.test_{name}",
                        "status": "passed", "duration_ms": 3, "error_message": None}
                       for name in ("echo", "http_request", "local_command", "remote_command")],
    }],
}
# Rows n = first..last; the ref, status and trigger follow from n, times one second apart.
FILL = """
WITH RECURSIVE seq(n) AS (
    SELECT CAST(:first AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < :last)
INSERT INTO {t}pack_test_execution (id, pack_id, pack_ref, pack_version, run_id,
    registration_id, test_run_id, trigger_reason, execution_time, status, outcome, total_tests,
    passed, failed, skipped, pass_rate, duration_ms, result, created)
SELECT n, NULL, {ref}, '1.4.2', 'run-' || n, 'reg-' || (n / 10),
    CASE WHEN n % 5 = 0 THEN NULL ELSE 'test-run-' || n END,
    CASE WHEN n % 5 = 0 THEN 'register' ELSE 'manual' END, {time},
    CASE WHEN n % 7 = 3 THEN 'failed' WHEN n % 97 = 5 THEN 'error' ELSE 'passed' END,
    CASE WHEN n % 5 <> 0 THEN 'manual' WHEN n % 7 = 3 THEN 'rejected' ELSE 'committed' END,
    4, 4, 0, 0, 1.0, 812, :result, {time}
FROM seq
"""
STEADY_REF = "'steady'"
OTHER_REFS = "CASE n % 4 WHEN 0 THEN 'core' WHEN 1 THEN 'linux' WHEN 2 THEN 'aws' ELSE 'k8s' END"
TIME = {  # 2026-01-01 plus n seconds and a few microseconds, as each store keeps timestamps
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%S', 1767225600 + n, 'unixepoch')"
              " || '.' || substr('00000' || ((n * 7919) % 1000000), -6) || '+00:00'",
    "postgres": "(TIMESTAMPTZ '2026-01-01 00:00:00+00' + n * INTERVAL '1 second'"
                " + ((n * 7919) % 1000000) * INTERVAL '1 microsecond')",
}
RECOUNT = ["DELETE FROM {t}pack_test_count",
           ("INSERT INTO {t}pack_test_count (pack_ref, status, trigger_reason, n)"
            " SELECT pack_ref, status, trigger_reason, COUNT(*) FROM {t}pack_test_execution"
            " GROUP BY pack_ref, status, trigger_reason")]

Timings = dict[str, float]


def fill(view: Any, store: str, first: int, last: int, ref: str) -> float:
    started = time.perf_counter()
    with view._projection_transaction() as cursor:
        w = Writer(cursor, view.dialect)
        sql = FILL.format(t="{t}", ref=ref, time=TIME[store])
        if store == "postgres":  # psycopg reads % as a placeholder: the modulo is %%
            sql = sql.replace("%", "%%")
        w.execute(sql, {"first": first, "last": last, "result": w.json(RESULT)})
        for statement in RECOUNT:
            w.execute(statement)
    if store == "postgres":  # planner statistics, as autovacuum would gather after a bulk load
        with view.datastore.transaction(commit=True) as cursor:
            cursor.execute(view.dialect.sql("ANALYZE {t}pack_test_execution"))
            cursor.execute(view.dialect.sql("ANALYZE {t}pack_test_count"))
    return time.perf_counter() - started


def api_page(view: Any, ref: str, *, after: SortKey | None = None, offset: int = 0,
             **filters: str) -> bytes:
    """What GET /packs/{ref}/tests does after authentication: total, rows, next cursor, JSON."""
    total = view.count_test_history(ref, **filters)
    rows = view.test_history_json(ref, limit=PAGE + 1, offset=offset, after=after, **filters)
    following = (encode_cursor(SortKey(rows[PAGE - 1].execution_time, rows[PAGE - 1].id), 2)
                 if len(rows) > PAGE else None)
    return msgspec.json.encode(TestExecutionPage(
        data=rows[:PAGE], pagination=cursor_pagination(1, PAGE, total, following)))


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def deep_key(view: Any, ref: str) -> SortKey:
    """The sort key just above the ref's oldest page: a cursor walk ends there."""
    total = view.count_test_history(ref)
    [row] = view.test_history(ref, limit=1, offset=total - PAGE - 1)
    return SortKey(row.execution_time, row.id)


def measure(view: Any, ref: str, repeat: int, client: Any = None,
            token: str = "") -> Timings:
    after = deep_key(view, ref)
    total = view.count_test_history(ref)
    figures = {
        "first page": median_ms(lambda: api_page(view, ref), repeat),
        "filtered page": median_ms(lambda: api_page(view, ref, **FILTER), repeat),
        "deep page (cursor)": median_ms(lambda: api_page(view, ref, after=after), repeat),
        "total": median_ms(lambda: view.count_test_history(ref), repeat),
        "filtered total": median_ms(lambda: view.count_test_history(ref, **FILTER), repeat),
        "deep page (offset)": median_ms(
            lambda: api_page(view, ref, offset=total - PAGE), max(repeat // 40, 3)),
        "total (COUNT(*))": median_ms(lambda: view._select(
            "SELECT COUNT(*) AS n FROM {t}pack_test_execution WHERE pack_ref = :ref",
            {"ref": ref}), max(repeat // 40, 3)),
    }
    if client is not None:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/packs/{ref}/tests"
        cursor = encode_cursor(after, 2)
        for name, params in (("HTTP first page", {}), ("HTTP deep page", {"cursor": cursor})):
            figures[name] = median_ms(lambda p=params: client.get(url, params=p, headers=headers)
                                      .raise_for_status(), repeat)
    return figures


def check_plan(view: Any, store: str) -> str:
    """How the store runs the deep cursor page (index range, no sort)."""
    sql, params = view._history_page("id", "core", PAGE + 1, 0, deep_key(view, "core"),
                                     None, None)
    explain = "EXPLAIN QUERY PLAN " if store == "sqlite" else "EXPLAIN "
    rows = view._select(explain + sql, params)
    return " | ".join(str(list(r.values())[-1]) for r in rows)


def run_store(store: str, settings: Settings, repeat: int, http: bool) -> None:
    with build_registry(settings) as registry:
        view = registry.view
        token = registry.create_token("bench", "read", actor="bench")[0] if http else ""
        client_context = None
        if http:
            from litestar.testing import TestClient

            from attune_registry.adapters.http import create_app

            client_context = TestClient(app=create_app(settings, registry=registry))
        client = client_context.__enter__() if client_context else None
        try:
            seconds = fill(view, store, 1, SMALL, STEADY_REF)
            print(f"[{store}] filled {SMALL:,} rows in {seconds:.1f} s")
            small = measure(view, "steady", repeat, client, token)
            seconds = fill(view, store, SMALL + 1, BIG, OTHER_REFS)
            rows = view._select("SELECT COUNT(*) AS n FROM {t}pack_test_execution", {})[0]["n"]
            print(f"[{store}] filled {BIG - SMALL:,} more rows in {seconds:.1f} s"
                  f" ({rows:,} in pack_test_execution; core has"
                  f" {view.count_test_history('core'):,})")
            steady = measure(view, "steady", repeat, client, token)
            core = measure(view, "core", repeat, client, token)
            print(f"[{store}] deep cursor page plan: {check_plan(view, store)}")
        finally:
            if client_context:
                client_context.__exit__(None, None, None)
    print(f"[{store}] median ms; ratio = 1M / 1k (target <= 1.5, but for the contrasts)")
    print(f"  {'':22}{'1k steady':>10}{'1M steady':>11}{'ratio':>7}{'1M core':>10}{'ratio':>7}")
    for name, base in small.items():
        print(f"  {name:22}{base:10.2f}{steady[name]:11.2f}{steady[name] / base:7.2f}"
              f"{core[name]:10.2f}{core[name] / base:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=200, help="calls per median")
    parser.add_argument("--http", action="store_true", help="also time the HTTP endpoint")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    for store in args.stores.split(","):
        started = time.perf_counter()
        with throwaway_store(store, args.postgres_url) as settings:
            run_store(store, settings, args.repeat, args.http)
        print(f"[{store}] done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
