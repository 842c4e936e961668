"""Setting a store up: the PostgreSQL schema, a lock for start-up DDL, and the mark that says
a schema is set up already (so that processes can skip the DDL)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from attune_registry.projections.tables import READ_MODEL_VERSION

from attune_registry.adapters.store.config import (
    StoreConfig,
    StoreUnavailableError,
    libpq_parameters,
)


def setup_stamp() -> str:
    """What a PostgreSQL schema's set-up depends on: the event store library's tables and the
    read models' version."""
    from importlib.metadata import version

    return f"eventsourcing {version('eventsourcing')}; read models {READ_MODEL_VERSION}"


def ensure_schema(config: StoreConfig) -> None:
    """Create the PostgreSQL schema if missing (the event store library expects it to exist)."""
    if not config.is_postgres:
        return
    import psycopg
    from psycopg import sql

    try:
        with connect(config) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(config.env["POSTGRES_SCHEMA"])))
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
        pass  # another process created it at the same moment
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None


@contextmanager
def setup_lock(config: StoreConfig) -> Iterator[None]:
    """Serialise start-up DDL between processes on one PostgreSQL schema.

    Every process creates the event store's tables and functions if missing, and PostgreSQL
    refuses concurrent ``CREATE OR REPLACE FUNCTION`` on the same function ("tuple concurrently
    updated"): without this lock, several `attune` processes started together crash.
    The session lock is released when its connection closes, even if the process dies.
    """
    if not config.is_postgres:
        yield
        return
    import psycopg

    key = zlib.crc32(f"attune:setup:{config.env['POSTGRES_SCHEMA']}".encode())
    try:
        conn = connect(config)
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None
    with conn:
        yield


def is_set_up(config: StoreConfig, stamp: str) -> bool:
    """Whether a PostgreSQL schema was fully set up by code with this ``stamp`` (see
    ``mark_set_up``), so a process may skip the start-up DDL.

    Skipping it matters beyond speed: the DDL takes a SHARE lock on the event table, which
    queues behind any writer waiting there.
    """
    if not config.is_postgres:
        return False
    import psycopg
    from psycopg import sql

    query = sql.SQL("SELECT value FROM {}.read_model_meta WHERE key = 'setup'").format(
        sql.Identifier(config.env["POSTGRES_SCHEMA"]))
    try:
        with connect(config) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None
    return row is not None and row[0] == stamp


def mark_set_up(config: StoreConfig, stamp: str) -> None:
    """Record that the schema's tables, functions and read models are those of ``stamp``.
    A read-model upgrade clears the mark, so the next process sets up again."""
    if not config.is_postgres:
        return
    import psycopg
    from psycopg import sql

    table = sql.SQL("{}.read_model_meta").format(sql.Identifier(config.env["POSTGRES_SCHEMA"]))
    try:
        with connect(config) as conn, conn.transaction():
            conn.execute(sql.SQL("DELETE FROM {} WHERE key = 'setup'").format(table))
            conn.execute(sql.SQL("INSERT INTO {} (key, value) VALUES ('setup', %s)")
                         .format(table), (stamp,))
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None


def diagnose(config: StoreConfig, exc: BaseException) -> StoreUnavailableError:
    """The error for a store that stopped answering, with the most useful reason.

    The connection pool only says it got no connection in time; a direct attempt says why
    (connection refused, database does not exist, authentication failed).
    """
    if config.is_postgres:
        import psycopg

        try:
            with connect(config, timeout=5):
                pass
        except psycopg.Error as probe:
            return config.unavailable(probe)
    return config.unavailable(exc)


def connect(config: StoreConfig, *, timeout: int = 10) -> Any:
    """A direct PostgreSQL connection in autocommit mode (outside the library's pools)."""
    import psycopg

    return psycopg.connect(conninfo(config, timeout=timeout), autocommit=True)


def conninfo(config: StoreConfig, *, timeout: int = 10, search_path: bool = False) -> str:
    """The libpq connection string of the store: the URL's own libpq parameters (sslmode...)
    too, whose connect_timeout wins over ``timeout``; with ``search_path``, connections
    find the store's schema first (for tables created without naming it)."""
    from psycopg.conninfo import make_conninfo

    env = config.env
    extra = {"connect_timeout": str(timeout), **libpq_parameters(env)}
    if search_path:
        options = f"-c search_path={env['POSTGRES_SCHEMA']}"
        extra["options"] = f"{extra['options']} {options}" if "options" in extra else options
    return make_conninfo(
        "", dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], **extra)
