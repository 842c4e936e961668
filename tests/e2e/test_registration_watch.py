"""Following a registration: ``GET /registrations/{id}/events`` (Server-Sent Events), the
``progress`` of ``GET /registrations/{id}``, and ``attune registration watch`` in local and
remote mode, on a replayed SQLite registration and on queued ones run by real workers."""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.cli import output
from attune_registry.adapters.http import create_app
from attune_registry.adapters.settings import Settings

from tests.cluster import Cluster
from tests.conftest import ATTUNE, invoke
from tests.packs import PASSING_TEST, failing_tests, manifest, write_pack

REJECTED = "Pack registration failed: tests did not pass. Use force=true to register anyway."
HOST = socket.gethostname()
ACTOR = f"cli:{pwd.getpwuid(os.geteuid()).pw_name}"  # the account, as `actor()` finds it


def two_suites(ref: str) -> dict:
    suite = {"runner": "python_unittest", "working_dir": "tests", "timeout_seconds": 60}
    return manifest(ref, testing={"enabled": True, "test_suites": [
        {**suite, "name": "Unit Tests", "test_files": ["test_unit.py"]},
        {**suite, "name": "More Tests", "test_files": ["test_more.py"]}]})


TWO_SUITES = {"test_unit.py": PASSING_TEST, "test_more.py": failing_tests(passed=3, failed=0)}


def sse(body: str) -> list[tuple[int, str, dict]]:
    """The (id, event, data) of each event of a stream, read by hand rather than by the
    client's parser that these tests also check."""
    found = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith(":"))
        if "data" in fields:  # not the `retry:` block
            found.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return found


# --- A synchronous registration on SQLite, replayed after the fact ------------------------


@dataclass
class Replay:
    client: TestClient
    read: dict[str, str]
    env: dict[str, str]
    committed: str
    rejected: str

    def events(self, registration_id: str, **headers: str) -> httpx.Response:
        return self.client.get(f"/api/v1/registrations/{registration_id}/events",
                               headers={**self.read, **headers})


