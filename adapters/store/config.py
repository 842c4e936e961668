"""Store configuration: turns ``ATTUNE_DATABASE_URL`` into the event store library's settings."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.settings import ConfigError, Settings

DEFAULT_SCHEMA = "attune"
POOL_WAIT_SECONDS = 2


class StoreConfigError(ConfigError):
    """Raised when the database URL cannot be used; the message never contains its password."""

    code = "STORE_UNAVAILABLE"


class StoreUnavailableError(StoreConfigError):
    """Raised when the store cannot be reached or stopped answering (PostgreSQL down or
    restarting, connections cut, database missing); the same command may work later."""


@dataclass(frozen=True)
class StoreConfig:
    """Where events and read models live."""

    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]  # the eventsourcing library's settings
    display: str  # the URL with any password masked, for messages

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        """The one-line error for a failure to reach the store (the reason's first line)."""
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        where = "reach PostgreSQL" if self.is_postgres else "use the store"
        return StoreUnavailableError(f"cannot {where} at {self.display}: {reason}")


def store_config(settings: Settings) -> StoreConfig:
    url = settings.database_url
    if not url:
        return _sqlite(settings.sqlite_path)
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite://")
        if not path or path == "/":
            raise StoreConfigError("ATTUNE_DATABASE_URL: sqlite:// needs a file path, "
                                   "e.g. sqlite:////var/lib/attune/attune.db")
        return _sqlite(Path(unquote(path)))
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise StoreConfigError(
        f"ATTUNE_DATABASE_URL: unsupported scheme {scheme!r} (use postgresql:// or sqlite://)"
    )


def _sqlite(path: Path) -> StoreConfig:
    path.parent.mkdir(parents=True, exist_ok=True)
    return StoreConfig(
        kind="sqlite",
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        },
        display=f"sqlite:///{path}",
    )


def _postgres(url: str) -> StoreConfig:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    dbname = unquote(parts.path.lstrip("/"))
    host = parts.hostname or query.get("host", [""])[0] or "127.0.0.1"
    user = unquote(parts.username or "") or query.get("user", ["postgres"])[0]
    password = unquote(parts.password or "") or query.get("password", [""])[0]
    schema = query.get("schema", [DEFAULT_SCHEMA])[0]
    if not dbname:
        raise StoreConfigError("ATTUNE_DATABASE_URL: the PostgreSQL URL names no database")
    masked = _masked(url)
    return StoreConfig(
        kind="postgres",
        env={
            "PERSISTENCE_MODULE": "adapters.store.postgres:PostgresStoreFactory",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_SCHEMA": schema,
            # A CLI process needs few connections; PostgreSQL's budget is shared by all.
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "4",
            # How long to wait for a pooled connection. The library tries each read and write
            # up to 10 times, so this bounds how long a command rides out an outage (~20 s)
            # before it reports the store unavailable.
            "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_SECONDS),
            # Test a pooled connection before handing it out: after a server restart or cut
            # connections, the dead ones are replaced instead of failing the next command.
            "POSTGRES_PRE_PING": "y",
        },
        display=masked,
    )


def _masked(url: str) -> str:
    """The URL with its password (in the user part or the query) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return parts._replace(netloc=netloc, query=query).geturl()


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

    env = config.env
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], connect_timeout=timeout,
        autocommit=True,
    )
