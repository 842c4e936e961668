"""The read models in the embedded SQLite file, next to the event log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from attune_registry.projections.sql import sqlite_dialect
from attune_registry.projections.tables import create_statements
from attune_registry.projections.view import RegistryView


class SQLiteRegistryView(SQLiteTrackingRecorder, RegistryView):
    """Read models in the embedded SQLite file, next to the event log."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.dialect = sqlite_dialect()

    def construct_create_table_statements(self) -> list[str]:
        self.read_model_ddl = create_statements("", json="TEXT", ts="TEXT", boolean="INTEGER")
        return [*super().construct_create_table_statements(), *self.read_model_ddl]

    def create_table(self) -> None:
        super().create_table()
        self.upgrade_read_models()

    @contextmanager
    def _projection_transaction(self) -> Iterator[Any]:
        # BEGIN IMMEDIATE takes SQLite's write lock up front, so two processes catching up
        # at once queue here instead of both reading the same position.
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def _read_transaction(self) -> Any:
        return self.datastore.transaction(commit=False)

    def _forget_position(self, cursor: Any, application_name: str | None) -> None:
        if application_name is None:  # keep the library's own migration marker
            cursor.execute("DELETE FROM tracking WHERE application_name != '__migration__'")
        else:
            cursor.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
