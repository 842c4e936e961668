"""The read models in PostgreSQL, in the store's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from attune_registry.projections.sql import postgres_dialect
from attune_registry.projections.tables import create_statements
from attune_registry.projections.view import RegistryView

# Arbitrary but fixed key of the PostgreSQL advisory lock that serialises projectors.
PROJECTOR_LOCK_KEY = 0x617474756E65  # "attune"


class PostgresRegistryView(PostgresTrackingRecorder, RegistryView):
    """Read models in PostgreSQL, in the store's schema."""

    # The connection broke (server restart, terminated backend) or none could be had in time.
    transient_errors = (OperationalError, InterfaceError)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.dialect = postgres_dialect(self.datastore.schema)
        self.read_model_ddl = create_statements(self.dialect.prefix, json="JSONB",
                                                ts="TIMESTAMPTZ", boolean="BOOLEAN")
        for statement in self.read_model_ddl:
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def create_table(self) -> None:
        super().create_table()
        self.upgrade_read_models()

    @contextmanager
    def _projection_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (PROJECTOR_LOCK_KEY,))
            # Pipeline mode: a write that returns nothing is sent without waiting for its
            # answer; a read (fetching a row) waits for everything sent before it. A batch
            # then costs a round trip per read, not one per statement.
            connection = cursor.connection
            threshold = connection.prepare_threshold
            # Nothing prepared inside it: psycopg's record of the statements it prepared can
            # part from the server's there ("prepared statement does not exist" later on).
            connection.prepare_threshold = None
            try:
                with connection.pipeline():
                    yield cursor
            finally:
                connection.prepare_threshold = threshold

    def _read_transaction(self) -> Any:
        return self.datastore.transaction(commit=False)

    def _forget_position(self, cursor: Any, application_name: str | None) -> None:
        table = SQL("{}.{}").format(Identifier(self.datastore.schema),
                                    Identifier(self.tracking_table_name))
        if application_name is None:  # keep the library's own migration marker
            cursor.execute(SQL("DELETE FROM {} WHERE application_name != '__migration__'")
                           .format(table))
        else:
            cursor.execute(SQL("DELETE FROM {} WHERE application_name = %s").format(table),
                           (application_name,))
