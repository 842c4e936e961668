"""Store configuration: turns ``ATTUNE_DATABASE_URL`` into the event store library's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from attune_registry.adapters.redact import redact_url
from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.store.files import make_private_dir, private_sqlite_file

DEFAULT_SCHEMA = "attune"
LIBPQ_PARAMETERS = "ATTUNE_POSTGRES_LIBPQ_PARAMETERS"
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


def store_config(settings: Settings, *, create: bool = True) -> StoreConfig:
    """The store's settings; creates ``ATTUNE_HOME`` (and a SQLite file) private to the user
    if missing (see ``adapters.store.files``). Without ``create``, nothing is created, and a
    SQLite file that does not exist is an error (``adapters.store.probe``)."""
    config = store_location(settings)
    if not create:
        if not config.is_postgres and not Path(config.env["SQLITE_DBNAME"]).is_file():
            from attune_registry.adapters.store.probe import not_found

            raise not_found(config, "ATTUNE_DATABASE_URL" if settings.database_url
                            else "ATTUNE_HOME")
        return config
    make_private_dir(settings.home)
    if not config.is_postgres:
        private_sqlite_file(Path(config.env["SQLITE_DBNAME"]))
    return config


def store_location(settings: Settings) -> StoreConfig:
    """Where the settings put the store, creating nothing."""
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
    return StoreConfig(
        kind="sqlite",
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        },
        display=f"sqlite:///{path}",
    )


# What the URL's own parts (and our ``schema``) say; every other libpq parameter is passed on.
_OWN_PARAMETERS = ("dbname", "host", "port", "user", "password")


def _postgres(url: str) -> StoreConfig:
    """The URL is parsed by libpq itself (through psycopg), so that it means what ``psql``
    makes of it: every libpq parameter (``sslmode``, ``sslrootcert``, ``connect_timeout``,
    ``application_name``, ``options``...) reaches every connection, and one libpq does not
    know is refused here, naming it. ``schema`` is ours, and is taken out first."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = urlsplit(url)
    # Split as libpq does (``&`` and ``=``, percent-escapes only: a ``+`` is no space).
    items = [item for item in parts.query.split("&") if item]
    schemas = [unquote(item.partition("=")[2]) for item in items
               if item.partition("=")[0] == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    kept = "&".join(item for item in items if item.partition("=")[0] != "schema")
    rest = url.partition("?")[0] + (f"?{kept}" if kept else "")
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(rest).items()}
    except ProgrammingError as exc:
        reason = redact_url(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        raise StoreConfigError(f"ATTUNE_DATABASE_URL: libpq cannot use {redact_url(url)}: "
                               f"{reason}") from None
    dbname = params.get("dbname", "")
    if not dbname:
        raise StoreConfigError("ATTUNE_DATABASE_URL: the PostgreSQL URL names no database")
    if not schema.strip():
        raise StoreConfigError("ATTUNE_DATABASE_URL: ?schema= names no schema")
    extra = {k: v for k, v in params.items() if k not in _OWN_PARAMETERS}
    return StoreConfig(
        kind="postgres",
        env={
            "PERSISTENCE_MODULE": "attune_registry.adapters.store.postgres:PostgresStoreFactory",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": params.get("host") or "127.0.0.1",
            "POSTGRES_PORT": params.get("port") or "5432",
            "POSTGRES_USER": params.get("user") or "postgres",
            "POSTGRES_PASSWORD": params.get("password", ""),
            "POSTGRES_SCHEMA": schema,
            # The other libpq parameters, as a conninfo string the factory and ``connect``
            # hand to every connection (the library's settings have no key for them).
            LIBPQ_PARAMETERS: make_conninfo(**extra),
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


def libpq_parameters(env: Mapping[str, str]) -> dict[str, str]:
    """The libpq parameters of the URL beyond host, port, database, user and password."""
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(env.get(LIBPQ_PARAMETERS, "")).items()}
