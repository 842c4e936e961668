"""Opt-in result reuse (``--reuse``, ``testing: {reuse: true}``): a registration of content that
already passed in the same environment decides on that run, records which one, and runs no
suite; anything else runs the suites as before. Both stores, locally and through the API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from attune_registry.adapters.bootstrap import build_registry

from tests.e2e.test_remote_cli import remote
from tests.packs import failing_tests, manifest, write_pack

REUSED = "attune:Registration.TestsReused"
SUITE = "attune:Registration.TestSuiteCompleted"


def registered(cli: Any, *args: str) -> dict[str, Any]:
    """``pack register ARGS --json``'s data; the command must succeed."""
    done = cli("pack", "register", *args, "-q", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)["data"]
    return data


def topics(cli: Any, registration_id: str) -> list[str]:
    done = cli("audit", registration_id, "--json")
    assert done.returncode == 0, done.stderr
    return [event["topic"] for event in json.loads(done.stdout)["data"]["events"]]


def history(cli: Any, ref: str) -> list[dict[str, Any]]:
    done = cli("pack", "test-history", ref, "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)["data"]
    return rows


class TestReuseLocally:
    def test_an_unchanged_pack_reuses_its_passing_run_and_says_which(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        first = registered(cli, str(pack))
        first_id = first["pack"]["registration_id"]

        again = registered(cli, str(pack), "--replace", "--reuse")
        text = cli("pack", "register", str(pack), "--replace", "--reuse", "-q")

        second_id = again["pack"]["registration_id"]
        assert second_id != first_id
        assert first["tests_reused"] is False and first["reused_run"] is None
        assert again["tests_reused"] is True
        assert again["reused_run"]["run_id"] == first_id
        assert again["reused_run"]["registration_id"] == first_id
        assert len(again["reused_run"]["fingerprint"]) == 64
        assert again["test_result"]["status"] == "passed"
        assert again["test_result"]["passed"] == 2
        assert text.returncode == 0, text.stderr
        assert (f"Tests reused from run {first_id} of 1.0.0, same content and environment: "
                "2/2 passed") in text.stdout
        events = topics(cli, second_id)
        assert REUSED in events and SUITE not in events
        assert SUITE in topics(cli, first_id)
        runs = history(cli, "demo")
        assert [run["run_id"] for run in runs] == [first_id]  # no empty run of its own
        rows = json.loads(cli("pack", "history", "demo", "--json").stdout)["data"]
        by_id = {row["id"]: row for row in rows}
        assert by_id[second_id]["reused_run_id"] == first_id
        assert by_id[first_id]["reused_run_id"] is None
        shown = cli("pack", "history", "demo")
        assert f"tests reused from run {first_id}" in shown.stdout

    def test_the_audit_summary_and_the_activity_feed_tell_it(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        first_id = registered(cli, str(pack))["pack"]["registration_id"]
        second_id = registered(cli, str(pack), "--replace", "--reuse")["pack"]["registration_id"]

        summary = json.loads(cli("audit", second_id, "--summary", "--json").stdout)["data"]
        feed = cli("activity", "--json")

        assert summary["reused"]["run_id"] == first_id
        assert summary["suites"] == []
        texts = [step["text"] for step in summary["timeline"]]
        assert texts[1].startswith(f"Tests reused from run {first_id} of 1.0.0")
        assert texts[-1] == "Committed: the pack became active"
        kinds = [row["kind"] for row in json.loads(feed.stdout)["data"]]
        assert kinds.count("registration.tests_reused") == 1

    def test_the_dashboards_timeline_flags_it(self, cli, settings, tmp_path):
        from attune_registry.adapters.web.views import timeline_entry

        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))
        registered(cli, str(pack), "--replace", "--reuse")

        with build_registry(settings) as registry:
            rows = registry.registrations("demo")

        assert [timeline_entry(row).flags for row in rows] == [
            ["--replace", "tests reused"], []]

    def test_changed_content_runs_the_suites(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))
        test_file = pack / "tests" / "test_math.py"
        test_file.write_text(test_file.read_text() + "\n")  # one byte more

        again = registered(cli, str(pack), "--replace", "--reuse")

        assert again["tests_reused"] is False and again["reused_run"] is None
        assert SUITE in topics(cli, again["pack"]["registration_id"])
        assert len(history(cli, "demo")) == 2

    def test_a_failing_run_is_not_reused(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"),
                          {"test_mixed.py": failing_tests(1, 1)})
        assert cli("pack", "register", str(pack), "-q").returncode == 1  # rejected: failed

        again = cli("pack", "register", str(pack), "--reuse", "-q", "--json")

        assert again.returncode == 1
        runs = history(cli, "demo")
        assert [run["status"] for run in runs] == ["failed", "failed"]
        assert SUITE in topics(cli, runs[0]["run_id"])
        assert REUSED not in topics(cli, runs[0]["run_id"])

    def test_without_reuse_the_suites_run_again(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))

        again = registered(cli, str(pack), "--replace")

        assert again["tests_reused"] is False
        assert len(history(cli, "demo")) == 2

    def test_the_packs_own_setting_asks_for_reuse(self, cli, tmp_path):
        data = manifest("demo")
        data["testing"]["reuse"] = True
        pack = write_pack(tmp_path / "demo", data)
        first = registered(cli, str(pack))  # nothing to reuse yet: the suites run

        again = registered(cli, str(pack), "--replace")

        assert first["tests_reused"] is False
        assert again["reused_run"]["run_id"] == first["pack"]["registration_id"]
        assert len(history(cli, "demo")) == 1

    def test_another_sandbox_is_another_environment(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))

        cli.env = {**cli.env, "ATTUNE_SANDBOX": "off"}
        again = registered(cli, str(pack), "--replace", "--reuse")
        third = registered(cli, str(pack), "--replace", "--reuse")

        assert again["tests_reused"] is False
        assert len(history(cli, "demo")) == 2
        # In that environment, its own run is reusable now.
        assert third["reused_run"]["run_id"] == again["pack"]["registration_id"]

    def test_a_manual_test_run_can_be_reused(self, cli, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))
        assert cli("pack", "test", "demo", "-q").returncode == 0
        manual = history(cli, "demo")[0]

        again = registered(cli, str(pack), "--replace", "--reuse")

        assert manual["trigger_reason"] == "manual"
        assert again["reused_run"]["run_id"] == manual["run_id"]
        assert again["reused_run"]["registration_id"] == manual["registration_id"]

    def test_a_rebuild_gives_the_same_rows(self, cli, settings, tmp_path):
        pack = write_pack(tmp_path / "demo", manifest("demo"))
        registered(cli, str(pack))
        registered(cli, str(pack), "--replace", "--reuse")
        registered(cli, str(pack), "--replace")  # a run after the removed one

        with build_registry(settings) as registry:
            registry.catch_up()
            live = registry.view.snapshot()
            registry.rebuild()
            rebuilt = registry.view.snapshot()

        assert rebuilt == live
        counts = [row for row in live["pack_test_count"] if row["pack_ref"] == "demo"]
        assert sum(row["n"] for row in counts) == len(live["pack_test_execution"]) == 2
        assert not [row for row in counts if row["status"] == "running" and row["n"]]


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)  # workers need it
def test_reuse_is_refused_with_suites_run_by_workers(settings, cli, tmp_path):
    pack = write_pack(tmp_path / "demo", manifest("demo"))

    done = cli("pack", "register", str(pack), "--reuse", "--no-wait")

    assert done.returncode == 1
    assert "--reuse (reuse=true) cannot be combined with suites run by workers" in done.stderr
    assert cli("pack", "history", "demo").returncode != 0  # nothing was recorded


