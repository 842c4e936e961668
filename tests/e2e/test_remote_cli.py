"""Remote mode: the CLI through a real server prints what it prints locally."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

from adapters.bootstrap import build_registry
from tests.conftest import CORE_PACK, CORE_VERSION
from tests.e2e.conftest import ATTUNE
from tests.history import insert_runs
from tests.packs import failing_tests, manifest, write_pack


def remote(server, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_API_URL=server.url, ATTUNE_TOKEN=token or server.write_token,
               ATTUNE_HOME="/nonexistent-on-purpose")  # the client has no store of its own
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True, timeout=300)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


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
        assert lines(history.stdout)[1].split()[-2:] == ["passed", "committed"]
        assert lines(shown.stdout)[0] == f"Pack 'core' {CORE_VERSION} (ID 1)"

    def test_failures_and_exit_codes_match_local_mode(self, server):
        pack = write_pack(server.root / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        rejected = remote(server, "pack", "register", str(pack))
        forced = remote(server, "pack", "register", str(pack), "--force")
        manual = remote(server, "pack", "test", "mypack")
        unknown = remote(server, "pack", "test-history", "nope")
        as_reader = remote(server, "pack", "unregister", "mypack", token=server.read_token)

        assert (rejected.returncode, lines(rejected.stderr)) == (1, [
            "✗ Error: Pack registration failed: tests did not pass. Use force=true to "
            "register anyway."])
        assert forced.returncode == 0 and lines(forced.stdout) == [
            "⚠ Pack 'mypack' registered successfully", "Version: 1.0.0", "ID: 1",
            "✗ Some tests failed", "Tests: 8/10 passed"]
        assert manual.returncode == 1 and lines(manual.stdout)[-1] == "✗ Tests failed: 2/10"
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
