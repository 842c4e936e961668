"""Issue 18, points 5 and 6: ``pack test-history`` filters and ``-v``, and the CLI traps
(empty paths, a bare name that is a folder, a git pack.yaml below the top, the one-line
failure summary). In process (the ``cli`` fixture) unless a process is the subject."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.install.sources import shown_source

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack
from tests.remote_packs import git

STRING_MISMATCH = """
import unittest


class CmpTest(unittest.TestCase):
    def test_strings(self):
        self.assertEqual("a", "b")

    def test_fine(self):
        pass
"""
CASE = "test_cmp.CmpTest.test_strings"
SUMMARY = "AssertionError: 'a' != 'b'"


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


@pytest.fixture
def cmp_pack(tmp_path: Path) -> Path:
    """Pack ``cmp``: one passing case, one failing on a string comparison (a diff follows
    the exception line in its message)."""
    return write_pack(tmp_path / "cmp", manifest("cmp"), {"test_cmp.py": STRING_MISMATCH})


@pytest.fixture
def cmp_history(cli, cmp_pack: Path) -> None:
    """Three runs of ``cmp``: a rejected registration, a forced one, then a manual run."""
    assert cli("pack", "register", str(cmp_pack), "-q").returncode == 1
    assert cli("pack", "register", str(cmp_pack), "-q", "--force").returncode == 0
    assert cli("pack", "test", "cmp", "-q").returncode == 1


class TestTestHistoryFilters:
    def test_trigger_keeps_only_the_runs_it_started(self, cli, cmp_history):
        manual = cli("pack", "test-history", "cmp", "--trigger", "manual", "--json")
        register = cli("pack", "test-history", "cmp", "--trigger", "register")

        assert manual.returncode == 0, manual.stderr
        assert [r["trigger_reason"] for r in json.loads(manual.stdout)["data"]] == ["manual"]
        assert [row.split()[3] for row in lines(register.stdout)[1:]] == ["register"] * 2
        assert [row.split()[-2] for row in lines(register.stdout)[1:]] == ["forced", "rejected"]

    def test_status_and_trigger_combine_and_an_empty_match_names_them(self, cli, cmp_history):
        failed = cli("pack", "test-history", "cmp", "--status", "failed", "--json")
        none = cli("pack", "test-history", "cmp", "--status", "passed", "--trigger", "manual")

        assert len(json.loads(failed.stdout)["data"]) == 3
        assert (none.returncode, lines(none.stdout)) == (
            0, ["No test runs recorded for pack 'cmp' with status passed, trigger manual."])

    def test_a_value_outside_the_vocabulary_is_a_usage_error(self, cli, cmp_history):
        status = cli("pack", "test-history", "cmp", "--status", "broken")
        trigger = cli("pack", "test-history", "cmp", "--trigger", "cron")

        assert status.returncode == trigger.returncode == 2
        assert "'running', 'passed', 'failed', 'error'" in status.stderr
        assert "'register', 'install', 'manual'" in trigger.stderr

    def test_an_unknown_ref_is_still_not_found_with_filters(self, cli, settings):
        build_registry(settings).close()  # an empty store: without one, reads say so instead
        done = cli("pack", "test-history", "nope", "--status", "failed")

        assert (done.returncode, lines(done.stderr)) == (1, ["✗ Error: Pack 'nope' not found"])


class TestTestHistoryVerbose:
    def test_each_run_lists_its_failing_cases_under_its_row(self, cli, cmp_history):
        done = cli("pack", "test-history", "cmp", "-v")

        assert done.returncode == 0, done.stderr
        out = lines(done.stdout)
        failing = f"  ✗ Unit Tests: {CASE}: {SUMMARY}"
        assert out[0].startswith("TIME ")
        assert out[1:] == [out[1], failing, out[3], failing, out[5], failing]
        assert [row.split()[3] for row in out[1::2]] == ["manual", "register", "register"]

    def test_without_v_the_rows_stand_alone(self, cli, cmp_history):
        done = cli("pack", "test-history", "cmp")

        assert len(lines(done.stdout)) == 4 and "✗" not in done.stdout

    def test_a_passing_run_has_nothing_under_it(self, cli, tmp_path):
        pack = write_pack(tmp_path / "fine", manifest("fine"))
        assert cli("pack", "register", str(pack), "-q").returncode == 0

        done = cli("pack", "test-history", "fine", "-v")

        assert len(lines(done.stdout)) == 2 and lines(done.stdout)[1].split()[-3] == "passed"


class TestOneLineFailureSummary:
    def test_pack_test_keeps_the_exception_line_not_the_diff(self, cli, cmp_history):
        done = cli("pack", "test", "cmp", "-q")

        assert f"    ✗ {CASE}: {SUMMARY}" in lines(done.stdout)
        assert "+ b" not in done.stdout


class TestEmptyPath:
    @pytest.mark.parametrize(("command", "name"), [("register", "path"),
                                                  ("install", "source"),
                                                  ("test", "target")])
    def test_an_empty_argument_is_a_usage_error_not_the_current_directory(
            self, cli, cmp_pack, monkeypatch, command, name):
        monkeypatch.chdir(cmp_pack)  # '' would otherwise be this pack

        done = cli("pack", command, "")

        assert done.returncode == 2
        assert lines(done.stderr)[-1] == (f"Error: Invalid value for '{name.upper()}': an "
                                          f"empty {name} (for the current directory, give .)")
        listed = cli("pack", "list")  # nothing was recorded: not even a store was created
        assert (listed.returncode, listed.stdout) == (1, "") and "no store " in listed.stderr
        assert "No test runs" not in cli("pack", "test-history", "cmp").stdout

    def test_the_entry_point_refuses_it_too(self, attune, cmp_pack):
        done = subprocess.run([ATTUNE, "pack", "register", ""], env=attune.env, cwd=cmp_pack,
                              capture_output=True, text=True, timeout=120)

        assert done.returncode == 2 and "an empty path" in done.stderr
        assert done.stdout == ""


class TestBareNameThatIsAFolder:
    def test_not_found_is_followed_by_a_hint_to_test_the_folder(self, cli, cmp_pack,
                                                                monkeypatch):
        monkeypatch.chdir(cmp_pack.parent)

        done = cli("pack", "test", "cmp")

        assert (done.returncode, lines(done.stderr)) == (1, [
            "✗ Error: Pack 'cmp' not found",
            "(a directory ./cmp exists: to test it, run attune pack test ./cmp)"])

    def test_no_hint_without_such_a_folder_or_with_json(self, cli, cmp_pack, monkeypatch):
        monkeypatch.chdir(cmp_pack.parent)

        elsewhere = cli("pack", "test", "other")
        as_json = cli("pack", "test", "cmp", "--json")

        assert lines(elsewhere.stderr) == ["✗ Error: Pack 'other' not found"]
        assert as_json.returncode == 1
        assert json.loads(as_json.stdout) == {"error": "Pack 'cmp' not found",
                                              "code": "NOT_FOUND"}

    def test_a_registered_ref_wins_over_the_folder(self, cli, cmp_pack, monkeypatch):
        assert cli("pack", "register", str(cmp_pack), "-q", "--force").returncode == 0
        monkeypatch.chdir(cmp_pack.parent)

        done = cli("pack", "test", "cmp", "-q")

        assert lines(done.stdout)[0] == "Testing pack 'cmp' 1.0.0 (recorded as manual run)"
        assert "a directory" not in done.stderr


class TestGitPackBelowTheTop:
    def test_the_error_names_the_source_and_ref_not_a_private_directory(self, cli, tmp_path):
        bare, work = tmp_path / "nested.git", tmp_path / "nested-work"
        git("init", "-q", "--bare", str(bare), cwd=tmp_path)
        git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
        write_pack(work / "packs" / "lamp", manifest("lamp"))
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "pack in a folder", cwd=work)
        git("push", "-q", str(bare), "main", cwd=work)
        url = bare.as_uri()

        done = cli("pack", "install", url, "--ref", "main", "-q")
        default = cli("pack", "install", url, "-q")

        assert (done.returncode, lines(done.stderr)) == (1, [
            f"✗ Error: Install source {shown_source(url)} at ref 'main' has no pack.yaml at the top of the "
            "repository: pack.yaml must be in the repository's root directory"])
        assert lines(default.stderr) == [
            f"✗ Error: Install source {shown_source(url)} at its default branch has no pack.yaml at the "
            "top of the repository: pack.yaml must be in the repository's root directory"]
        assert cli.env["ATTUNE_HOME"] not in done.stderr + default.stderr
        assert lines(cli("pack", "list").stdout) == ["No packs registered."]


class TestRemoteFilters:
    def test_the_filters_reach_the_api_and_match_local_mode(self, server, attune):
        pack = shutil.copytree(write_pack(server.root.parent / "src" / "cmp", manifest("cmp"),
                                          {"test_cmp.py": STRING_MISMATCH}),
                               server.root / "cmp")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
        env.update(ATTUNE_API_URL=server.url, ATTUNE_TOKEN=server.write_token,
                   ATTUNE_HOME="/nonexistent-on-purpose")

        def remote(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                                  timeout=300)

        assert remote("pack", "register", str(pack), "-q", "--force").returncode == 0
        assert remote("pack", "test", "cmp", "-q").returncode == 1

        manual = remote("pack", "test-history", "cmp", "--trigger", "manual", "--json")
        local = attune("pack", "test-history", "cmp", "--trigger", "manual", "--json")
        verbose = remote("pack", "test-history", "cmp", "--status", "failed", "-v")

        assert manual.returncode == 0, manual.stderr
        assert [r["trigger_reason"] for r in json.loads(manual.stdout)["data"]] == ["manual"]
        assert manual.stdout == local.stdout
        out = lines(verbose.stdout)
        assert len(out) == 5 and out[2] == out[4] == f"  ✗ Unit Tests: {CASE}: {SUMMARY}"
        assert [row.split()[3] for row in out[1::2]] == ["manual", "register"]