class TestReuseThroughTheApi:
    def test_the_http_body_and_the_remote_cli_carry_the_flag(self, server):
        pack = write_pack(server.root / "demo", manifest("demo"))
        headers = {"Authorization": f"Bearer {server.write_token}"}
        first = httpx.post(f"{server.url}/api/v1/packs/register", headers=headers,
                           json={"path": str(pack)}, timeout=120)
        first_id = first.json()["data"]["pack"]["registration_id"]

        reused = httpx.post(f"{server.url}/api/v1/packs/register", headers=headers,
                            json={"path": str(pack), "replace": True, "reuse": True},
                            timeout=120)
        through_cli = remote(server, "pack", "register", str(pack), "--replace", "--reuse")
        as_json = remote(server, "pack", "register", str(pack), "--replace", "--reuse",
                         "--json")

        assert first.status_code == 201, first.text
        assert first.json()["data"]["tests_reused"] is False
        assert "reused_run" not in first.json()["data"]
        assert reused.status_code == 201, reused.text
        body = reused.json()["data"]
        assert body["tests_reused"] is True
        assert body["reused_run"]["run_id"] == first_id
        assert body["test_result"]["passed"] == 2
        assert through_cli.returncode == 0, through_cli.stderr
        assert f"Tests reused from run {first_id} of 1.0.0" in through_cli.stdout
        assert json.loads(as_json.stdout)["data"]["reused_run"]["run_id"] == first_id

    def test_an_install_body_carries_the_flag(self, server):
        pack = write_pack(server.root / "demo", manifest("demo"))
        headers = {"Authorization": f"Bearer {server.write_token}"}
        first = httpx.post(f"{server.url}/api/v1/packs/install", headers=headers,
                           json={"source": str(pack)}, timeout=120)

        again = httpx.post(f"{server.url}/api/v1/packs/install", headers=headers,
                           json={"source": str(pack), "replace": True, "reuse": True},
                           timeout=120)
        unknown = httpx.post(f"{server.url}/api/v1/packs/install", headers=headers,
                             json={"source": str(pack), "reuse": "yes"}, timeout=120)

        assert first.status_code == 201, first.text
        assert again.status_code == 201, again.text
        assert again.json()["data"]["reused_run"]["run_id"] == (
            first.json()["data"]["pack"]["registration_id"])
        assert unknown.status_code == 422  # a flag is a boolean


def test_a_new_release_of_a_dependency_is_a_new_environment(cli, tmp_path):
    """The suites of ``web`` read ``core`` through ``PACKS_PATH``: once another ``core`` is
    active, web's earlier run no longer stands for it, though web's own content is the same."""
    from tests.dependent_packs import core, web

    assert cli("pack", "register", str(core(tmp_path, "1.0.0")), "-q").returncode == 0
    app = web(tmp_path)
    first_id = registered(cli, str(app))["pack"]["registration_id"]
    same = registered(cli, str(app), "--replace", "--reuse")
    assert same["reused_run"]["run_id"] == first_id  # core unchanged: reused

    upgrade = cli("pack", "register", str(core(tmp_path, "1.1.0")), "--replace", "-q")
    assert upgrade.returncode == 0, upgrade.stderr  # web's suites passed against it
    again = registered(cli, str(app), "--replace", "--reuse")

    assert again["tests_reused"] is False
    assert SUITE in topics(cli, again["pack"]["registration_id"])
    runs = [run for run in history(cli, "web") if run["trigger_reason"] != "dependency"]
    assert runs[0]["fingerprint"] != runs[-1]["fingerprint"]
