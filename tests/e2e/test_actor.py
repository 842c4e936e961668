"""Who the CLI records as acting: the operating-system account of the process, from its
effective uid, never a name from the environment."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess

import pytest

from tests.conftest import ATTUNE, CORE_PACK

# The account these tests run as, looked up as the registry looks it up.
ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name
# Everything a program could take a user name from.
CLAIMS = {"LOGNAME": "alice", "USER": "alice", "LNAME": "alice", "USERNAME": "alice"}


def as_alice(cli):
    cli.env = {**cli.env, **CLAIMS}
    return cli


class TestTheLocalActor:
    def test_logname_does_not_make_you_alice(self, cli):
        as_alice(cli)

        assert cli("pack", "register", str(CORE_PACK), "--skip-tests", "-q").returncode == 0
        assert cli("token", "create", "ci", "--scope", "read").returncode == 0
        assert cli("pack", "unregister", "core").returncode == 0

        [registration] = json.loads(cli("pack", "history", "core", "--json").stdout)["data"]
        [token] = json.loads(cli("token", "list", "--json").stdout)["data"]
        audit = json.loads(cli("audit", registration["id"], "--json").stdout)["data"]
        rolled_back = [event["state"] for event in audit["events"]
                       if event["topic"].endswith("RegistrationRolledBack")]
        assert registration["requested_by"] == f"cli:{ACCOUNT}"
        assert token["issued_by"] == f"cli:{ACCOUNT}"
        assert [state["actor"] for state in rolled_back] == [f"cli:{ACCOUNT}"]
        assert "alice" not in json.dumps([registration, token, audit])

    def test_info_names_the_account_through_the_real_entry_point(self, attune, settings):
        env = {**attune.env, **CLAIMS}

        done = subprocess.run([ATTUNE, "info", "--json"], env=env, capture_output=True,
                              text=True, timeout=120)

        assert json.loads(done.stdout)["data"]["actor"] == f"cli:{ACCOUNT}"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
class TestOtherAccounts:
    """The process runs as another uid in a user namespace of its own (no privileges
    needed): what it records follows the uid."""

    def run_as(self, uid: int, attune, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["unshare", f"--map-user={uid}", f"--map-group={uid}",
                               ATTUNE, *args], env={**attune.env, **CLAIMS},
                              capture_output=True, text=True, timeout=120)
        if "unshare failed" in done.stderr or "unshare:" in done.stderr:
            pytest.skip(f"user namespaces are not available here: {done.stderr.strip()}")
        return done

    def test_a_named_account_is_recorded_by_its_name(self, attune):
        nobody = pwd.getpwnam("nobody")

        done = self.run_as(nobody.pw_uid, attune, "token", "create", "ci", "--scope", "read",
                           "--json")

        assert json.loads(done.stdout)["data"]["issued_by"] == "cli:nobody"

    def test_an_account_without_a_name_is_recorded_by_its_number(self, attune):
        uid = next(n for n in range(54321, 60000) if not _has_name(n))

        done = self.run_as(uid, attune, "token", "create", "ci", "--scope", "read", "--json")

        assert json.loads(done.stdout)["data"]["issued_by"] == f"cli:{uid}"


def _has_name(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
