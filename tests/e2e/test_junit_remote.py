"""``--junit-xml`` in remote mode: a registration or install the server rejects for its tests
writes the run the server stored, as ``GET /packs/{ref}/tests/{id}/junit`` serves it (the
rejection's ``details`` name it), read back with junitparser and compared with the stored run."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from junitparser import JUnitXml

from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE
from tests.e2e.conftest import Server
from tests.e2e.test_junit_reports import counts, stored
from tests.e2e.test_remote_cli import lines, remote
from tests.packs import failing_tests, manifest, write_pack
from tests.remote_packs import make_repo

REJECTED = "Pack registration failed: tests did not pass. Use force=true to register anyway."


def stored_runs(server: Server, ref: str) -> list[dict[str, Any]]:
    """The ref's test history from the API, newest first."""
    answer = httpx.get(f"{server.url}/api/v1/packs/{ref}/tests",
                       headers={"Authorization": f"Bearer {server.read_token}"})
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["data"]
    return runs


def failing_names(report: JUnitXml) -> list[tuple[str, str]]:
    """Each failing case's full name and its message's last line (the assertion's)."""
    return sorted((f"{case.classname}.{case.name}", case.result[0].text.strip().splitlines()[-1])
                  for suite in report for case in suite if case.result)


class TestRemoteRejections:
    def test_a_rejected_registration_writes_the_run_the_server_stored(self, server: Server,
                                                                      tmp_path: Path) -> None:
        pack = write_pack(server.root / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=3, failed=2)})
        path = tmp_path / "reports" / "junit.xml"

        rejected = remote(server, "pack", "register", str(pack), "-q", "--junit-xml", str(path))
        as_json = remote(server, "pack", "register", str(pack), "-q", "--json")

        # The command fails as it does without --junit-xml: same message, evidence, exit.
        assert rejected.returncode == 1
        assert lines(rejected.stderr)[:3] == [
            f"✗ Error: {REJECTED}",
            *(f"  ✗ Unit Tests: test_mixed.TestMixed.test_fail_{n}: AssertionError: {n} != "
              f"{n + 1} : deliberate failure {n}" for n in (0, 1))]
        second, first = stored_runs(server, "mypack")  # newest first
        report = JUnitXml.fromfile(str(path))
        assert counts(report) == stored(first["result"])
        assert (report.tests, report.failures + report.errors) == (5, 2)
        assert [suite.name for suite in report] == ["Unit Tests"]
        assert failing_names(report) == [
            (f"test_mixed.TestMixed.test_fail_{n}",
             f"AssertionError: {n} != {n + 1} : deliberate failure {n}") for n in (0, 1)]
        # The API's body names the stored run, for any client.
        body = json.loads(as_json.stdout)
        assert (as_json.returncode, body["error"], body["code"]) == (1, REJECTED, "BAD_REQUEST")
        [evidence] = body["details"]
        assert (evidence["registration_id"], evidence["pack_ref"],
                evidence["test_execution_id"]) == (second["run_id"], "mypack", second["id"])

    def test_a_rejected_install_writes_the_run_the_server_stored(self, server: Server,
                                                                 tmp_path: Path) -> None:
        repo = make_repo(server.root)
        path = tmp_path / "junit.xml"

        rejected = remote(server, "pack", "install", repo.url, "--ref", "broken", "-q",
                          "--junit-xml", str(path))

        assert rejected.returncode == 1
        assert lines(rejected.stderr)[0] == f"✗ Error: {REJECTED}"
        [run] = stored_runs(server, "lamp")
        assert (run["trigger_reason"], run["outcome"]) == ("install", "rejected")
        report = JUnitXml.fromfile(str(path))
        assert counts(report) == stored(run["result"])
        assert (report.tests, report.failures + report.errors) == (3, 1)
        assert failing_names(report) == [
            ("test_math.TestMixed.test_fail_0", "AssertionError: 0 != 1 : deliberate failure 0")]

    def test_other_refusals_write_nothing(self, server: Server, tmp_path: Path) -> None:
        pack = write_pack(server.root / "mypack", manifest("mypack"))
        assert remote(server, "pack", "register", str(pack), "-q").returncode == 0
        path = tmp_path / "junit.xml"

        again = remote(server, "pack", "register", str(pack), "-q", "--junit-xml", str(path))

        assert (again.returncode, lines(again.stderr)) == (
            1, ["✗ Error: Pack 'mypack' already exists. Use force=true to reinstall."])
        assert not path.exists()


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_a_rejection_decided_by_workers_writes_its_run(settings: Settings,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       request: pytest.FixtureRequest,
                                                       tmp_path: Path) -> None:
    """ATTUNE_RUN_TESTS=workers: the server waits for the workers' decision, then answers."""
    monkeypatch.setenv("ATTUNE_RUN_TESTS", "workers")
    server = request.getfixturevalue("server")
    pack = write_pack(server.root / "bulb", manifest("bulb"),
                      {"test_it.py": failing_tests(passed=1, failed=1)})
    worker = subprocess.Popen([ATTUNE, "worker"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              env={**server.env, "ATTUNE_HOME": str(tmp_path / "worker")})
    path = tmp_path / "junit.xml"
    try:
        rejected = remote(server, "pack", "register", str(pack), "-q", "--junit-xml", str(path))
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert (rejected.returncode, lines(rejected.stderr)[0]) == (1, f"✗ Error: {REJECTED}")
    [run] = stored_runs(server, "bulb")
    report = JUnitXml.fromfile(str(path))
    assert counts(report) == stored(run["result"])
    assert (report.tests, report.failures + report.errors) == (2, 1)


OLD_REJECTION = {"error": REJECTED, "code": "BAD_REQUEST", "details": [{
    "registration_id": "bea53f0f-8b7a-4c47-a324-319e5cb27cdc",
    "summary": {"total_tests": 2, "passed": 1, "failed": 1, "skipped": 0, "pass_rate": 0.5},
    "failing_cases": [{"suite": "Unit Tests", "case": "t.T.test_x", "message": "boom"}],
    "more_failing_cases": 0}]}


@pytest.fixture
def old_server() -> Iterator[str]:
    """An API from before rejections named their stored run: every POST is that rejection."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(OLD_REJECTION).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_older_server_gets_the_usual_failure_and_a_note_why_no_file(old_server: str,
                                                                       tmp_path: Path) -> None:
    class Old:
        url, write_token = old_server, "attn_any"

    path = tmp_path / "junit.xml"

    rejected = remote(Old, "pack", "register", str(tmp_path), "--junit-xml", str(path))

    assert rejected.returncode == 1 and not path.exists()
    assert lines(rejected.stderr) == [
        f"⚠ No JUnit XML written to {path}: the server did not name the stored test run of "
        "rejected registration bea53f0f-8b7a-4c47-a324-319e5cb27cdc (it predates this "
        "client); it is in `attune pack test-history`",
        f"✗ Error: {REJECTED}", "  ✗ Unit Tests: t.T.test_x: boom",
        "Registration: bea53f0f-8b7a-4c47-a324-319e5cb27cdc",
        "Fix the failing tests and try again (add --replace to upgrade an active version only "
        "if they pass); --force registers the pack despite them."]


def test_a_run_the_store_cannot_look_up_leaves_the_rejection_as_it_is() -> None:
    from attune_registry.domain.errors import TestsFailedError

    from attune_registry.adapters.reads.rejected import stored_run_evidence
    from attune_registry.adapters.store.config import StoreUnavailableError

    class DownRegistry:
        def test_history(self, ref: str, **_: object) -> list[Any]:
            raise StoreUnavailableError("The store is unavailable")

    result = {"pack_ref": "mypack", "status": "failed", "total_tests": 1, "passed": 0,
              "failed": 1, "skipped": 0, "pass_rate": 0.0, "test_suites": []}
    error = TestsFailedError("r-1", result)

    [evidence] = stored_run_evidence(DownRegistry(), error)  # type: ignore[arg-type]

    assert evidence == {**(error.details or [{}])[0], "pack_ref": "mypack", "test_execution_id": None}
    assert list(evidence)[:3] == ["registration_id", "pack_ref", "test_execution_id"]
