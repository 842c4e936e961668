"""Reading commands on PostgreSQL without starting the event-sourced application.

The PostgreSQL side of ``adapters.reads.quick``: one plain psycopg connection (no pool, no
event store library, no schema set-up), one read-only snapshot for the currency check and the
queries. When the read models are current the rows are read here; otherwise (behind, another
read-model version, tables missing) the caller takes the full path, which catches up first or
says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from attune_registry.projections.queries import ReadModelQueries
from attune_registry.projections.sql import postgres_dialect

from attune_registry.adapters.store.config import StoreConfig
from attune_registry.adapters.store.probe import postgres_state
from attune_registry.adapters.store.setup import conninfo

# What the full path waits for a connection before it reports the store unreachable
# (``adapters.store.setup.connect``): the same wait gives the same error.
CONNECT_TIMEOUT_SECONDS = 10


class PostgresReadModels(ReadModelQueries):
    """The read-model queries on one PostgreSQL connection, inside one read transaction."""

    def __init__(self, cursor: psycopg.Cursor[dict[str, Any]], schema: str) -> None:
        self.cursor = cursor
        self.dialect = postgres_dialect(schema)

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.cursor.execute(self.dialect.sql(sql), params).fetchall()

    def _timestamp(self, iso: str) -> Any:
        return datetime.fromisoformat(iso)  # as the full path's view passes it (timestamptz)


@contextmanager
def postgres_reads(config: StoreConfig) -> Iterator[PostgresReadModels | None]:
    """Queries on current read models, or None: the caller must take the full path.

    Raises: StoreUnavailableError when PostgreSQL cannot be reached, or stops answering while
    the caller reads (the full path would report the same, after trying again).
    """
    try:
        connection = psycopg.connect(conninfo(config, timeout=CONNECT_TIMEOUT_SECONDS),
                                     autocommit=True)
    except psycopg.Error as exc:
        raise config.unavailable(exc) from None
    try:
        # One snapshot for the check and every query, as the SQLite quick path has.
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            # The same rule as `attune info` and the projector's status (store.probe).
            state = postgres_state(connection, config)
        except psycopg.Error:  # a schema we may not read...: the full path reports it
            state = None
        current = state is not None and state.current
        view = PostgresReadModels(connection.cursor(row_factory=dict_row),
                                  config.env["POSTGRES_SCHEMA"])
        try:
            yield view if current else None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise config.unavailable(exc) from None
    finally:
        connection.close()
