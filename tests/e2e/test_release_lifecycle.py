"""What was tested is what is active: every registration keeps its release, and rollbacks,
manual test runs and ``pack verify`` use it, whatever happens to the source directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.packs import manifest, write_pack

# A test that reads the version its own pack.yaml declares: its skip reason says which
# content a run saw.
VERSION_TEST = """
    import pathlib, unittest
    class TestVersion(unittest.TestCase):
        def test_version(self):
            text = (pathlib.Path(__file__).parent.parent / "pack.yaml").read_text()
            self.skipTest([l for l in text.splitlines() if l.startswith("version")][0])

        def test_passes(self):
            pass
"""


def data(run) -> dict:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["data"]


def registered(run) -> str:
    """The content digest of a ``register --json``."""
    return data(run)["pack"]["content_digest"]


def edited(pack: Path, version: str) -> None:
    """Edit the directory in place, as a ``git pull`` does."""
    text = (pack / "pack.yaml").read_text()
    (pack / "pack.yaml").write_text(
        "\n".join(f"version: {version}" if line.startswith("version:") else line
                  for line in text.splitlines()) + "\n")


@pytest.fixture
def upgraded(cli, tmp_path):
    """``./app`` registered at 1.0.0, edited in place to 2.0.0 and registered again."""
    pack = write_pack(tmp_path / "app", manifest("app", "1.0.0"), {"test_version.py":
                                                                   VERSION_TEST})
    first = registered(cli("pack", "register", str(pack), "--json"))
    edited(pack, "2.0.0")
    second = registered(cli("pack", "register", str(pack), "--replace", "--json"))
    assert first != second
    return pack, first, second


def release_of(settings, digest: str) -> Path:
    return settings.home / "releases" / digest


class TestRollbackRestoresContent:
    def test_the_edited_directory_does_not_leak_into_the_rolled_back_pack(self, cli, settings,
                                                                          upgraded):
        pack, first, _ = upgraded
        rolled = cli("pack", "rollback", "app")
        assert rolled.returncode == 0, rolled.stderr
        assert "rolled back to version 1.0.0" in rolled.stdout

        verified = cli("pack", "verify", "app", "--json")
        found = json.loads(verified.stdout)["data"]
        assert verified.returncode == 0 and found["status"] == "ok"
        assert found["release_path"] == str(release_of(settings, first))
        # The directory holds 2.0.0; the active pack is the 1.0.0 its registration tested.
        assert "version: 2.0.0" in (pack / "pack.yaml").read_text()
        release_yaml = release_of(settings, first) / "pack.yaml"
        assert "version: 1.0.0" in release_yaml.read_text()
        tested = cli("pack", "test", "app", "--json")
        [suite] = data(tested)["test_suites"]
        assert "version: 1.0.0" in [case["error_message"] for case in suite["test_cases"]]

    def test_a_deleted_source_directory_changes_nothing(self, cli, upgraded):
        pack, *_ = upgraded
        shutil.rmtree(pack)
        assert cli("pack", "rollback", "app").returncode == 0
        assert json.loads(cli("pack", "verify", "app", "--json").stdout)["data"]["status"] == "ok"
        tested = cli("pack", "test", "app")
        assert tested.returncode == 0, tested.stderr
        assert "Testing pack 'app' 1.0.0" in tested.stdout

    def test_show_names_the_release_beside_the_source(self, cli, settings, upgraded):
        pack, _, second = upgraded
        shown = cli("pack", "show", "app").stdout.splitlines()
        assert f"Source: {pack}" in shown
        assert f"Release: {release_of(settings, second)}" in shown


class TestRegistrationsFromBeforeReleases:
    """A store written before releases existed has registrations that recorded only a path:
    they are simulated here by removing the releases."""

    def test_unchanged_recorded_files_become_the_release_on_first_use(self, cli, settings,
                                                                      tmp_path):
        pack = write_pack(tmp_path / "old", manifest("old"))
        digest = registered(cli("pack", "register", str(pack), "--json"))
        shutil.rmtree(settings.home / "releases")
        assert data(cli("pack", "show", "old", "--json"))["release_path"] is None

        verified = cli("pack", "verify", "old")
        assert verified.returncode == 0, verified.stdout
        assert release_of(settings, digest).is_dir()

    def test_a_rollback_to_changed_files_without_a_release_is_refused(self, cli, settings,
                                                                      upgraded):
        _, first, _ = upgraded
        shutil.rmtree(release_of(settings, first))  # 1.0.0's files: gone
        refused = cli("pack", "rollback", "app")
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.strip() == (
            f"✗ Error: Pack 'app' 1.0.0 has no release (sha256:{first}) and "
            "the files recorded at its registration no longer have that digest; register "
            "that content again to restore it")
        # Nothing changed: 2.0.0 is still active.
        assert data(cli("pack", "show", "app", "--json"))["pack"]["version"] == "2.0.0"
        history = data(cli("pack", "history", "app", "--json"))
        assert [row["status"] for row in history] == ["committed", "committed"]

    def test_a_test_run_without_a_release_or_its_files_is_refused(self, cli, settings,
                                                                  tmp_path):
        pack = write_pack(tmp_path / "gone", manifest("gone"))
        digest = registered(cli("pack", "register", str(pack), "--json"))
        shutil.rmtree(settings.home / "releases")
        shutil.rmtree(pack)
        refused = cli("pack", "test", "gone")
        assert refused.returncode == 1
        assert f"has no release (sha256:{digest})" in refused.stderr
        missing = cli("pack", "verify", "gone")
        assert missing.returncode == 1
        assert "its release is missing from" in missing.stdout


class TestDamagedRelease:
    def test_verify_names_the_files_changed_in_the_release(self, cli, settings, tmp_path):
        pack = write_pack(tmp_path / "app", manifest("app"))
        digest = registered(cli("pack", "register", str(pack), "--json"))
        release = release_of(settings, digest)
        os.chmod(release, 0o700)
        (release / "extra.txt").write_text("planted")
        drifted = cli("pack", "verify", "app")
        assert drifted.returncode == 1
        assert "  added:    extra.txt" in drifted.stdout.splitlines()


class TestPrune:
    def test_keeps_the_rollback_stack_and_the_retention_and_removes_the_rest(
            self, cli, settings, tmp_path):
        cli.env["ATTUNE_KEEP_RELEASES"] = "1"
        pack = write_pack(tmp_path / "app", manifest("app", "1.0.0"))
        digests = [registered(cli("pack", "register", str(pack), "--json"))]
        for version in ("2.0.0", "3.0.0"):
            edited(pack, version)
            digests.append(registered(cli("pack", "register", str(pack), "--replace",
                                          "--json")))
        # A rejected attempt keeps nothing; an unregistered ref's stack is gone.
        other = write_pack(tmp_path / "other", manifest("other"))
        other_digest = registered(cli("pack", "register", str(other), "--json"))
        assert cli("pack", "unregister", "other").returncode == 0
        cli.env["ATTUNE_KEEP_RELEASES"] = "0"
        assert data(cli("pack", "prune", "--dry-run", "--json"))["removed"] == [
            str(release_of(settings, other_digest))]
        assert release_of(settings, other_digest).is_dir()  # a dry run removes nothing

        # All three app releases are active or on its rollback stack: none goes.
        removed = data(cli("pack", "prune", "--json"))["removed"]
        assert removed == [str(release_of(settings, other_digest))]
        assert all(release_of(settings, d).is_dir() for d in digests)

        # Rolled back twice and unregistered: only the retention keeps the newest.
        cli("pack", "rollback", "app")
        cli("pack", "rollback", "app")
        cli("pack", "unregister", "app")
        cli.env["ATTUNE_KEEP_RELEASES"] = "1"
        removed = data(cli("pack", "prune", "--json"))["removed"]
        assert sorted(removed) == sorted(str(release_of(settings, d)) for d in digests[:2])
        assert release_of(settings, digests[2]).is_dir()

    def test_a_bad_retention_setting_is_refused_before_anything_is_removed(self, cli, tmp_path):
        pack = write_pack(tmp_path / "app", manifest("app"))
        cli("pack", "register", str(pack), "-q")
        cli("pack", "unregister", "app")
        cli.env["ATTUNE_KEEP_RELEASES"] = "many"
        refused = cli("pack", "prune")
        assert refused.returncode == 1
        assert "ATTUNE_KEEP_RELEASES must be a whole number" in refused.stderr
