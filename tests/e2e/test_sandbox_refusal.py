"""Where no sandbox works, `attune` refuses to run tests, naming the setting, and records
nothing: never a silent run without a sandbox.

The machine without one is made here: `attune` runs inside a user namespace of bubblewrap's
that may create no further user namespaces, with the `bwrap` binary hidden, as a non-root uid.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ATTUNE, _running_in_ci
from tests.packs import manifest, write_pack


@pytest.fixture
def bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        if _running_in_ci():
            pytest.fail("bubblewrap is missing under CI=true")
        pytest.skip("bubblewrap is needed to build a machine without a sandbox")
    return found


def without_any_sandbox(bwrap: str, *args: str, env: dict[str, str]):
    return subprocess.run(
        [bwrap, "--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns",
         "--unshare-pid", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
         "--ro-bind", "/dev/null", bwrap, "--", ATTUNE, *args],
        env=env, capture_output=True, text=True, timeout=300)


def test_auto_refuses_to_run_tests_and_records_nothing(bwrap, tmp_path):
    pack = write_pack(tmp_path / "mypack", manifest("mypack"))
    env = {**os.environ, "ATTUNE_HOME": str(tmp_path / "home"), "ATTUNE_DATABASE_URL": ""}
    env.pop("ATTUNE_SANDBOX", None)

    done = without_any_sandbox(bwrap, "pack", "register", str(pack), env=env)
    listed = without_any_sandbox(bwrap, "pack", "list", env=env)

    assert done.returncode == 1, done.stderr
    [error] = done.stderr.splitlines()
    assert error.startswith("✗ Error: no sandbox can run pack tests on this machine: "
                            "bubblewrap is not installed")
    assert "set ATTUNE_SANDBOX=off" in error
    assert listed.stdout.strip() == "No packs registered."


def test_off_runs_the_tests_and_says_so(bwrap, tmp_path):
    pack = write_pack(tmp_path / "mypack", manifest("mypack"))
    env = {**os.environ, "ATTUNE_HOME": str(tmp_path / "home"), "ATTUNE_DATABASE_URL": "",
           "ATTUNE_SANDBOX": "off"}

    done = without_any_sandbox(bwrap, "pack", "register", str(pack), env=env)

    assert done.returncode == 0, done.stderr
    assert ("  Sandbox OFF (ATTUNE_SANDBOX=off): tests ran with the registry's own access to "
            "files, processes and network") in done.stderr.splitlines()
