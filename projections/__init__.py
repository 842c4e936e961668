"""Read models built from the event log: tables, event handlers, catch-up and queries.

Nothing is imported here: ``projections.view`` needs the event store library, which reading
commands avoid (``projections.queries`` runs on a plain connection). The database-specific
views live in ``projections.sqlite_view`` and ``projections.postgres_view``.
"""
