"""Declared dependencies through the CLI (in process, both stores): the gate at registration,
dependents protected from unregister and rollback, and `pack deps`."""

from __future__ import annotations

import json

import pytest

from tests.packs import manifest, write_pack


@pytest.fixture
def packs(cli, tmp_path):
    """Register packs with their tests skipped (what is checked here comes before tests)."""

    def register(ref: str, version: str = "1.0.0", *flags: str, **extra: object):
        path = write_pack(tmp_path / f"{ref}-{version}", manifest(ref, version, **extra))
        return cli("pack", "register", str(path), "--skip-tests", *flags)

    return register


def ok(run):
    assert run.returncode == 0, run.stderr + run.stdout
    return run


class TestRegistrationGate:
    def test_missing_and_wrong_versions_refuse_before_anything_is_recorded(self, cli, packs,
                                                                            tmp_path):
        ok(packs("core", "1.0.0"))

        for flags in ((), ("--force",)):
            refused = packs("web", "1.0.0", *flags,
                            dependencies={"core": "^1.2", "net": None})
            assert refused.returncode == 1
            assert ("Pack 'web' needs packs that are not active: core ^1.2 (active: 1.0.0), "
                    "net * (not active)") in refused.stderr

        installed = cli("pack", "install", str(tmp_path / "web-1.0.0"), "--skip-tests")
        assert installed.returncode == 1
        assert "Pack 'web' needs packs that are not active: core ^1.2" in installed.stderr

        history = cli("pack", "history", "web")  # never submitted: nothing was recorded
        assert history.returncode == 1 and "Pack 'web' not found" in history.stderr

    def test_the_refusal_runs_no_test(self, cli, tmp_path):
        # Tests would run (no --skip-tests) and fail; the refusal comes first and records no
        # registration, so no test run either.
        path = write_pack(tmp_path / "web", manifest("web", dependencies=["core@^1"]),
                          {"test_math.py": "raise SystemExit('must not run')"})
        refused = cli("pack", "register", str(path), "--json")
        assert refused.returncode == 1
        body = json.loads(refused.stdout)
        assert body["code"] == "DEPENDENCIES_UNMET"
        assert body["details"] == [{"ref": "core", "wanted": "^1", "active_version": None}]
        assert cli("pack", "test-history", "web").returncode == 1
        assert cli("pack", "history", "web").returncode == 1

    def test_satisfied_dependencies_register_and_are_shown(self, cli, packs):
        ok(packs("core", "1.4.0"))
        ok(packs("net", "0.3.0"))
        ok(packs("web", "1.0.0", dependencies=["net", "core@^1.2"]))

        show = ok(cli("pack", "show", "web")).stdout
        assert "Depends on: core ^1.2, net *" in show  # by ref, on both stores
        listed = json.loads(ok(cli("pack", "show", "web", "--json")).stdout)
        assert listed["data"]["pack"]["dependencies"] == {"core": "^1.2", "net": "*"}

    def test_an_invalid_entry_is_refused_naming_it(self, cli, tmp_path):
        path = write_pack(tmp_path / "web", manifest(
            "web", dependencies=["core", "https://github.com/StackStorm-Exchange/x.git"]))
        refused = cli("pack", "register", str(path), "--skip-tests")
        assert refused.returncode == 1
        assert "Invalid pack.yaml: dependencies[1]: " in refused.stderr
        assert "is a source, not a pack ref" in refused.stderr


