"""Queued registrations and `attune worker` processes, with real processes on PostgreSQL.

Each worker has an ``ATTUNE_HOME`` of its own (a simulated host): workers share no files with
the process that queued a registration, nor with each other; they take each release from the
database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ATTUNE
from tests.packs import failing_tests, manifest, write_pack
from tests.sandboxed import running_under, shared_folder, sharing, wait_until_gone, with_mark

pytestmark = pytest.mark.postgres

STALL_SECONDS = 3  # a lost worker's suites go back to the queue after this many seconds
RUN_SUITE = "attune.run_suite"


class Cluster:
    """One database, a "host" that queues registrations, and workers on hosts of their own."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.workers: list[subprocess.Popen[str]] = []
        self.extra_env: dict[str, str] = {}

    def env(self, host: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
        return {**base, "ATTUNE_HOME": str(self.root / host),
                "ATTUNE_DATABASE_URL": self.database_url,
                "ATTUNE_WORKER_STALL_SECONDS": str(STALL_SECONDS), **self.extra_env}

    def attune(self, *args: str, host: str = "api") -> subprocess.CompletedProcess[str]:
        return subprocess.run([ATTUNE, *args], env=self.env(host), capture_output=True,
                              text=True, timeout=300)

    def data(self, *args: str) -> object:
        done = self.attune(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["data"]

    def start_worker(self, host: str, concurrency: int = 1) -> subprocess.Popen[str]:
        log = open(self.root / f"{host}.log", "w")  # noqa: SIM115 (closed with the process)
        worker = subprocess.Popen([ATTUNE, "worker", "--concurrency", str(concurrency)],
                                  env=self.env(host), stdout=log, stderr=subprocess.STDOUT,
                                  text=True)
        log.close()
        self.workers.append(worker)
        return worker

    def queue(self, pack: Path) -> str:
        queued = self.data("pack", "register", str(pack), "--no-wait")
        assert isinstance(queued, dict) and queued["status"] == "queued"
        return str(queued["registration_id"])

    def decided(self, ref: str, deadline: float) -> dict:
        """The newest registration of ``ref`` once it is committed or rejected."""
        while True:
            rows = self.data("pack", "history", ref)
            assert isinstance(rows, list)
            if rows and rows[0]["status"] in ("committed", "rejected"):
                return rows[0]
            assert time.monotonic() < deadline, f"{ref} was not decided: {rows}"
            self.check_workers()
            time.sleep(0.2)

    def check_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is not None and worker.returncode != -signal.SIGKILL:
                raise AssertionError(f"a worker exited with {worker.returncode}: "
                                     + "".join(p.read_text() for p in self.root.glob("*.log")))

    def suites_of(self, registration_id: str) -> list[dict]:
        events = self.data("audit", registration_id)
        assert isinstance(events, dict)
        return [e["state"] for e in events["events"]
                if e["topic"] == "attune:Registration.TestSuiteCompleted"]

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            worker.wait(timeout=60)


@pytest.fixture
def cluster(postgres_database: str, tmp_path: Path) -> Iterator[Cluster]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    cluster = Cluster(tmp_path, f"{postgres_database}?schema={schema}")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_twenty_queued_registrations_are_decided_once_each_by_three_workers(cluster, tmp_path):
    packs = {}
    for n in range(20):
        ref = f"queued{n:02d}"
        tests = {"test_it.py": failing_tests(passed=2, failed=1 if n in (4, 13) else 0)}
        packs[ref] = cluster.queue(write_pack(tmp_path / "src" / ref, manifest(ref), tests))
    workers = [cluster.start_worker(f"worker{n}", concurrency=2) for n in range(3)]

    deadline = time.monotonic() + 600  # generous: only a hang fails here
    decided = {ref: cluster.decided(ref, deadline) for ref in packs}

    assert {ref: row["status"] for ref, row in decided.items()} == {
        ref: "rejected" if ref in ("queued04", "queued13") else "committed" for ref in packs}
    assert {row["id"] for row in decided.values()} == set(packs.values())
    pids = {worker.pid for worker in workers}
    for ref, registration_id in packs.items():
        [suite] = cluster.suites_of(registration_id)  # one suite, recorded once
        assert suite["worker"]["pid"] in pids, (ref, suite["worker"])
    # The workers took the releases from the database: no files of the "api" host.
    for n in range(3):
        assert not (tmp_path / f"worker{n}" / "releases").exists()
        assert list((tmp_path / f"worker{n}" / "work").iterdir()) == []


def test_a_worker_killed_mid_suite_has_its_suite_run_elsewhere_and_recorded_once(
        cluster, tmp_path):
    gate = shared_folder(tmp_path / "gate")
    started, release = gate / "started", gate / "release"
    cluster.extra_env = sharing({}, gate)
    pack = write_pack(tmp_path / "src", manifest("gated"), {"test_gated.py": with_mark(f"""
        import os, sys, time, unittest
        class TestGated(unittest.TestCase):
            def test_waits_for_the_gate(self):
                mark({str(started)!r}, "running")
                while not os.path.exists({str(release)!r}):
                    time.sleep(0.05)
    """)})
    first = cluster.start_worker("first")
    registration_id = cluster.queue(pack)
    _wait_for(started.exists, "the first worker never started the suite", [first])

    first.kill()
    first.wait(timeout=30)
    wait_until_gone(lambda: running_under([tmp_path / "first"]),
                    "the killed worker's suite outlived it")
    started.unlink()
    second = cluster.start_worker("second")
    _wait_for(started.exists, "the suite never ran again on the second worker", [second])
    release.touch()

    decided = cluster.decided("gated", time.monotonic() + 300)

    assert (decided["id"], decided["status"]) == (registration_id, "committed")
    [suite] = cluster.suites_of(registration_id)
    assert suite["worker"]["pid"] == second.pid and suite["status"] == "passed"


def test_a_queued_registration_is_cancelled_without_force_and_no_worker_runs_it(cluster,
                                                                                tmp_path):
    pack = write_pack(tmp_path / "src", manifest("waiting"))
    registration_id = cluster.queue(pack)
    locked = cluster.attune("pack", "register", str(pack))
    assert locked.returncode == 1 and "has a registration in progress" in locked.stderr

    cancelled = cluster.attune("pack", "cancel", "waiting")

    assert cancelled.returncode == 0, cancelled.stderr
    cluster.start_worker("late")
    row = cluster.decided("waiting", time.monotonic() + 60)
    assert (row["id"], row["status"], row["reason"]) == (registration_id, "rejected",
                                                         "abandoned")
    again = cluster.attune("pack", "register", str(pack), "--no-wait", "--json")
    assert again.returncode == 0, again.stderr
    row = cluster.decided("waiting", time.monotonic() + 300)
    assert row["status"] == "committed" and cluster.suites_of(registration_id) == []


def test_the_api_answers_202_with_the_registration_to_follow(cluster, tmp_path):
    from litestar.testing import TestClient

    from adapters.bootstrap import build_registry
    from adapters.http import create_app
    from adapters.settings import Settings

    settings = Settings(home=tmp_path / "api", database_url=cluster.database_url,
                        pack_roots=(tmp_path / "src",))
    pack = write_pack(tmp_path / "src" / "lamp", manifest("lamp"))
    with build_registry(settings) as registry:
        secret, _ = registry.create_token("ci", "write", actor="test")
    with TestClient(app=create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        done = client.post("/api/v1/packs/register", headers=headers,
                           json={"path": str(pack), "wait": False})
        followed = client.get(done.headers.get("location", "/missing"), headers=headers)

    assert done.status_code == 202, done.text
    body = done.json()["data"]
    assert (body["ref"], body["version"], body["suites"], body["status"]) == (
        "lamp", "1.0.0", 1, "queued")
    assert done.headers["location"] == f"/api/v1/registrations/{body['registration_id']}"
    assert followed.status_code == 200
    assert followed.json()["data"]["registration"]["status"] == "requested"
    cluster.start_worker("w")
    assert cluster.decided("lamp", time.monotonic() + 300)["status"] == "committed"


def test_the_embedded_store_refuses_queueing_and_workers(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")},
           "ATTUNE_HOME": str(tmp_path / "home")}
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))
    queued = subprocess.run([ATTUNE, "pack", "register", str(pack), "--no-wait"], env=env,
                            capture_output=True, text=True, timeout=120)
    worker = subprocess.run([ATTUNE, "worker"], env=env, capture_output=True, text=True,
                            timeout=120)
    history = subprocess.run([ATTUNE, "pack", "history", "lamp"], env=env,
                             capture_output=True, text=True, timeout=120)
    for done in (queued, worker):
        assert done.returncode == 1
        assert done.stderr.startswith("✗ Error: Queued registrations and workers need "
                                      "PostgreSQL"), done.stderr
    assert history.returncode == 1  # nothing was recorded


def _wait_for(found: Callable[[], bool], what: str,
              processes: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 120
    while not found():
        for process in processes:
            assert process.poll() is None, f"{what}: the worker exited ({process.returncode})"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