@pytest.fixture
def replay(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Replay]:
    """Two registrations decided in this process: ``lamp`` committed (two suites), ``dim``
    rejected (a failing case)."""
    root = tmp_path / "packs"
    settings = Settings(home=sqlite_settings.home, database_url="", pack_roots=(root,))
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    lamp = write_pack(root / "lamp", two_suites("lamp"), TWO_SUITES)
    dim = write_pack(root / "dim", manifest("dim"), {"test_it.py": failing_tests(1, 1)})
    with TestClient(app=create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {write}"}
        committed = client.post("/api/v1/packs/register", json={"path": str(lamp)},
                                headers=headers)
        rejected = client.post("/api/v1/packs/register", json={"path": str(dim)},
                               headers=headers)
        assert (committed.status_code, rejected.status_code) == (201, 400), rejected.text
        [row] = client.get("/api/v1/packs/dim/registrations",
                           headers={"Authorization": f"Bearer {read}"}).json()["data"]
        env = {**os.environ, "ATTUNE_HOME": str(settings.home), "ATTUNE_DATABASE_URL": ""}
        yield Replay(client, {"Authorization": f"Bearer {read}"}, env,
                     committed.json()["data"]["pack"]["registration_id"], row["id"])


class TestEventStream:
    def test_a_decided_registration_replays_its_request_suites_and_decision_then_ends(
            self, replay):
        done = replay.events(replay.committed)

        assert done.status_code == 200
        assert done.headers["content-type"].startswith("text/event-stream")
        events = sse(done.text)
        assert [(id_, kind) for id_, kind, _ in events] == [
            (1, "requested"), (2, "suite"), (3, "suite"), (4, "decided")]
        requested, unit, more, decided = (data for _, _, data in events)
        assert (requested["ref"], requested["pack_version"], requested["suites"],
                requested["registration_id"]) == ("lamp", "1.0.0", ["Unit Tests", "More Tests"],
                                                  replay.committed)
        # The synchronous registration ran its suites in this process.
        assert [(s["name"], s["status"], s["passed"], s["failed"], s["total"], s["worker"])
                for s in (unit, more)] == [
            ("Unit Tests", "passed", 2, 0, 2, {"host": HOST, "pid": os.getpid()}),
            ("More Tests", "passed", 3, 0, 3, {"host": HOST, "pid": os.getpid()})]
        assert (decided["event"], decided["status"], decided["reason"], decided["forced"]) == (
            "decided", "committed", None, False)
        assert (decided["summary"]["passed"], decided["summary"]["total_tests"]) == (5, 5)

    def test_a_rejection_carries_its_reason_message_and_failing_cases(self, replay):
        events = sse(replay.events(replay.rejected).text)

        assert [kind for _, kind, _ in events] == ["requested", "suite", "decided"]
        suite, decided = events[1][2], events[2][2]
        assert (suite["status"], suite["passed"], suite["failed"]) == ("failed", 1, 1)
        assert [case["name"] for case in suite["failures"]] == ["test_it.TestMixed.test_fail_0"]
        assert "deliberate failure 0" in suite["failures"][0]["error_message"]
        assert (decided["status"], decided["reason"], decided["message"]) == (
            "rejected", "tests_failed", REJECTED)

    def test_last_event_id_resumes_after_that_event(self, replay):
        resumed = sse(replay.events(replay.committed, **{"Last-Event-ID": "2"}).text)
        after_the_end = sse(replay.events(replay.committed, **{"Last-Event-ID": "4"}).text)

        assert [(id_, kind) for id_, kind, _ in resumed] == [(3, "suite"), (4, "decided")]
        assert resumed[0][2]["name"] == "More Tests"
        # Past the decision there is nothing to wait for: the decision again, and the end.
        assert [(id_, kind) for id_, kind, _ in after_the_end] == [(4, "decided")]

    def test_an_unknown_id_is_a_404_before_any_stream(self, replay):
        with build_registry(Settings(home=Path(replay.env["ATTUNE_HOME"]),
                                     database_url="")) as registry:
            token_id = registry.list_tokens()[0].id  # an aggregate, but no registration

        for unknown in (str(uuid.uuid4()), token_id):
            done = replay.events(unknown)

            assert done.status_code == 404, done.text
            assert done.json() == {"error": f"Registration '{unknown}' not found",
                                   "code": "NOT_FOUND"}

    def test_a_last_event_id_that_is_no_event_version_is_refused(self, replay):
        for bad in ("x", "-1", str(2**63)):
            done = replay.events(replay.committed, **{"Last-Event-ID": bad})

            assert done.status_code == 422, (bad, done.text)
            assert done.json()["code"] == "VALIDATION_ERROR"

    def test_the_stream_needs_a_token(self, replay):
        done = replay.client.get(f"/api/v1/registrations/{replay.committed}/events")

        assert done.status_code == 401
        assert done.json()["code"] == "UNAUTHORIZED"


class TestProgress:
    def test_a_registration_shows_its_expected_and_recorded_suites(self, replay):
        done = replay.client.get(f"/api/v1/registrations/{replay.committed}",
                                 headers=replay.read)

        body = done.json()["data"]
        progress = body["progress"]
        assert (progress["status"], progress["expected"], progress["pending"]) == (
            "committed", ["Unit Tests", "More Tests"], [])
        assert [(s["name"], s["status"], s["passed"], s["total"], s["worker"]["pid"])
                for s in progress["recorded"]] == [("Unit Tests", "passed", 2, 2, os.getpid()),
                                                   ("More Tests", "passed", 3, 3, os.getpid())]
        # The fields old clients read are still there.
        assert body["registration"]["status"] == "committed" and len(body["events"]) == 4


class TestLocalWatch:
    def test_watch_prints_each_suite_then_the_decision_and_exits_0_when_committed(
            self, replay):
        suites = [data for _, kind, data in sse(replay.events(replay.committed).text)
                  if kind == "suite"]

        done = invoke(["registration", "watch", replay.committed], replay.env)

        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            f"Registration {replay.committed} of pack 'lamp' 1.0.0 (2 suites), requested by "
            "token:writer",
            *(f"  ✓ {s['name']}: {s['passed']}/{s['total']} passed in "
              f"{output.duration(s['duration_ms'])} (worker {HOST}:{os.getpid()})"
              for s in suites),
            "✓ Registration committed: pack 'lamp' 1.0.0 became active",
            "Tests: 5/5 passed"]

    def test_watch_exits_1_when_rejected_and_lists_the_failing_case(self, replay):
        done = invoke(["registration", "watch", replay.rejected], replay.env)

        assert done.returncode == 1
        lines = done.stdout.splitlines()
        assert re.fullmatch(r"  ✗ Unit Tests: 1/2 passed in \S+ s \(1 test\(s\) failed\) "
                            rf"\(worker {re.escape(HOST)}:{os.getpid()}\)", lines[1]), lines
        assert lines[2:] == [
            "    ✗ test_it.TestMixed.test_fail_0: AssertionError: 0 != 1 : deliberate failure 0",
            f"✗ Registration rejected (tests_failed): {REJECTED}",
            "Tests: 1/2 passed"]

    def test_json_prints_the_streams_data_one_object_per_line(self, replay):
        streamed = [data for _, _, data in sse(replay.events(replay.committed).text)]

        done = invoke(["registration", "watch", replay.committed, "--json"], replay.env)

        assert done.returncode == 0, done.stderr
        assert [json.loads(line) for line in done.stdout.splitlines()] == streamed

    def test_an_unknown_registration_is_an_error(self, replay):
        unknown = uuid.uuid4()

        done = invoke(["registration", "watch", str(unknown)], replay.env)

        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == f"✗ Error: Registration '{unknown}' not found\n"


