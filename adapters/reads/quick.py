"""Reading commands on the local store without starting the event-sourced application.

`attune pack list` and friends only need rows of the read models. Building the application
means importing the event store library and creating every aggregate and event class, which
costs several times Python's own start-up. When the SQLite read models are current (same
read-model version, tracking position at the head of the log), the rows are read here over a
plain read-only connection, in one read transaction; otherwise the caller takes the full path,
which catches up first. PostgreSQL does the same over one plain psycopg connection
(``adapters.reads.quick_postgres``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune_registry.projections.queries import ReadModelQueries
from attune_registry.projections.tables import READ_MODEL_VERSION

from attune_registry.adapters.reads.lookup import Reads
from attune_registry.adapters.settings import Settings

if TYPE_CHECKING:
    from attune_registry.adapters.packs.releases import ReleaseStore

# Persisted names: the event log's application (``PackRegistry.name``) as the tracking table
# records it, and the library's SQLite tables.
LOG_NAME = "registry"
EVENTS_TABLE, TRACKING_TABLE = "stored_events", "tracking"


class SQLiteReadModels(ReadModelQueries):
    """The read-model queries on one SQLite connection, inside one read transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in self.connection.execute(sql.replace("{t}", ""), params)]

    def is_current(self) -> bool:
        version = self._one("SELECT value FROM read_model_meta WHERE key = 'version'")
        head = self._one(f"SELECT MAX(rowid) FROM {EVENTS_TABLE}") or 0
        position = self._one(f"SELECT MAX(notification_id) FROM {TRACKING_TABLE}"
                             " WHERE application_name = :name", {"name": LOG_NAME}) or 0
        return str(version) == str(READ_MODEL_VERSION) and position >= head

    def _one(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        row = self.connection.execute(sql, params or {}).fetchone()
        return None if row is None else row[0]


@contextmanager
def quick_reads(settings: Settings) -> Iterator[Reads | None]:
    """Reads on current read models, or None: the caller must use the full registry (no
    store yet, read models behind or from another version).

    Raises: StoreConfigError for a database URL the full path would refuse too, and
    StoreUnavailableError when PostgreSQL cannot be reached.
    """
    path = settings.sqlite_path
    if settings.database_url:
        from attune_registry.adapters.store.config import store_location

        config = store_location(settings)
        if config.is_postgres:
            from attune_registry.adapters.reads.quick_postgres import postgres_reads

            with postgres_reads(config) as view:
                yield None if view is None else Reads(view, lambda: _releases(settings))
            return
        path = Path(config.env["SQLITE_DBNAME"])  # a sqlite:// URL
    with _sqlite_reads(path) as view:
        yield None if view is None else Reads(view, lambda: _releases(settings))


@contextmanager
def _sqlite_reads(path: Path) -> Iterator[SQLiteReadModels | None]:
    if not path.is_file():
        yield None
        return
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True,
                                     isolation_level=None, timeout=30)
    except sqlite3.Error:
        yield None
        return
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("BEGIN")  # one snapshot for the check and the queries (WAL)
        view = SQLiteReadModels(connection)
        try:
            current = view.is_current()
        except sqlite3.Error:  # tables missing or unreadable: the full path creates/reports
            current = False
        yield view if current else None
    finally:
        connection.close()


def _releases(settings: Settings) -> ReleaseStore:
    from attune_registry.adapters.packs.releases import ReleaseStore

    return ReleaseStore.of(settings)