class TestDependentsProtected:
    def test_unregister_is_refused_then_forced_and_recorded(self, cli, packs):
        ok(packs("core", "1.3.0"))
        ok(packs("web", "1.0.0", dependencies={"core": "^1.2"}))

        refused = cli("pack", "unregister", "core")
        assert refused.returncode == 1
        assert ("Cannot unregister 'core': active packs depend on it: web (needs core ^1.2)"
                in refused.stderr)
        assert ok(cli("pack", "show", "core"))  # still active

        ok(cli("pack", "unregister", "core", "--force", "--reason", "moving to core2"))
        assert cli("pack", "show", "core").returncode == 1
        history = ok(cli("pack", "history", "core")).stdout
        assert "forced although active packs depended on it: web (needs core ^1.2)" in history
        rows = json.loads(ok(cli("pack", "history", "core", "--json")).stdout)["data"]
        assert rows[0]["overridden_dependents"] == [{"ref": "web", "wanted": "^1.2"}]
        summary = ok(cli("audit", rows[0]["id"], "--summary")).stdout
        assert "--force: active packs depended on it: web (^1.2)" in summary
        events = json.loads(ok(cli("audit", rows[0]["id"], "--json")).stdout)["data"]["events"]
        topics = [e["topic"] for e in events]
        assert topics[-2:] == ["attune:Registration.DependentsOverridden",
                               "attune:Registration.RegistrationRolledBack"]

        deps = ok(cli("pack", "deps", "web")).stdout
        assert "core  ^1.2   -       no" in deps

    def test_rollback_is_refused_only_when_the_restored_version_breaks_a_range(self, cli,
                                                                                 packs):
        ok(packs("core", "1.2.0"))
        ok(packs("core", "1.3.0", "--replace"))
        ok(packs("core", "2.0.0", "--replace"))
        ok(packs("web", "1.0.0", dependencies=["core>=1.3"]))

        ok(cli("pack", "rollback", "core"))  # 1.3.0 is still >=1.3
        refused = cli("pack", "rollback", "core", "--json")
        assert refused.returncode == 1
        body = json.loads(refused.stdout)
        assert body["code"] == "DEPENDENTS_ACTIVE"
        assert body["details"] == [{"ref": "web", "wanted": ">=1.3"}]
        assert "Cannot roll back 'core' to 1.2.0" in body["error"]
        assert json.loads(ok(cli("pack", "show", "core", "--json")).stdout)[
            "data"]["pack"]["version"] == "1.3.0"

        ok(cli("pack", "rollback", "core", "--force"))
        rows = json.loads(ok(cli("pack", "history", "core", "--json")).stdout)["data"]
        ended = {row["pack_version"]: row["overridden_dependents"] for row in rows
                 if row["status"] == "rolled_back"}
        assert ended == {"2.0.0": None, "1.3.0": [{"ref": "web", "wanted": ">=1.3"}]}

    def test_a_pack_without_dependents_unregisters_as_before(self, cli, packs):
        ok(packs("core", "1.0.0"))
        ok(packs("web", "1.0.0", dependencies={"core": "*"}))
        ok(cli("pack", "unregister", "web"))
        ok(cli("pack", "unregister", "core"))  # web is no longer active


class TestPackDeps:
    def test_both_directions_in_text(self, cli, packs):
        ok(packs("core", "1.3.0"))
        ok(packs("net", "0.1.0"))
        ok(packs("web", "1.0.0", dependencies={"core": "^1.2", "net": "~0.1"}))
        ok(packs("api", "2.0.0", dependencies=["core>=1.0,<1.3.1"]))

        assert ok(cli("pack", "deps", "web")).stdout.splitlines() == [
            "Pack 'web' 1.0.0 depends on:",
            "PACK  RANGE  ACTIVE  SATISFIED",
            "core  ^1.2   1.3.0   yes",
            "net   ~0.1   0.1.0   yes"]
        assert ok(cli("pack", "deps", "core", "--reverse")).stdout.splitlines() == [
            "Active packs that depend on 'core' (1.3.0):",
            "PACK  VERSION  NEEDS              SATISFIED",
            "api   2.0.0    core >=1.0,<1.3.1  yes",
            "web   1.0.0    core ^1.2          yes"]
        assert ok(cli("pack", "deps", "core")).stdout.strip() == (
            "Pack 'core' 1.3.0 declares no dependencies.")
        assert ok(cli("pack", "deps", "web", "--reverse")).stdout.strip() == (
            "No active pack depends on 'web' (1.0.0).")

    def test_json_holds_both_directions(self, cli, packs):
        ok(packs("core", "1.3.0"))
        ok(packs("web", "1.0.0", dependencies={"core": "^1.2"}))

        body = json.loads(ok(cli("pack", "deps", "core", "--reverse", "--json")).stdout)
        assert body == {"data": {"ref": "core", "version": "1.3.0", "dependencies": [],
                                 "dependents": [{"ref": "web", "version": "1.0.0",
                                                 "wanted": "^1.2", "satisfied": True}]}}
        web = json.loads(ok(cli("pack", "deps", "web", "--json")).stdout)["data"]
        assert web["dependencies"] == [{"ref": "core", "wanted": "^1.2",
                                        "active_version": "1.3.0", "satisfied": True}]

    def test_an_unknown_ref(self, cli, packs):
        ok(packs("core", "1.0.0", dependencies={}))
        missing = cli("pack", "deps", "nothing")
        assert missing.returncode == 1
        assert "Pack 'nothing' not found" in missing.stderr


@pytest.mark.postgres
def test_a_queued_registration_is_refused_before_it_is_queued(cluster, tmp_path):
    path = write_pack(tmp_path / "web", manifest("web", dependencies={"core": "^1"}))
    refused = cluster.attune("pack", "register", str(path), "--no-wait", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["code"] == "DEPENDENCIES_UNMET"
    assert cluster.attune("pack", "history", "web").returncode == 1  # nothing recorded