class TestStreamEnds:
    def test_a_stream_without_a_decision_ends_after_its_limit_keeping_the_proxy_awake(self):
        import anyio

        from attune_registry.adapters.http.stream import messages

        reads: list[int] = []
        ticks = iter(range(0, 1000, 10))  # each look at the clock: 10 s later

        def read(after: int) -> list:
            reads.append(after)
            return []

        async def collect() -> list:
            return [m async for m in messages(read, [], after=7, limit=30, keep_alive=15,
                                              clock=lambda: next(ticks))]

        sent = anyio.run(collect)

        assert [(m.retry, m.comment, m.data) for m in sent] == [
            (1000, None, None), (None, "waiting", None)]
        assert reads == [7, 7]  # read after the resume point, then the stream ended

    def test_remote_watch_resumes_with_last_event_id_when_a_stream_ends_early(self, replay):
        from attune_registry.adapters.cli.remote import RemoteRegistry
        from attune_registry.adapters.contract import DecidedUpdate, RequestedUpdate, SuiteUpdate

        resumed_from: list[str | None] = []

        def server(request: httpx.Request) -> httpx.Response:
            # The real API, except that the first stream ends after the first suite.
            last = request.headers.get("last-event-id")
            resumed_from.append(last)
            done = replay.events(replay.committed, **({"Last-Event-ID": last} if last else {}))
            body = done.text if last else done.text.split("id: 3")[0]
            return httpx.Response(done.status_code, headers=done.headers, text=body)

        with RemoteRegistry("http://registry.invalid", "unused") as remote:
            remote.client = httpx.Client(base_url="http://registry.invalid/api/v1",
                                         transport=httpx.MockTransport(server))
            updates = list(remote.watch(UUID(replay.committed)))

        assert resumed_from == [None, "2"]
        assert [(type(u), u.originator_version) for u in updates] == [
            (RequestedUpdate, 1), (SuiteUpdate, 2), (SuiteUpdate, 3), (DecidedUpdate, 4)]

    def test_remote_watch_reports_the_apis_error(self, replay):
        from attune_registry.adapters.cli.remote import RemoteError, RemoteRegistry

        unknown = uuid.uuid4()

        def server(request: httpx.Request) -> httpx.Response:
            done = replay.events(str(unknown))
            return httpx.Response(done.status_code, headers=done.headers, text=done.text)

        with RemoteRegistry("http://registry.invalid", "unused") as remote:
            remote.client = httpx.Client(base_url="http://registry.invalid/api/v1",
                                         transport=httpx.MockTransport(server))
            with pytest.raises(RemoteError, match=f"Registration '{unknown}' not found"):
                next(remote.watch(unknown))


# --- Queued registrations on PostgreSQL, followed while real workers run them -------------


