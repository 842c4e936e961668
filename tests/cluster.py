"""A cluster of simulated hosts on one PostgreSQL database: a host that queues registrations
and `attune worker` processes, each with an ``ATTUNE_HOME`` of its own (no shared files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack
from tests.sandboxed import shared_folder, sharing, with_mark

STALL_SECONDS = 3  # a lost worker's suites go back to the queue after this many seconds


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


@dataclass(frozen=True)
class GatedPack:
    """A pack whose one test marks ``started`` and then waits until ``release`` exists."""

    path: Path
    started: Path
    release: Path


def gated_pack(cluster: Cluster, folder: Path, ref: str = "gated") -> GatedPack:
    """Write a ``GatedPack`` under ``folder``; the cluster's processes share its gate (the
    suite runs sandboxed, on a worker or a server)."""
    gate = shared_folder(folder / "gate")
    started, release = gate / "started", gate / "release"
    cluster.extra_env = sharing(cluster.extra_env, gate)
    pack = write_pack(folder / "src" / ref, manifest(ref), {"test_gated.py": with_mark(f"""
        import os, time, unittest
        class TestGated(unittest.TestCase):
            def test_waits_for_the_gate(self):
                mark({str(started)!r}, "running")
                while not os.path.exists({str(release)!r}):
                    time.sleep(0.05)
    """)})
    return GatedPack(pack, started, release)


def wait_for(found: Callable[[], bool], what: str,
             processes: Sequence[subprocess.Popen[str]] = ()) -> None:
    """Poll until ``found``; fail naming ``what`` if a process exits or a generous deadline
    passes (only a hang fails here)."""
    deadline = time.monotonic() + 120
    while not found():
        for process in processes:
            assert process.poll() is None, f"{what}: a process exited ({process.returncode})"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
