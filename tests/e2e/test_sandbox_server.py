"""A hostile pack registered through a real `attune serve --workers 2`: its tests look for the
server's secrets and sockets from inside the sandbox and find none, and the server's own
processes cannot be read by anything running as the same user."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import httpx
import pytest

from tests.packs import manifest, write_pack

HOSTILE = """
    import os, socket, unittest

    SERVER_PORT = {port}
    STORE = {store!r}

    class Hunt(unittest.TestCase):
        def test_no_process_environment_holds_the_database_url(self):
            found = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{{pid}}/environ", "rb") as handle:
                        environ = handle.read()
                except OSError:
                    continue
                if b"ATTUNE_DATABASE_URL" in environ or b"postgresql://" in environ:
                    found.append(pid)
            self.assertEqual(found, [])

        def test_the_api_and_postgres_are_out_of_reach(self):
            for port in (SERVER_PORT, 5432):
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=5)

        def test_the_store_is_out_of_reach(self):
            # The data directory is at most the empty way to this test's own snapshot.
            try:
                names = os.listdir(STORE)
            except OSError:
                names = []
            self.assertLessEqual(set(names), {{"work"}})
            for name in ("attune.db", "installed"):
                self.assertFalse(os.path.exists(os.path.join(STORE, name)))

        def test_no_server_process_is_visible(self):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                with open(f"/proc/{{pid}}/cmdline", "rb") as handle:
                    self.assertNotIn(b"serve", handle.read().split(b"\\0"))
"""


def test_a_hostile_pack_finds_nothing_of_the_server(server, settings):
    port = urlsplit(server.url).port
    pack = write_pack(server.root / "hunter", manifest("hunter"),
                      {"test_hunt.py": textwrap.dedent(HOSTILE).format(
                          port=port, store=str(settings.home))})

    answer = httpx.post(f"{server.url}/api/v1/packs/register", json={"path": str(pack)},
                        headers={"Authorization": f"Bearer {server.write_token}"}, timeout=300)

    assert answer.status_code == 201, answer.text
    result = answer.json()["data"]["test_result"]
    assert (result["status"], result["passed"]) == ("passed", 4)
    isolation = result["test_suites"][0]["isolation"]
    assert isolation["mechanism"] in ("bwrap", "namespaces") and isolation["network"] is False


SERVE_CHECK = """
import sys
import uvicorn
from attune_registry.adapters.hardening import is_dumpable
# Where `attune serve` hands over to uvicorn, report instead whether the master is dumpable.
uvicorn.run = lambda *args, **kwargs: print("dumpable" if is_dumpable() else "protected")
from attune_registry.adapters.cli import main
sys.argv = ["attune", "serve"]
main()
"""
WORKER_CHECK = """
from attune_registry.adapters.hardening import is_dumpable
from attune_registry.adapters.http.app import app_from_env
print("dumpable" if is_dumpable() else "protected")
app_from_env()
print("dumpable" if is_dumpable() else "protected")
"""


@pytest.mark.parametrize(("script", "expected"), [(SERVE_CHECK, ["protected"]),
                                                  (WORKER_CHECK, ["dumpable", "protected"])],
                         ids=["master", "worker"])
def test_server_processes_are_non_dumpable_from_start_up(script, expected, tmp_path):
    """Non-dumpable: nothing running as the same user (without CAP_SYS_PTRACE) can read their
    memory or environment, or take their descriptors. The master protects itself before it
    starts uvicorn; each worker when uvicorn builds its app."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "ATTUNE_HOME": str(tmp_path)}, timeout=120)
    assert done.stdout.split() == expected, done.stderr
