"""A real `attune serve --workers 2` with ATTUNE_LOG_FORMAT=json (both stores): every line of
its log is a JSON object; requests are counted across both workers, whichever answers the
scrape; application events carry the request's id; a forced registration is a warning; a
registration whose client went away is still logged with its outcome; no secret is logged."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import ATTUNE
from tests.packs import failing_tests, manifest, write_pack
from tests.sandboxed import shared_folder, sharing, with_mark

HEALTH = "/api/v1/health"
HTTP_COUNT = "attune_http_request_duration_seconds_count"
DB_PASSWORD = "s3cret-log-pw"  # trust authentication: PostgreSQL never asks for it


@dataclass
class LoggedServer:
    url: str
    write: str
    read: str
    root: Path
    gate: Path
    log: Path

    def lines(self) -> list[dict]:
        """Every line written so far, each parsed as the JSON object it must be."""
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def wait_for(self, found: Callable[[dict], bool], what: str) -> dict:
        deadline = time.monotonic() + 120
        while True:
            matching = [line for line in self.lines() if found(line)]
            if matching:
                return matching[0]
            assert time.monotonic() < deadline, f"no log line with {what}"
            time.sleep(0.02)

    def scrape(self) -> tuple[dict[tuple[str, tuple], float], str]:
        """A scrape on a connection of its own, and the id of its request."""
        answer = httpx.get(f"{self.url}/metrics", headers={
            "Authorization": f"Bearer {self.read}", "Connection": "close"})
        assert answer.status_code == 200, answer.text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(answer.text)
                   for s in family.samples}
        return samples, answer.headers["x-request-id"]


def with_password(url: str) -> str:
    """A PostgreSQL URL with DB_PASSWORD in it, which must never reach the log."""
    if not url.startswith("postgresql://"):
        return url
    parts = urlsplit(url)
    user = parts.username or "postgres"
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return urlunsplit(parts._replace(netloc=f"{user}:{DB_PASSWORD}@{host}"))


@contextmanager
def logged_server(settings, tmp_path: Path) -> Iterator[LoggedServer]:
    root, gate = tmp_path / "packs", shared_folder(tmp_path / "gate")
    root.mkdir()
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = sharing({**os.environ, "ATTUNE_HOME": str(settings.home),
                   "ATTUNE_DATABASE_URL": with_password(settings.database_url),
                   "ATTUNE_PACK_ROOTS": str(root), "ATTUNE_LOG_FORMAT": "json"}, gate)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([ATTUNE, "serve", "--port", str(port), "--workers", "2"],
                                   env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{url}{HEALTH}", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, log.read_text()
                time.sleep(0.05)
        yield LoggedServer(url, write, read, root, gate, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def server(settings, tmp_path):
    with logged_server(settings, tmp_path) as server:
        yield server


def access(server: LoggedServer, route: str) -> list[dict]:
    return [line for line in server.lines()
            if line["event"] == "http.access" and line.get("route") == route]


def health_count(samples: dict) -> float:
    return samples.get((HTTP_COUNT, (("method", "GET"), ("route", HEALTH),
                                     ("status", "200"))), 0.0)


def test_requests_are_counted_across_workers_whichever_answers_the_scrape(server, settings):
    # Each request on a connection of its own, until both workers have answered some.
    sent = 0
    while len({line["pid"] for line in access(server, HEALTH)}) < 2:
        assert sent < 500, "one worker answered every request"
        assert httpx.get(f"{server.url}{HEALTH}",
                         headers={"Connection": "close"}).status_code == 200
        sent += 1
    served = len(access(server, HEALTH))  # these, and the probes that waited for the server

    # Scrape until both workers have answered a scrape: each adds up both workers' counts.
    counts, scrapers = [], set()
    while len(scrapers) < 2:
        assert len(counts) < 200, "one worker answered every scrape"
        samples, request_id = server.scrape()
        counts.append(health_count(samples))
        [line] = [line for line in access(server, "/metrics")
                  if line["request_id"] == request_id]
        scrapers.add(line["pid"])

    assert set(counts) == {served}
    assert samples[("attune_store_up", ())] == 1
    assert samples[("attune_projection_lag_events", ())] == 0
    # The queue's figures where there is a queue: on PostgreSQL.
    assert (("attune_queue_depth", ()) in samples) == bool(settings.database_url)
    # Every line is one JSON object with the same first fields, the start-up banner included.
    lines = server.lines()
    assert all(list(line)[:6] == ["time", "level", "logger", "event", "message", "pid"]
               for line in lines)
    assert lines[0]["logger"] == "attune"  # the start-up line, before uvicorn's
    assert {line["logger"] for line in lines} >= {"attune", "uvicorn.error", "uvicorn.access"}


def test_events_carry_the_request_id_a_forced_commit_warns_and_a_client_may_go(server):
    mixed = write_pack(server.root / "mixed", manifest("mixed"),
                       {"test_mixed.py": failing_tests(passed=3, failed=1)})
    slow = blocking_pack(server.root, server.gate)
    writer = {"Authorization": f"Bearer {server.write}"}

    forced = httpx.post(f"{server.url}/api/v1/packs/register", timeout=120,
                        json={"path": str(mixed), "force": True},
                        headers={**writer, "X-Request-ID": "forced-1"})
    # A client that sends a registration, then goes away while its tests run.
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as client:
        body = json.dumps({"path": str(slow)}).encode()
        client.sendall(b"POST /api/v1/packs/register HTTP/1.1\r\nHost: test\r\n"
                       b"Content-Type: application/json\r\nX-Request-ID: gone-1\r\n"
                       b"Authorization: Bearer " + server.write.encode() + b"\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        wait_until(lambda: (server.gate / "started").exists(), "the slow test to start")
    (server.gate / "release").touch()

    assert (forced.status_code, forced.headers["x-request-id"]) == (201, "forced-1")
    warned = server.wait_for(lambda line: line["event"] == "registration.decided"
                             and line.get("request_id") == "forced-1", "the forced decision")
    assert {k: warned[k] for k in ("level", "outcome", "ref", "actor", "passed", "total")} == {
        "level": "warning", "outcome": "forced", "ref": "mixed", "actor": "token:writer",
        "passed": 3, "total": 4}
    requested = server.wait_for(lambda line: line["event"] == "registration.requested"
                                and line.get("request_id") == "forced-1", "the request")
    assert requested["registration_id"] == warned["registration_id"]
    [answered] = [line for line in access(server, "/api/v1/packs/register")
                  if line["request_id"] == "forced-1"]
    assert (answered["status"], answered["actor"]) == (201, "token:writer")
    # Nobody was there for the answer; the registration was decided and logged all the same.
    gone = server.wait_for(lambda line: line["event"] == "registration.decided"
                           and line.get("request_id") == "gone-1", "the abandoned client's")
    assert (gone["outcome"], gone["ref"], gone["level"]) == ("committed", "slow", "info")
    samples, _ = server.scrape()
    decided = {outcome: samples[("attune_registrations_total",
                                 (("outcome", outcome), ("trigger", "register")))]
               for outcome in ("committed", "forced", "rejected")}
    assert decided == {"committed": 1, "forced": 1, "rejected": 0}
    text = server.log.read_text()
    for secret in (server.write, server.read, server.write.split("_", 2)[2], DB_PASSWORD):
        assert secret not in text


def blocking_pack(root: Path, gate: Path) -> Path:
    """A pack whose one test marks ``gate/started``, then waits for ``gate/release``."""
    started, release = gate / "started", gate / "release"
    return write_pack(root / "slow", manifest("slow"), {"test_wait.py": with_mark(f"""
        import pathlib, time, unittest
        class TestWait(unittest.TestCase):
            def test_waits_for_release(self):
                mark({str(started)!r})
                deadline = time.monotonic() + 120
                while not pathlib.Path({str(release)!r}).exists():
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.02)
    """)})


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