class Watch:
    """``attune registration watch`` in a process of its own; its lines are read as printed."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([ATTUNE, "registration", "watch", *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_lines(self, count: int) -> None:
        deadline = time.monotonic() + 120  # generous: only a hang fails here
        while len(self.lines) < count:
            assert self.process.poll() is None or self.reader.is_alive(), (
                f"watch exited ({self.process.returncode}): {self.lines}")
            assert time.monotonic() < deadline, f"watch printed only {self.lines}"
            time.sleep(0.05)

    def finish(self) -> tuple[int, list[str], str]:
        try:
            code = self.process.wait(timeout=300)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self.reader.join(timeout=60)
        assert self.process.stderr is not None
        return code, self.lines, self.process.stderr.read()


def suite_line(name: str, counts: str, pid: int) -> str:
    return (rf"  ✓ {name}: {counts} passed in \S+ s \(worker {re.escape(HOST)}:{pid}\)")


@pytest.mark.postgres
class TestWatchingWorkers:
    def test_watch_follows_a_queued_registration_until_the_workers_commit_it(
            self, cluster, tmp_path):
        pack = write_pack(tmp_path / "src" / "lamp", two_suites("lamp"), TWO_SUITES)
        registration_id = cluster.queue(pack)
        watch = Watch([registration_id], cluster.env("api"))
        watch.wait_for_lines(1)  # it follows the registration before any worker runs
        settings = Settings(home=tmp_path / "api", database_url=cluster.database_url)
        with build_registry(settings) as registry:
            waiting = registry.registration(UUID(registration_id)).progress

        worker = cluster.start_worker("w1", concurrency=2)
        code, lines, stderr = watch.finish()

        assert (waiting.status, waiting.recorded, waiting.pending) == (
            "requested", [], ["Unit Tests", "More Tests"])
        assert code == 0, stderr
        assert lines[0] == (f"Registration {registration_id} of pack 'lamp' 1.0.0 "
                            f"(2 suites), requested by {ACTOR}")
        # The worker runs both suites at once: they are recorded in either order.
        unit, more = sorted(lines[1:3], key=lambda line: "Unit" not in line)
        assert re.fullmatch(suite_line("Unit Tests", "2/2", worker.pid), unit), lines
        assert re.fullmatch(suite_line("More Tests", "3/3", worker.pid), more), lines
        assert lines[3:] == ["✓ Registration committed: pack 'lamp' 1.0.0 became active",
                             "Tests: 5/5 passed"]
        with build_registry(settings) as registry:
            decided = registry.registration(UUID(registration_id)).progress
        assert (decided.status, decided.pending) == ("committed", [])
        assert {(s.name, s.worker.pid if s.worker else None) for s in decided.recorded} == {
            ("Unit Tests", worker.pid), ("More Tests", worker.pid)}

    def test_watch_exits_1_when_the_workers_reject_it(self, cluster, tmp_path):
        pack = write_pack(tmp_path / "src" / "dim", manifest("dim"),
                          {"test_it.py": failing_tests(passed=1, failed=1)})
        registration_id = cluster.queue(pack)
        watch = Watch([registration_id], cluster.env("api"))
        watch.wait_for_lines(1)

        worker = cluster.start_worker("w1")
        code, lines, stderr = watch.finish()

        assert code == 1, stderr
        assert re.fullmatch(r"  ✗ Unit Tests: 1/2 passed in \S+ s \(1 test\(s\) failed\) "
                            rf"\(worker {re.escape(HOST)}:{worker.pid}\)", lines[1]), lines
        assert lines[2:] == [
            "    ✗ test_it.TestMixed.test_fail_0: AssertionError: 0 != 1 : deliberate failure 0",
            f"✗ Registration rejected (tests_failed): {REJECTED}",
            "Tests: 1/2 passed"]

    def test_remote_watch_follows_the_servers_event_stream(self, cluster, tmp_path):
        token = cluster.attune("token", "create", "watcher", "--scope", "read")
        assert token.returncode == 0, token.stderr
        url = serve(cluster)
        pack = write_pack(tmp_path / "src" / "lamp", two_suites("lamp"), TWO_SUITES)
        registration_id = cluster.queue(pack)
        # A client with no store of its own: only the API can answer it.
        remote = {**cluster.env("client"), "ATTUNE_DATABASE_URL": "",
                  "ATTUNE_API_URL": url, "ATTUNE_TOKEN": token.stdout.strip()}
        text = Watch([registration_id], remote)
        ndjson = Watch([registration_id, "--json"], remote)
        text.wait_for_lines(1)
        ndjson.wait_for_lines(1)

        worker = cluster.start_worker("w1", concurrency=2)
        text_code, text_lines, text_err = text.finish()
        json_code, json_lines, json_err = ndjson.finish()

        assert (text_code, json_code) == (0, 0), text_err + json_err
        assert f"(worker {HOST}:{worker.pid})" in text_lines[1]
        assert text_lines[-2] == "✓ Registration committed: pack 'lamp' 1.0.0 became active"
        # The same as what local mode prints, replaying it from the store now.
        local_text = cluster.attune("registration", "watch", registration_id)
        local_json = cluster.attune("registration", "watch", registration_id, "--json")
        assert text_lines == local_text.stdout.splitlines()
        assert [json.loads(line) for line in json_lines] == [
            json.loads(line) for line in local_json.stdout.splitlines()]
        assert [line["event"] for line in map(json.loads, json_lines)] == [
            "requested", "suite", "suite", "decided"]


def serve(cluster: Cluster) -> str:
    """``attune serve`` on a free port over the cluster's database, stopped with the cluster."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([ATTUNE, "serve", "--port", str(port)], env=cluster.env("api"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cluster.workers.append(process)  # terminated and awaited by cluster.stop()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # generous: CI machines are shared
    while True:
        try:
            httpx.get(f"{url}/api/v1/health", timeout=1)
            return url
        except httpx.TransportError:
            assert time.monotonic() < deadline and process.poll() is None, "no server"
            time.sleep(0.05)
