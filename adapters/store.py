"""Store configuration: turns ``ATTUNE_DATABASE_URL`` into the event store library's settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.settings import ConfigError, Settings

DEFAULT_SCHEMA = "attune"


class StoreConfigError(ConfigError):
    """Raised when the database URL cannot be used; the message never contains its password."""

    code = "STORE_UNAVAILABLE"


@dataclass(frozen=True)
class StoreConfig:
    """Where events and read models live."""

    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]  # the eventsourcing library's settings
    display: str  # the URL with any password masked, for messages

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"


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
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": host,
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_SCHEMA": schema,
            # A CLI process needs few connections; PostgreSQL's budget is shared by all.
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_CONNECT_TIMEOUT": "10",
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

    env = config.env
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], connect_timeout=10,
            autocommit=True,
        ) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(env["POSTGRES_SCHEMA"])))
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
        pass  # another process created it at the same moment
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreConfigError(f"cannot reach PostgreSQL at {config.display}: {reason}") from None
