"""A registration stopped from outside never leaves its ref locked: SIGTERM and SIGHUP are
handled like Ctrl-C, and ``attune pack cancel`` ends one whose process died without a word
(SIGKILL, a lost machine). The real ``attune`` entry point: a process is the subject."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack
from tests.sandboxed import running_under, running_with, sharing, stuck_pack, wait_until_gone


@pytest.fixture
def stuck(attune, tmp_path):
    """A pack whose one test waits forever, and how to start registering it: ``start()``
    returns the process once its test runs."""
    pack = stuck_pack(tmp_path)
    env = sharing(attune.env, pack.gate)

    def start() -> subprocess.Popen[str]:
        run = subprocess.Popen([ATTUNE, "pack", "register", str(pack.path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not pack.started.exists():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the registration never started its test"
            time.sleep(0.02)
        return run

    start.pack = pack.path  # type: ignore[attr-defined]
    start.child = pack.child  # type: ignore[attr-defined]
    return start


def history(attune) -> list[dict]:
    done = attune("pack", "history", "stuck", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def gone(stuck, settings) -> None:
    wait_until_gone(lambda: running_with(stuck.child[-1]) + running_under([settings.home]),
                    "the suite's processes outlived the stopped registration")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_termination_signal_records_the_attempt_and_frees_the_ref(attune, settings, stuck,
                                                                    signum):
    run = stuck()
    run.send_signal(signum)
    run.communicate(timeout=60)

    assert run.returncode == 128 + signum
    gone(stuck, settings)
    [row] = history(attune)
    assert (row["status"], row["reason"]) == ("rejected", "tests_not_executed")
    # No snapshot is left behind, and the ref is free at once: no lease to wait out.
    assert [p.name for p in (settings.home / "work").iterdir()] == []
    again = attune("pack", "register", str(stuck.pack), "--skip-tests")
    assert again.returncode == 0, again.stderr


def test_a_killed_registration_is_cancelled_by_its_next_user(attune, settings, stuck):
    run = stuck()
    run.kill()
    run.communicate(timeout=60)
    gone(stuck, settings)

    locked = attune("pack", "register", str(stuck.pack), "--skip-tests")
    assert locked.returncode == 1
    [row] = history(attune)
    # The refusal names the registration, when it started and when its lease expires.
    message = locked.stderr.strip()
    assert message.startswith(f"✗ Error: Pack 'stuck' has a registration in progress "
                              f"({row['id']}, started ")
    assert ", lease expires " in message
    assert message.endswith("try again when it finishes, or end it with "
                            "`attune pack cancel stuck` if its process is gone")

    cancelled = attune("pack", "cancel", "stuck", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["data"]["registration_id"] == row["id"]
    [row] = history(attune)
    assert (row["status"], row["reason"]) == ("rejected", "abandoned")
    audit = json.loads(attune("audit", row["id"], "--json").stdout)["data"]
    rejected = next(e for e in audit["events"] if e["topic"].endswith("RegistrationRejected"))
    assert rejected["state"]["actor"].startswith("cli:")
    assert rejected["state"]["message"].endswith("(its process is gone)")
    assert attune("pack", "register", str(stuck.pack), "--skip-tests").returncode == 0


def test_a_live_registration_is_cancelled_only_with_force(attune, settings, stuck):
    run = stuck()
    try:
        refused = attune("pack", "cancel", "stuck")
        assert refused.returncode == 1
        assert "whose process may still be running" in refused.stderr
        assert history(attune)[0]["status"] in ("requested", "testing")

        forced = attune("pack", "cancel", "stuck", "--force")
        assert forced.returncode == 0, forced.stderr
        again = attune("pack", "register", str(stuck.pack), "--skip-tests", "--json")
        assert again.returncode == 0, again.stderr
    finally:
        run.terminate()
        run.communicate(timeout=60)
    gone(stuck, settings)
    # The same content, so the same release: the cancelled process wrote it, and left it to
    # the registration that is active now.
    digest = json.loads(again.stdout)["data"]["pack"]["content_digest"]
    assert (settings.home / "releases" / digest / "pack.yaml").is_file()
    # The cancelled process recorded nothing more: its row stays the cancelled one.
    rows = history(attune)
    assert [(r["status"], r["reason"]) for r in rows] == [("committed", None),
                                                           ("rejected", "abandoned")]
    assert run.returncode == 128 + signal.SIGTERM


def test_nothing_to_cancel_is_a_clear_error(attune, tmp_path):
    pack = write_pack(tmp_path / "idle", manifest("idle"))
    assert attune("pack", "register", str(pack), "--skip-tests").returncode == 0
    refused = attune("pack", "cancel", "idle")
    assert (refused.returncode, refused.stderr.strip()) == (
        1, "✗ Error: Pack 'idle' has no registration in progress")
    unknown = attune("pack", "cancel", "never-seen")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1, "✗ Error: Pack 'never-seen' not found")


def test_the_api_cancels_with_a_token_of_write_scope(settings, tmp_path):
    """``POST /api/v1/packs/{ref}/cancel``: 409 while nothing is in flight, 404 for an unknown
    ref (the HTTP path is the same service call the CLI makes)."""
    from litestar.testing import TestClient

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app

    pack = write_pack(tmp_path / "idle", manifest("idle"))
    with build_registry(settings) as registry:
        from attune_registry.application.commands import RegisterCommand

        registry.register(RegisterCommand(path=str(pack), skip_tests=True))
        secret, _ = registry.create_token("ops", "write", actor="admin")
    with TestClient(app=create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        nothing = client.post("/api/v1/packs/idle/cancel", headers=headers)
        unknown = client.post("/api/v1/packs/never-seen/cancel", headers=headers)
        anonymous = client.post("/api/v1/packs/idle/cancel")
    assert (nothing.status_code, nothing.json()["error"]) == (
        409, "Pack 'idle' has no registration in progress")
    assert unknown.status_code == 404
    assert anonymous.status_code == 401


def test_cancel_help_explains_when_it_applies():
    done = subprocess.run([ATTUNE, "pack", "cancel", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "process running it is gone" in " ".join(done.stdout.split())
    assert "--force" in done.stdout
