"""Remote mode: the CLI through a real server prints what it prints locally."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.cli.output import REJECTION_HINT

from tests.conftest import CORE_PACK, CORE_VERSION
from tests.e2e.conftest import ATTUNE
from tests.history import insert_runs
from tests.packs import failing_tests, manifest, write_pack
from tests.remote_packs import archive_bytes, make_archive, make_repo


def remote(server, *args: str, token: str | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_API_URL=server.url, ATTUNE_TOKEN=token or server.write_token,
               ATTUNE_HOME="/nonexistent-on-purpose")  # the client has no store of its own
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def data_of(done: subprocess.CompletedProcess[str]) -> list[dict]:
    return json.loads(done.stdout)["data"]


class TestRemoteMode:
    def test_register_and_read_through_the_api(self, server):
        core = shutil.copytree(CORE_PACK, server.root / "core")

        registered = remote(server, "pack", "register", str(core))
        again = remote(server, "pack", "register", str(core))
        listed = remote(server, "pack", "list")
        history = remote(server, "pack", "test-history", "core")
        shown = remote(server, "pack", "show", "core", token=server.read_token)

        assert registered.returncode == 0, registered.stderr
        out = lines(registered.stdout)
        assert out[:4] == ["✓ Pack 'core' registered successfully", f"Version: {CORE_VERSION}", "ID: 1",
                           "✓ All tests passed"]
        assert (again.returncode, lines(again.stderr)) == (
            1, ["✗ Error: Pack 'core' already exists. Use force=true to reinstall."])
        assert lines(listed.stdout)[1].split()[:3] == ["1", "core", CORE_VERSION]
        *outcome, sandbox = lines(history.stdout)[1].split()[-3:]
        assert (outcome, sandbox in ("bwrap", "namespaces")) == (["passed", "committed"], True)
        assert lines(shown.stdout)[0] == f"Pack 'core' {CORE_VERSION} (ID 1)"
        # How the server isolated the suites reaches the remote user too.
        assert lines(shown.stdout)[-1].startswith(f"  Sandbox {sandbox} (files, processes")

    def test_failures_and_exit_codes_match_local_mode(self, server):
        pack = write_pack(server.root / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        rejected = remote(server, "pack", "register", str(pack))
        rejected_json = remote(server, "pack", "register", str(pack), "--json")
        forced = remote(server, "pack", "register", str(pack), "--force")
        manual = remote(server, "pack", "test", "mypack")
        unknown = remote(server, "pack", "test-history", "nope")
        as_reader = remote(server, "pack", "unregister", "mypack", token=server.read_token)
        attempts = json.loads(remote(server, "pack", "history", "mypack", "--json").stdout)

        # The API's details reach the remote user: the failing cases and the registration.
        failing = [f"test_mixed.TestMixed.test_fail_{n}: AssertionError: {n} != {n + 1} : "
                   f"deliberate failure {n}" for n in (0, 1)]
        _, as_json, as_text = attempts["data"]  # newest first
        assert (rejected.returncode, lines(rejected.stderr)) == (1, [
            "✗ Error: Pack registration failed: tests did not pass. Use force=true to "
            "register anyway.",
            *(f"  ✗ Unit Tests: {case}" for case in failing),
            f"Registration: {as_text['id']}", REJECTION_HINT])
        body = json.loads(rejected_json.stdout)
        assert (rejected_json.returncode, body["code"]) == (1, "BAD_REQUEST")
        [evidence] = body["details"]
        assert (evidence["registration_id"], evidence["summary"]["failed"]) == (as_json["id"], 2)
        assert [f"{c['case']}: {c['message']}" for c in evidence["failing_cases"]] == failing
        assert forced.returncode == 0 and lines(forced.stdout) == [
            "⚠ Pack 'mypack' registered successfully", "Version: 1.0.0", "ID: 1",
            "✗ Some tests failed", "Tests: 8/10 passed"]
        assert manual.returncode == 1
        assert lines(manual.stdout)[-1] == "✗ Some tests failed: 8/10 passed"
        assert (unknown.returncode, lines(unknown.stderr)) == (
            1, ["✗ Error: Pack 'nope' not found"])
        assert as_reader.returncode == 1 and "needs 'write'" in as_reader.stderr

    def test_a_history_longer_than_a_page_is_fetched_up_to_the_limit(self, server, settings,
                                                                     attune):
        pack = write_pack(server.root / "mypack", manifest("mypack"))
        assert remote(server, "pack", "register", str(pack), "--skip-tests").returncode == 0
        # More runs than one API page holds (100), written straight into the read model.
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with build_registry(settings) as registry:
            insert_runs(registry.view, "mypack",
                        [start + timedelta(minutes=m) for m in range(230)], first_id=1)

        limited = remote(server, "pack", "test-history", "mypack", "--limit", "150", "--json")
        everything = remote(server, "pack", "test-history", "mypack", "--limit", "1000",
                            "--json")
        local = attune("pack", "test-history", "mypack", "--limit", "150", "--json")

        assert limited.returncode == 0, limited.stderr
        assert [r["id"] for r in json.loads(limited.stdout)["data"]] == list(range(230, 80, -1))
        assert len(json.loads(everything.stdout)["data"]) == 230
        assert limited.stdout == local.stdout

    def test_local_only_commands_and_a_bad_token_say_so(self, server):
        tokens = remote(server, "token", "list")
        bad = remote(server, "pack", "list", token="attn_nope")
        assert tokens.returncode == 1 and "works on the local store only" in tokens.stderr
        assert lines(bad.stderr) == ["✗ Error: Missing or invalid bearer token"]


@pytest.fixture
def trusting_server(https_server, monkeypatch, settings, request):
    """``server`` started with ``https_server``'s CA trusted: the server downloads, not the
    client."""
    for name, value in https_server.env({}).items():
        monkeypatch.setenv(name, value)
    # The download server listens on 127.0.0.1, an address API installs refuse by default.
    monkeypatch.setenv("ATTUNE_INSTALL_ALLOW_PRIVATE", "1")
    return request.getfixturevalue("server"), https_server


class TestRemoteInstall:
    def test_install_and_verify_through_the_api_print_what_they_print_locally(self, server,
                                                                              attune):
        repo = make_repo(server.root)
        source = f"Source: git {repo.url} at v1.0.0 (commit {repo.commits['v1.0.0']})"

        installed = remote(server, "pack", "install", repo.url, "--ref", "v1.0.0")
        verified = remote(server, "pack", "verify", "lamp", token=server.read_token)
        as_json = remote(server, "pack", "verify", "lamp", "--json", token=server.read_token)
        local = attune("pack", "verify", "lamp")

        assert installed.returncode == 0, installed.stderr
        assert lines(installed.stdout) == ["✓ Pack 'lamp' installed successfully",
                                           "Version: 1.0.0", "ID: 1", source,
                                           "✓ All tests passed", "Tests: 2/2 passed"]
        assert lines(installed.stderr)[0] == f"Fetching {repo.url} at v1.0.0"
        assert as_json.returncode == 0
        found = json.loads(as_json.stdout)["data"]
        assert (found["status"], found["origin"]["commit"]) == ("ok", repo.commits["v1.0.0"])
        assert (verified.returncode, lines(verified.stdout)) == (0, [
            f"✓ Pack 'lamp' 1.0.0 matches its recorded content (sha256:{found['expected_digest']})",
            source, f"Release: {found['release_path']}"])
        assert verified.stdout == local.stdout

    def test_refusals_drift_and_exit_codes_match_local_mode(self, server, attune, tmp_path):
        repo = make_repo(server.root)
        make_archive(write_pack(tmp_path / "src", manifest("lamp")),
                     server.root / "lamp-1.0.0.tar.gz")
        outside = make_archive(tmp_path / "src", tmp_path / "lamp.tgz")

        broken = remote(server, "pack", "install", repo.url, "--ref", "broken", "-q")
        elsewhere = remote(server, "pack", "install", str(outside), "-q")
        as_reader = remote(server, "pack", "install", repo.url, "-q", token=server.read_token)
        # A relative path is the client's: made absolute, as for register.
        relative = remote(server, "pack", "install", "lamp-1.0.0.tar.gz", "-q", cwd=server.root)
        unknown = remote(server, "pack", "verify", "nope")

        rejected = ("Pack registration failed: tests did not pass. Use force=true to register "
                    "anyway.")
        assert broken.returncode == 1
        assert lines(broken.stderr)[0] == f"✗ Error: {rejected}"
        assert lines(broken.stderr)[1].startswith("  ✗ Unit Tests: ")
        history = data_of(remote(server, "pack", "history", "lamp", "--json"))
        assert lines(broken.stderr)[-2:-1] == [
            f"Registration: {r['id']}" for r in history if r["status"] == "rejected"]
        assert (elsewhere.returncode, lines(elsewhere.stderr)) == (1, [
            f"✗ Error: Path {outside} is outside the server's pack roots: {server.root}"])
        assert as_reader.returncode == 1 and "needs 'write'" in as_reader.stderr
        assert relative.returncode == 0, relative.stderr
        archive = server.root / "lamp-1.0.0.tar.gz"
        assert lines(relative.stdout)[3] == (
            f"Source: archive {archive} (sha256:{hashlib.sha256(archive.read_bytes()).hexdigest()})")
        assert (unknown.returncode, lines(unknown.stderr)) == (1, ["✗ Error: Pack 'nope' not found"])

        files = Path(json.loads(remote(server, "pack", "verify", "lamp", "--json").stdout)
                     ["data"]["source_path"])
        manifest_file = files / "pack.yaml"
        manifest_file.chmod(manifest_file.stat().st_mode | stat.S_IWUSR)
        manifest_file.write_text(manifest_file.read_text() + "# edited\n")

        drifted = remote(server, "pack", "verify", "lamp", token=server.read_token)
        drifted_json = remote(server, "pack", "verify", "lamp", "--json")
        local = attune("pack", "verify", "lamp")

        found = json.loads(drifted_json.stdout)["data"]
        assert (drifted_json.returncode, found["status"]) == (1, "drifted")
        assert (drifted.returncode, lines(drifted.stdout)) == (1, [
            "✗ Pack 'lamp' 1.0.0 has drifted from its recorded content", f"Release: {files}",
            f"Recorded: sha256:{found['expected_digest']}",
            f"Found:    sha256:{found['actual_digest']}", "  modified: pack.yaml"])
        assert drifted.stdout == local.stdout

    def test_the_server_downloads_an_https_archive_and_masks_its_credentials(
            self, trusting_server):
        server, https = trusting_server
        pack = write_pack(https.ca_file.parent / "lamp-src", manifest("lamp"))
        https.files["/lamp-1.0.0.tar.gz"] = archive_bytes(pack)
        url = https.url.replace("https://", "https://alice:s3cret-pw@") + "/lamp-1.0.0.tar.gz"
        masked = https.url.replace("https://", "https://***@") + "/lamp-1.0.0.tar.gz"

        installed = remote(server, "pack", "install", url)
        shown = remote(server, "pack", "show", "lamp", token=server.read_token)

        assert installed.returncode == 0, installed.stderr
        digest = hashlib.sha256(https.files["/lamp-1.0.0.tar.gz"]).hexdigest()
        assert lines(installed.stdout)[3] == f"Source: archive {masked} (sha256:{digest})"
        assert lines(installed.stderr)[0] == f"Fetching {masked}"
        assert f"Installed from: archive {masked} (sha256:{digest})" in lines(shown.stdout)
        assert [path for path, _ in https.requests] == ["/lamp-1.0.0.tar.gz"]
        for done in (installed, shown):
            assert "s3cret-pw" not in done.stdout + done.stderr
