"""Queued registrations and `attune worker` processes, with real processes on PostgreSQL.

Each worker has an ``ATTUNE_HOME`` of its own (a simulated host): workers share no files with
the process that queued a registration, nor with each other; they take each release from the
database.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.cluster import STALL_SECONDS, Cluster, gated_pack, wait_for
from tests.conftest import ATTUNE
from tests.packs import failing_tests, manifest, write_pack
from tests.sandboxed import running_under, wait_until_gone

pytestmark = pytest.mark.postgres


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
    gated = gated_pack(cluster, tmp_path)
    pack, started, release = gated.path, gated.started, gated.release
    first = cluster.start_worker("first")
    registration_id = cluster.queue(pack)
    wait_for(started.exists, "the first worker never started the suite", [first])

    first.kill()
    first.wait(timeout=30)
    wait_until_gone(lambda: running_under([tmp_path / "first"]),
                    "the killed worker's suite outlived it")
    started.unlink()
    second = cluster.start_worker("second")
    wait_for(started.exists, "the suite never ran again on the second worker", [second])
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

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app
    from attune_registry.adapters.settings import Settings

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


# `attune workers`, `GET /api/v1/workers` and the queue's figures in `GET /api/v1/health`.

def test_attune_workers_lists_each_worker_alive_with_its_concurrency_and_running_suite(
        cluster, tmp_path):
    import re
    from datetime import datetime

    gated = gated_pack(cluster, tmp_path)
    pack, started, release = gated.path, gated.started, gated.release
    first = cluster.start_worker("first", concurrency=2)
    second = cluster.start_worker("second")

    # Both workers list themselves once they are up.
    listed = _workers_until(cluster, lambda rows: {first.pid, second.pid} <= rows.keys(),
                            "the workers never listed themselves")

    assert {pid: (row["state"], row["concurrency"], row["running"])
            for pid, row in listed.items()} == {first.pid: ("alive", 2, []),
                                                second.pid: ("alive", 1, [])}
    assert {row["name"] for row in listed.values()} == {
        f"{row['host']}:{row['pid']}" for row in listed.values()}

    # A queued suite waits at the gate: the worker running it says so.
    registration_id = cluster.queue(pack)
    wait_for(started.exists, "no worker started the suite", [first, second])
    busy = _workers_until(cluster, lambda rows: any(row["running"] for row in rows.values()),
                          "no worker showed the suite running")
    text = cluster.attune("workers")

    [(pid, running)] = [(pid, row["running"]) for pid, row in busy.items() if row["running"]]
    assert [(r["registration_id"], r["suite"]) for r in running] == [
        (registration_id, "Unit Tests")]
    assert datetime.fromisoformat(running[0]["since"]).tzinfo is not None
    assert text.returncode == 0, text.stderr
    header, *lines = text.stdout.splitlines()
    assert re.split(r"\s{2,}", header) == ["NAME", "STATE", "CONCURRENCY", "LAST SEEN",
                                           "RUNNING"]
    cells = {int(c[0].rsplit(":", 1)[1]): c
             for c in (re.split(r"\s{2,}", line) for line in lines)}
    assert cells.keys() == {first.pid, second.pid}
    assert cells[pid][1:3] == [busy[pid]["state"], str(busy[pid]["concurrency"])]
    assert re.fullmatch(r"\d+ s ago", cells[pid][3]), cells[pid]
    assert cells[pid][4] == f"{registration_id[:8]} Unit Tests"

    # Once the suite is over, nothing shows as running.
    release.touch()
    assert cluster.decided("gated", time.monotonic() + 300)["status"] == "committed"
    _workers_until(cluster, lambda rows: not any(row["running"] for row in rows.values()),
                   "the finished suite still shows as running")


def test_a_killed_worker_is_shown_lost_and_a_stopped_one_leaves_the_list(cluster,
                                                                          postgres_database):
    import psycopg

    doomed = cluster.start_worker("doomed")
    stopped = cluster.start_worker("stopped")
    _workers_until(cluster, lambda rows: {doomed.pid, stopped.pid} <= rows.keys(),
                   "the workers never listed themselves")

    # SIGKILL: no chance to leave the list; silent for STALL_SECONDS, it shows as lost.
    doomed.kill()
    doomed.wait(timeout=30)
    lost = _workers_until(cluster, lambda rows: rows[doomed.pid]["state"] == "lost",
                          "the killed worker was never shown lost", [stopped])

    assert lost[doomed.pid]["seen_seconds_ago"] >= STALL_SECONDS
    assert stopped.pid in lost

    # SIGTERM: the worker stops cleanly and removes itself before it exits.
    stopped.terminate()

    assert stopped.wait(timeout=60) == 0
    left = _workers(cluster)
    assert stopped.pid not in left and left[doomed.pid]["state"] == "lost"

    # Silent for ten stall times (made so here), the lost one goes when a worker starts.
    schema = cluster.database_url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".attune_worker SET last_seen = now() - '
                     "make_interval(secs => 11 * stall_seconds) WHERE pid = %s", (doomed.pid,))
    late = cluster.start_worker("late")
    listed = _workers_until(cluster, lambda rows: late.pid in rows,
                            "the new worker never listed itself", [late])

    assert listed.keys() == {late.pid}


def test_health_counts_queued_suites_until_workers_decide_them(cluster, tmp_path):
    from litestar.testing import TestClient

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app
    from attune_registry.adapters.settings import Settings

    settings = Settings(home=tmp_path / "api", database_url=cluster.database_url,
                        pack_roots=(tmp_path / "src",))
    refs = ("first", "second")
    for ref in refs:
        cluster.queue(write_pack(tmp_path / "src" / ref, manifest(ref)))
    with build_registry(settings) as registry:
        secret, _ = registry.create_token("ops", "read", actor="test")
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(app=create_app(settings)) as client:
        # No worker yet: both suites wait.
        waiting = client.get("/api/v1/health").json()["data"]
        nobody = client.get("/api/v1/workers", headers=headers).json()

        worker = cluster.start_worker("w")
        decided = [cluster.decided(ref, time.monotonic() + 300)["status"] for ref in refs]
        drained = client.get("/api/v1/health").json()["data"]
        deadline = time.monotonic() + 120
        while not (listed := client.get("/api/v1/workers", headers=headers).json())["data"]:
            assert time.monotonic() < deadline, "the worker never listed itself"
            time.sleep(0.2)
        anonymous = client.get("/api/v1/workers")

    assert (waiting["store"], waiting["queue_depth"], waiting["workers_alive"]) == (
        "postgres", 2, 0)
    assert waiting["oldest_queued_seconds"] >= 0
    assert nobody == {"data": [], "queue": "postgres"}
    assert decided == ["committed", "committed"]
    assert (drained["queue_depth"], drained["oldest_queued_seconds"]) == (0, None)
    assert listed["queue"] == "postgres"
    assert [(row["pid"], row["concurrency"]) for row in listed["data"]] == [(worker.pid, 1)]
    assert anonymous.status_code == 401


def test_the_embedded_store_has_no_workers_to_list(tmp_path):
    from litestar.testing import TestClient

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app
    from attune_registry.adapters.settings import Settings

    settings = Settings(home=tmp_path / "home", database_url="")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")},
           "ATTUNE_HOME": str(settings.home)}
    with build_registry(settings) as registry:
        secret, _ = registry.create_token("ops", "read", actor="test")
    with TestClient(app=create_app(settings)) as client:
        listed = client.get("/api/v1/workers", headers={"Authorization": f"Bearer {secret}"})
        health = client.get("/api/v1/health").json()["data"]

    cli = subprocess.run([ATTUNE, "workers"], env=env, capture_output=True, text=True,
                         timeout=120)

    assert listed.status_code == 200 and listed.json() == {"data": [], "queue": None}
    assert (health["store"], health["queue_depth"], health["oldest_queued_seconds"],
            health["workers_alive"]) == ("sqlite", None, None, None)
    assert cli.returncode == 1
    assert cli.stderr.startswith("✗ Error: Queued registrations and workers need PostgreSQL")


def test_attune_workers_in_remote_mode_asks_the_api(server):
    env = {**server.env, "ATTUNE_API_URL": server.url, "ATTUNE_TOKEN": server.read_token}

    done = subprocess.run([ATTUNE, "workers", "--json"], env=env, capture_output=True,
                          text=True, timeout=120)

    if server.env["ATTUNE_DATABASE_URL"].startswith("postgresql"):
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"data": [], "queue": "postgres"}
    else:
        assert done.returncode == 1
        assert json.loads(done.stdout)["error"].startswith(
            "Queued registrations and workers need PostgreSQL")


def _workers(cluster: Cluster) -> dict[int, dict]:
    """``attune workers --json``, by pid."""
    rows = cluster.data("workers")
    assert isinstance(rows, list)
    return {row["pid"]: row for row in rows}


def _workers_until(cluster: Cluster, found: Callable[[dict[int, dict]], bool], what: str,
                   running: list[subprocess.Popen[str]] | None = None) -> dict[int, dict]:
    """The workers listed once ``found`` holds of them (polled, with a generous deadline);
    the processes in ``running`` (every worker started, by default) must not exit."""
    deadline = time.monotonic() + 120
    while True:
        rows = _workers(cluster)
        if found(rows):
            return rows
        for process in cluster.workers if running is None else running:
            assert process.poll() is None, f"{what}: a worker exited ({process.returncode})"
        assert time.monotonic() < deadline, f"{what}: {rows}"
        time.sleep(0.2)
