"""Read models built from the event log: tables, event handlers, catch-up and queries.

The database-specific views live in ``projections.sqlite_view`` and ``projections.postgres_view``
and are imported only by the store that needs them (PostgreSQL's driver is slow to import).
"""

from projections.rows import ComponentRow, PackRow, RegistrationRow, TestExecutionRow
from projections.view import PROJECTION_NAME, ProjectionStatus, RegistryView

__all__ = ["PROJECTION_NAME", "ComponentRow", "PackRow", "ProjectionStatus", "RegistrationRow",
           "RegistryView", "TestExecutionRow"]
