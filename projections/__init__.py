"""Read models built from the event log: tables, event handlers, catch-up and queries.

The database-specific views live in ``projections.sqlite_view`` and ``projections.postgres_view``
and are imported only by the store that needs them (PostgreSQL's driver is slow to import).
"""

from projections.rows import PackRow, TestExecutionRow
from projections.view import PROJECTION_NAME, RegistryView

__all__ = ["PROJECTION_NAME", "PackRow", "RegistryView", "TestExecutionRow"]
