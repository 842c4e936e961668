"""The queue as operators see it: its workers (``attune workers``, ``GET /api/v1/workers``)
and its figures in the health check, read from the store's PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

import msgspec

from attune_registry.adapters.contract import RunningSuite, WorkerRow
from attune_registry.adapters.queue.presence import worker_table

if TYPE_CHECKING:
    from psycopg import sql

    from attune_registry.adapters.store.config import StoreConfig


@dataclass(frozen=True)
class QueueFigures:
    """What the health check says of the queue."""

    queue_depth: int
    """Suites queued and not started (``attune.run_suite`` jobs in ``todo``)."""
    oldest_queued_seconds: float | None
    """How long ago the oldest of them was queued; None when none waits."""
    workers_alive: int


class QueueStatus:
    """Reads of the queue's tables, one short query each, on a connection of their own."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.schema = config.env["POSTGRES_SCHEMA"]

    def workers(self) -> list[WorkerRow]:
        """Every listed worker, the longest running first: ``alive`` while it sends signs of
        life, ``lost`` once its last one is older than its stall time (killed, cut off)."""
        from psycopg import sql

        rows = self._select(sql.SQL(
            "SELECT name, host, pid, concurrency, started_at, last_seen, running,"
            " greatest(extract(epoch FROM now() - last_seen), 0)::float8,"
            " last_seen >= now() - make_interval(secs => stall_seconds)"
            " FROM {} ORDER BY started_at, name").format(worker_table(self.schema)))
        return [WorkerRow(name=name, host=host, pid=pid, state="alive" if alive else "lost",
                          concurrency=concurrency,
                          started_at=started.astimezone(UTC).isoformat(),
                          last_seen=seen.astimezone(UTC).isoformat(),
                          seen_seconds_ago=round(ago, 3),
                          running=msgspec.convert(running, type=list[RunningSuite]))
                for name, host, pid, concurrency, started, seen, running, ago, alive
                in rows or []]

    def figures(self) -> QueueFigures:
        """Suites waiting for a worker, how long the oldest has waited (since it was queued,
        from procrastinate's events), and the workers alive; zeros before any queue exists."""
        from psycopg import sql

        from attune_registry.adapters.queue.jobs import RUN_SUITE

        schema = sql.Identifier(self.schema)
        rows = self._select(sql.SQL(
            "SELECT (SELECT count(*) FROM {jobs} WHERE task_name = %(task)s"
            "        AND status = 'todo'),"
            " (SELECT extract(epoch FROM now() - min(e.at))::float8 FROM {jobs} j"
            "  JOIN {events} e ON e.job_id = j.id AND e.type = 'deferred'"
            "  WHERE j.task_name = %(task)s AND j.status = 'todo'),"
            " (SELECT count(*) FROM {workers}"
            "  WHERE last_seen >= now() - make_interval(secs => stall_seconds))").format(
                jobs=sql.SQL("{}.procrastinate_jobs").format(schema),
                events=sql.SQL("{}.procrastinate_events").format(schema),
                workers=worker_table(self.schema)), {"task": RUN_SUITE})
        if rows is None:
            return QueueFigures(queue_depth=0, oldest_queued_seconds=None, workers_alive=0)
        [(depth, oldest, alive)] = rows
        return QueueFigures(queue_depth=depth, workers_alive=alive,
                            oldest_queued_seconds=None if oldest is None
                            else round(max(oldest, 0.0), 3))

    def _select(self, query: sql.Composable,
                params: dict[str, Any] | None = None) -> list[tuple[Any, ...]] | None:
        """The rows of ``query``; None when the queue's tables are not there yet (no worker
        or queued registration ever set them up).

        Raises: StoreUnavailableError when PostgreSQL cannot be reached.
        """
        import psycopg

        from attune_registry.adapters.store.setup import connect

        try:
            with connect(self.config, timeout=5) as conn:
                return list(conn.execute(query, params).fetchall())
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.Error as exc:
            raise self.config.unavailable(exc) from None
