"""``retries: N`` through ``attune pack register``, for each runner and on both stores: a case
that fails once and then passes registers the pack, is stored as passed and flaky with its
attempts and the rerun recorded, and is shown as flaky; a case that always fails still rejects.

The flaky test is deterministic: it fails when a marker file beside it is missing, and creates
it (the copy of the pack a suite runs on is writable by the suite, and the same for each rerun).
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from junitparser import JUnitXml

from attune_registry.adapters.bootstrap import build_registry

from tests.packs import manifest, write_pack

SUITE = "attune:Registration.TestSuiteCompleted"

UNITTEST = """
import pathlib
import unittest

HERE = pathlib.Path(__file__).parent


def first_time(name):
    marker = HERE / name
    first = not marker.exists()
    marker.touch()
    return first


class TestFlaky(unittest.TestCase):
    def test_steady(self):
        # Fails if it runs again: a rerun must run only the cases that failed.
        self.assertTrue(first_time("steady-ran"), "ran twice")

    def test_flaky(self):
        self.assertFalse(first_time("flaky-ran"), "fails on its first attempt")
"""

ALWAYS_FAILS = """
import unittest


class TestBroken(unittest.TestCase):
    def test_passes(self):
        pass

    def test_broken(self):
        self.fail("broken on every attempt")
"""

PYTEST = """
import pathlib

HERE = pathlib.Path(__file__).parent


def first_time(name):
    marker = HERE / name
    first = not marker.exists()
    marker.touch()
    return first


def test_steady():
    # Fails if it runs again: a rerun must run only the cases that failed.
    assert first_time("steady-ran"), "ran twice"


def test_flaky():
    assert not first_time("flaky-ran"), "fails on its first attempt"
"""

# A shell suite reruns whole: its steady case runs again (and passes).
SHELL = """#!/bin/sh
echo "ok 1 - steady"
if [ -e flaky-ran ]; then
    echo "ok 2 - flaky"
else
    touch flaky-ran
    echo "not ok 2 - flaky"
