"""``attune pack install`` and ``attune pack verify`` on each store: in process (the ``cli``
fixture), and one smoke test through the real entry point.

Sources are real: a bare git repository (``tests.remote_packs.make_repo``), archives on disk,
and an HTTPS server with a throwaway certificate authority. Each test checks what the command
prints and what it left behind: the read models (``pack show``, ``pack history``), the event
log (``audit``) and the files under ``$ATTUNE_HOME/installed``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from attune_registry.domain.text import quoted

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.cli.output import REJECTION_HINT

from tests.conftest import ATTUNE
from tests.integration.test_install_sources import HOSTILE
from tests.packs import manifest, write_pack
from tests.remote_packs import (
    Repo,
    archive_bytes,
    make_archive,
    make_repo,
)

REJECTED = ("✗ Error: Pack registration failed: tests did not pass. "
            "Use force=true to register anyway.")
ALREADY = "✗ Error: Pack 'lamp' already exists. Use force=true to reinstall."
# The failing case of the repository's branch ``broken``, as a rejection names it.
BROKEN_CASE = ("  ✗ Unit Tests: test_math.TestMixed.test_fail_0: AssertionError: 0 != 1 : "
               "deliberate failure 0")


def rejection(registration_id: str) -> list[str]:
    """What a rejected install of branch ``broken`` prints after its progress."""
    return [REJECTED, BROKEN_CASE, f"Registration: {registration_id}", REJECTION_HINT]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """Pack ``lamp``: v1.0.0 and main pass, broken has a failing test (one per module)."""
    return make_repo(tmp_path_factory.mktemp("origin"))


@pytest.fixture(scope="module")
def lamp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pack ``lamp`` 1.0.0 as a directory: the same files as the repository's tag v1.0.0."""
    return write_pack(tmp_path_factory.mktemp("lamp") / "lamp", manifest("lamp", "1.0.0"))


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def home(cli: Any) -> Path:
    return Path(cli.env["ATTUNE_HOME"])


def stored(cli: Any) -> list[str]:
    """Everything in the release store, ``$ATTUNE_HOME/releases`` (relative paths, sorted)."""
    root = home(cli) / "releases"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


