"""`attune worker` with ATTUNE_LOG_FORMAT=json: the worker that records a queued registration's
last suite decides it, and logs the decision (a forced commit as a warning) as JSON."""

from __future__ import annotations

import json
import time

import pytest

from tests.cluster import Cluster
from tests.packs import failing_tests, manifest, write_pack

pytestmark = pytest.mark.postgres


def test_a_worker_logs_the_suites_it_runs_and_the_registration_it_decides(cluster: Cluster,
                                                                          tmp_path):
    cluster.extra_env = {"ATTUNE_LOG_FORMAT": "json"}
    pack = write_pack(tmp_path / "mixed", manifest("mixed"),
                      {"test_mixed.py": failing_tests(passed=2, failed=1)})
    worker = cluster.start_worker("w1")
    queued = cluster.data("pack", "register", str(pack), "--force", "--no-wait")
    assert isinstance(queued, dict)

    decided = cluster.decided("mixed", deadline=time.monotonic() + 180)

    assert (decided["status"], decided["forced"]) == ("committed", True)
    log = tmp_path / "w1.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    events = {line["event"]: line for line in lines if line["logger"] == "attune.events"}
    assert set(events) == {"suite.completed", "registration.decided"}
    suite, decision = events["suite.completed"], events["registration.decided"]
    assert suite["pid"] == decision["pid"] == worker.pid
    assert (suite["registration_id"], suite["passed"], suite["failed"]) == (
        queued["registration_id"], 2, 1)
    assert (decision["registration_id"], decision["level"], decision["outcome"],
            decision["ref"], decision["actor"]) == (
        queued["registration_id"], "warning", "forced", "mixed", decided["requested_by"])
