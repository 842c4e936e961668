"""The store: configuration, set-up, the PostgreSQL factory, and the long-running projector."""
