"""The event store library's PostgreSQL infrastructure, with pools that reconnect promptly.

Named by ``PERSISTENCE_MODULE`` in the settings that ``adapters.store.config`` makes, and
imported only then, so that SQLite users never load the PostgreSQL driver.
"""

from __future__ import annotations

import select
from typing import Any

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg_pool import ConnectionPool

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
        if self.datastore.pre_ping:
            # The pool has no setter for it; its test before each checkout is ours.
            self.datastore.pool._check = check_if_disturbed
        # The URL's other libpq parameters (sslmode, application_name...): the library's
        # settings have no key for them, its pool passes these keyword arguments to libpq.
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs.update(libpq_parameters(self.env))


def check_if_disturbed(connection: Any) -> None:
    """The pool's test of a connection before it hands it out, without a round trip when the
    connection is quiet.

    A connection the server closed (a restart, a terminated backend) has something to read:
    the server's last message, or the end of the stream. Only then does the full test run (an
    empty query), which fails, and the pool replaces the connection. A quiet idle connection
    has nothing to read and is handed out as it is: the round trip the full test costs at
    every checkout was most of the statements of a registration.
    """
    if connection.closed or connection.broken:
        ConnectionPool.check_connection(connection)  # raises: the pool replaces it
        return
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(connection)
