"""The activity feed and every ref's state (issue 19): ``attune activity``, ``attune pack list
--all``, ``GET /api/v1/activity`` and ``GET /api/v1/refs``, on both stores; the CLI in
this process and through the real entry point, the API through the test client, and remote
mode against a real server."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from attune_registry.adapters.cli.context import actor

from tests.conftest import ATTUNE
from tests.e2e.test_http import running_api
from tests.e2e.test_remote_cli import remote
from tests.packs import failing_tests, manifest, write_pack

ME = actor()  # who the CLI records in this process: cli:<account>
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def data(done) -> list[dict]:
    return json.loads(ok(done))["data"]


def table(text: str) -> list[list[str]]:
    """A table's rows as cells (columns are two or more spaces apart; no cell has two)."""
    return [re.split(r" {2,}", line.rstrip()) for line in text.splitlines()]


@pytest.fixture
def packs(cli, tmp_path):
    """``lamp`` registered (tests skipped) then unregistered with a reason; ``ghost``
    rejected by its tests; a token issued. 14 events in all."""
    ok(cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))),
           "--skip-tests", "-q"))
    ok(cli("pack", "unregister", "lamp", "--reason", "retired"))
    ghost = write_pack(tmp_path / "ghost", manifest("ghost", "0.1.0"),
                       {"test_mixed.py": failing_tests(passed=1, failed=1)})
    assert cli("pack", "register", str(ghost), "-q").returncode == 1
    ok(cli("token", "create", "ci", "--scope", "read"))
    return cli


class TestActivityCommand:
    def test_the_latest_events_one_line_each(self, packs):
        events = data(packs("activity", "--json"))

        text = ok(packs("activity"))

        assert [e["position"] for e in events] == list(range(1, 15))
        lamp, ghost = events[2]["registration_id"], events[9]["registration_id"]
        assert table(text)[0] == ["#", "TIME", "ACTOR", "REF", "REGISTRATION", "WHAT"]
        rows = [[row[0], *row[2:]] for row in table(text)[1:]]
        assert rows == [
            ["1", ME, "lamp", "-", "ref first submitted"],
            ["2", ME, "lamp", lamp, rows[1][4]],
            ["3", ME, "lamp", lamp, "requested 1.0.0 (register; skip-tests)"],
            ["4", ME, "lamp", lamp, "committed 1.0.0 (tests skipped)"],
            ["5", ME, "lamp", lamp, "1.0.0 active"],
            ["6", ME, "lamp", lamp, "unregistered 1.0.0; reason: retired"],
            ["7", ME, "lamp", lamp, "no version active"],
            ["8", ME, "ghost", "-", "ref first submitted"],
            ["9", ME, "ghost", ghost, rows[8][4]],
            ["10", ME, "ghost", ghost, "requested 0.1.0 (register)"],
            ["11", ME, "ghost", ghost,
             "suite 'Unit Tests' failed: 1/2 passed (python_unittest)"],
            ["12", ME, "ghost", ghost, "rejected 0.1.0: tests failed (1/2 passed)"],
            ["13", ME, "ghost", ghost, "lease released"],
            ["14", ME, "-", "-", "token 'ci' issued, scope read"],
        ]
        assert re.fullmatch(rf"lease taken until {TIME}", rows[1][4])
        assert all(re.fullmatch(TIME, row[1]) for row in table(text)[1:])
        # --json: the same events, each with the event as stored.
        assert events[5]["note"] == "retired"
        assert events[5]["event"]["topic"] == "attune:Registration.RegistrationRolledBack"
        assert events[5]["event"]["state"]["note"] == "retired"
        assert events[13]["event"]["state"]["secret_hash"] == "[redacted]"

    def test_the_newest_events_by_default_and_a_hint_when_older_ones_exist(self, packs):
        done = packs("activity", "-n", "2")

        assert [row[0] for row in table(ok(done))[1:]] == ["13", "14"]
        assert done.stderr == ("The 2 most recent events; --since TIME or --after POSITION "
                               "reads from an earlier point.\n")
        assert ok(packs("activity", "-n", "14")) and packs("activity", "-n", "14").stderr == ""

    def test_after_and_since_read_forward_and_say_how_to_go_on(self, packs):
        first = packs("activity", "--since", "2000-01-01", "-n", "3")
        then = packs("activity", "--since", "2000-01-01", "-n", "3", "--after", "3")
        by_age = packs("activity", "--since", "1h", "--ref", "ghost")
        future = packs("activity", "--since", "2999-01-01T00:00:00+02:00")

        assert [row[0] for row in table(ok(first))[1:]] == ["1", "2", "3"]
        assert first.stderr == "More events follow: run again with --after 3.\n"
        assert [row[0] for row in table(ok(then))[1:]] == ["4", "5", "6"]
        assert [row[0] for row in table(ok(by_age))[1:]] == [str(n) for n in range(8, 14)]
        assert by_age.stderr == ""
        assert ok(future) == "No events with since 2998-12-31 22:00:00Z.\n"

    def test_filters_by_ref_and_actor(self, packs):
        ghost = data(packs("activity", "--ref", "ghost", "--json"))
        mine = data(packs("activity", "--actor", ME, "-n", "1000", "--json"))
        nobody = packs("activity", "--actor", "cli:nobody", "--ref", "lamp")

        assert [e["position"] for e in ghost] == list(range(8, 14))
        assert {e["ref"] for e in ghost} == {"ghost"}
        assert len(mine) == 14
        assert ok(nobody) == "No events with ref lamp, actor cli:nobody.\n"

    @pytest.mark.parametrize(("args", "message"), [
        (["--since", "yesterday"], "Invalid value for '--since': 'yesterday' is not a time: "
                                   "give one such as 2026-11-25, 2026-11-25T12:00Z or "
                                   "2026-11-25 12:00:00+01:00, or an age such as 30m, 2h or "
                                   "7d"),
        (["--after", "-1"], "Invalid value for '--after': -1 is not in the range "
                                "0<=x<=9223372036854775807."),
        (["-n", "0"], "Invalid value for '-n' / '--limit': 0 is not in the range 1<=x<=1000."),
    ])
    def test_bad_options_are_usage_errors_that_change_nothing(self, packs, args, message):
        done = packs("activity", *args)

        assert done.returncode == 2
        assert done.stderr.splitlines()[-1] == f"Error: {message}"
        assert len(data(packs("activity", "--json"))) == 14

    def test_an_unknown_ref_is_not_found(self, packs):
        text = packs("activity", "--ref", "nope")
        as_json = packs("activity", "--ref", "nope", "--json")

        assert (text.returncode, text.stderr) == (1, "✗ Error: Pack 'nope' not found\n")
        assert as_json.returncode == 1
        assert json.loads(as_json.stdout) == {"error": "Pack 'nope' not found",
                                              "code": "NOT_FOUND"}


