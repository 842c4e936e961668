"""`attune info`, the `attune serve` banner, and reading commands on a store that does not
exist: they create nothing and say where they looked."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import socket
import subprocess
import uuid
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import httpx
import psycopg
import pytest

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.info import sandbox
from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE, CORE_PACK

ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name
VERSION = version("attune-registry")
PASSWORD = "s3cret-pw"  # PostgreSQL here trusts local connections: any password is accepted


def info(cli, *args: str) -> tuple[int, dict]:
    done = cli("info", "--json", *args)
    return done.returncode, json.loads(done.stdout)


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def schema_exists(settings: Settings) -> bool:
    url, _, query = settings.database_url.partition("?schema=")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                           (query,)).fetchone()
    return bool(row and row[0])


def nothing_created(settings: Settings) -> bool:
    if settings.database_url:
        return not schema_exists(settings)
    return not settings.home.exists()


def where(settings: Settings) -> str:
    """What the error names: the file, or the schema."""
    if settings.database_url:
        return f"no store in schema '{settings.database_url.rpartition('=')[2]}' of database"
    return f"no store at {settings.sqlite_path}:"


class TestInfo:
    def test_it_describes_the_store_in_use(self, cli, settings):
        cli("pack", "register", str(CORE_PACK), "--skip-tests", "-q")

        code, body = info(cli)
        text = cli("info").stdout.splitlines()

        data = body["data"]
        kind = "postgres" if settings.database_url else "sqlite"
        assert code == 0 and "error" not in body
        assert (data["version"], data["mode"], data["actor"]) == (VERSION, "local",
                                                                  f"cli:{ACCOUNT}")
        assert (data["store"]["kind"], data["store"]["status"]) == (kind, "found")
        assert (data["home"], data["pack_roots"]) == (str(settings.home),
                                                      [str(settings.home / "packs")])
        assert data["environments"] == os.environ["ATTUNE_ENVIRONMENTS"]
        assert f"Environments: {data['environments']}" in text
        assert data["sandbox"]["setting"] == "auto"
        assert data["sandbox"]["mechanism"] in ("bwrap", "namespaces")
        assert data["run_tests"] == "here" and data["problems"] == []
        models = data["read_models"]
        assert models["state"] == "current" and models["lag"] == 0
        assert models["position"] == models["log_head"] > 0
        assert models["version"] == models["expected_version"]
        assert data["settings"]["ATTUNE_HOME"] == str(settings.home)
        assert text[0] == f"attune {VERSION} (local mode)"
        assert f"Read models:  current: position {models['position']} of " \
               f"{models['log_head']}" in text

    def test_workers_are_counted_on_postgres_only(self, cli, settings):
        cli("token", "create", "ci", "--scope", "read")

        _, body = info(cli)

        expected = ({"alive": 0, "lost": 0, "queue_depth": 0, "oldest_queued_seconds": None}
                    if settings.database_url else None)
        assert body["data"]["workers"] == expected

    def test_read_models_behind_the_log_are_shown_as_they_are(self, cli, settings):
        with build_registry(settings) as registry:
            # The use case alone records events without projecting them.
            registry.cases.register_pack(RegisterCommand(path=str(CORE_PACK), skip_tests=True))

        first, second = info(cli)[1], info(cli)[1]  # info does not catch up
        cli("pack", "list")
        after = info(cli)[1]

        behind = first["data"]["read_models"]
        assert behind["state"] == "behind" and behind["lag"] > 0
        assert second["data"]["read_models"] == behind
        assert after["data"]["read_models"]["state"] == "current"

    def test_settings_that_cannot_be_used_are_named_and_exit_1(self, cli):
        cli("token", "create", "ci", "--scope", "read")
        cli.env = {**cli.env, "ATTUNE_TEST_JOBS": "0", "ATTUNE_SANDBOX": "sometimes",
                   "ATTUNE_WHEELHOUSE": "wheels"}

        code, body = info(cli)
        text = cli("info")

        assert (code, body["code"]) == (1, "CONFIGURATION")
        assert body["data"]["problems"] == [
            "ATTUNE_TEST_JOBS must be a whole number from 1 to 64, got '0'",
            "ATTUNE_WHEELHOUSE must be the absolute path of a folder of wheels, got 'wheels'",
            "ATTUNE_SANDBOX must be one of auto, bwrap, namespaces, off, got 'sometimes'"]
        assert body["data"]["settings"] == {
            "ATTUNE_HOME": cli.env["ATTUNE_HOME"], "ATTUNE_SANDBOX": "sometimes",
            **({"ATTUNE_DATABASE_URL": cli.env["ATTUNE_DATABASE_URL"]}
               if cli.env["ATTUNE_DATABASE_URL"] else {}),
            # The packs' environments the tests share (tests/conftest.py).
            "ATTUNE_ENVIRONMENTS": cli.env["ATTUNE_ENVIRONMENTS"],
            "ATTUNE_TEST_JOBS": "0", "ATTUNE_WHEELHOUSE": "wheels"}
        assert "  ✗ ATTUNE_TEST_JOBS must be a whole number from 1 to 64, got '0'" in \
            text.stdout.splitlines()
        assert text.stderr == "✗ Error: 3 settings cannot be used (see Problems)\n"

    def test_secrets_are_masked(self, cli, settings):
        if settings.database_url:
            cli.env = {**cli.env, "ATTUNE_DATABASE_URL": with_password(settings.database_url)}
        cli.env = {**cli.env, "ATTUNE_WEB_SECRET": "w" * 40, "ATTUNE_TOKEN": "attn_secret"}
        cli("token", "create", "ci", "--scope", "read")

        text, as_json = cli("info"), cli("info", "--json")

        for done in (text, as_json):
            assert done.returncode == 0, done.stderr
            assert PASSWORD not in done.stdout and "w" * 40 not in done.stdout
            assert "attn_secret" not in done.stdout
        data = json.loads(as_json.stdout)["data"]
        assert data["settings"]["ATTUNE_WEB_SECRET"] == "***"
        if settings.database_url:
            assert data["store"]["url"].startswith("postgresql://postgres:***@")
            assert data["settings"]["ATTUNE_DATABASE_URL"] == data["store"]["url"]

    @pytest.mark.parametrize("settings", ["postgres"], indirect=True)
    def test_a_database_that_does_not_exist_is_unreachable(self, cli, settings):
        base = settings.database_url.rpartition("/")[0]
        missing = f"attune_missing_{uuid.uuid4().hex[:8]}"
        cli.env = {**cli.env, "ATTUNE_DATABASE_URL": f"{base}/{missing}?schema=x"}

        code, body = info(cli)
        listed = cli("pack", "list")

        assert (code, body["code"], body["data"]["store"]["status"]) == (
            1, "STORE_UNAVAILABLE", "unreachable")
        assert f'database "{missing}" does not exist' in body["error"]
        assert listed.returncode == 1 and missing in listed.stderr

    def test_remote_mode_shows_the_servers_health_without_the_token(self, cli, server,
                                                                    settings):
        remote = cli("--api-url", server.url, "--token", server.read_token, "info", "--json")
        text = cli("--api-url", server.url, "info")

        data = json.loads(remote.stdout)["data"]
        kind = "postgres" if settings.database_url else "sqlite"
        assert (data["mode"], data["api_url"], data["token"]) == ("remote", server.url, True)
        assert (data["server"]["status"], data["server"]["store"]) == ("ok", kind)
        assert server.read_token not in remote.stdout
        assert text.returncode == 0
        assert text.stdout.splitlines()[:3] == [
            f"attune {VERSION} (remote mode)", f"API:          {server.url}",
            "Token:        none"]


READS = [("pack", "list"), ("pack", "show", "core"), ("pack", "history", "core"),
         ("pack", "test-history", "core"), ("pack", "verify", "core"),
         ("audit", str(uuid.UUID(int=0))), ("projections", "status"), ("token", "list"),
         ("token", "revoke", "ci"), ("pack", "unregister", "core"),
         ("pack", "rollback", "core"), ("pack", "cancel", "core"), ("info",)]


class TestAStoreThatDoesNotExist:
    @pytest.mark.parametrize("command", READS, ids=" ".join)
    def test_reads_fail_naming_where_they_looked_and_create_nothing(self, cli, settings,
                                                                    command):
        done = cli(*command)
        as_json = cli(*command, "--json")

        assert done.returncode == 1
        assert where(settings) in done.stderr.splitlines()[-1]
        assert "nothing was ever recorded there" in done.stderr
        assert (as_json.returncode, json.loads(as_json.stdout)["code"]) == (1, "STORE_NOT_FOUND")
        assert nothing_created(settings)

    def test_a_typo_in_the_data_directory_or_schema_is_not_an_empty_registry(self, cli,
                                                                             settings):
        cli("pack", "register", str(CORE_PACK), "--skip-tests", "-q")
        typo = replace(settings, home=settings.home.with_name("hmoe"),
                       database_url=settings.database_url.replace("?schema=t_", "?schema=t__"))
        cli.env = {**cli.env, "ATTUNE_HOME": str(typo.home),
                   "ATTUNE_DATABASE_URL": typo.database_url}

        listed = cli("pack", "list")

        assert listed.returncode == 1 and "No packs registered." not in listed.stdout
        assert where(typo) in listed.stderr
        assert nothing_created(typo)

    def test_commands_that_record_create_it(self, cli, settings):
        created = cli("token", "create", "ci", "--scope", "read")

        assert created.returncode == 0, created.stderr
        assert cli("pack", "list").stdout == "No packs registered.\n"
        assert not nothing_created(settings)

    def test_the_real_entry_point_reports_it(self, attune, settings):
        done = attune("pack", "list")

        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr.startswith(f"✗ Error: {where(settings)}")
        assert nothing_created(settings)


class TestServeBanner:
    def serve(self, settings: Settings, tmp_path: Path, **env: str) -> tuple[int, str]:
        """Start `attune serve` (two workers), wait until it answers, stop it: its port and
        what it logged."""
        env = {**os.environ, "ATTUNE_HOME": str(settings.home),
               "ATTUNE_DATABASE_URL": with_password(settings.database_url),
               "ATTUNE_PACK_ROOTS": str(tmp_path / "packs"), **env}
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = tmp_path / "serve.log"
        with log.open("w") as stderr:
            process = subprocess.Popen([ATTUNE, "serve", "--port", str(port), "--workers", "2"],
                                       env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                wait_for_health(f"http://127.0.0.1:{port}", process)
            finally:
                process.terminate()
                process.wait(timeout=30)
        return port, log.read_text()

    def test_serve_logs_what_it_serves_once_and_masks_the_password(self, settings, tmp_path):
        url = with_password(settings.database_url)

        port, logged = self.serve(settings, tmp_path)

        banners = [line for line in logged.splitlines() if "serving store" in line]
        store = (f"postgresql://postgres:***@{url.partition('@')[2]}" if url
                 else f"sqlite:///{settings.sqlite_path}")
        mechanism = sandbox(settings).mechanism
        assert mechanism in ("bwrap", "namespaces")
        assert banners == [
            f"INFO:     attune {VERSION} serving store {store} (new: nothing recorded yet); "
            f"home {settings.home}; pack roots {tmp_path / 'packs'}; sandbox {mechanism}; "
            f"tests run here; dashboard http://127.0.0.1:{port}/ui/"]
        assert PASSWORD not in logged

    def test_with_json_logs_it_is_one_record_with_the_facts_as_fields(self, settings,
                                                                      tmp_path):
        build_registry(settings).close()

        port, logged = self.serve(settings, tmp_path, ATTUNE_LOG_FORMAT="json")

        records = [json.loads(line) for line in logged.splitlines()]
        [banner] = [record for record in records if record.get("event") == "server.starting"]
        assert banner["level"] == "info" and banner["logger"] == "attune"
        assert (banner["version"], banner["store_status"], banner["home"]) == (
            VERSION, "found", str(settings.home))
        assert banner["pack_roots"] == [str(tmp_path / "packs")]
        assert banner["sandbox"] == sandbox(settings).mechanism
        assert (banner["run_tests"], banner["workers"]) == ("here", 2)
        assert banner["dashboard"] == f"http://127.0.0.1:{port}/ui/"
        assert PASSWORD not in logged


def wait_for_health(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until the server answers (its start-up, banner included, is over), or it exits."""
    while True:
        try:
            httpx.get(f"{url}/api/v1/health", timeout=1)
            return
        except httpx.TransportError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.05)
            assert process.returncode is None, "the server stopped"
