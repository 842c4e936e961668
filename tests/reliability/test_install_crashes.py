"""Installs that die before their decision, and `attune pack prune`, on both stores.

A refused install removes its release itself; one killed with SIGKILL cannot. Its release is
kept while its lease says it may still be testing, and `pack prune` removes it once the lease
has expired (or the registration was rolled back and is past the retention).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.packs import manifest, write_pack
from tests.reliability.test_races_and_crashes import (
    LEASE_GRACE_SECONDS,
    REF,
    SUITE_TIMEOUT,
    Gate,
    data,
    gated_pack,
    run,
    start,
    store_facts,
    wait_past,
    wait_until,
)
from tests.sandboxed import wait_until_gone

pytestmark = pytest.mark.reliability


def installed(settings) -> list[str]:
    """The digests of the releases kept."""
    root = settings.home / "releases"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def pruned(env: dict[str, str], *args: str) -> list[str]:
    return [Path(p).name for p in data(run(env, "pack", "prune", "--json", *args))["removed"]]


def test_a_killed_install_keeps_its_files_while_leased_and_prune_removes_them_after(
        attune, settings, tmp_path):
    gate = Gate.make(tmp_path / "gate")
    env = gate.env({**attune.env, "ATTUNE_LEASE_GRACE_SECONDS": str(LEASE_GRACE_SECONDS)})
    pack = gated_pack(tmp_path / "src", "1.0.0", gate, timeout=SUITE_TIMEOUT)

    installing = start(env, "pack", "install", str(pack))
    wait_until(gate.started.exists, "the test never started", watch=[installing])
    wait_until(lambda: all(gate.processes(settings.home).values()),
               "the test, its child and its daemon running", watch=[installing])
    [content] = installed(settings)  # copied into the store before the tests ran
    installing.send_signal(signal.SIGKILL)
    installing.wait()
    wait_until_gone(gate.running(settings.home),
                    "the test's processes outlived the killed registry", timeout=15)

    assert data(run(env, "pack", "list", "--json")) == []  # nothing half active
    assert pruned(env) == [] and installed(settings) == [content]  # it may still be testing

    wait_past(store_facts(settings, REF)["lease_expires"])
    assert pruned(env, "--dry-run") == [content] and installed(settings) == [content]
    assert pruned(env) == [content]
    assert installed(settings) == []

    gate.release.touch()  # the test passes at once from now on
    again = run(env, "pack", "install", str(pack), "-q")
    assert again.returncode == 0, again.stderr
    assert installed(settings) == [content]
    history = data(run(env, "pack", "history", REF, "--json"))
    assert [(h["status"], h["reason"]) for h in history] == [("committed", None),
                                                            ("rejected", "abandoned")]


def test_prune_keeps_what_a_rollback_can_restore_and_removes_what_was_rolled_back(
        attune, settings, tmp_path):
    v1 = write_pack(tmp_path / "v1", manifest(REF, "1.0.0"))
    v2 = write_pack(tmp_path / "v2", manifest(REF, "2.0.0"))
    digests = []
    for pack in (v1, v2):
        done = attune("pack", "install", str(pack), "--replace", "--json")
        digests.append(data(done)["pack"]["content_digest"])
    first, second = digests
    assert installed(settings) == sorted(digests)
    env = {**attune.env, "ATTUNE_KEEP_RELEASES": "0"}  # only what a rollback can restore
    assert pruned(env) == []  # 2.0.0 is active, 1.0.0 restorable

    assert attune("pack", "rollback", REF).returncode == 0
    assert pruned({**env, "ATTUNE_KEEP_RELEASES": "2"}) == []  # the two newest are retained
    assert pruned(env) == [second]
    assert installed(settings) == [first]
    verified = attune("pack", "verify", REF)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_prune_refuses_remote_mode(attune):
    done = attune("--api-url", "http://127.0.0.1:9", "pack", "prune")
    assert done.returncode == 1
    assert "`attune pack prune` works on the local store only" in done.stderr
