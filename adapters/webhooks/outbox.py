"""The outbox: webhooks, their secrets, deliveries and attempts, in either store.

Every change is one short transaction. Sending happens outside any transaction: a delivery is
first *claimed* (for as long as an attempt may take), then sent, then its attempt recorded.
Two processes therefore never send the same delivery at once, and one that died mid-attempt
only delays it until its claim runs out.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from attune_registry.projections.sql import Dialect, Writer, from_json, from_timestamp

from attune_registry.adapters.webhooks.rows import AttemptRow, DeliveryRow, WebhookRow
from attune_registry.adapters.webhooks.send import Attempt
from attune_registry.adapters.webhooks.tables import create_statements

# Fixed key of the PostgreSQL advisory lock that serialises dispatchers (see dispatch.py).
DISPATCH_LOCK_KEY = 0x6174747768  # "attwh"
POSITION = "registry"  # the log the position is of


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt, with what sending it needs."""

    id: str
    url: str
    body: str
    secret: str | None
    attempts: int


class Outbox(ABC):
    """The webhook tables of one store."""

    dialect: Dialect
    ddl: list[str]

    @abstractmethod
    def _transaction(self, *, locked: bool = False, write: bool = True) -> Any:
        """A transaction yielding a Writer; ``locked``: one dispatcher at a time."""

    def close(self) -> None:  # noqa: B027 - nothing to release unless a store holds a pool
        """Release connections."""

    def ensure_tables(self) -> None:
        with self._transaction() as w:
            for statement in self.ddl:
                w.execute(statement)

    def ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value if self.dialect.postgres else value.isoformat(timespec="microseconds")

    @contextmanager
    def dispatching(self) -> Iterator[Writer]:
        """The transaction of one dispatch pass (one dispatcher at a time)."""
        with self._transaction(locked=True) as w:
            yield w

    def position(self, w: Writer | None = None) -> int:
        sql = "SELECT position FROM {t}webhook_position WHERE name = :name"
        if w is not None:
            row = w.one(sql, {"name": POSITION})
        else:
            with self._transaction(write=False) as reader:
                row = reader.one(sql, {"name": POSITION})
        return int(row["position"]) if row else 0

    def set_position(self, w: Writer, position: int) -> None:
        w.execute("INSERT INTO {t}webhook_position (name, position) VALUES (:name, :p)"
                  " ON CONFLICT (name) DO UPDATE SET position = :p", {"name": POSITION,
                                                                       "p": position})

    def keep_secret(self, webhook_id: str, secret: str) -> None:
        with self._transaction() as w:
            w.execute("INSERT INTO {t}webhook_secret (webhook_id, secret) VALUES (:id, :s)",
                      {"id": webhook_id, "s": secret})

    def forget_secret(self, webhook_id: str) -> None:
        with self._transaction() as w:
            w.execute("DELETE FROM {t}webhook_secret WHERE webhook_id = :id", {"id": webhook_id})

    def hooks(self, *, include_removed: bool = False) -> list[WebhookRow]:
        where = "" if include_removed else " WHERE removed_at IS NULL"
        return [_webhook_row(row) for row in self._select(
            "SELECT * FROM {t}webhook" + where + " ORDER BY added_at, id", {})]

    def hook(self, webhook_id: str) -> WebhookRow | None:
        rows = self._select("SELECT * FROM {t}webhook WHERE id = :id", {"id": webhook_id})
        return _webhook_row(rows[0]) if rows else None

    def insert_delivery(self, w: Writer, *, delivery_id: str, webhook_id: str, event_type: str,
                        source: str, body: str, now: datetime, message: Any) -> None:
        """A pending delivery, due now; nothing if this webhook has this source's already."""
        w.execute(
            "INSERT INTO {t}webhook_delivery (id, webhook_id, event_type, source,"
            " registration_id, test_run_id, ref, body, status, attempts, created_at,"
            " next_attempt_at, queued) VALUES (:id, :hook, :type, :source, :reg, :run, :ref,"
            " :body, 'pending', 0, :now, :now, :queued) ON CONFLICT DO NOTHING",
            {"id": delivery_id, "hook": webhook_id, "type": event_type, "source": source,
             "reg": message.registration_id, "run": message.test_run_id, "ref": message.ref,
             "body": body, "now": self.ts(now), "queued": False})

    def claim(self, delivery_id: str, *, now: datetime, until: datetime,
              due_only: bool = True) -> Claimed | None:
        """Take a pending delivery for one attempt; None if it is not pending, not due (with
        ``due_only``), or claimed by another process."""
        due = " AND next_attempt_at <= :now" if due_only else ""
        with self._transaction() as w:
            w.execute("UPDATE {t}webhook_delivery SET claimed_until = :until WHERE id = :id"
                      " AND status = 'pending' AND (claimed_until IS NULL OR claimed_until"
                      " < :now)" + due, {"id": delivery_id, "now": self.ts(now),
                                         "until": self.ts(until)})
            if w.cursor.rowcount != 1:
                return None
            row = w.one("SELECT d.id, d.body, d.attempts, h.url, s.secret"
                        " FROM {t}webhook_delivery d JOIN {t}webhook h ON h.id = d.webhook_id"
                        " LEFT JOIN {t}webhook_secret s ON s.webhook_id = d.webhook_id"
                        " WHERE d.id = :id", {"id": delivery_id})
        assert row is not None
        return Claimed(id=row["id"], url=row["url"], body=row["body"], secret=row["secret"],
                       attempts=int(row["attempts"]))

    def record(self, delivery_id: str, number: int, attempt: Attempt, *, now: datetime,
               next_at: datetime | None) -> str:
        """Record attempt ``number`` and release the claim; returns the delivery's status:
        ``delivered``, ``pending`` (tried again at ``next_at``) or ``failed``."""
        status = "delivered" if attempt.ok else ("pending" if next_at else "failed")
        with self._transaction() as w:
            w.execute("INSERT INTO {t}webhook_attempt (delivery_id, number, at, status_code,"
                      " error, duration_ms) VALUES (:id, :n, :at, :code, :error, :ms)",
                      {"id": delivery_id, "n": number, "at": self.ts(now),
                       "code": attempt.status_code, "error": attempt.error,
                       "ms": attempt.duration_ms})
            w.execute("UPDATE {t}webhook_delivery SET status = :status, attempts = :n,"
                      " next_attempt_at = :next, claimed_until = NULL, delivered_at = :done"
                      " WHERE id = :id",
                      {"id": delivery_id, "status": status, "n": number,
                       "next": self.ts(next_at if status == "pending" else None),
                       "done": self.ts(now if attempt.ok else None)})
        return status

    def due(self, now: datetime, *, limit: int, late_by: timedelta = timedelta(0)) -> list[str]:
        """Pending deliveries whose next attempt was due ``late_by`` ago or earlier and that
        nobody holds, oldest first."""
        rows = self._select(
            "SELECT id FROM {t}webhook_delivery WHERE status = 'pending' AND next_attempt_at"
            " <= :due AND (claimed_until IS NULL OR claimed_until < :now)"
            " ORDER BY next_attempt_at, id LIMIT :limit",
            {"now": self.ts(now), "due": self.ts(now - late_by), "limit": limit})
        return [row["id"] for row in rows]

    def next_attempt(self, delivery_id: str) -> datetime | None:
        """When a pending delivery is tried next (None when it is not pending)."""
        rows = self._select("SELECT next_attempt_at FROM {t}webhook_delivery WHERE id = :id"
                            " AND status = 'pending'", {"id": delivery_id})
        value = rows[0]["next_attempt_at"] if rows else None
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """A write transaction (not the dispatch lock)."""
        with self._transaction() as w:
            yield w

    def unqueued(self, *, limit: int) -> list[str]:
        """Pending deliveries not handed to the job queue yet, oldest first."""
        rows = self._select("SELECT id FROM {t}webhook_delivery WHERE status = 'pending'"
                            " AND NOT queued ORDER BY created_at, id LIMIT :limit",
                            {"limit": limit})
        return [row["id"] for row in rows]

    def mark_queued(self, delivery_id: str) -> None:
        with self._transaction() as w:
            w.execute("UPDATE {t}webhook_delivery SET queued = :yes WHERE id = :id",
                      {"id": delivery_id, "yes": True})

    def deliveries(self, webhook_id: str | None = None, *, limit: int = 50) -> list[DeliveryRow]:
        """The newest deliveries (of one webhook, or of all), each with its attempts."""
        where = " WHERE webhook_id = :hook" if webhook_id else ""
        rows = self._select("SELECT * FROM {t}webhook_delivery" + where
                            + " ORDER BY created_at DESC, id DESC LIMIT :limit",
                            {"hook": webhook_id, "limit": limit})
        return self._with_attempts(rows)

    def delivery(self, delivery_id: str) -> DeliveryRow | None:
        rows = self._select("SELECT * FROM {t}webhook_delivery WHERE id = :id",
                            {"id": delivery_id})
        found = self._with_attempts(rows)
        return found[0] if found else None

    def _with_attempts(self, rows: list[dict[str, Any]]) -> list[DeliveryRow]:
        if not rows:
            return []
        names = {f"d{index}": row["id"] for index, row in enumerate(rows)}
        attempts: dict[str, list[AttemptRow]] = {}
        for found in self._select(
                "SELECT * FROM {t}webhook_attempt WHERE delivery_id IN ("
                + ", ".join(f":{name}" for name in names) + ") ORDER BY number", names):
            attempts.setdefault(found["delivery_id"], []).append(AttemptRow(
                number=found["number"], at=_iso(found["at"]), status_code=found["status_code"],
                error=found["error"], duration_ms=int(found["duration_ms"])))
        return [DeliveryRow(
            id=row["id"], webhook_id=row["webhook_id"], event_type=row["event_type"],
            status=row["status"], created_at=_iso(row["created_at"]),
            attempts=attempts.get(row["id"], []),
            next_attempt_at=from_timestamp(row["next_attempt_at"]),
            delivered_at=from_timestamp(row["delivered_at"]),
            registration_id=row["registration_id"], test_run_id=row["test_run_id"],
            ref=row["ref"]) for row in rows]

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._transaction(write=False) as w:
            w.execute(sql, params)
            return [dict(row) for row in w.cursor.fetchall()]


