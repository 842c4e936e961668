"""Shared fixtures: stores (a real SQLite file and a real PostgreSQL database) and packs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from attune_registry.adapters.settings import Settings

# Fixtures shared by the install tests (the `https_server` with its throwaway CA).
pytest_plugins = ["tests.remote_packs"]

# The entry point installed next to this interpreter, as a user runs it.
ATTUNE = str(Path(sys.executable).parent / "attune")
REPO = Path(__file__).resolve().parent.parent
CORE_PACK = REPO / "packs" / "core"
# The reference pack evolves: tests read its version and component count instead of pinning them.
CORE_VERSION = yaml.safe_load((CORE_PACK / "pack.yaml").read_text())["version"]
CORE_COMPONENTS = sum(len(list((CORE_PACK / kind).glob("*.yaml"))) for kind in
                      ("actions", "triggers", "sensors", "rules", "workflows"))
# Where to create the per-session test database; trust auth on this machine's server.
ADMIN_URL = os.environ.get("ATTUNE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a worker per core, at most four. Each worker has a PostgreSQL database and
    connections of its own, and the tests start processes of their own besides."""
    return min(os.cpu_count() or 1, 4)


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test session, dropped at the end; its URL without a schema."""
    import psycopg

    name = f"attune_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if _running_in_ci():
            pytest.fail(f"CI=true but PostgreSQL is unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {ADMIN_URL}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def shared_environments(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The cache of packs' Python environments, one for the whole session and its workers
    (``ATTUNE_ENVIRONMENTS``, also for the ``attune`` processes the tests start): the core
    pack's requirements are installed once, not once per test's data directory."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = str(shared / "environments")
    os.environ["ATTUNE_ENVIRONMENTS"] = folder
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, shared_environments: str
             ) -> Settings:
    """Settings for a store of each kind, isolated per test (own file / own schema)."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        return Settings(home=home, database_url="", environments_setting=shared_environments)
    database = request.getfixturevalue("postgres_database")
    return Settings(home=home, database_url=f"{database}?schema=t_{uuid.uuid4().hex[:10]}",
                    environments_setting=shared_environments)


@pytest.fixture
def sqlite_settings(tmp_path: Path, shared_environments: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url="",
                    environments_setting=shared_environments)


@dataclass(frozen=True)
class CliRun:
    """What one run of the CLI in this process gave, named as ``subprocess`` names it."""

    returncode: int
    stdout: str
    stderr: str


def invoke(args: list[str], env: Mapping[str, str | None]) -> CliRun:
    """Run the ``attune`` command in this process with ``env`` set (None unsets a variable)."""
    from click.testing import CliRunner

    from attune_registry.adapters.cli import main

    result = CliRunner().invoke(main, args, env=env, prog_name="attune", catch_exceptions=False)
    return CliRun(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(settings):
    """The ``attune`` command in this process (Click's ``CliRunner``) on this test's store: what
    ``attune`` does, without a Python start-up per command. ``cli.env`` is the environment it
    runs with; the real entry point keeps its own smoke tests (the ``attune`` fixture)."""

    def run(*args: str, timeout: float | None = None) -> CliRun:
        return invoke(list(args), run.env)

    run.env = {**os.environ, "ATTUNE_HOME": str(settings.home),  # type: ignore[attr-defined]
               "ATTUNE_DATABASE_URL": settings.database_url}
    return run


@pytest.fixture
def attune(settings):
    """Run the ``attune`` entry point on this test's store; ``attune.env`` is its environment."""
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                              timeout=timeout)

    run.env = env  # type: ignore[attr-defined]
    return run
