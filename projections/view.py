"""The registry's read models: catch-up projection and queries, whatever the database.

Each batch of events is applied and the tracking position recorded in one transaction, under a
lock that admits one projector at a time, so every event is applied exactly once whichever
process catches up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder

from projections.handlers import apply_event
from projections.rows import PackRow, TestExecutionRow
from projections.sql import Dialect, Writer, from_json, from_timestamp

# Persisted: names the tracking table on PostgreSQL. Never change it.
PROJECTION_NAME = "registry_views"


class EventLog(Protocol):
    """The part of an eventsourcing Application a projection reads (duck-typed: no import)."""

    name: str
    recorder: Any
    mapper: Any


class RegistryView(TrackingRecorder, ABC):
    """Read models of the registry and the position up to which they are current."""

    dialect: Dialect

    @abstractmethod
    def _projection_transaction(self) -> Any:
        """A write transaction that only one projector at a time can hold."""

    @abstractmethod
    def _read_transaction(self) -> Any:
        """A read-only transaction."""

    def project(self, log: EventLog, *, batch_size: int = 500) -> int:
        """Apply every event recorded after the current position; returns how many."""
        applied = 0
        while True:
            with self._projection_transaction() as cursor:
                start = self._max_tracking_id(log.name, cursor) or 0
                notifications = log.recorder.select_notifications(
                    start=start, limit=batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return applied
                writer = Writer(cursor, self.dialect)
                for notification in notifications:
                    apply_event(log.mapper.to_domain_event(notification), writer)
                self._insert_tracking(cursor, Tracking(log.name, notifications[-1].id))
            applied += len(notifications)

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    def list_packs(self) -> list[PackRow]:
        rows = self._select("SELECT * FROM {t}pack ORDER BY ref", {})
        return [_pack_row(row) for row in rows]

    def get_pack(self, ref: str) -> PackRow | None:
        rows = self._select("SELECT * FROM {t}pack WHERE ref = :ref", {"ref": ref})
        return _pack_row(rows[0]) if rows else None

    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        """Test runs of ``ref``, newest first, rejected and in-progress ones included."""
        rows = self._select(
            "SELECT * FROM {t}pack_test_execution WHERE pack_ref = :ref"
            " ORDER BY execution_time DESC, id DESC LIMIT :limit",
            {"ref": ref, "limit": limit},
        )
        return [_execution_row(row) for row in rows]

    def has_history(self, ref: str) -> bool:
        rows = self._select("SELECT 1 AS x FROM {t}pack_registration WHERE pack_ref = :ref"
                            " LIMIT 1", {"ref": ref})
        return bool(rows)

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._read_transaction() as cursor:
            cursor.execute(self.dialect.sql(sql), params)
            return [dict(row) for row in cursor.fetchall()]


_PACK_JSON = ("conf_schema", "config", "meta", "tags", "runtime_deps", "dependencies")


def _pack_row(row: dict[str, Any]) -> PackRow:
    for key in _PACK_JSON:
        row[key] = from_json(row[key])
    for key in ("system", "enabled"):
        row[key] = bool(row[key])
    for key in ("created", "updated"):
        row[key] = from_timestamp(row[key])
    return PackRow(**row)


def _execution_row(row: dict[str, Any]) -> TestExecutionRow:
    row["result"] = from_json(row["result"])
    row["execution_time"] = from_timestamp(row["execution_time"])
    row["created"] = from_timestamp(row["created"])
    row["pass_rate"] = float(row["pass_rate"])
    return TestExecutionRow(**row)