class TestListAll:
    def test_every_ref_ever_submitted_with_its_state(self, packs, tmp_path):
        ok(packs("pack", "register", str(write_pack(tmp_path / "core", manifest("core"))),
                 "--skip-tests", "-q"))

        text = ok(packs("pack", "list", "--all"))
        refs = data(packs("pack", "list", "--all", "--json"))

        assert [row[:3] + row[4:] for row in table(text)] == [
            ["REF", "STATE", "VERSION", "BY", "LAST EVENT"],
            ["core", "active", "1.0.0", ME, "committed 1.0.0 (tests skipped)"],
            ["ghost", "rejected", "0.1.0", ME, "rejected 0.1.0: tests failed (1/2 passed)"],
            ["lamp", "unregistered", "1.0.0", ME, "unregistered 1.0.0; reason: retired"],
        ]
        assert all(re.fullmatch(TIME, row[3]) for row in table(text)[1:])
        assert [(r["ref"], r["state"], r["note"]) for r in refs] == [
            ("core", "active", None), ("ghost", "rejected", None),
            ("lamp", "unregistered", "retired")]
        assert refs[2]["last_kind"] == "registration.rolled_back"
        # Without --all, only the active pack.
        assert [row[1] for row in table(ok(packs("pack", "list")))[1:]] == ["core"]

    def test_the_latest_event_gets_its_time_when_it_did_not_set_the_state(self, cli, tmp_path):
        ok(cli("pack", "register", str(write_pack(tmp_path / "v1", manifest("lamp"))),
               "--skip-tests", "-q"))
        v2 = write_pack(tmp_path / "v2", manifest("lamp", "2.0.0"),
                        {"test_mixed.py": failing_tests(passed=0, failed=1)})
        assert cli("pack", "register", str(v2), "--replace", "-q").returncode == 1

        [_, row] = table(ok(cli("pack", "list", "--all")))

        assert row[:3] == ["lamp", "active", "1.0.0"]
        assert re.fullmatch(rf"rejected 2\.0\.0: tests failed \(0/1 passed\) \({TIME}\)",
                            row[5])


