"""Flaky cases found across runs, on both stores: `attune pack flaky` (local and remote),
`GET /api/v1/packs/{ref}/flaky` and the pack's dashboard page.

The pack's tests run in the real sandbox. One case reads a file in a folder shared with every
suite (``ATTUNE_SANDBOX_SHARE``): the test changes that file between runs, which changes
neither the pack's content digest nor the environment's fingerprint, so the same inputs give
a pass, then a failure.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_dashboard import sign_in
from tests.e2e.test_http import running_api
from tests.e2e.test_remote_cli import remote as remote_cli
from tests.packs import manifest, write_pack
from tests.sandboxed import shared_folder, sharing

HEADER = ("SUITE       CASE                         PASSED  FAILED  ON RETRY  VERSIONS"
          "   LAST SEEN")
FLIPS = "test_app.TestApp.test_flips"


def pack_tests(gate: Path, *, changed: bool = False) -> dict[str, str]:
    """``test_flips`` passes while the gate's file says so; ``test_broken`` always fails;
    ``test_changes`` passes in the first version and fails once ``changed``."""
    return {"test_app.py": f"""
        import pathlib, unittest

        class TestApp(unittest.TestCase):
            def test_flips(self):
                said = pathlib.Path({str(gate / "outcome")!r}).read_text()
                if said != "pass":
                    self.fail("the <b>gate</b> says " + said)

            def test_steady(self):
                self.assertTrue(True)

            def test_broken(self):
                self.assertEqual(1, 2, "always broken")

            def test_changes(self):
                self.assertFalse({changed!r}, "changed in this version")
    """}


class Flaky:
    """Pack ``app`` whose ``test_flips`` follows ``say``."""

    def __init__(self, cli, tmp_path: Path) -> None:
        self.cli, self.folder = cli, tmp_path
        self.gate = shared_folder(tmp_path / "gate")
        cli.env = sharing(cli.env, self.gate)
        self.say("pass")

    def say(self, outcome: str) -> None:
        (self.gate / "outcome").write_text(outcome)

    def register(self, version: str, *flags: str, changed: bool = False) -> None:
        path = write_pack(self.folder / f"app-{version}", manifest("app", version),
                          pack_tests(self.gate, changed=changed))
        done = self.cli("pack", "register", str(path), "--force", *flags)
        assert done.returncode == 0, done.stderr + done.stdout

    def test(self) -> None:
        """``attune pack test app``: it fails, since ``test_broken`` always does."""
        done = self.cli("pack", "test", "app")
        assert done.returncode == 1, done.stderr + done.stdout
        assert "Some tests failed" in done.stdout + done.stderr


@pytest.fixture
def app(cli, tmp_path):
    """``app`` 1.0.0 registered while the gate says pass, then tested while it says fail."""
    flaky = Flaky(cli, tmp_path)
    flaky.register("1.0.0")
    flaky.say("fail")
    flaky.test()
    return flaky


def flaky_json(cli, ref: str = "app") -> list[dict]:
    done = cli("pack", "flaky", ref, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def test_a_case_that_passed_then_failed_on_the_same_inputs_is_listed_with_its_counts(cli, app):
    shown = cli("pack", "flaky", "app")

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == HEADER
    assert lines[1].startswith(f"Unit Tests  {FLIPS}  1       1       0         1 (1.0.0)  ")
    assert lines[2] == "  ✗ AssertionError: the <b>gate</b> says fail"
    assert len(lines) == 3  # test_broken always fails, test_steady always passes: not flaky

    [case] = flaky_json(cli)
    assert {key: case[key] for key in ("suite", "case", "passed", "failed", "passed_on_retry",
                                       "versions", "digests", "environments",
                                       "latest_version")} == {
        "suite": "Unit Tests", "case": FLIPS, "passed": 1, "failed": 1,
        "passed_on_retry": 0, "versions": 1, "digests": 1, "environments": 1,
        "latest_version": "1.0.0"}
    runs = json.loads(cli("pack", "test-history", "app", "--json").stdout)["data"]
    assert case["last_failed_run_id"] == runs[0]["run_id"]
    assert runs[0]["content_digest"] == runs[1]["content_digest"]
    assert runs[0]["fingerprint"] == runs[1]["fingerprint"] is not None


def test_another_versions_outcomes_pair_only_among_themselves(cli, app):
    app.register("2.0.0", "--replace", changed=True)  # the gate still says fail

    # 2.0.0 failed test_flips and test_changes, which 1.0.0 passed: changes, not flakiness.
    [case] = flaky_json(cli)
    assert (case["case"], case["passed"], case["failed"], case["versions"]) == (FLIPS, 1, 1, 1)

    app.say("pass")
    app.test()  # 2.0.0 passes test_flips now: flaky in 2.0.0 too

    [case] = flaky_json(cli)
    assert (case["case"], case["passed"], case["failed"], case["versions"],
            case["latest_version"], case["digests"]) == (FLIPS, 2, 2, 2, "2.0.0", 2)
    assert "test_changes" not in cli("pack", "flaky", "app").stdout


def test_a_rebuild_lists_the_same_cases(cli, app):
    before = cli("pack", "flaky", "app", "--json").stdout

    rebuilt = cli("projections", "rebuild")

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert cli("pack", "flaky", "app", "--json").stdout == before
    assert json.loads(before)["data"][0]["case"] == FLIPS


def test_no_flaky_case_and_an_unknown_ref(cli, tmp_path):
    calm = write_pack(tmp_path / "calm", manifest("calm"))
    assert cli("pack", "register", str(calm)).returncode == 0

    assert cli("pack", "flaky", "calm").stdout == "No flaky cases recorded for 'calm'.\n"
    assert flaky_json(cli, "calm") == []
    missing = cli("pack", "flaky", "nothing")
    assert missing.returncode == 1
    assert "Pack 'nothing' not found" in missing.stderr
    body = json.loads(cli("pack", "flaky", "nothing", "--json").stdout)
    assert body["code"] == "NOT_FOUND"


def test_the_api_and_the_dashboard_show_them(cli, app, settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        answer = api.get("/packs/app/flaky")
        assert answer.status_code == 200
        assert answer.json() == {"data": flaky_json(cli)}
        assert api.get("/packs/nothing/flaky").status_code == 404
        assert api.get("/packs/app/flaky", headers={}).status_code == 401

        assert sign_in(api).status_code == 303
        page = api.client.get("/ui/packs/app")
        assert page.status_code == 200
        assert "<h2>Flaky cases</h2>" in page.text
        assert f"<td>{FLIPS}</td>" in page.text
        assert "the &lt;b&gt;gate&lt;/b&gt; says fail" in page.text  # escaped
        assert "<b>gate</b>" not in page.text
        calm = write_pack(api.root / "calm", manifest("calm"))
        assert api.register(calm).status_code == 201
        assert "Flaky cases" not in api.client.get("/ui/packs/calm").text


def test_the_remote_cli_prints_what_the_local_one_does(server, cli, app):
    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return remote_cli(server, *args, token=server.read_token)

    for args in (("pack", "flaky", "app"), ("pack", "flaky", "app", "--json")):
        there, here = remote(*args), cli(*args)
        assert (there.returncode, there.stdout) == (0, here.stdout), there.stderr
    assert FLIPS in here.stdout
    missing = remote("pack", "flaky", "nothing")
    assert missing.returncode == 1
    assert "Pack 'nothing' not found" in missing.stderr
