"""Reading commands on the local store (SQLite and PostgreSQL) skip the event-sourced
application when the read models are current, and print what the full path prints."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.store.config import store_location
from attune_registry.adapters.store.setup import connect

from tests.conftest import ATTUNE, CORE_PACK
from tests.packs import failing_tests, manifest, write_pack

# What a read must not load: the web stack, the runners, the event store (and its connection
# pool) and the domain model.
HEAVY = ("litestar", "uvicorn", "eventsourcing", "psycopg_pool",
         "attune_registry.adapters.http", "attune_registry.adapters.runners",
         "attune_registry.application", "attune_registry.domain.pack",
         "attune_registry.domain.registration")
PROBE = """
import sys
from attune_registry.adapters.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = sorted(m for m in sys.modules if m.startswith({prefixes}) or m in {heavy})
print("HEAVY", heavy, file=sys.stderr)
"""


def read(env: dict[str, str], *args: str) -> tuple[str, list[str]]:
    """What ``attune ARGS`` prints, and which heavy modules it loaded (on SQLite, the
    PostgreSQL driver is one)."""
    postgres = env["ATTUNE_DATABASE_URL"].startswith("postgres")
    heavy = HEAVY if postgres else (*HEAVY, "psycopg")
    prefixes = tuple(f"{m}." for m in heavy)
    done = subprocess.run([sys.executable, "-c", PROBE.format(prefixes=prefixes, heavy=heavy),
                           *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout, eval(done.stderr.rsplit("HEAVY ", 1)[1])  # a list literal


def loaded_heavy(attune, *args: str) -> list[str]:
    return read(attune.env, *args)[1]


def run_sql(settings, statement: str) -> None:
    """One statement on the store's read models, past the registry (its schema on PostgreSQL)."""
    config = store_location(settings)
    if not config.is_postgres:
        with sqlite3.connect(settings.sqlite_path) as db:
            db.execute(statement.replace("{t}", ""))
        return
    schema = config.env["POSTGRES_SCHEMA"]
    with connect(config) as conn:
        conn.execute(statement.replace("{t}", f'"{schema}".'))


def postgres_schema_exists(settings) -> bool:
    config = store_location(settings)
    with connect(config) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                            (config.env["POSTGRES_SCHEMA"],)).fetchone() is not None


# Reads of each kind, text and JSON; ``mixed`` has a component and a failing case (forced).
READS = [("pack", "list"), ("pack", "list", "--json"), ("pack", "list", "--all"),
         ("pack", "show", "mixed"), ("pack", "show", "mixed", "--json"),
         ("pack", "test-history", "mixed", "-v"), ("pack", "test-history", "mixed", "--json"),
         ("pack", "history", "mixed"), ("pack", "history", "core", "--json")]


class TestQuickReads:
    @pytest.mark.parametrize("command", [("pack", "list"), ("pack", "show", "core"),
                                         ("pack", "test-history", "core"),
                                         ("pack", "history", "core")])
    def test_reads_load_neither_the_web_stack_nor_runners_nor_the_event_store(
            self, attune, command):
        assert attune("pack", "register", str(CORE_PACK), "--skip-tests").returncode == 0

        assert loaded_heavy(attune, *command) == []

    def test_a_read_behind_the_log_takes_the_full_path_and_sees_every_event(self, attune,
                                                                             settings):
        with build_registry(settings) as registry:
            # The use case alone records events without projecting them.
            registry.cases.register_pack(RegisterCommand(path=str(CORE_PACK), skip_tests=True))

        assert "eventsourcing" in loaded_heavy(attune, "pack", "list")  # caught up first
        listed = attune("pack", "list", "--json")

        assert [p["ref"] for p in json.loads(listed.stdout)["data"]] == ["core"]
        assert loaded_heavy(attune, "pack", "list") == []  # current again: the quick path

    def test_the_quick_path_prints_what_the_full_path_prints(self, attune, settings,
                                                                tmp_path):
        mixed = write_pack(tmp_path / "mixed", manifest("mixed", tags=["demo"]),
                           {"test_mixed.py": failing_tests(2, 1)})
        (mixed / "actions").mkdir()
        (mixed / "actions" / "run.yaml").write_text('{"description": "Runs it",'
                                                    ' "entry_point": "run.py"}')
        for args, code in ((("register", str(CORE_PACK), "--skip-tests"), 0),
                           (("register", str(mixed), "--force"), 0), (("test", "mixed"), 1)):
            assert attune("pack", *args).returncode == code
        quick = {}
        for args in READS:
            quick[args], heavy = read(attune.env, *args)
            assert heavy == []
        full = {}
        with build_registry(settings) as registry:
            for n, args in enumerate(READS):
                # An event the reads do not show puts the read models behind the log: the
                # next read takes the full path, which catches up.
                registry.app.issue_token(name=f"t{n}", scope="read", secret_hash=f"{n:064}",
                                         issued_by="cli:test")
                full[args], heavy = read(attune.env, *args)
                assert "eventsourcing" in heavy

        assert "mixed" in quick[READS[0]] and "✗" in quick[("pack", "test-history", "mixed", "-v")]
        assert full == quick

    def test_read_models_of_another_version_are_rebuilt_before_reading(self, attune, settings):
        assert attune("pack", "register", str(CORE_PACK), "--skip-tests").returncode == 0
        run_sql(settings, "UPDATE {t}read_model_meta SET value = '0' WHERE key = 'version'")
        run_sql(settings, "DELETE FROM {t}pack")

        listed = attune("pack", "list", "--json")

        assert [p["ref"] for p in json.loads(listed.stdout)["data"]] == ["core"]
        assert loaded_heavy(attune, "pack", "list") == []  # rebuilt: the quick path again

    def test_a_store_that_does_not_exist_is_reported_not_created(self, attune, settings):
        listed = attune("pack", "list")

        assert (listed.returncode, listed.stdout) == (1, "")
        assert not settings.home.exists()
        if settings.database_url:
            schema = store_location(settings).env["POSTGRES_SCHEMA"]
            assert f"schema '{schema}'" in listed.stderr
            assert not postgres_schema_exists(settings)
        else:
            assert str(settings.sqlite_path) in listed.stderr

    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    def test_a_sqlite_url_reads_its_file_quickly_too(self, attune, settings):
        assert attune("pack", "register", str(CORE_PACK), "--skip-tests").returncode == 0
        by_url = dict(attune.env, ATTUNE_DATABASE_URL=f"sqlite://{settings.sqlite_path}",
                      ATTUNE_HOME=str(settings.home / "elsewhere"))

        listed, heavy = read(by_url, "pack", "list", "--json")

        assert ([p["ref"] for p in json.loads(listed)["data"]], heavy) == (["core"], [])

    @pytest.mark.parametrize("settings", ["postgres"], indirect=True)
    def test_an_unreachable_server_is_reported_in_one_line(self, attune, settings):
        unreachable = dict(attune.env, ATTUNE_DATABASE_URL=settings.database_url.replace(
            "127.0.0.1:5432", "127.0.0.1:1", 1))

        listed = subprocess.run([ATTUNE, "pack", "list"], env=unreachable, capture_output=True,
                                text=True, timeout=60, check=False)

        assert (listed.returncode, listed.stdout) == (1, "")
        assert "Error: cannot reach PostgreSQL at postgresql://" in listed.stderr
        assert len(listed.stderr.splitlines()) == 1

    def test_an_empty_store_lists_no_packs(self, attune, settings):
        build_registry(settings).close()

        listed = attune("pack", "list")

        assert (listed.returncode, listed.stdout.strip()) == (0, "No packs registered.")