def _iso(value: Any) -> str:
    text = from_timestamp(value)
    assert text is not None
    return text


def _webhook_row(row: dict[str, Any]) -> WebhookRow:
    return WebhookRow(id=row["id"], url=row["url"], event_types=from_json(row["event_types"]),
                      added_by=row["added_by"], added_at=_iso(row["added_at"]),
                      removed_at=from_timestamp(row["removed_at"]),
                      removed_by=row["removed_by"])


class SQLiteOutbox(Outbox):
    """The outbox in the embedded store's file (a connection per transaction: any thread)."""

    def __init__(self, path: str) -> None:
        from attune_registry.projections.sql import sqlite_dialect

        self.path = path
        self.dialect = sqlite_dialect()
        self.ddl = create_statements("", json="TEXT", ts="TEXT", boolean="INTEGER")

    @contextmanager
    def _transaction(self, *, locked: bool = False, write: bool = True) -> Iterator[Writer]:
        # BEGIN IMMEDIATE: SQLite's write lock from the start, so that two dispatchers queue
        # here instead of reading the same position (every write is as short as a dispatch).
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.row_factory = sqlite3.Row
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Writer(cursor, self.dialect)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()


class PostgresOutbox(Outbox):
    """The outbox in the store's PostgreSQL schema, on a small pool of its own."""

    def __init__(self, conninfo: str, schema: str) -> None:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        from attune_registry.projections.sql import postgres_dialect

        self.dialect = postgres_dialect(schema)
        self.ddl = create_statements(self.dialect.prefix, json="JSONB", ts="TIMESTAMPTZ",
                                     boolean="BOOLEAN")
        self.pool: ConnectionPool[Any] = ConnectionPool(
            conninfo, min_size=0, max_size=2, kwargs={"row_factory": dict_row}, open=True,
            timeout=10)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _transaction(self, *, locked: bool = False, write: bool = True) -> Iterator[Writer]:
        with self.pool.connection() as connection, connection.transaction():
            cursor = connection.cursor()
            if locked:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (DISPATCH_LOCK_KEY,))
            yield Writer(cursor, self.dialect)
