"""Per-pack Python environments through the front ends (issue 20): a pack whose requirements do
not install is rejected as ``environment_failed`` with pip's error, by the CLI (exit 1, the
code in ``--json``) and by the API (400); ``audit --summary`` and ``pack test`` tell what was
installed. Both stores; wheels from a wheelhouse made here, no index."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from tests.e2e.test_http import running_api
from tests.packs import manifest, write_pack
from tests.wheelhouse import GREETING, greeting_wheelhouse, sha256_of

GREETING_TEST = """
import unittest

class TestGreeting(unittest.TestCase):
    def test_greets(self):
        import attune_greeting
        self.assertEqual(attune_greeting.GREETING, "hello")
"""
PREPARED = "attune:Registration.EnvironmentPrepared"
SUITE = "attune:Registration.TestSuiteCompleted"
REJECTED = "attune:Registration.RegistrationRejected"
FAILED = "The pack's Python environment could not be prepared: pip install exited with status 1"


def greeting_pack(folder, requirements: str):
    pack = write_pack(folder, manifest("greeter"), {"test_greeting.py": GREETING_TEST})
    (pack / "requirements.txt").write_text(requirements)
    return pack


@pytest.fixture
def wheel(tmp_path):
    return greeting_wheelhouse(tmp_path / "wheelhouse")


@pytest.fixture
def offline_cli(cli, wheel, tmp_path):
    cli.env = {**cli.env, "ATTUNE_WHEELHOUSE": str(wheel.parent),
               "ATTUNE_ENVIRONMENTS": str(tmp_path / "environments")}
    return cli


class TestCli:
    def test_a_requirement_that_does_not_install_exits_1_with_pips_error(
            self, offline_cli, tmp_path):
        pack = greeting_pack(tmp_path / "pack", "attune-nowhere==9.9\n")

        done = offline_cli("pack", "register", str(pack), "--json")

        assert done.returncode == 1
        body = json.loads(done.stdout)
        assert (body["code"], body["error"].splitlines()[0]) == ("ENVIRONMENT_FAILED", FAILED)
        [details] = body["details"]
        assert "No matching distribution found for attune-nowhere==9.9" in details["output"]
        history = json.loads(offline_cli("pack", "history", "greeter", "--json").stdout)
        [row] = history["data"]
        assert (row["status"], row["reason"]) == ("rejected", "environment_failed")
        assert row["id"] == details["registration_id"]

    def test_audit_summary_and_pack_test_tell_what_was_installed(
            self, offline_cli, tmp_path, wheel):
        pack = greeting_pack(tmp_path / "pack", f"{GREETING}==1.0\n")
        registered = offline_cli("pack", "register", str(pack), "--json")
        assert registered.returncode == 0, registered.stderr
        history = json.loads(offline_cli("pack", "history", "greeter", "--json").stdout)
        registration_id = history["data"][0]["id"]

        summary = offline_cli("audit", registration_id, "--summary").stdout

        assert (f"environment built: requirements.txt (sha256:"
                f"{sha256_of(pack / 'requirements.txt')}); 1 package: {GREETING} 1.0") in summary
        assert f"{GREETING} 1.0 sha256:{sha256_of(wheel)}" in summary
        tested = offline_cli("pack", "test", "greeter")
        assert tested.returncode == 0, tested.stdout + tested.stderr


class TestApi:
    def test_a_requirement_that_does_not_install_is_a_400_with_pips_error(
            self, settings, tmp_path, wheel):
        offline = replace(settings, wheelhouse_setting=str(wheel.parent),
                          environments_setting=str(tmp_path / "environments"))
        with running_api(offline, tmp_path) as api:
            pack = greeting_pack(api.root / "greeter", "attune-nowhere==9.9\n")

            answer = api.register(pack)

        assert answer.status_code == 400
        body = answer.json()
        assert (body["code"], body["error"].splitlines()[0]) == ("ENVIRONMENT_FAILED", FAILED)
        assert "No matching distribution found" in body["details"][0]["output"]


@pytest.mark.postgres
class TestWorkers:
    """ATTUNE_RUN_TESTS=workers: each worker prepares the environment of the suites it runs."""

    def test_a_worker_installs_the_requirements_and_records_them_once(
            self, cluster, tmp_path, wheel):
        cluster.extra_env = {**cluster.extra_env, "ATTUNE_WHEELHOUSE": str(wheel.parent)}
        data = manifest("greeter")
        data["testing"]["test_suites"].append({**data["testing"]["test_suites"][0],
                                               "name": "Again"})
        pack = write_pack(tmp_path / "pack", data, {"test_greeting.py": GREETING_TEST})
        (pack / "requirements.txt").write_text(f"{GREETING}==1.0\n")
        registration_id = cluster.queue(pack)
        cluster.start_worker("w")

        row = cluster.decided("greeter", time.monotonic() + 300)

        assert row["status"] == "committed"
        events = cluster.data("audit", registration_id)["events"]
        [prepared] = [e["state"] for e in events if e["topic"] == PREPARED]
        assert [p["name"] for p in prepared["packages"]] == [GREETING]
        assert len([e for e in events if e["topic"] == SUITE]) == 2

    def test_a_requirement_that_does_not_install_rejects_on_the_worker(
            self, cluster, tmp_path, wheel):
        cluster.extra_env = {**cluster.extra_env, "ATTUNE_WHEELHOUSE": str(wheel.parent)}
        registration_id = cluster.queue(greeting_pack(tmp_path / "pack", "attune-nowhere\n"))
        cluster.start_worker("w")

        row = cluster.decided("greeter", time.monotonic() + 300)

        assert (row["status"], row["reason"]) == ("rejected", "environment_failed")
        events = cluster.data("audit", registration_id)["events"]
        assert not [e for e in events if e["topic"] == SUITE]
        [rejected] = [e["state"] for e in events if e["topic"] == REJECTED]
        assert "No matching distribution found for attune-nowhere" in rejected["message"]
