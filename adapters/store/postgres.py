"""The event store library's PostgreSQL infrastructure, with pools that reconnect promptly.

Named by ``PERSISTENCE_MODULE`` in the settings that ``adapters.store.config`` makes, and
imported only then, so that SQLite users never load the PostgreSQL driver.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from attune_registry.adapters.store.config import libpq_parameters

# After this many seconds of failed attempts, a pool stops reconnecting on its own and the
# next request for a connection starts a new attempt at once (psycopg_pool's default, 5 min of
# doubling delays, could leave a process disconnected for minutes after PostgreSQL is back).
RECONNECT_TIMEOUT_SECONDS = 5.0


class PostgresStoreFactory(PostgresFactory):
    """Creates the recorders of one application (events, or read models) on one pool."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_TIMEOUT_SECONDS
        # The URL's other libpq parameters (sslmode, application_name...): the library's
        # settings have no key for them, its pool passes these keyword arguments to libpq.
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs.update(libpq_parameters(self.env))
