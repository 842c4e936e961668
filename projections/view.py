"""The registry's read models: catch-up projection, rebuild, and queries, whatever the database.

Each batch of events is applied and the tracking position recorded in one transaction, under a
lock that admits one projector at a time, so every event is applied exactly once whichever
process catches up.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from eventsourcing.persistence import Tracking, TrackingRecorder

from attune_registry.projections.activity import ActivityWriter
from attune_registry.projections.handlers import apply_event, prefetch
from attune_registry.projections.queries import ReadModelQueries
from attune_registry.projections.sql import Dialect, Writer
from attune_registry.projections.tables import READ_MODEL_TABLES, READ_MODEL_VERSION

# Persisted: names the tracking table on PostgreSQL. Never change it.
PROJECTION_NAME = "registry_views"

# Pauses before trying a transaction again after its connection broke (a database restart,
# connections cut): five attempts in all, a few seconds, besides each wait for a connection.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)

T = TypeVar("T")


class EventLog(Protocol):
    """The part of an eventsourcing Application a projection reads (duck-typed: no import)."""

    name: str
    recorder: Any
    mapper: Any


@dataclass(frozen=True)
class ProjectionStatus:
    """How far the read models are behind the event log."""

    name: str
    log_head: int
    position: int

    @property
    def lag(self) -> int:
        return max(self.log_head - self.position, 0)


class RegistryView(TrackingRecorder, ReadModelQueries, ABC):
    """Read models of the registry and the position up to which they are current."""

    dialect: Dialect
    # Errors after which a whole transaction may simply be run again: the connection broke,
    # so it was rolled back, or it committed unacknowledged (a batch then finds its events
    # already tracked, since it reads its position inside its own transaction).
    transient_errors: tuple[type[Exception], ...] = ()

    @abstractmethod
    def _projection_transaction(self) -> Any:
        """A write transaction that only one projector at a time can hold."""

    @abstractmethod
    def _read_transaction(self) -> Any:
        """A read-only transaction."""

    @abstractmethod
    def _forget_position(self, cursor: Any, application_name: str | None) -> None:
        """Delete the tracking row of ``application_name``, or of every application when None
        (inside a projection transaction)."""

    read_model_ddl: list[str]

    # Provided by the library's tracking recorder of each database (the concrete views inherit
    # from it first): the position and its update, inside a transaction of ours.
    @abstractmethod
    def _max_tracking_id(self, application_name: str, cursor: Any) -> int | None:
        """The position recorded for ``application_name``, read with ``cursor``."""

    @abstractmethod
    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Record ``tracking`` as the position, with ``cursor``."""

    def upgrade_read_models(self) -> bool:
        """Drop read models made by another version of the code, so they are rebuilt.

        Returns:
            Whether the read models were reset (the next catch-up replays the whole log).
        """
        return self._retrying(self._upgrade_read_models)

    def _upgrade_read_models(self) -> bool:
        # Check without the write lock first: every process starts here, and on SQLite a
        # long writer (a rebuild) must not make read commands queue for its lock.
        if self._read_model_version(self._read_transaction()) == str(READ_MODEL_VERSION):
            return False
        with self._projection_transaction() as cursor:
            version = self._read_model_version(nullcontext(cursor))
            if version == str(READ_MODEL_VERSION):
                return False
            for table in READ_MODEL_TABLES:
                cursor.execute(self.dialect.sql(f"DROP TABLE IF EXISTS {{t}}{table}"))
            for statement in self.read_model_ddl:
                cursor.execute(statement)
            self._forget_position(cursor, None)
            cursor.execute(self.dialect.sql("DELETE FROM {t}read_model_meta"))
            cursor.execute(self.dialect.sql(
                "INSERT INTO {t}read_model_meta (key, value) VALUES ('version', :v)"),
                {"v": str(READ_MODEL_VERSION)})
            return version is not None

    def _read_model_version(self, transaction: Any) -> str | None:
        with transaction as cursor:
            cursor.execute(self.dialect.sql(
                "SELECT value FROM {t}read_model_meta WHERE key = 'version'"))
            row = cursor.fetchone()
        return None if row is None else str(dict(row)["value"])

    def project(self, log: EventLog, *, batch_size: int = 500,
                max_batches: int | None = None) -> int:
        """Apply the events recorded after the current position, one batch per transaction:
        every one of them, or those of the first ``max_batches`` batches.

        Returns:
            How many events were applied.
        """
        head = log.recorder.max_notification_id() or 0
        if (self.max_tracking_id(log.name) or 0) >= head:
            return 0  # current: two cheap reads, no write lock (the common case for reads)
        applied = batches = 0
        while max_batches is None or batches < max_batches:
            batch = self._retrying(lambda: self._apply_batch(log, batch_size))
            applied += batch
            batches += 1
            if batch < batch_size:
                break  # the end of the log as the batch read it: no transaction to find that
        return applied

    def _apply_batch(self, log: EventLog, batch_size: int) -> int:
        with self._projection_transaction() as cursor:
            return self._apply_batches(cursor, log, batch_size, max_batches=1)

    def rebuild(self, log: EventLog, *, batch_size: int = 500) -> int:
        """Empty the read models and replay the whole log, in one transaction.

        Readers keep seeing the old rows until the new ones commit, and other projectors wait
        on the lock, so a rebuild is safe while the service runs.
        """
        return self._retrying(lambda: self._rebuild(log, batch_size))

    def _rebuild(self, log: EventLog, batch_size: int) -> int:
        with self._projection_transaction() as cursor:
            for table in READ_MODEL_TABLES:
                cursor.execute(self.dialect.sql(f"DELETE FROM {{t}}{table}"))
            self._forget_position(cursor, log.name)
            return self._apply_batches(cursor, log, batch_size, max_batches=None)

    def _apply_batches(self, cursor: Any, log: EventLog, batch_size: int,
                       max_batches: int | None) -> int:
        start = self._max_tracking_id(log.name, cursor) or 0
        applied = batches = 0
        writer = Writer(cursor, self.dialect)
        activity = ActivityWriter(writer)
        while max_batches is None or batches < max_batches:
            notifications = log.recorder.select_notifications(
                start=start, limit=batch_size, inclusive_of_start=False)
            if not notifications:
                break
            batch = [(n, log.mapper.to_domain_event(n)) for n in notifications]
            prefetch([event for _, event in batch], writer)
            activity.prefetch(batch)
            for notification, event in batch:
                apply_event(event, writer)
                activity.record(notification, event, log.mapper)
            activity.flush()
            writer.requested.clear()  # bounded by a batch, even in a rebuild
            start = notifications[-1].id
            # On the writer's read cursor: the library's statement returns a row.
            self._insert_tracking(writer.reader, Tracking(log.name, start))
            applied += len(notifications)
            batches += 1
        return applied

    def status(self, log: EventLog) -> ProjectionStatus:
        return ProjectionStatus(name=PROJECTION_NAME,
                                log_head=log.recorder.max_notification_id() or 0,
                                position=self.max_tracking_id(log.name) or 0)

    def _timestamp(self, iso: str) -> Any:
        return self.dialect.timestamp(datetime.fromisoformat(iso))

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        def select() -> list[dict[str, Any]]:
            with self._read_transaction() as cursor:
                cursor.execute(self.dialect.sql(sql), params)
                return [dict(row) for row in cursor.fetchall()]

        return self._retrying(select)

    def _retrying(self, transaction: Callable[[], T]) -> T:
        """Run ``transaction``, again after a short pause while its connection keeps breaking."""
        for delay in RETRY_DELAYS:
            try:
                return transaction()
            except self.transient_errors:
                time.sleep(delay)
        return transaction()

