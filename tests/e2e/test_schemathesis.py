"""Property-based run of the published OpenAPI schema against a real server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.parametrize("token", ["write_token", "read_token"])
def test_no_5xx_and_every_response_matches_the_schema(server, token):
    # A small, quick pack: the fuzzer may run its tests many times through POST /packs/{ref}/test.
    pack = shutil.copytree(REPO / "packs" / "examples" / "tap-suite", server.root / "tap-suite")
    subprocess.run([str(Path(sys.executable).parent / "attune"), "pack", "register", str(pack),
                    "-q"], env=server.env, check=True, capture_output=True)

    # /packs/install is left out: it fetches from the network (https and ssh git URLs,
    # archive downloads), which random inputs must not make this server do. Its answers are
    # tested in tests/e2e/test_install_http.py and, for malformed bodies, in
    # tests/reliability/test_service_hardening.py. Adding and testing webhooks are left out
    # for the same reason: a random public URL would be looked up and sent to (their
    # answers are tested in tests/e2e/test_webhooks_http.py).
    run = subprocess.run(
        [SCHEMATHESIS, "run", f"{server.url}/schema/openapi.json",
         "-H", f"Authorization: Bearer {getattr(server, token)}",
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
         "--max-examples", "25", "--seed", "20261125", "--wait-for-schema", "30",
         "--exclude-path", "/api/v1/packs/install",
         "--exclude-operation-id", "addWebhook", "--exclude-operation-id", "testWebhook"],
        capture_output=True, text=True, timeout=900, cwd=server.root.parent)

    assert run.returncode == 0, run.stdout[-4000:]
