"""Queued registrations and their dependencies, on PostgreSQL: a worker on another "host" (its
own ATTUNE_HOME, no releases of its own) gets the releases a suite depends on from the
database, and the worker that decides an upgrade runs the dependents' suites."""

from __future__ import annotations

import json
import time

import pytest

from tests.cluster import Cluster
from tests.dependent_packs import BROKEN_GREETING, core, web

pytestmark = pytest.mark.postgres


def test_workers_see_dependencies_and_run_an_upgrades_dependents(cluster: Cluster, tmp_path):
    assert cluster.attune("pack", "register", str(core(tmp_path, "1.0.0"))).returncode == 0
    web_pack = web(tmp_path)
    assert cluster.attune("pack", "register", str(web_pack)).returncode == 0

    outside = cluster.attune("pack", "register", str(core(tmp_path, "2.0.0")), "--replace",
                             "--no-wait")
    assert outside.returncode == 1
    assert "web (needs core ^1)" in outside.stderr  # refused before anything is queued

    cluster.start_worker("w")
    deadline = time.monotonic() + 300
    # web's own suite, on the worker, reads core from PACKS_PATH.
    cluster.data("pack", "register", str(web_pack), "--replace", "--no-wait")
    assert cluster.decided("web", deadline)["status"] == "committed"

    cluster.data("pack", "register", str(core(tmp_path, "1.2.0", BROKEN_GREETING)),
                 "--replace", "--no-wait")
    broken = cluster.decided("core", deadline)
    assert (broken["pack_version"], broken["status"], broken["reason"]) == (
        "1.2.0", "rejected", "dependents_failed")

    cluster.data("pack", "register", str(core(tmp_path, "1.1.0")), "--replace", "--no-wait")
    upgraded = cluster.decided("core", deadline)
    assert (upgraded["pack_version"], upgraded["status"]) == ("1.1.0", "committed")

    runs = cluster.data("pack", "test-history", "web", "--trigger", "dependency")
    assert [(run["status"], run["outcome"]) for run in runs] == [
        ("passed", "dependency"), ("failed", "dependency")]
    shown = cluster.attune("pack", "show", "core", "--json")
    assert json.loads(shown.stdout)["data"]["pack"]["version"] == "1.1.0"
