"""The PostgreSQL pool's test of a connection before it hands it out (``check_if_disturbed``):
no round trip for a quiet connection, the full test (which fails, so the pool replaces the
connection) for one the server closed."""

from __future__ import annotations

import psycopg
import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.postgres import check_if_disturbed

from tests.conftest import ADMIN_URL
from tests.integration.test_projector import wait_until

pytestmark = pytest.mark.postgres


def test_the_store_pool_tests_connections_with_it(postgres_database, tmp_path):
    # The pool takes its test as a private attribute: a psycopg_pool that renamed it would
    # silently go back to a round trip at every checkout.
    with build_registry(Settings(home=tmp_path, database_url=postgres_database)) as registry:
        pool = registry.app.factory.datastore.pool

        assert pool._check is check_if_disturbed


def test_a_quiet_connection_passes_and_one_the_server_closed_fails(postgres_database):
    with psycopg.connect(postgres_database, autocommit=True) as quiet, \
            psycopg.connect(postgres_database, autocommit=True) as cut:
        pid = cut.info.backend_pid
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_until(lambda: not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall(),
                "the terminated backend to exit")

        check_if_disturbed(quiet)
        with pytest.raises(psycopg.OperationalError):
            check_if_disturbed(cut)
        assert quiet.execute("SELECT 1").fetchone() == (1,)
