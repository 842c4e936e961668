"""Read models built from the event log: tables, event handlers, catch-up and queries."""

from projections.rows import PackRow, TestExecutionRow
from projections.view import PostgresRegistryView, RegistryView, SQLiteRegistryView

__all__ = [
    "PackRow",
    "PostgresRegistryView",
    "RegistryView",
    "SQLiteRegistryView",
    "TestExecutionRow",
]