fi
"""

RUNNERS = {
    "python_unittest": ({"working_dir": "tests", "test_files": ["test_*.py"]},
                        {"test_flaky.py": UNITTEST}, "test_flaky.TestFlaky.test_flaky"),
    "pytest": ({"working_dir": ".", "test_files": ["tests/test_flaky.py"]},
               {"test_flaky.py": PYTEST}, "tests.test_flaky.test_flaky"),
    "shell": ({"working_dir": "tests", "test_files": ["run.sh"]}, {"run.sh": SHELL},
              "tests/run.sh: flaky"),
}


def retrying_pack(root: Path, runner: str, retries: int = 1, tests: dict | None = None) -> Path:
    where, files, _ = RUNNERS[runner]
    suite = {"name": "unit", "runner": runner, "timeout_seconds": 60, "retries": retries, **where}
    return write_pack(root / "flaky", manifest("flaky", testing={"enabled": True,
                                                                  "test_suites": [suite]}),
                      tests or files)


def suite_events(settings, registration_id: str) -> list[dict]:
    with build_registry(settings) as registry:
        return [event.state for event in registry.audit(UUID(registration_id))
                if event.topic == SUITE]


def newest_run(settings, ref: str):
    with build_registry(settings) as registry:
        return registry.test_history(ref, limit=1)[0]


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_case_that_passes_on_a_retry_registers_the_pack_as_flaky(cli, settings, tmp_path,
                                                                    runner):
    flaky_name = RUNNERS[runner][2]
    pack = retrying_pack(tmp_path, runner)
    report = tmp_path / "junit.xml"

    done = cli("pack", "register", str(pack), "--json", "--junit-xml", str(report))

    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)["data"]
    [suite] = data["test_result"]["test_suites"]
    cases = {case["name"]: case for case in suite["test_cases"]}
    assert (cases[flaky_name]["status"], cases[flaky_name]["flaky"],
            cases[flaky_name]["attempts"]) == ("passed", True, 2)
    assert runner == "shell" or "fails on its first attempt" in cases[flaky_name]["error_message"]
    assert (suite["status"], suite["passed"], suite["failed"]) == ("passed", 2, 0)
    steady = [case for name, case in cases.items() if name != flaky_name]
    assert [(c["status"], c["flaky"], c["attempts"]) for c in steady] == [("passed", False, 1)]

    # Recorded in the event: the rerun and the case it ran; the read model counts it.
    run = newest_run(settings, "flaky")
    assert (run.status, run.flaky, run.passed) == ("passed", 1, 2)
    [event] = suite_events(settings, run.registration_id)
    [attempt] = event["retries"]
    assert attempt["attempt"] == 2
    assert [(c["name"], c["status"]) for c in attempt["test_cases"]] == [(flaky_name, "passed")]
    whole = "the whole suite ran again" in (attempt["message"] or "")
    assert whole == (runner == "shell")

    # CI sees the failed attempt as Surefire's flakyFailure of a passed case.
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (2, 0, 0)
    flaky_cases = [case for suite_ in xml for case in suite_
                   if case._elem.find("flakyFailure") is not None]
    assert len(flaky_cases) == 1 and flaky_cases[0].is_passed


def test_the_text_output_says_which_cases_were_flaky(cli, settings, tmp_path):
    pack = retrying_pack(tmp_path, "python_unittest", retries=2)

    done = cli("pack", "register", str(pack))

    assert done.returncode == 0, done.stderr
    assert "↻ Suite 'unit': retrying 1 failed case(s) (attempt 2 of 3)" in done.stderr
    assert ("⚠ 1 flaky case(s) passed on retry: unit/test_flaky.TestFlaky.test_flaky"
            in done.stdout)
    history = cli("pack", "test-history", "flaky")
    assert history.returncode == 0, history.stderr
    assert "2/2 (1 flaky)" in history.stdout
    run = newest_run(settings, "flaky")
    summary = cli("audit", run.registration_id, "--summary")
    assert summary.returncode == 0, summary.stderr
    assert "0 failed, 0 skipped in" in summary.stdout and ", 1 flaky" in summary.stdout
    assert "test_flaky.TestFlaky.test_flaky: flaky, passed on attempt 2" in summary.stdout
    verbose = cli("pack", "test-history", "flaky", "-v")
    assert ("  ⚠ unit: test_flaky.TestFlaky.test_flaky: flaky, passed on attempt 2 (first "
            "failure: AssertionError: True is not false : fails on its first attempt)"
            in verbose.stdout.splitlines())


def test_a_case_that_fails_every_attempt_still_rejects(cli, settings, tmp_path):
    pack = retrying_pack(tmp_path, "python_unittest", retries=2,
                         tests={"test_broken.py": ALWAYS_FAILS})

    done = cli("pack", "register", str(pack), "--json")

    assert done.returncode == 1
    run = newest_run(settings, "flaky")
    assert (run.status, run.flaky, run.failed, run.passed) == ("failed", 0, 1, 1)
    [suite] = run.result["test_suites"]
    broken = next(c for c in suite["test_cases"] if c["name"].endswith("test_broken"))
    assert (broken["status"], broken["flaky"], broken["attempts"]) == ("failed", False, 3)
    assert [a["attempt"] for a in suite["retries"]] == [2, 3]
    assert "3 attempts" in suite["message"]


def test_the_dashboards_run_page_shows_the_flaky_case(settings, tmp_path):
    from tests.e2e.test_dashboard import history, sign_in
    from tests.e2e.test_http import running_api

    with running_api(settings, tmp_path) as api:
        retrying_pack(api.root, "python_unittest")
        assert api.register(api.root / "flaky").status_code == 201
        assert sign_in(api).status_code == 303
        [run] = history(api, "flaky")

        page = api.client.get(f"/ui/packs/flaky/runs/{run['id']}")

    assert page.status_code == 200
    assert '<span class="badge flaky">1 flaky</span>' in page.text
    assert "Flaky cases (1)" in page.text
    assert ("<strong>test_flaky.TestFlaky.test_flaky</strong>: passed on attempt 2; first "
            "failure: AssertionError: True is not false : fails on its first attempt"
            in page.text)
    assert "Failing cases" not in page.text


@pytest.mark.postgres
def test_a_queued_registration_retries_on_its_worker(cluster, tmp_path):
    import time

    registration_id = cluster.queue(retrying_pack(tmp_path, "pytest"))
    cluster.start_worker("w")

    row = cluster.decided("flaky", time.monotonic() + 300)

    assert (row["id"], row["status"]) == (registration_id, "committed")
    [suite] = cluster.suites_of(registration_id)
    flaky = next(c for c in suite["test_cases"] if c["name"] == "tests.test_flaky.test_flaky")
    assert (flaky["status"], flaky["flaky"], flaky["attempts"]) == ("passed", True, 2)
    assert [a["attempt"] for a in suite["retries"]] == [2]
