"""Store configuration: turns ``ATTUNE_DATABASE_URL`` into the event store library's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.redact import redact_url
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
        display=redact_url(url),
    )
