"""Activity feed scale: a page of `attune activity` / GET /api/v1/activity with 1,000 vs
1,000,000 events in the feed.

For each store (a temporary SQLite file; PostgreSQL in a fresh database dropped afterwards):
  1k   the feed holds 1,000 events, all of ref `steady` by actor `cli:steady`
  1M   999,000 more events of four other refs and actors are added after them
and at each size times, through the query the API and the CLI run (one row more than the page,
then encoding the page as the API's JSON), pages of 50:
  newest                 the 50 most recent events (what `attune activity` shows)
  oldest                 the first 50 in log order
  ref, newest            ref=steady, newest first: at 1M, steady's events are the oldest
  actor, newest          actor=cli:steady, newest first
  ref and actor          both, in log order, after position 500
  since                  events since the time of steady's 900th event
  since, with a ref      the same, ref=steady
Each figure is the median of many calls; the 1M/1k ratio should stay near 1 (at most 1.5):
every filter is one index range (see the feed's indexes in projections/tables.py). For
contrast, the same `ref, newest` page without its index (the filter applied while reading the
feed in position order, newest first) is timed at 1M.

The rows are bulk-inserted straight into the read-model table, not projected from events: this
measures the read path only. PostgreSQL gets ANALYZE after each fill.

Usage: python bench/activity_scale.py [--stores sqlite,postgres] [--repeat N]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from support.stores import POSTGRES_URL, throwaway_store

from attune_registry.projections.activity_queries import ActivityFilter
from attune_registry.projections.sql import Writer

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http.activity import ActivityPage, FeedPagination

SMALL, BIG = 1_000, 1_000_000
PAGE = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
STATE = {"name": "Unit Tests", "runner_type": "python_unittest", "status": "passed",
         "total": 4, "passed": 4, "failed": 0, "skipped": 0, "duration_ms": 790,
         "timestamp": "2026-01-01T00:00:00+00:00", "class_version": 3}
FILL = """
WITH RECURSIVE seq(n) AS (
    SELECT CAST(:first AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < :last)
INSERT INTO {t}activity (position, at, logged_at, kind, ref, version, actor, registration_id,
    summary, note, topic, originator_id, originator_version, state)
SELECT n, {time}, {time}, 'registration.suite_completed', {ref}, '1.4.2', {actor},
    'reg-' || (n / 10), 'suite ''Unit Tests'' passed: 4/4 passed (python_unittest)', NULL,
    'attune:Registration.TestSuiteCompleted', 'o-' || n, 1, :state
FROM seq
"""
STEADY = ("'steady'", "'cli:steady'")
OTHERS = ("CASE n % 4 WHEN 0 THEN 'core' WHEN 1 THEN 'linux' WHEN 2 THEN 'aws' ELSE 'k8s' END",
          "CASE n % 4 WHEN 0 THEN 'cli:alice' WHEN 1 THEN 'token:ci' WHEN 2 THEN 'cli:bob'"
          " ELSE 'token:deploy' END")
TIME = {  # 2026-01-01 plus n seconds, as each store keeps timestamps
    "sqlite": "strftime('%Y-%m-%dT%H:%M:%S', 1767225600 + n, 'unixepoch') || '+00:00'",
    "postgres": "(TIMESTAMPTZ '2026-01-01 00:00:00+00' + n * INTERVAL '1 second')",
}
SINCE = START + timedelta(seconds=900)
QUERIES = {
    "newest": ActivityFilter(limit=PAGE + 1, newest_first=True),
    "oldest": ActivityFilter(limit=PAGE + 1),
    "ref, newest": ActivityFilter(limit=PAGE + 1, ref="steady", newest_first=True),
    "actor, newest": ActivityFilter(limit=PAGE + 1, actor="cli:steady", newest_first=True),
    "ref and actor": ActivityFilter(limit=PAGE + 1, ref="steady", actor="cli:steady",
                                    after=500),
    "since": ActivityFilter(limit=PAGE + 1, since=SINCE),
    "since, with a ref": ActivityFilter(limit=PAGE + 1, since=SINCE, ref="steady"),
}


def fill(view: Any, store: str, first: int, last: int, ref: str, actor: str) -> float:
    started = time.perf_counter()
    with view._projection_transaction() as cursor:
        w = Writer(cursor, view.dialect)
        sql = FILL.format(t="{t}", ref=ref, actor=actor, time=TIME[store])
        if store == "postgres":  # psycopg reads % as a placeholder: the modulo is %%
            sql = sql.replace("%", "%%")
        w.execute(sql, {"first": first, "last": last, "state": w.json(STATE)})
    if store == "postgres":  # planner statistics, as autovacuum would gather after a bulk load
        with view.datastore.transaction(commit=True) as cursor:
            cursor.execute(view.dialect.sql("ANALYZE {t}activity"))
    return time.perf_counter() - started


def api_page(view: Any, query: ActivityFilter) -> bytes:
    """What GET /activity does after authentication: the rows, one more, and the JSON."""
    rows = view.activity(query)
    page = ActivityPage(data=rows[:PAGE], pagination=FeedPagination(
        page_size=PAGE, next_cursor="x" if len(rows) > PAGE else None))
    return msgspec.json.encode(page)


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def unindexed_ref_page(view: Any) -> list[dict[str, Any]]:
    """``ref, newest`` as a feed without per-ref indexes would read it: newest first by
    position, keeping the ref's rows (the per-ref indexes cannot be used: ``ref || ''``)."""
    return view._select("SELECT position FROM {t}activity WHERE ref || '' = 'steady'"
                        " ORDER BY position DESC LIMIT :limit", {"limit": PAGE + 1})


def run_store(store: str, repeat: int, postgres_url: str) -> None:
    with throwaway_store(store, postgres_url) as settings, build_registry(settings) as registry:
        view = registry.view
        seconds = fill(view, store, 1, SMALL, *STEADY)
        print(f"[{store}] filled {SMALL:,} events in {seconds:.1f} s")
        small = {name: median_ms(lambda q=q: api_page(view, q), repeat)
                 for name, q in QUERIES.items()}
        seconds = fill(view, store, SMALL + 1, BIG, *OTHERS)
        print(f"[{store}] filled {BIG - SMALL:,} more in {seconds:.1f} s")
        big = {name: median_ms(lambda q=q: api_page(view, q), repeat)
               for name, q in QUERIES.items()}
        assert len(view.activity(QUERIES["ref, newest"])) == PAGE + 1
        print(f"  {'page of 50':<22} {'1k ms':>8} {'1M ms':>8} {'1M/1k':>7}")
        for name in QUERIES:
            print(f"  {name:<22} {small[name]:8.2f} {big[name]:8.2f} "
                  f"{big[name] / small[name]:7.2f}")
        slow = median_ms(lambda: unindexed_ref_page(view), max(repeat // 20, 3))
        print(f"  {'ref, newest, no index':<22} {'':>8} {slow:8.2f} "
              f"{slow / big['ref, newest']:7.0f}x the indexed page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    for store in args.stores.split(","):
        run_store(store, args.repeat, args.postgres_url)


if __name__ == "__main__":
    main()
