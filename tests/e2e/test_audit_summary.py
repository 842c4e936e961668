"""Audit for people (issue 19): ``attune audit ID --summary``, who ended a registration and why
in ``pack history``, and ``--reason`` on rollback, unregister and cancel, kept in the events.
Both stores; the CLI in this process, the HTTP API through the test client and a real server.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from attune_registry.application.commands import InstallCommand, RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.e2e.test_http import running_api
from tests.packs import failing_tests, manifest, write_pack

ROLLED_BACK = "attune:Registration.RegistrationRolledBack"
REJECTED = "attune:Registration.RegistrationRejected"


def ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(cli, ref: str) -> list[dict]:
    return json.loads(ok(cli("pack", "history", ref, "--json")))["data"]


def stored(cli, registration_id: str, topic: str) -> dict:
    events = json.loads(ok(cli("audit", registration_id, "--json")))["data"]["events"]
    [event] = [e for e in events if e["topic"] == topic]
    return event["state"]


def summary(cli, registration_id: str, *args: str) -> str:
    return ok(cli("audit", registration_id, "--summary", *args))


@pytest.fixture
def lamp(cli, tmp_path):
    """Pack ``lamp``: 1.0.0 registered (tests skipped), then 2.0.0 over it (tests pass)."""
    ok(cli("pack", "register", str(write_pack(tmp_path / "v1", manifest("lamp"))),
           "--skip-tests", "-q"))
    ok(cli("pack", "register", str(write_pack(tmp_path / "v2", manifest("lamp", "2.0.0"))),
           "--replace", "-q"))
    return cli


class TestReasons:
    def test_a_rollback_keeps_its_reason_and_history_shows_who_and_why(self, lamp):
        ok(lamp("pack", "rollback", "lamp", "--reason", "  2.0.0 floods the queue "))

        [newer, older] = rows(lamp, "lamp")
        assert (newer["status"], newer["reason"], newer["note"]) == (
            "rolled_back", "rollback", "2.0.0 floods the queue")
        actor = newer["rolled_back_by"]
        assert actor.startswith("cli:") and newer["cancelled_by"] is None
        assert (older["status"], older["note"], older["rolled_back_by"]) == (
            "committed", None, None)
        state = stored(lamp, newer["id"], ROLLED_BACK)
        assert (state["class_version"], state["note"], state["actor"]) == (
            2, "2.0.0 floods the queue", actor)
        table = ok(lamp("pack", "history", "lamp")).splitlines()
        assert table[0].split() == ["REQUESTED", "VERSION", "STATUS", "REASON", "REQUESTED",
                                    "BY", "ENDED", "BY", "ORIGIN", "FLAGS", "REGISTRATION"]
        assert table[1].split()[3:8] == ["rolled_back", "rollback", actor, actor, "register"]
        assert table[2] == "  reason given: 2.0.0 floods the queue"
        assert table[3].split()[3:8] == ["committed", "-", actor, "-", "register"]
        assert len(table) == 4

    def test_an_unregister_keeps_its_reason(self, lamp):
        ok(lamp("pack", "unregister", "lamp", "--reason", "retired: use lamp2"))

        [newer, _] = rows(lamp, "lamp")
        assert (newer["status"], newer["reason"], newer["note"]) == (
            "rolled_back", "unregister", "retired: use lamp2")
        text = summary(lamp, newer["id"])
        assert f"Unregistered by {newer['rolled_back_by']}: no longer active\n" in text
        assert "reason given: retired: use lamp2\n" in text

    def test_without_a_reason_the_note_is_null(self, lamp):
        ok(lamp("pack", "unregister", "lamp"))

        [newer, _] = rows(lamp, "lamp")
        assert newer["note"] is None
        assert stored(lamp, newer["id"], ROLLED_BACK)["note"] is None
        assert "reason given" not in ok(lamp("pack", "history", "lamp"))

    def test_a_cancel_keeps_its_reason_and_who_cancelled(self, cli, settings, tmp_path):
        pack = write_pack(tmp_path / "stuck", manifest("stuck"))
        with build_registry(settings) as registry:
            # A registration whose process is lost, its lease running for another hour.
            source = registry.cases.register_pack.loader.load(str(pack))
            registry.app.request_registration(
                RegisterCommand(path=str(pack), requested_by="cli:ghost"),
                manifest=source.manifest, components=[], source_path=str(pack),
                content_digest="0" * 64, lease_expires=datetime.now(UTC) + timedelta(hours=1),
                now=datetime.now(UTC))

        ok(cli("pack", "cancel", "stuck", "--force", "--reason", "its CI runner was lost"))

        [row] = rows(cli, "stuck")
        actor = row["cancelled_by"]
        assert actor.startswith("cli:") and row["rolled_back_by"] is None
        assert (row["status"], row["reason"], row["note"]) == (
            "rejected", "abandoned", "its CI runner was lost")
        state = stored(cli, row["id"], REJECTED)
        assert (state["class_version"], state["actor"], state["note"]) == (
            3, actor, "its CI runner was lost")
        table = ok(cli("pack", "history", "stuck")).splitlines()
        assert table[1].split()[3:8] == ["rejected", "abandoned", "cli:ghost", actor, "register"]
        assert table[2] == "  reason given: its CI runner was lost"
        lines = summary(cli, row["id"]).splitlines()
        assert lines[-2].endswith(f"✗ Rejected by {actor}: cancelled by {actor} (with --force)")
        assert lines[-1].strip() == "reason given: its CI runner was lost"

    @pytest.mark.parametrize(("reason", "problem"), [
        ("two\nlines", "control character U+000A at position 4; a reason is one line of "
                       "visible text"),
        ("tab\there", "control character U+0009 at position 4"),
        ("\u202eesrever", "control character U+202E at position 1"),
        ("x" * 501, "501 characters, at most 500"),
        ("   ", "it is empty; give a few words, or no reason"),
    ], ids=["newline", "tab", "bidi-override", "too-long", "blank"])
    @pytest.mark.parametrize("command", ["rollback", "unregister"])
    def test_a_bad_reason_is_refused_and_changes_nothing(self, lamp, command, reason, problem):
        before = rows(lamp, "lamp")

        refused = lamp("pack", command, "lamp", "--reason", reason)

        assert refused.returncode == 2
        assert f"Invalid value for '--reason': {problem}" in refused.stderr
        assert rows(lamp, "lamp") == before
        assert json.loads(ok(lamp("pack", "show", "lamp", "--json")))["data"]["pack"][
            "version"] == "2.0.0"

    def test_five_hundred_characters_are_enough(self, lamp):
        ok(lamp("pack", "rollback", "lamp", "--reason", "y" * 500))

        assert rows(lamp, "lamp")[0]["note"] == "y" * 500

    def test_help_explains_the_reason(self, cli):
        for command in ("rollback", "unregister", "cancel"):
            text = " ".join(ok(cli("pack", command, "--help")).split())
            assert "--reason TEXT Why, in your words: one line, at most 500 characters" in text


TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")
DURATION = re.compile(r"\d+\.\d\d s")


class TestAuditSummary:
    def test_a_rejected_registration_reads_as_a_timeline(self, cli, tmp_path):
        pack = write_pack(tmp_path / "calc", manifest("calc"),
                          {"test_mixed.py": failing_tests(passed=1, failed=2)})
        assert cli("pack", "register", str(pack), "-q").returncode == 1
        [row] = rows(cli, "calc")

        text = summary(cli, row["id"])

        found = DURATION.sub("<D>", TIME.sub("<T>", text))
        found = re.sub(r" on \S+ \(pid \d+\)", " on <HOST> (pid <PID>)", found)
        assert found.splitlines() == [
            f"Registration {row['id']}: calc 1.0.0, rejected",
            f"<T>    {row['requested_by']} asked to register calc 1.0.0; suites to run: "
            "Unit Tests",
            f"{'':24}source: {pack}",
            f"{'':24}content: sha256:{row['content_digest']}",
            "<T>  ✗ Suite Unit Tests (python_unittest) failed: 1 passed, 2 failed, 0 skipped in "
            "<D> on <HOST> (pid <PID>)",
            f"{'':24}test_mixed.TestMixed.test_fail_0: AssertionError: 0 != 1 : deliberate "
            "failure 0",
            f"{'':24}test_mixed.TestMixed.test_fail_1: AssertionError: 1 != 2 : deliberate "
            "failure 1",
            "<T>  ✗ Rejected: its tests did not pass",
        ]

    def test_the_json_summary_has_the_facts(self, lamp):
        ok(lamp("pack", "rollback", "lamp", "--reason", "bad sensor"))
        [newer, older] = rows(lamp, "lamp")

        data = json.loads(summary(lamp, newer["id"], "--json"))["data"]

        assert (data["registration_id"], data["pack_ref"], data["pack_version"],
                data["status"]) == (newer["id"], "lamp", "2.0.0", "rolled_back")
        request = data["request"]
        assert (request["by"], request["trigger"], request["origin"], request["force"],
                request["replace"], request["skip_tests"], request["suites"]) == (
            newer["requested_by"], "register", None, False, True, False, ["Unit Tests"])
        [suite] = data["suites"]
        assert (suite["name"], suite["status"], suite["total"], suite["passed"],
                suite["failed"]) == ("Unit Tests", "passed", 2, 2, 0)
        assert suite["worker"]["pid"] > 0 and suite["duration_ms"] >= 0
        assert suite["sandbox"] in ("bwrap", "namespaces")
        decision = data["decision"]
        assert (decision["status"], decision["forced"], decision["replaced_registration_id"],
                decision["summary"]["passed"]) == ("committed", False, older["id"], 2)
        ended = data["ended"]
        assert (ended["reason"], ended["by"], ended["note"],
                ended["restored_registration_id"]) == (
            "rollback", newer["rolled_back_by"], "bad sensor", older["id"])
        assert [step["text"].split(": ")[0] for step in data["timeline"]] == [
            f"{newer['requested_by']} asked to register lamp 2.0.0; suites to run",
            "Suite Unit Tests (python_unittest) passed", "Committed",
            f"Rolled back by {newer['rolled_back_by']}"]

    def test_an_install_shows_where_it_came_from(self, cli, settings, tmp_path):
        source = write_pack(tmp_path / "src", manifest("lamp"))
        with build_registry(settings) as registry:
            registry.install(InstallCommand(source=str(source), skip_tests=True,
                                            requested_by="cli:ops"))
        [row] = rows(cli, "lamp")

        lines = summary(cli, row["id"]).splitlines()
        table = ok(cli("pack", "history", "lamp")).splitlines()

        assert lines[1].endswith(f"cli:ops asked to install lamp 1.0.0 from directory {source} "
                                 "without running its tests")
        assert lines[-1].endswith("Committed: the pack became active with its tests skipped")
        assert table[1].split()[3:8] == ["committed", "-", "cli:ops", "-", "install"]
        assert table[2] == f"  from directory {source}"
        assert row["origin"] == {"type": "directory", "source": str(source)}

    def test_the_raw_events_stay_the_default(self, lamp):
        [newer, _] = rows(lamp, "lamp")

        raw = ok(lamp("audit", newer["id"]))

        assert raw.startswith(f"Registration {newer['id']}: ")
        assert "attune:Registration.PackRegistrationRequested" in raw

    def test_an_unknown_registration_is_not_found(self, lamp):
        missing = "3f0c1d5e-0000-4000-8000-000000000000"

        done = lamp("audit", missing, "--summary")

        assert (done.returncode, done.stderr.strip()) == (
            1, f"✗ Error: Registration '{missing}' not found")


class TestOverHttp:
    def test_reasons_go_in_the_query_and_are_kept(self, settings, tmp_path):
        with running_api(settings, tmp_path) as api:
            for version in ("1.0.0", "2.0.0"):
                write_pack(api.root / "lamp", manifest("lamp", version))
                assert api.register(api.root / "lamp", replace=True,
                                    skip_tests=True).status_code == 201

            back = api.client.post("/api/v1/packs/lamp/rollback",
                                   params={"reason": "2.0.0 is broken"}, headers=api.write)
            gone = api.client.delete("/api/v1/packs/lamp", params={"reason": "retired"},
                                     headers=api.write)
            [first, second] = api.get("/packs/lamp/registrations").json()["data"]

        assert (back.status_code, gone.status_code) == (200, 200)
        assert (first["pack_version"], first["note"], first["rolled_back_by"]) == (
            "2.0.0", "2.0.0 is broken", "token:writer")
        assert (second["pack_version"], second["note"], second["reason"]) == (
            "1.0.0", "retired", "unregister")

    @pytest.mark.parametrize("url", ["/api/v1/packs/lamp/rollback",
                                     "/api/v1/packs/lamp/cancel"])
    def test_a_bad_reason_is_a_400_and_changes_nothing(self, settings, tmp_path, url):
        with running_api(settings, tmp_path) as api:
            for version in ("1.0.0", "2.0.0"):
                write_pack(api.root / "lamp", manifest("lamp", version))
                assert api.register(api.root / "lamp", replace=True,
                                    skip_tests=True).status_code == 201
            before = api.get("/packs/lamp/registrations").json()["data"]

            refused = api.client.post(url, params={"reason": "a\x1b[2Jb", "force": "true"},
                                      headers=api.write)
            deleted = api.client.delete("/api/v1/packs/lamp", params={"reason": "z" * 501},
                                        headers=api.write)

            assert api.get("/packs/lamp/registrations").json()["data"] == before
            assert api.get("/packs/lamp").json()["data"]["pack"]["version"] == "2.0.0"
        assert (refused.status_code, refused.json()) == (400, {
            "error": "Invalid reason: control character U+001B at position 2; a reason is "
                     "one line of visible text", "code": "BAD_REQUEST"})
        assert (deleted.status_code, deleted.json()["error"]) == (
            400, "Invalid reason: 501 characters, at most 500")

    def test_the_dashboard_tells_the_same_story(self, settings, tmp_path):
        from tests.e2e.test_dashboard import sign_in

        with running_api(settings, tmp_path) as api:
            for version in ("1.0.0", "2.0.0"):
                write_pack(api.root / "lamp", manifest("lamp", version))
                assert api.register(api.root / "lamp", replace=True,
                                    skip_tests=True).status_code == 201
            assert api.client.post("/api/v1/packs/lamp/rollback", params={"reason": "broken"},
                                   headers=api.write).status_code == 200
            [newer, _] = api.get("/packs/lamp/registrations").json()["data"]
            assert sign_in(api).status_code == 303

            story = api.client.get(f"/ui/registrations/{newer['id']}").text
            pack = api.client.get("/ui/packs/lamp").text

        assert "Rolled back by token:writer: no longer active" in story
        assert "<li>reason given: broken</li>" in story
        assert "rolled back by token:writer at " in pack and ", saying: broken" in pack


def test_remote_mode_prints_the_same_summary_and_sends_the_reason(cli, server):
    write_pack(server.root / "lamp", manifest("lamp"))
    remote = ("--api-url", server.url, "--token", server.write_token)
    ok(cli(*remote, "pack", "register", str(server.root / "lamp"), "-q"))
    write_pack(server.root / "lamp", manifest("lamp", "2.0.0"))
    ok(cli(*remote, "pack", "register", str(server.root / "lamp"), "--replace", "-q"))

    ok(cli(*remote, "pack", "rollback", "lamp", "--reason", "from afar"))

    [newer, _] = rows(cli, "lamp")
    assert (newer["note"], newer["rolled_back_by"]) == ("from afar", "token:writer")
    local = summary(cli, newer["id"])
    far = ok(cli(*remote, "audit", newer["id"], "--summary"))
    assert far == local
    assert "reason given: from afar" in far
    assert json.loads(ok(cli(*remote, "audit", newer["id"], "--summary", "--json"))) == \
        json.loads(summary(cli, newer["id"], "--json"))
