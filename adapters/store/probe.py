"""Looking at a store without creating or changing anything: whether it exists, and where its
event log and read models stand.

Reading commands use it so that a typo in ``ATTUNE_HOME`` or in ``?schema=`` is reported
instead of silently creating a new, empty store; ``attune info`` and the ``attune serve``
banner use it to describe the store as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from attune_registry.projections.tables import READ_MODEL_VERSION

from attune_registry.adapters.store.config import StoreConfig, StoreConfigError

T = TypeVar("T")

# Persisted names of the event store library and of our read models (see
# ``adapters.reads.quick`` for SQLite, ``projections.view.PROJECTION_NAME`` for PostgreSQL).
LOG_NAME = "registry"
SQLITE_EVENTS, SQLITE_TRACKING = "stored_events", "tracking"
POSTGRES_EVENTS, POSTGRES_TRACKING = "registry_events", "registry_views_tracking"
# The commands that create a store, named in the error for one that does not exist.
CREATING_COMMANDS = "pack register, pack install, token create, serve"
_MISSING = object()  # what a query of a table that is not there gives


class StoreNotFoundError(StoreConfigError):
    """Raised when a command that only reads finds no store where the settings point: it
    creates none, and names the path, or the database and schema, it looked for."""

    code = "STORE_NOT_FOUND"


@dataclass(frozen=True)
class ReadModelState:
    """Where the read models stand against the event log."""

    version: int | None
    """The read-model version the tables were built for; None if they were never built."""
    position: int
    """The last event of the log applied to them."""
    log_head: int
    """The last event of the log."""

    @property
    def lag(self) -> int:
        return max(self.log_head - self.position, 0)

    @property
    def current(self) -> bool:
        """Built by this code's version and at the head of the log."""
        return self.version == READ_MODEL_VERSION and self.lag == 0


def where(config: StoreConfig) -> str:
    """The store's place as a person checks it: a file path, or database and schema."""
    if config.is_postgres:
        return (f"schema '{config.env['POSTGRES_SCHEMA']}' of database "
                f"'{config.env['POSTGRES_DBNAME']}' at {config.display}")
    return config.env["SQLITE_DBNAME"]


def not_found(config: StoreConfig, setting: str) -> StoreNotFoundError:
    """The error for a store that does not exist; ``setting`` names what chose the place."""
    place = f"in {where(config)}" if config.is_postgres else f"at {where(config)}"
    return StoreNotFoundError(
        f"no store {place}: nothing was ever recorded there. Check {setting} "
        f"for a typo; the commands that record something ({CREATING_COMMANDS}) create the "
        "store")


def exists(config: StoreConfig) -> bool:
    """Whether the store holds an event log (SQLite: the file exists; PostgreSQL: the schema
    has the event table).

    Raises: StoreUnavailableError when PostgreSQL cannot be reached (the message names it).
    """
    if not config.is_postgres:
        return Path(config.env["SQLITE_DBNAME"]).is_file()
    return _on_postgres(config, lambda conn: _postgres_tables(conn, config)[POSTGRES_EVENTS])


def read_models(config: StoreConfig) -> ReadModelState | None:
    """Where the read models of an existing store stand; None if it has no event log.

    Raises: StoreUnavailableError when the store cannot be read.
    """
    if config.is_postgres:
        return _postgres_read_models(config)
    return _sqlite_read_models(Path(config.env["SQLITE_DBNAME"]), config)


def _sqlite_read_models(path: Path, config: StoreConfig) -> ReadModelState | None:
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise config.unavailable(exc) from None
    try:
        head = _sqlite_one(connection, f"SELECT MAX(rowid) FROM {SQLITE_EVENTS}")
        if head is _MISSING:
            return None  # an empty file: no command ever wrote to it
        version = _sqlite_one(connection,
                              "SELECT value FROM read_model_meta WHERE key = 'version'")
        position = _sqlite_one(connection, f"SELECT MAX(notification_id) FROM "
                               f"{SQLITE_TRACKING} WHERE application_name = ?", (LOG_NAME,))
    except sqlite3.Error as exc:
        raise config.unavailable(exc) from None
    finally:
        connection.close()
    return ReadModelState(version=_version(version), position=_number(position),
                          log_head=_number(head))


def _sqlite_one(connection: sqlite3.Connection, query: str, params: tuple[Any, ...] = ()) -> Any:
    try:
        row = connection.execute(query, params).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return _MISSING
        raise
    return None if row is None else row[0]


def _postgres_read_models(config: StoreConfig) -> ReadModelState | None:
    return _on_postgres(config, lambda conn: postgres_state(conn, config))


def postgres_state(conn: Any, config: StoreConfig) -> ReadModelState | None:
    """``read_models`` on an open psycopg connection (tuple rows); None without an event log."""
    from psycopg import sql

    tables = _postgres_tables(conn, config)
    if not tables[POSTGRES_EVENTS]:
        return None

    def one(query: str, *params: Any, table: str) -> Any:
        if not tables[table]:
            return None
        row = conn.execute(sql.SQL(query).format(
            sql.Identifier(config.env["POSTGRES_SCHEMA"], table)), params).fetchone()
        return None if row is None else row[0]

    return ReadModelState(
        version=_version(one("SELECT value FROM {} WHERE key = 'version'",
                             table="read_model_meta")),
        position=_number(one("SELECT MAX(notification_id) FROM {} WHERE application_name = %s",
                             LOG_NAME, table=POSTGRES_TRACKING)),
        log_head=_number(one("SELECT MAX(notification_id) FROM {}", table=POSTGRES_EVENTS)))


def _postgres_tables(conn: Any, config: StoreConfig) -> dict[str, bool]:
    """Which of the store's tables exist in its schema (a missing schema has none)."""
    names = (POSTGRES_EVENTS, POSTGRES_TRACKING, "read_model_meta")
    row = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s)",
        (config.env["POSTGRES_SCHEMA"], list(names))).fetchall()
    found = {name for (name,) in row}
    return {name: name in found for name in names}


def _on_postgres(config: StoreConfig, read: Callable[[Any], T]) -> T:
    """``read(connection)`` on a connection of its own, outside the library's pools."""
    import psycopg

    from attune_registry.adapters.store.setup import connect

    try:
        with connect(config, timeout=5) as conn:
            return read(conn)
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None


def _number(value: Any) -> int:
    return int(value) if value is not None and value is not _MISSING else 0


def _version(value: Any) -> int | None:
    if value is None or value is _MISSING:
        return None
    try:
        return int(value)
    except ValueError:
        return None
