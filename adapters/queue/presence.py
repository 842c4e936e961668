"""Which workers serve the queue: each ``attune worker`` keeps a row of its own up to date.

procrastinate's own tables know workers by number only, and forget a job once it succeeded.
``<schema>.attune_worker`` says, per worker, who it is (``host:pid``), how many suites it may
run at once, when it last showed signs of life, and which suites it is running. A worker
removes its row when it stops cleanly; a killed one leaves it behind, shown ``lost`` once
its ``last_seen`` is older than its stall time, and deleted by the next worker to start
once it is ten times older.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

WORKER_TABLE = "attune_worker"
# A lost worker's row is deleted once its last sign of life is this many stall times old.
FORGET_AFTER_STALLS = 10

log = logging.getLogger("attune.worker")


def worker_table(schema: str) -> sql.Composed:
    """The table's name, qualified with the store's schema."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(WORKER_TABLE))


def create_worker_table(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the table unless it exists (under the store's set-up lock, with the queue's)."""
    conn.execute(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (name TEXT PRIMARY KEY, host TEXT NOT NULL,"
        " pid INTEGER NOT NULL, concurrency INTEGER NOT NULL,"
        " stall_seconds DOUBLE PRECISION NOT NULL,"
        " started_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " last_seen TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " running JSONB NOT NULL DEFAULT '[]'::jsonb)").format(worker_table(schema)))


class WorkerPresence:
    """One worker's row: listed by ``start``, refreshed every ``stall_seconds / 3`` from a
    daemon thread (at once when a suite starts or ends), removed by ``stop``.

    Only that thread writes the row, on a connection of its own: a suite never waits for the
    database to record it, and a failed write (the store restarting) is retried at the next
    beat rather than failing the suite.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], schema: str, *,
                 host: str, pid: int, concurrency: int, stall_seconds: float) -> None:
        self.name = f"{host}:{pid}"
        self.host = host
        self.pid = pid
        self.concurrency = concurrency
        self.stall_seconds = stall_seconds
        self.interval = stall_seconds / 3
        self._connect = connect
        self._table = worker_table(schema)
        self._running: dict[tuple[str, int], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def start(self) -> None:
        """Forget the workers lost long ago, list this one, and start refreshing its row.

        Raises: psycopg.Error when the store cannot be reached.
        """
        with self._connect() as conn:
            conn.execute(sql.SQL(
                "DELETE FROM {} WHERE last_seen < now() - make_interval("
                "secs => stall_seconds * %s) OR name = %s").format(self._table),
                (FORGET_AFTER_STALLS, self.name))  # this name's row: an earlier process's pid
        self._publish()
        self._thread = threading.Thread(target=self._beat, name="attune-presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing and remove the row: the worker stopped cleanly."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            with self._connect() as conn:
                conn.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(self._table),
                             (self.name,))
        except psycopg.Error as exc:  # listed until lost, then forgotten: nothing worse
            log.warning("could not remove worker %s from the list: %s", self.name, exc)
        finally:
            self._close()

    @contextmanager
    def running(self, registration_id: UUID, index: int, suite: str) -> Iterator[None]:
        """Show suite ``index`` (named ``suite``) of a registration as running meanwhile."""
        key = (str(registration_id), index)
        entry = {"registration_id": str(registration_id), "suite": suite,
                 "since": datetime.now(UTC).isoformat()}
        with self._lock:
            self._running[key] = entry
        self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)
            self._wake.set()

    def _beat(self) -> None:
        failing = False
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._publish()
            except psycopg.Error as exc:
                # Said once per outage, not at every beat while the store is away.
                if not failing:
                    log.warning("could not refresh worker %s in the list: %s", self.name,
                                " ".join(str(exc).split()))
                failing = True
                self._close()  # a new connection at the next beat
            else:
                if failing:
                    log.warning("worker %s is in the list again", self.name)
                failing = False

    def _publish(self) -> None:
        """Write the whole row (so that it comes back if it was deleted meanwhile)."""
        with self._lock:
            running = list(self._running.values())
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        self._conn.execute(sql.SQL(
            "INSERT INTO {} (name, host, pid, concurrency, stall_seconds, running)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
            " last_seen = now(), running = EXCLUDED.running,"
            " stall_seconds = EXCLUDED.stall_seconds").format(self._table),
            (self.name, self.host, self.pid, self.concurrency, self.stall_seconds,
             Jsonb(running)))

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