def work_left(cli: Any) -> list[str]:
    """What fetches left in ``$ATTUNE_HOME/work`` (nothing, once a command is over)."""
    root = home(cli) / "work"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def data(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def active(cli: Any, ref: str = "lamp") -> dict[str, Any]:
    """The active pack's row, as ``pack show --json`` gives it."""
    return data(cli("pack", "show", ref, "--json"))["pack"]


def registrations(cli: Any, ref: str = "lamp") -> list[dict[str, Any]]:
    return data(cli("pack", "history", ref, "--json"))


def files_in(directory: str | Path) -> list[str]:
    root = Path(directory)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def store_dir(cli: Any, version: str, digest: str) -> Path:
    """The release of ``digest`` (``version`` says which one a test means)."""
    return home(cli) / "releases" / digest


def git_source(source: str, ref: str, commit: str) -> str:
    return f"Source: git {source} at {ref} (commit {commit})"


def installed_lines(version: str, source: str, tests: str = "2/2") -> list[str]:
    return ["✓ Pack 'lamp' installed successfully", f"Version: {version}", "ID: 1", source,
            "✓ All tests passed", f"Tests: {tests} passed"]


def assert_nothing_happened(cli: Any) -> None:
    """No event for pack lamp (so no active pack either), no installed files, no leftovers
    in work/."""
    assert lines(cli("pack", "history", "lamp").stderr) == ["✗ Error: Pack 'lamp' not found"]
    assert stored(cli) == []
    assert work_left(cli) == []


def make_writable(root: Path) -> None:
    """The store keeps files read-only: give the owner write access back, to tamper."""
    for path in [root, *root.rglob("*")]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


class TestInstallFromGit:
    def test_a_tag_over_a_file_url_and_what_it_records(self, attune, repo):
        # The real entry point, as a user runs it (most tests here run the CLI in process).
        commit = repo.commits["v1.0.0"]
        origin = {"type": "git", "source": repo.url, "ref": "v1.0.0", "commit": commit}

        done = attune("pack", "install", repo.url, "--ref", "v1.0.0")

        assert done.returncode == 0, done.stderr
        assert lines(done.stdout) == installed_lines("1.0.0",
                                                     git_source(repo.url, "v1.0.0", commit))
        assert lines(done.stderr)[0] == f"Fetching {repo.url} at v1.0.0"
        pack = active(attune)
        directory = store_dir(attune, "1.0.0", pack["content_digest"])
        assert (pack["version"], pack["source_path"], pack["origin"]) == (
            "1.0.0", str(directory), origin)
        assert files_in(directory) == ["pack.yaml", "tests/test_math.py"]
        listing = json.loads(Path(f"{directory}.files").read_text())
        assert (listing["digest"], sorted(listing["files"])) == (
            pack["content_digest"], ["pack.yaml", "tests/test_math.py"])
        name = directory.name
        assert stored(attune) == sorted([name, f"{name}.files", f"{name}/pack.yaml",
                                         f"{name}/tests", f"{name}/tests/test_math.py"])
        # Installed files are not edited in place: nothing in the directory is writable.
        assert all(not p.stat().st_mode & 0o222 for p in [directory, *directory.rglob("*")])
        assert work_left(attune) == []

        shown = lines(attune("pack", "show", "lamp").stdout)
        (registration,) = registrations(attune)
        (run,) = data(attune("pack", "test-history", "lamp", "--json"))

        assert f"Installed from: git {repo.url} at v1.0.0 (commit {commit})" in shown
        assert f"Files: {directory}" in shown
        assert not any(line.startswith("Source: ") for line in shown)
        assert {k: registration[k] for k in ("status", "trigger_reason", "origin", "source_path",
                                             "content_digest")} == {
            "status": "committed", "trigger_reason": "install", "origin": origin,
            "source_path": str(directory), "content_digest": pack["content_digest"]}
        assert (run["trigger_reason"], run["outcome"], run["passed"]) == ("install", "committed", 2)

    def test_a_branch_from_a_plain_path(self, cli, repo):
        done = cli("pack", "install", str(repo.path), "--ref", "main", "-q")

        assert (done.returncode, done.stderr) == (0, "")
        assert lines(done.stdout) == installed_lines(
            "1.1.0", git_source(str(repo.path), "main", repo.commits["main"]))
        pack = active(cli)
        assert pack["origin"] == {"type": "git", "source": str(repo.path), "ref": "main",
                                  "commit": repo.commits["main"]}
        assert pack["source_path"] == str(store_dir(cli, "1.1.0", pack["content_digest"]))
        assert Path(pack["source_path"], "pack.yaml").read_text().count("version: 1.1.0") == 1

    def test_a_full_commit_sha_as_the_ref(self, cli, repo):
        commit = repo.commits["v1.0.0"]

        done = cli("pack", "install", repo.url, "--ref", commit, "-q")

        assert done.returncode == 0, done.stderr
        assert lines(done.stdout)[1:4] == ["Version: 1.0.0", "ID: 1",
                                          git_source(repo.url, commit, commit)]
        assert active(cli)["origin"]["commit"] == commit

    def test_the_remote_head_without_a_ref_as_json(self, cli, repo):
        done = cli("pack", "install", repo.url, "--json", "-q")

        body = json.loads(done.stdout)
        assert (done.returncode, done.stderr) == (0, "")
        assert body["message"] == "Pack installed successfully"
        assert body["data"]["pack"]["version"] == "1.1.0"
        assert body["data"]["pack"]["origin"] == {"type": "git", "source": repo.url, "ref": None,
                                                  "commit": repo.commits["main"]}
        assert body["data"]["tests_skipped"] is False
        assert body["data"]["test_result"]["status"] == "passed"


class TestInstallFromArchives:
    @pytest.mark.parametrize(("name", "top_folder", "as_url"), [
        ("lamp-1.0.0.tar.gz", "lamp-1.0.0", False),
        ("lamp.zip", None, False),
        ("lamp-1.0.0.tgz", "lamp-1.0.0", True),
    ], ids=["tar.gz path", "zip path", "tgz file URL"])
    def test_a_local_archive(self, cli, lamp_dir, tmp_path, name, top_folder, as_url):
        archive = make_archive(lamp_dir, tmp_path / name, top_folder=top_folder)
        sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()

        done = cli("pack", "install", archive.as_uri() if as_url else str(archive), "-q")

        assert done.returncode == 0, done.stderr
        assert lines(done.stdout) == installed_lines(
            "1.0.0", f"Source: archive {archive} (sha256:{sha256})")
        pack = active(cli)
        assert pack["origin"] == {"type": "archive", "source": str(archive),
                                  "archive_sha256": sha256}
        assert pack["source_path"] == str(store_dir(cli, "1.0.0", pack["content_digest"]))
        assert files_in(pack["source_path"]) == ["pack.yaml", "tests/test_math.py"]
        assert work_left(cli) == []

    def test_an_https_url_with_credentials_never_shows_or_stores_them(self, cli, lamp_dir,
                                                                      https_server):
        body = archive_bytes(lamp_dir)
        https_server.files["/dl/lamp-1.0.0.tar.gz"] = body
        cli.env.update(https_server.env(cli.env))
        host = https_server.url.removeprefix("https://")
        url, shown = (f"https://user:secret@{host}/dl/lamp-1.0.0.tar.gz",
                      f"https://***@{host}/dl/lamp-1.0.0.tar.gz")

        done = cli("pack", "install", url)

        assert done.returncode == 0, done.stderr
        sha256 = hashlib.sha256(body).hexdigest()
        assert lines(done.stdout) == installed_lines(
            "1.0.0", f"Source: archive {shown} (sha256:{sha256})")
        assert lines(done.stderr)[0] == f"Fetching {shown}"
        # The credentials were used (basic auth), then forgotten.
        assert https_server.requests == [
            ("/dl/lamp-1.0.0.tar.gz", "Basic " + base64.b64encode(b"user:secret").decode())]
        shown_json = cli("pack", "show", "lamp", "--json")
        history_json = cli("pack", "history", "lamp", "--json")
        assert data(shown_json)["pack"]["origin"] == {"type": "archive", "source": shown,
                                                      "archive_sha256": sha256}
        (registration,) = data(history_json)
        audit_json = cli("audit", registration["id"], "--json")
        events = data(audit_json)["events"]
        assert events[0]["state"]["origin"]["source"] == shown  # what the log stores
        outputs = [done, shown_json, history_json, audit_json, cli("pack", "show", "lamp"),
                   cli("pack", "verify", "lamp")]
        assert all(o.returncode == 0 for o in outputs)
        for output in outputs:
            assert "secret" not in output.stdout + output.stderr
        if not cli.env["ATTUNE_DATABASE_URL"]:  # SQLite: the bytes on disk as well
            database = b"".join(p.read_bytes() for p in home(cli).glob("attune.db*"))
            assert shown.encode() in database and b"secret" not in database

    def test_downloads_that_fail_leave_nothing(self, cli, lamp_dir, https_server):
        cli.env.update(https_server.env(cli.env))
        https_server.redirects["/moved.tar.gz"] = "http://127.0.0.1:9/lamp.tar.gz"
        https_server.files["/big.tar.gz"] = archive_bytes(lamp_dir)
        https_server.declared_lengths["/big.tar.gz"] = 100 * 2**20 + 1
        cases = {
            "/absent.tar.gz": "failed: HTTP 404",
            "/moved.tar.gz": "refused: redirected to a http:// address; only https is accepted",
            # Refused on the header alone: the body (a valid archive) is never read.
            "/big.tar.gz": f"refused: {100 * 2**20 + 1} bytes is more than the limit of 100 MiB",
        }
        for path, problem in cases.items():
            url = f"{https_server.url}{path}"

            done = cli("pack", "install", url, "-q")

            assert (done.returncode, done.stdout) == (1, ""), path
            assert lines(done.stderr) == [f"✗ Error: Download of '{url}' {problem}"]
            assert stored(cli) == [] and work_left(cli) == [], path
        assert [path for path, _ in https_server.requests] == list(cases)  # no redirect followed
        assert_nothing_happened(cli)


# A representative few of the hostile archives that tests/integration checks one by one.
HOSTILE_CASES = ["dot-dot traversal", "absolute path", "symlink to /etc", "device node",
                 "zip bomb"]


class TestHostileArchives:
    def test_each_is_refused_in_one_line_and_leaves_nothing(self, cli, tmp_path):
        for case in HOSTILE_CASES:
            build, _, problem = HOSTILE[case]
            archive = build(tmp_path / f"hostile-{len(list(tmp_path.iterdir()))}.archive")

            done = cli("pack", "install", str(archive), "-q")

            assert (done.returncode, done.stdout) == (1, ""), case
            assert lines(done.stderr) == [
                f"✗ Error: Refused archive '{archive.name}': {problem}"], case
            assert stored(cli) == [] and work_left(cli) == [], case
            assert not list(home(cli).rglob("evil")) and not (tmp_path / "evil").exists()
        assert_nothing_happened(cli)


class TestFailingTests:
    def test_a_rejected_install_is_recorded_but_leaves_no_files(self, cli, repo):
        commit = repo.commits["broken"]

        done = cli("pack", "install", str(repo.path), "--ref", "broken")

        assert (done.returncode, done.stdout) == (1, "")
        (registration,) = registrations(cli)
        assert lines(done.stderr)[-4:] == rejection(registration["id"])
        assert {k: registration[k] for k in ("pack_version", "status", "reason", "trigger_reason")
                } == {"pack_version": "1.2.0", "status": "rejected", "reason": "tests_failed",
                      "trigger_reason": "install"}
        assert registration["origin"] == {"type": "git", "source": str(repo.path),
                                          "ref": "broken", "commit": commit}
        # The registration names the release the files would have had; it is gone.
        assert registration["source_path"] == str(home(cli) / "releases" /
                                                  registration["content_digest"])
        assert stored(cli) == [] and work_left(cli) == []
        assert data(cli("pack", "list", "--json")) == []
        (run,) = data(cli("pack", "test-history", "lamp", "--json"))
        assert (run["trigger_reason"], run["outcome"]) == ("install", "rejected")

    def test_a_rejected_upgrade_keeps_the_active_pack_and_its_files(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        before, files_before = active(cli), stored(cli)

        done = cli("pack", "install", repo.url, "--ref", "broken", "--replace", "-q")

        assert (done.returncode, lines(done.stderr)) == (
            1, rejection(registrations(cli)[0]["id"]))
        assert active(cli) == before
        assert stored(cli) == files_before
        assert [r["status"] for r in registrations(cli)] == ["rejected", "committed"]

    def test_a_rejected_attempt_keeps_content_an_earlier_registration_installed(self, cli,
                                                                               repo):
        # broken (forced) then v1.0.0: broken's directory stays, for a rollback to it.
        cli("pack", "install", repo.url, "--ref", "broken", "--force", "-q")
        forced = active(cli)
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "--force", "-q")
        files = stored(cli)

        done = cli("pack", "install", repo.url, "--ref", "broken", "--replace", "-q")

        assert (done.returncode, lines(done.stderr)) == (
            1, rejection(registrations(cli)[0]["id"]))
        assert stored(cli) == files  # the same content as the rejected one: not removed
        assert cli("pack", "rollback", "lamp").returncode == 0
        assert active(cli)["source_path"] == forced["source_path"]
        assert cli("pack", "verify", "lamp").returncode == 0

    def test_force_installs_with_a_warning(self, cli, repo):
        done = cli("pack", "install", str(repo.path), "--ref", "broken", "--force", "-q")

        assert (done.returncode, done.stderr) == (0, "")
        assert lines(done.stdout) == [
            "⚠ Pack 'lamp' installed successfully", "Version: 1.2.0", "ID: 1",
            git_source(str(repo.path), "broken", repo.commits["broken"]),
            "✗ Some tests failed", "Tests: 2/3 passed"]
        pack = active(cli)
        assert files_in(pack["source_path"]) == ["pack.yaml", "tests/test_math.py"]
        (registration,) = registrations(cli)
        assert (registration["status"], registration["forced"]) == ("committed", True)


class TestReinstall:
    def test_a_forced_reinstall_writes_a_new_dir_and_rollback_returns_to_the_old(self, cli,
                                                                                 repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        old = active(cli)

        done = cli("pack", "install", str(repo.path), "--ref", "main", "--force", "-q")

        assert done.returncode == 0, done.stderr
        new = active(cli)
        assert (new["version"], Path(new["source_path"]).name) == (
            "1.1.0", new["content_digest"])
        assert new["source_path"] != old["source_path"]
        assert Path(old["source_path"], "pack.yaml").is_file()  # kept, for a rollback
        assert f"Files: {new['source_path']}" in lines(cli("pack", "show", "lamp").stdout)

        rolled = cli("pack", "rollback", "lamp")
        verified = cli("pack", "verify", "lamp")

        assert lines(rolled.stdout)[0] == "✓ Pack 'lamp' rolled back to version 1.0.0"
        back = active(cli)
        assert {k: back[k] for k in ("version", "source_path", "content_digest", "origin")} == {
            k: old[k] for k in ("version", "source_path", "content_digest", "origin")}
        assert verified.returncode == 0
        assert lines(verified.stdout) == [
            f"✓ Pack 'lamp' 1.0.0 matches its recorded content (sha256:{old['content_digest']})",
            git_source(repo.url, "v1.0.0", repo.commits["v1.0.0"]),
            f"Release: {old['source_path']}"]

    def test_the_same_content_installed_again_reuses_its_dir(self, cli, repo, lamp_dir):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        first, files = active(cli), stored(cli)
        inode = Path(first["source_path"]).stat().st_ino

        again = cli("pack", "install", repo.url, "--ref", "v1.0.0", "--force", "-q")
        from_dir = cli("pack", "install", str(lamp_dir), "--force", "-q")

        assert again.returncode == 0 and from_dir.returncode == 0, again.stderr + from_dir.stderr
        now = active(cli)
        assert (now["source_path"], now["content_digest"]) == (first["source_path"],
                                                                first["content_digest"])
        assert now["origin"] == {"type": "directory", "source": str(lamp_dir)}
        assert stored(cli) == files
        assert Path(first["source_path"]).stat().st_ino == inode  # not written again
        assert [r["source_path"] for r in registrations(cli)] == [first["source_path"]] * 3

    def test_a_second_install_without_force_is_refused_before_any_event(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        files = stored(cli)

        done = cli("pack", "install", str(repo.path), "--ref", "main", "-q")

        assert (done.returncode, done.stdout) == (1, "")
        assert lines(done.stderr) == [ALREADY]
        assert stored(cli) == files and work_left(cli) == []
        assert [r["pack_version"] for r in registrations(cli)] == ["1.0.0"]
        assert active(cli)["version"] == "1.0.0"


def drifted_lines(pack: dict[str, Any], actual: str, *changes: str) -> list[str]:
    return ["✗ Pack 'lamp' 1.0.0 has drifted from its recorded content",
            f"Release: {pack['source_path']}", f"Recorded: sha256:{pack['content_digest']}",
            f"Found:    sha256:{actual}", *changes]


class TestVerify:
    def test_an_intact_installed_pack(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        pack = active(cli)

        done = cli("pack", "verify", "lamp")
        as_json = cli("pack", "verify", "lamp", "--json")

        assert (done.returncode, done.stderr) == (0, "")
        assert lines(done.stdout) == [
            f"✓ Pack 'lamp' 1.0.0 matches its recorded content (sha256:{pack['content_digest']})",
            git_source(repo.url, "v1.0.0", repo.commits["v1.0.0"]),
            f"Release: {pack['source_path']}"]
        found = data(as_json)
        assert {k: v for k, v in found.items() if k != "files_listed"} == {
            "ref": "lamp", "version": "1.0.0", "registration_id": pack["registration_id"],
            "source_path": pack["source_path"], "origin": pack["origin"], "status": "ok",
            "expected_digest": pack["content_digest"], "actual_digest": pack["content_digest"],
            "added": [], "removed": [], "modified": [], "release_path": pack["source_path"]}

    def test_files_listed_is_true_for_an_intact_installed_pack(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")

        assert data(cli("pack", "verify", "lamp", "--json"))["files_listed"] is True

    def test_modified_added_and_removed_files_are_named(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        pack = active(cli)
        directory = Path(pack["source_path"])
        make_writable(directory)
        with (directory / "tests" / "test_math.py").open("a") as file:
            file.write("# tampered\n")
        (directory / "tests" / "notes.txt").write_text("added\n")
        (directory / "pack.yaml").unlink()

        done = cli("pack", "verify", "lamp")
        as_json = cli("pack", "verify", "lamp", "--json")

        found = json.loads(as_json.stdout)["data"]
        assert (done.returncode, as_json.returncode) == (1, 1)
        assert lines(done.stdout) == drifted_lines(
            pack, found["actual_digest"], "  modified: tests/test_math.py",
            "  added:    tests/notes.txt", "  removed:  pack.yaml")
        assert found["actual_digest"] != pack["content_digest"]
        assert {k: found[k] for k in ("status", "files_listed", "modified", "added", "removed")
                } == {"status": "drifted", "files_listed": True,
                      "modified": ["tests/test_math.py"], "added": ["tests/notes.txt"],
                      "removed": ["pack.yaml"]}

    def test_missing_files(self, cli, repo):
        cli("pack", "install", repo.url, "--ref", "v1.0.0", "-q")
        pack = active(cli)
        make_writable(Path(pack["source_path"]))
        shutil.rmtree(pack["source_path"])

        done = cli("pack", "verify", "lamp")
        as_json = cli("pack", "verify", "lamp", "--json")

        assert (done.returncode, as_json.returncode) == (1, 1)
        assert lines(done.stdout) == [
            f"✗ Pack 'lamp' 1.0.0: its release is missing from {pack['source_path']}"]
        found = json.loads(as_json.stdout)["data"]
        assert (found["status"], found["actual_digest"]) == ("missing", None)

    def test_a_registered_directory_that_changed_still_verifies_through_its_release(
            self, cli, lamp_dir, tmp_path):
        mine = Path(shutil.copytree(lamp_dir, tmp_path / "lamp"))
        assert cli("pack", "register", str(mine), "-q").returncode == 0
        pack = active(cli)
        (mine / "tests" / "test_math.py").write_text("# rewritten\n")

        done = cli("pack", "verify", "lamp")
        found = data(cli("pack", "verify", "lamp", "--json"))

        release = store_dir(cli, "1.0.0", pack["content_digest"])
        assert done.returncode == 0
        assert lines(done.stdout)[1:] == [f"Release: {release}"]
        assert (pack["source_path"], pack["origin"]) == (str(mine), None)
        assert {k: found[k] for k in ("status", "files_listed", "source_path", "release_path")
                } == {"status": "ok", "files_listed": True, "source_path": str(mine),
                      "release_path": str(release)}

    def test_an_unknown_ref_is_refused_like_show(self, cli, settings):
        build_registry(settings).close()  # an empty store: without one, reads say so instead
        done = cli("pack", "verify", "nope")
        show = cli("pack", "show", "nope")
        as_json = cli("pack", "verify", "nope", "--json")

        assert (done.returncode, done.stdout) == (1, "")
        assert lines(done.stderr) == lines(show.stderr) == ["✗ Error: Pack 'nope' not found"]
        assert as_json.returncode == 1
        assert json.loads(as_json.stdout) == {"error": "Pack 'nope' not found",
                                              "code": "NOT_FOUND"}


class TestRefusedBeforeAnyEvent:
    def test_each_is_one_line_and_changes_nothing(self, cli, repo, lamp_dir, tmp_path):
        archive = make_archive(lamp_dir, tmp_path / "lamp.zip")
        cases = [
            (["http://user:secret@127.0.0.1:9/lamp.tar.gz"],
             ("Refused install source 'http://***@127.0.0.1:9/lamp.tar.gz': plain http:// is not "
              "accepted, use https://")),
            ([str(archive), "--ref", "main"],
             "A ref (--ref, ref_spec) applies to git sources only, and this source is an archive"),
            (["./absent"],  # relative: the message cuts a long path short
             ("Install source './absent' not found: give a git URL, an archive (a path or an "
              "https:// URL) or a pack directory")),
            ([str(repo.path), "--ref", "-x"], "Invalid git ref '-x'"),
            # Dot segments: judged and fetched would differ, so refused before either.
            (["https://127.0.0.1:9/packs/%2e%2e/lamp.tar.gz"],
             ("Invalid install source 'https://127.0.0.1:9/packs/%2e%2e/lamp.tar.gz': its path "
              "has a '.' or '..' segment (percent-encoded or not); give the path without it")),
            (["x@y_z:/../../anywhere"],
             ("Invalid install source 'x@y_z:/../../anywhere': it reads as git's host:path form "
              "(a ':' before any '/') but is not user@host:path; write ./ before a local path "
              "with a ':'")),
            ([repo.url, "--ref", "v9"], "git fetch failed: ref 'v9' not found"),
            # Quoted as messages quote values: a long temporary path is cut short.
            ([repo.url, "--ref", "deadbee"], f"Git ref 'deadbee' not found in {quoted(repo.url)}"),
        ]
        for args, message in cases:
            done = subprocess.run([ATTUNE, "pack", "install", *args, "-q"], env=cli.env,
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                  check=False)

            assert (done.returncode, done.stdout) == (1, ""), args
            assert lines(done.stderr) == [f"✗ Error: {message}"]
            assert stored(cli) == [] and work_left(cli) == [], args
        assert_nothing_happened(cli)

    @pytest.mark.parametrize("setting", ["0", "3601", "1.5", "soon"])
    def test_a_bad_fetch_timeout_is_refused_before_fetching(self, cli, repo, setting):
        env = {**cli.env, "ATTUNE_FETCH_TIMEOUT_SECONDS": setting}
        done = subprocess.run([ATTUNE, "pack", "install", repo.url, "-q"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

        assert (done.returncode, done.stdout) == (1, "")
        assert lines(done.stderr) == [
            "✗ Error: ATTUNE_FETCH_TIMEOUT_SECONDS must be a whole number from 1 to 3600, "
            f"got '{setting}'"]
        assert stored(cli) == [] and work_left(cli) == []
        assert_nothing_happened(cli)