def test_the_entry_point_prints_the_feed_and_its_help(attune, tmp_path):
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    assert attune("pack", "register", str(pack), "--skip-tests", "-q").returncode == 0

    done = attune("activity", "--ref", "lamp", "--json")
    helped = attune("activity", "--help")

    assert done.returncode == 0, done.stderr
    assert [e["kind"] for e in json.loads(done.stdout)["data"]] == [
        "pack.created", "pack.registration_opened", "registration.requested",
        "registration.committed", "pack.activated"]
    assert "Without --since or --after: the LIMIT most recent events." in helped.stdout


class TestActivityApi:
    @pytest.fixture
    def api(self, settings, tmp_path):
        with running_api(settings, tmp_path) as api:
            api.register(write_pack(api.root / "lamp", manifest("lamp")), skip_tests=True)
            api.register(write_pack(api.root / "lamp2", manifest("lamp", "2.0.0")),
                         skip_tests=True, replace=True)
            yield api

    def walk(self, api, **params):
        """Every item, page after page by cursor."""
        items, pages = [], 0
        while True:
            body = api.get("/activity", params=params).json()
            items += body["data"]
            pages += 1
            if body["pagination"]["next_cursor"] is None:
                return items, pages
            params["cursor"] = body["pagination"]["next_cursor"]

    def test_every_event_in_log_order_by_cursor(self, api):
        whole = api.get("/activity", params={"page_size": 100})
        everything = whole.json()["data"]

        walked, pages = self.walk(api, page_size=3)
        backwards, _ = self.walk(api, page_size=4, order="desc")

        assert whole.status_code == 200
        assert whole.json()["pagination"] == {"page_size": 100, "next_cursor": None}
        # Two tokens issued by the fixture, then two registrations of lamp.
        assert [e["kind"] for e in everything][:3] == ["token.issued", "token.issued",
                                                        "pack.created"]
        assert [e["actor"] for e in everything[-3:]] == ["token:writer"] * 3
        assert walked == everything and pages == -(-len(everything) // 3)
        assert backwards == everything[::-1]
        first = everything[0]
        assert set(first) == {"position", "at", "kind", "ref", "version", "actor",
                              "registration_id", "summary", "note", "event"}
        assert set(first["event"]) == {"topic", "originator_id", "originator_version",
                                       "state"}

    def test_filters(self, api):
        everything = api.get("/activity", params={"page_size": 100}).json()["data"]
        middle = everything[len(everything) // 2]

        by_ref = api.get("/activity", params={"ref": "lamp", "page_size": 100}).json()["data"]
        by_actor = api.get("/activity", params={"actor": "test", "page_size": 100})
        after = api.get("/activity", params={"after": middle["position"], "page_size": 100})
        since = api.get("/activity", params={"since": middle["at"], "page_size": 100})
        naive = api.get("/activity", params={"since": middle["at"][:26], "page_size": 100})
        cut = datetime.fromisoformat(middle["at"]).astimezone(timezone(timedelta(hours=2)))
        offset = api.get("/activity", params={"since": cut.isoformat(), "page_size": 100})

        assert by_ref == [e for e in everything if e["ref"] == "lamp"]
        assert [e["kind"] for e in by_actor.json()["data"]] == ["token.issued"] * 2
        assert after.json()["data"] == everything[everything.index(middle) + 1:]
        expected = [e for e in everything if e["at"] >= middle["at"]]
        assert since.json()["data"] == naive.json()["data"] == offset.json()["data"] == expected

    def test_read_scope_and_errors(self, api):
        cursor = api.get("/activity", params={"page_size": 1}).json()["pagination"][
            "next_cursor"]
        other_list = api.get("/packs/lamp/registrations", params={"page_size": 1}).json()[
            "pagination"]["next_cursor"]
        forged = base64.urlsafe_b64encode(b'[-1,"asc"]').decode().rstrip("=")
        before = api.get("/activity", params={"page_size": 100}).json()["data"]

        cases = {
            "no token": api.get("/activity", headers={}),
            "other order": api.get("/activity", params={"cursor": cursor, "order": "desc"}),
            "other list": api.get("/activity", params={"cursor": other_list}),
            "forged": api.get("/activity", params={"cursor": forged}),
            "unknown ref": api.get("/activity", params={"ref": "nope"}),
            "impossible ref": api.get("/activity", params={"ref": "a\x00b"}),
            "control in actor": api.get("/activity", params={"actor": "cli:a\x1b[2J"}),
            "bad time": api.get("/activity", params={"since": "yesterday"}),
            "bad order": api.get("/activity", params={"order": "sideways"}),
            "page too big": api.get("/activity", params={"page_size": 101}),
            "negative after": api.get("/activity", params={"after": -1}),
        }

        statuses = {name: (r.status_code, r.json()["code"]) for name, r in cases.items()}
        assert statuses == {
            "no token": (401, "UNAUTHORIZED"), "other order": (400, "BAD_REQUEST"),
            "other list": (400, "BAD_REQUEST"), "forged": (400, "BAD_REQUEST"),
            "unknown ref": (404, "NOT_FOUND"), "impossible ref": (404, "NOT_FOUND"),
            "control in actor": (422, "VALIDATION_ERROR"), "bad time": (422, "VALIDATION_ERROR"),
            "bad order": (422, "VALIDATION_ERROR"), "page too big": (422, "VALIDATION_ERROR"),
            "negative after": (422, "VALIDATION_ERROR")}
        assert cases["forged"].json()["error"] == (
            "Invalid cursor: pass the next_cursor of a previous page back unchanged, with the "
            "same order")
        assert cases["unknown ref"].json()["error"] == "Pack 'nope' not found"
        assert cases["control in actor"].json()["error"] == "Invalid request: actor"
        # Reading changes nothing.
        assert api.get("/activity", params={"page_size": 100}).json()["data"] == before

    def test_times_past_the_ends_of_the_calendar_are_the_ends(self, api):
        everything = api.get("/activity", params={"page_size": 100}).json()["data"]

        earliest = api.get("/activity", params={"since": "0001-01-01T00:00:00+05:00",
                                                "page_size": 100})
        latest = api.get("/activity", params={"since": "9999-12-31T23:00:00-05:00"})

        assert earliest.json()["data"] == everything
        assert (latest.status_code, latest.json()["data"]) == (200, [])

    def test_refs_lists_every_ref_with_its_state(self, api):
        ghost = write_pack(api.root / "ghost", manifest("ghost"),
                           {"test_mixed.py": failing_tests(passed=0, failed=1)})
        assert api.register(ghost).status_code == 400

        every = api.get("/refs")
        paged = api.get("/refs", params={"page_size": 1, "page": 2})
        active = api.get("/packs")
        anonymous = api.get("/refs", headers={})

        assert every.status_code == 200
        assert [(r["ref"], r["state"], r["version"], r["by"]) for r in every.json()["data"]] == [
            ("ghost", "rejected", "1.0.0", "token:writer"),
            ("lamp", "active", "2.0.0", "token:writer")]
        assert every.json()["pagination"] == {"page": 1, "page_size": 50, "total_items": 2,
                                              "total_pages": 1}
        assert [r["ref"] for r in paged.json()["data"]] == ["lamp"]
        assert [p["ref"] for p in active.json()["data"]] == ["lamp"]
        assert anonymous.status_code == 401


def test_remote_mode_prints_what_local_mode_prints(server, tmp_path):
    pack = write_pack(server.root / "lamp", manifest("lamp"))
    assert remote(server, "pack", "register", str(pack), "--skip-tests", "-q").returncode == 0
    local = subprocess.run([ATTUNE, "activity", "-n", "1000"], env=server.env,
                           capture_output=True, text=True, timeout=120)

    far = remote(server, "activity", "-n", "1000")
    tail = remote(server, "activity", "-n", "2", token=server.read_token)
    forward = remote(server, "activity", "--since", "2000-01-01", "-n", "3")
    by_ref = remote(server, "activity", "--ref", "lamp", "--json")
    listed = remote(server, "pack", "list", "--all")
    unknown = remote(server, "activity", "--ref", "nope")

    assert far.returncode == 0, far.stderr
    assert far.stdout == local.stdout
    assert [row[0] for row in table(tail.stdout)[1:]] == ["6", "7"]
    assert tail.stderr.startswith("The 2 most recent events")
    assert [row[0] for row in table(forward.stdout)[1:]] == ["1", "2", "3"]
    assert forward.stderr == "More events follow: run again with --after 3.\n"
    assert [e["kind"] for e in json.loads(by_ref.stdout)["data"]][-1] == "pack.activated"
    assert table(listed.stdout)[1][:3] == ["lamp", "active", "1.0.0"]
    assert (unknown.returncode, unknown.stderr) == (1, "✗ Error: Pack 'nope' not found\n")
