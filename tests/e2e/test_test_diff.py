"""`attune pack test-diff` and `GET /packs/{ref}/tests/compare`: a real history of two versions
(one case newly failing, one fixed, one added, one removed, one much slower), compared through
the CLI (local and `--api-url`) and the API, on both stores."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_http import running_api
from tests.e2e.test_remote_cli import remote as remote_cli
from tests.packs import manifest, write_pack

REF = "diffy"

BEFORE = """
import unittest

class TestCases(unittest.TestCase):
    def test_stays(self):
        self.assertTrue(True)

    def test_breaks(self):
        self.assertTrue(True)

    def test_mended(self):
        self.assertEqual(1, 2, 'not mended yet')

    def test_retired(self):
        self.assertTrue(True)

    def test_slows(self):
        self.assertTrue(True)
"""

AFTER = """
import time
import unittest

class TestCases(unittest.TestCase):
    def test_stays(self):
        self.assertTrue(True)

    def test_breaks(self):
        self.assertEqual('a', 'b', 'broken in 1.1.0')

    def test_mended(self):
        self.assertTrue(True)

    def test_new(self):
        self.assertTrue(True)

    def test_slows(self):
        time.sleep(1.0)  # slower by far more than the 100 ms floor and 50%
"""

CASE = "test_cases.TestCases."


def history_of_two_versions(register, root: Path) -> None:
    """1.0.0 then 1.1.0 of REF, both forced in (each has a failing case)."""
    for version, tests in (("1.0.0", BEFORE), ("1.1.0", AFTER)):
        path = write_pack(root / f"{REF}-{version}", manifest(REF, version),
                          {"test_cases.py": tests})
        register(path)


def assert_the_expected_diff(data: dict) -> None:
    assert data["ref"] == REF
    assert (data["from"]["pack_version"], data["to"]["pack_version"]) == ("1.0.0", "1.1.0")
    assert data["from"]["id"] < data["to"]["id"]
    assert (data["threshold_pct"], data["min_ms"]) == (50, 100)
    assert data["same_content"] is False
    diff = data["diff"]
    names = {key: [(c["suite"], c["name"]) for c in diff[key]]
             for key in ("newly_failing", "fixed", "still_failing", "added", "removed",
                         "flaky")}
    assert names == {
        "newly_failing": [("Unit Tests", CASE + "test_breaks")],
        "fixed": [("Unit Tests", CASE + "test_mended")],
        "still_failing": [],
        "added": [("Unit Tests", CASE + "test_new")],
        "removed": [("Unit Tests", CASE + "test_retired")],
        "flaky": []}
    # A sub-millisecond case can take 100 ms more on a loaded machine and be listed too: the
    # case slowed on purpose is the one that is certain to be slower, and never faster.
    assert CASE + "test_slows" in [c["name"] for c in diff["slower"]]
    assert CASE + "test_slows" not in [c["name"] for c in diff["faster"]]
    assert diff["newly_failing"][0]["message"] == "AssertionError: 'a' != 'b'"
    assert diff["newly_failing"][0]["from_status"] == "passed"
    assert diff["newly_failing"][0]["to_status"] == "failed"
    slowed = next(c for c in diff["slower"] if c["name"] == CASE + "test_slows")
    assert slowed["to_ms"] >= 1000
    # Same outcome in both: test_stays, and test_slows (slower, but passed in both).
    assert diff["counts"]["unchanged"] == 2
    assert diff["suites"] == []  # the suite failed in both runs


@pytest.fixture
def history(cli, tmp_path):
    def register(path: Path) -> None:
        done = cli("pack", "register", str(path), "--force")
        assert done.returncode == 0, done.stderr

    history_of_two_versions(register, tmp_path)
    return cli


class TestCli:
    def test_the_last_two_runs_by_default(self, history):
        done = history("pack", "test-diff", REF, "--json")

        assert done.returncode == 0, done.stderr
        assert_the_expected_diff(json.loads(done.stdout)["data"])

    def test_the_text_names_each_change(self, history):
        done = history("pack", "test-diff", REF)

        assert done.returncode == 0, done.stderr
        text = done.stdout
        assert text.startswith(f"Pack '{REF}': run ")
        assert "(1.0.0, " in text and "(1.1.0, " in text
        assert (f"Newly failing (1):\n  ✗ Unit Tests: {CASE}test_breaks (passed -> failed): "
                in text)
        assert f"Fixed (1):\n  ✓ Unit Tests: {CASE}test_mended (failed -> passed)" in text
        assert f"Added (1):\n  + Unit Tests: {CASE}test_new (passed)" in text
        assert f"Removed (1):\n  - Unit Tests: {CASE}test_retired (was passed)" in text
        assert "Slower (1; by 50% and 100 ms or more):\n  Unit Tests: " in text
        assert re.search(r"1 newly failing, 1 fixed, 0 still failing, 1 added, 1 removed, "
                         r"[1-9]\d* slower, \d+ faster, 0 flaky, 2 unchanged", text)
        assert f"{CASE}test_slows" in text.split("Slower (", 1)[1]
        assert "Still failing" not in text  # empty lists are not shown

    def test_versions_and_ids_select_the_same_runs(self, history):
        runs = json.loads(history("pack", "test-history", REF, "--json").stdout)["data"]
        newer, older = runs[0]["id"], runs[1]["id"]
        expected = history("pack", "test-diff", REF, "--json").stdout

        for args in (("--from", "1.0.0", "--to", "1.1.0"), ("--from", str(older)),
                     ("--to", str(newer)), ("--from", str(older), "--to", "1.1.0")):
            done = history("pack", "test-diff", REF, *args, "--json")
            assert (done.returncode, done.stdout) == (0, expected), (args, done.stderr)

        # Backwards is allowed: the fixed case is then newly failing.
        back = json.loads(history("pack", "test-diff", REF, "--from", "1.1.0", "--to",
                                  "1.0.0", "--json").stdout)["data"]["diff"]
        assert [c["name"] for c in back["newly_failing"]] == [CASE + "test_mended"]
        assert CASE + "test_slows" in [c["name"] for c in back["faster"]]

    def test_thresholds_change_what_counts_as_slower(self, history):
        strict = history("pack", "test-diff", REF, "--min-ms", "5000", "--json")
        loose = history("pack", "test-diff", REF, "--threshold", "0", "--min-ms", "0",
                        "--json")

        assert json.loads(strict.stdout)["data"]["diff"]["slower"] == []
        assert json.loads(strict.stdout)["data"]["min_ms"] == 5000
        assert CASE + "test_slows" in [c["name"] for c in
                                        json.loads(loose.stdout)["data"]["diff"]["slower"]]

    def test_fail_on_new_failures_exits_1_and_prints_the_diff(self, history):
        done = history("pack", "test-diff", REF, "--fail-on-new-failures")
        back = history("pack", "test-diff", REF, "--from", "1.0.0", "--to", "1.0.0",
                       "--fail-on-new-failures")

        assert done.returncode == 1
        assert "Newly failing (1)" in done.stdout
        assert back.returncode == 0, back.stderr  # a run against itself: nothing new fails
        assert "0 newly failing" in back.stdout

    @pytest.mark.parametrize("bad", ["latest", "1.2", "v1.0.0", "-1", "0", "1.0.0 "])
    def test_a_malformed_selector_is_a_usage_error(self, history, bad):
        done = history("pack", "test-diff", REF, "--to", bad)

        assert done.returncode == 2
        assert "names no test run" in done.stderr
        assert done.stdout == ""

    def test_unknown_runs_versions_and_packs_exit_1_naming_them(self, history, tmp_path):
        other = write_pack(tmp_path / "other", manifest("other"))
        assert history("pack", "register", str(other)).returncode == 0
        foreign = json.loads(history("pack", "test-history", "other", "--json").stdout)[
            "data"][0]["id"]

        for args, message in (
                (("--from", "9999"), f"Test run 9999 of pack '{REF}' not found"),
                (("--to", str(foreign)), f"Test run {foreign} of pack '{REF}' not found"),
                (("--from", "3.0.0"), f"Pack '{REF}' has no finished test run of version "
                                      "3.0.0"),
                (("--to", "1.0.0"), f"Pack '{REF}' has no finished test run before run")):
            done = history("pack", "test-diff", REF, *args)
            assert done.returncode == 1, args
            assert message in done.stderr, (args, done.stderr)

        missing = history("pack", "test-diff", "nothing", "--json")
        assert missing.returncode == 1
        assert json.loads(missing.stdout) == {"error": "Pack 'nothing' not found",
                                              "code": "NOT_FOUND"}
        alone = history("pack", "test-diff", "other")
        assert alone.returncode == 1
        assert "has no finished test run before run" in alone.stderr


# Only PostgreSQL queues a registration (``--no-wait``) for workers.
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_a_run_in_progress_is_refused(cli, settings, tmp_path):
    first = write_pack(tmp_path / "one", manifest(REF, "1.0.0"))
    assert cli("pack", "register", str(first)).returncode == 0
    queued = cli("pack", "register", str(write_pack(tmp_path / "two", manifest(REF, "1.1.0"))),
                 "--replace", "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    runs = json.loads(cli("pack", "test-history", REF, "--json").stdout)["data"]
    assert runs[0]["status"] == "running"

    refused = cli("pack", "test-diff", REF, "--to", str(runs[0]["id"]))
    by_version = cli("pack", "test-diff", REF, "--to", "1.1.0")
    # By default the newest finished run: the running one is left out.
    default = cli("pack", "test-diff", REF)

    assert refused.returncode == 1
    assert (f"Test run {runs[0]['id']} of pack '{REF}' is still running; compare it once it "
            "has finished") in refused.stderr
    assert by_version.returncode == 1
    assert "has no finished test run of version 1.1.0" in by_version.stderr
    assert default.returncode == 1
    assert f"has no finished test run before run {runs[1]['id']}" in default.stderr


def test_the_remote_cli_prints_what_the_local_one_does(server, cli):
    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return remote_cli(server, *args, token=server.read_token)

    def register(path: Path) -> None:
        done = cli("pack", "register", str(path), "--force")
        assert done.returncode == 0, done.stderr

    history_of_two_versions(register, server.root)

    for args in (("pack", "test-diff", REF), ("pack", "test-diff", REF, "--json"),
                 ("pack", "test-diff", REF, "--from", "1.0.0", "--threshold", "10",
                  "--min-ms", "0", "--json")):
        there, here = remote(*args), cli(*args)
        assert (there.returncode, there.stdout) == (0, here.stdout), there.stderr
    assert_the_expected_diff(json.loads(remote("pack", "test-diff", REF, "--json").stdout)[
        "data"])

    failing = remote("pack", "test-diff", REF, "--fail-on-new-failures")
    unknown = remote("pack", "test-diff", REF, "--from", "9999")
    malformed = remote("pack", "test-diff", REF, "--from", "newest")
    assert failing.returncode == 1 and "Newly failing (1)" in failing.stdout
    assert unknown.returncode == 1
    assert f"Test run 9999 of pack '{REF}' not found" in unknown.stderr
    assert malformed.returncode == 2


class TestApi:
    def test_compare_answers_the_diff_and_leaves_the_other_test_routes_alone(self, settings,
                                                                             tmp_path):
        with running_api(settings, tmp_path) as api:
            history_of_two_versions(
                lambda path: api.register(path, force=True).raise_for_status(), api.root)
            runs = api.get(f"/packs/{REF}/tests").json()["data"]

            body = api.get(f"/packs/{REF}/tests/compare").json()
            by_version = api.get(f"/packs/{REF}/tests/compare",
                                 params={"from": "1.0.0", "to": "1.1.0"}).json()
            by_id = api.get(f"/packs/{REF}/tests/compare",
                            params={"from": str(runs[1]["id"])}).json()
            tuned = api.get(f"/packs/{REF}/tests/compare",
                            params={"threshold": "12.5", "min_ms": "5000"}).json()
            latest = api.get(f"/packs/{REF}/tests/latest")
            junit = api.get(f"/packs/{REF}/tests/{runs[0]['id']}/junit")

        assert_the_expected_diff(body["data"])
        assert by_version == by_id == body
        assert (tuned["data"]["threshold_pct"], tuned["data"]["min_ms"]) == (12.5, 5000)
        assert tuned["data"]["diff"]["slower"] == []
        assert latest.status_code == 200 and latest.json()["data"]["id"] == runs[0]["id"]
        assert junit.status_code == 200 and junit.text.startswith("<?xml")

    def test_bad_requests_are_refused_with_their_reason(self, settings, tmp_path):
        with running_api(settings, tmp_path) as api:
            history_of_two_versions(
                lambda path: api.register(path, force=True).raise_for_status(), api.root)

            def status(**params: str) -> tuple[int, str]:
                got = api.get(f"/packs/{REF}/tests/compare", params=params)
                return got.status_code, got.json()["code"]

            malformed = api.get(f"/packs/{REF}/tests/compare", params={"to": "newest"})
            unknown = api.get(f"/packs/{REF}/tests/compare", params={"from": "424242"})
            assert malformed.status_code == 400
            assert malformed.json() == {
                "error": "'newest' names no test run: give a run's id (digits: its `id` in "
                         "`pack test-history --json`) or a semantic version (e.g. 1.2.0)",
                "code": "BAD_REQUEST"}
            assert unknown.status_code == 404
            assert unknown.json()["error"] == f"Test run 424242 of pack '{REF}' not found"
            assert status(**{"from": "7.7.7"}) == (404, "NOT_FOUND")
            assert status(**{"from": "1" * 30}) == (400, "BAD_REQUEST")
            for bad in ({"threshold": "-1"}, {"threshold": "abc"}, {"threshold": "1e9"},
                        {"min_ms": "-5"}, {"min_ms": "1.5"}):
                code, _ = status(**bad)
                assert 400 <= code < 500 and code != 404, bad
            assert api.get("/packs/nothing/tests/compare").status_code == 404
            unauthenticated = api.client.get(f"/api/v1/packs/{REF}/tests/compare")
            assert unauthenticated.status_code == 401
