"""``ATTUNE_DATABASE_URL``'s libpq parameters reach every connection, on the local PostgreSQL.

The local server has no SSL: ``sslmode=require`` must fail to connect (as ``psql`` does),
never fall back to plaintext.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.config import (
    StoreConfigError,
    StoreUnavailableError,
    store_config,
)

from tests.conftest import ADMIN_URL

pytestmark = pytest.mark.postgres


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=url)


class TestParsing:
    def test_libpq_parameters_are_kept_and_ours_are_not_passed_on(self, tmp_path):
        url = ("postgresql://alice:pa%2Bss@db.example:5433/attune?schema=t_x&sslmode=verify-full"
               "&sslrootcert=/etc/ca.pem&connect_timeout=5&application_name=attune%20web")

        config = store_config(settings_for(tmp_path, url))

        assert (config.env["POSTGRES_HOST"], config.env["POSTGRES_PORT"],
                config.env["POSTGRES_USER"], config.env["POSTGRES_PASSWORD"],
                config.env["POSTGRES_DBNAME"], config.env["POSTGRES_SCHEMA"]) == (
            "db.example", "5433", "alice", "pa+ss", "attune", "t_x")
        from attune_registry.adapters.store.config import libpq_parameters

        assert libpq_parameters(config.env) == {
            "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem", "connect_timeout": "5",
            "application_name": "attune web"}

    def test_a_parameter_libpq_does_not_know_is_refused_naming_it(self, tmp_path):
        url = "postgresql://alice:s3cret@db.example/attune?sslmod=require"

        with pytest.raises(StoreConfigError) as caught:
            store_config(settings_for(tmp_path, url))

        assert str(caught.value) == (
            "ATTUNE_DATABASE_URL: libpq cannot use postgresql://alice:***@db.example/attune?"
            "sslmod=require: invalid URI query parameter: \"sslmod\"")


@pytest.fixture
def database(postgres_database: str) -> str:
    return postgres_database


class TestConnecting:
    def test_sslmode_require_fails_on_a_server_without_ssl_instead_of_plaintext(
            self, tmp_path, database):
        url = f"{database}?schema=t_{uuid.uuid4().hex[:10]}&sslmode=require"

        with pytest.raises(StoreUnavailableError) as caught:
            build_registry(settings_for(tmp_path, url))

        message = str(caught.value)
        assert message.startswith("cannot reach PostgreSQL at "), message
        assert "SSL" in message, message

    def test_connect_timeout_and_application_name_reach_the_server(self, tmp_path, database):
        name = f"attune-{uuid.uuid4().hex[:8]}"
        url = f"{database}?schema=t_{uuid.uuid4().hex[:10]}&connect_timeout=5&application_name={name}"

        with build_registry(settings_for(tmp_path, url)) as registry, \
                psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            assert registry.packs_page(limit=1, offset=0).total == 0  # the store answers
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                (name,)).fetchone()

        assert row is not None and row[0] >= 1
