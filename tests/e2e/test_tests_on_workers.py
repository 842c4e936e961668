"""ATTUNE_RUN_TESTS=workers: a server that never runs tests itself, yet answers a waiting
client as the specification says; and installs queued with --no-wait."""

from __future__ import annotations

import os
import time

import pytest

from tests.cluster import Cluster, gated_pack, wait_for
from tests.packs import failing_tests, manifest, write_pack
from tests.remote_packs import make_archive

pytestmark = pytest.mark.postgres

REJECTED = "Pack registration failed: tests did not pass. Use force=true to register anyway."


def test_a_waiting_client_gets_the_specification_answers_from_workers(cluster: Cluster,
                                                                      tmp_path):
    from litestar.testing import TestClient

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app
    from attune_registry.adapters.settings import Settings

    settings = Settings(home=tmp_path / "api", database_url=cluster.database_url,
                        pack_roots=(tmp_path / "src",), run_tests_setting="workers")
    good = write_pack(tmp_path / "src" / "lamp", manifest("lamp"))
    bad = write_pack(tmp_path / "src" / "bulb", manifest("bulb"),
                     {"test_it.py": failing_tests(passed=1, failed=1)})
    with build_registry(settings) as registry:
        secret, _ = registry.create_token("ci", "write", actor="test")
    worker = cluster.start_worker("w")
    with TestClient(app=create_app(settings), timeout=600) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        passed = client.post("/api/v1/packs/register", headers=headers,
                             json={"path": str(good)})
        failed = client.post("/api/v1/packs/register", headers=headers,
                             json={"path": str(bad)})

    assert passed.status_code == 201, passed.text
    body = passed.json()["data"]
    assert body["test_result"]["status"] == "passed" and body["test_result"]["total_tests"] == 2
    assert [case["status"] for case in body["test_result"]["test_suites"][0]["test_cases"]] == [
        "passed", "passed"]
    refused = failed.json()
    assert (failed.status_code, refused["error"], refused["code"]) == (400, REJECTED,
                                                                       "BAD_REQUEST")
    # The evidence comes from the results the workers recorded.
    [evidence] = refused["details"]
    assert [(c["case"], c["message"]) for c in evidence["failing_cases"]] == [
        ("test_it.TestMixed.test_fail_0", "AssertionError: 0 != 1 : deliberate failure 0")]
    assert evidence["summary"]["failed"] == 1
    # The suites ran on the worker, not in this process (the API's).
    [suite] = cluster.suites_of(body["pack"]["registration_id"])
    assert suite["worker"]["pid"] == worker.pid != os.getpid()


def test_an_install_is_fetched_here_and_tested_by_a_worker(cluster: Cluster, tmp_path):
    archive = make_archive(write_pack(tmp_path / "src", manifest("lamp")),
                           tmp_path / "lamp-1.0.0.tar.gz")
    queued = cluster.data("pack", "install", str(archive), "--no-wait")
    assert isinstance(queued, dict) and queued["status"] == "queued"
    cluster.start_worker("w")

    row = cluster.decided("lamp", time.monotonic() + 300)

    assert (row["id"], row["status"], row["trigger_reason"]) == (
        queued["registration_id"], "committed", "install")
    assert row["origin"]["type"] == "archive"
    assert row["source_path"] == str(tmp_path / "api" / "releases" / row["content_digest"])


def test_sigterm_lets_a_running_suite_finish_on_its_worker(cluster: Cluster, tmp_path):
    import signal

    gated = gated_pack(cluster, tmp_path)
    pack, started, release = gated.path, gated.started, gated.release
    worker = cluster.start_worker("w")
    registration_id = cluster.queue(pack)
    wait_for(started.exists, "the suite never started", [worker])

    worker.send_signal(signal.SIGTERM)
    # Still running its suite: it waits for the gate, not for a time.
    assert worker.poll() is None
    release.touch()
    assert worker.wait(timeout=120) == 0

    row = cluster.decided("gated", time.monotonic() + 60)
    assert (row["id"], row["status"]) == (registration_id, "committed")
    [suite] = cluster.suites_of(registration_id)
    assert suite["worker"]["pid"] == worker.pid


def test_a_client_that_hangs_up_can_still_read_the_decision(cluster: Cluster, tmp_path):
    """A waiting client of a server whose tests run on workers gives up before the decision:
    the registration carries on, and the client finds how it ended."""
    import socket
    import subprocess

    import httpx

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.settings import Settings

    from tests.conftest import ATTUNE
    gated = gated_pack(cluster, tmp_path)
    pack, started, release, root = gated.path, gated.started, gated.release, tmp_path / "src"
    settings = Settings(home=tmp_path / "api", database_url=cluster.database_url)
    with build_registry(settings) as registry:
        secret, _ = registry.create_token("ci", "write", actor="test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**cluster.env("api"), "ATTUNE_RUN_TESTS": "workers", "ATTUNE_PACK_ROOTS": str(root)}
    server = subprocess.Popen([ATTUNE, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.05)
        cluster.start_worker("w")
        headers = {"Authorization": f"Bearer {secret}"}
        # The suite waits for the gate: the client gives up first, whatever the speed.
        with httpx.Client(timeout=httpx.Timeout(5, read=1)) as client, \
                pytest.raises(httpx.ReadTimeout):
            client.post(f"{url}/packs/register", headers=headers, json={"path": str(pack)})
        wait_for(started.exists, "the suite never started on the worker")
        release.touch()

        row = cluster.decided("gated", time.monotonic() + 300)
        found = httpx.get(f"{url}/registrations/{row['id']}", headers=headers, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert row["status"] == "committed"
    assert found.json()["data"]["registration"]["status"] == "committed"
