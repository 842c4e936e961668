"""Upgrades tested against their dependents, through the front ends: the `attune` entry point
(``--skip-dependents``, ``test-history --trigger dependency``, the rejection naming the
dependent), the HTTP API (``skip_dependents``, the error bodies) and remote mode."""

from __future__ import annotations

import json

import pytest

from tests.dependent_packs import BROKEN_GREETING, core, web
from tests.e2e.test_http import running_api


def test_the_cli_tests_an_upgrade_against_its_dependents(attune, tmp_path):
    assert attune("pack", "register", str(core(tmp_path, "1.0.0"))).returncode == 0
    assert attune("pack", "register", str(web(tmp_path))).returncode == 0

    outside = attune("pack", "register", str(core(tmp_path, "2.0.0")), "--replace")
    broken = attune("pack", "register", str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                    "--replace")
    upgraded = attune("pack", "register", str(core(tmp_path, "1.1.0")), "--replace")
    history = attune("pack", "test-history", "web", "--trigger", "dependency", "--json")

    assert outside.returncode == 1
    assert ("Cannot switch 'core' to 2.0.0: active packs depend on it: web (needs core ^1)"
            in outside.stderr)
    assert broken.returncode == 1
    assert ("the tests of 'web', which depends on 'core', did not pass against core 1.2.0"
            in broken.stderr)
    assert "web/Unit Tests: test_web.TestWeb.test_greets_through_core" in broken.stderr
    assert "--skip-dependents" in broken.stderr
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running suite 'web/Unit Tests'" in upgraded.stderr  # progress on stderr
    assert history.returncode == 0, history.stderr
    runs = json.loads(history.stdout)["data"]
    assert [(r["pack_version"], r["trigger_reason"], r["status"], r["outcome"])
            for r in runs] == [("1.0.0", "dependency", "passed", "dependency"),
                               ("1.0.0", "dependency", "failed", "dependency")]
    shown = attune("pack", "show", "core", "--json")
    assert json.loads(shown.stdout)["data"]["pack"]["version"] == "1.1.0"


def test_the_cli_skips_dependents_on_request_and_records_it(attune, tmp_path):
    assert attune("pack", "register", str(core(tmp_path, "1.0.0"))).returncode == 0
    assert attune("pack", "register", str(web(tmp_path))).returncode == 0

    skipped = attune("pack", "register", str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                     "--replace", "--skip-dependents", "--json")

    assert skipped.returncode == 0, skipped.stderr
    registration = json.loads(skipped.stdout)["data"]["pack"]["registration_id"]
    audit = attune("audit", registration, "--json")
    assert audit.returncode == 0, audit.stderr
    [requested] = [e for e in json.loads(audit.stdout)["data"]["events"]
                   if e["topic"].endswith("PackRegistrationRequested")]
    assert requested["state"]["skip_dependents"] is True
    history = attune("pack", "test-history", "web", "--trigger", "dependency", "--json")
    assert json.loads(history.stdout)["data"] == []


@pytest.fixture
def api(settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        yield api


def test_the_api_rejects_a_breaking_upgrade_naming_the_dependent(api):
    assert api.register(core(api.root, "1.0.0")).status_code == 201
    assert api.register(web(api.root)).status_code == 201

    outside = api.register(core(api.root, "2.0.0"), replace=True)
    broken = api.register(core(api.root, "1.2.0", BROKEN_GREETING), replace=True)
    skipped = api.register(core(api.root / "again", "1.2.0", BROKEN_GREETING), replace=True,
                           skip_dependents=True)

    assert outside.status_code == 409
    assert outside.json()["code"] == "DEPENDENTS_ACTIVE"
    assert outside.json()["details"] == [{"ref": "web", "wanted": "^1"}]
    assert broken.status_code == 400
    body = broken.json()
    assert "the tests of 'web'" in body["error"]
    [evidence] = body["details"]
    [run] = api.get("/packs/web/tests", params={"trigger_reason": "dependency"}).json()["data"]
    assert (evidence["pack_ref"], evidence["dependent"], evidence["test_execution_id"]) == (
        "web", "web", run["id"])
    assert evidence["failing_cases"][0]["case"] == "test_web.TestWeb.test_greets_through_core"
    junit = api.get(f"/packs/web/tests/{run['id']}/junit")
    assert junit.status_code == 200 and "test_greets_through_core" in junit.text
    assert skipped.status_code == 201, skipped.text
    assert skipped.json()["data"]["pack"]["version"] == "1.2.0"


def test_remote_mode_sends_skip_dependents_and_shows_the_broken_dependent(server):
    from tests.e2e.test_remote_cli import remote

    assert remote(server, "pack", "register", str(core(server.root, "1.0.0"))).returncode == 0
    assert remote(server, "pack", "register", str(web(server.root))).returncode == 0

    broken = remote(server, "pack", "register",
                    str(core(server.root, "1.2.0", BROKEN_GREETING)), "--replace", "-q")
    skipped = remote(server, "pack", "register",
                     str(core(server.root / "again", "1.2.0", BROKEN_GREETING)), "--replace",
                     "--skip-dependents", "--json")

    assert broken.returncode == 1
    assert "the tests of 'web'" in broken.stderr
    assert "web/Unit Tests: test_web.TestWeb.test_greets_through_core" in broken.stderr
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["data"]["pack"]["version"] == "1.2.0"
