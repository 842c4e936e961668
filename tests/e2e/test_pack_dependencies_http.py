"""Declared dependencies through the HTTP API (Litestar's test client, both stores) and the
remote CLI (a real server)."""

from __future__ import annotations

import json
import os
import subprocess

from tests.e2e.conftest import ATTUNE
from tests.e2e.test_http import running_api
from tests.packs import manifest, write_pack


def test_the_api_gates_protects_and_reads_dependencies(settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        def register(ref: str, version: str, **extra: object):
            path = write_pack(api.root / f"{ref}-{version}", manifest(ref, version, **extra))
            return api.register(path, skip_tests=True, replace=True)

        refused = register("web", "1.0.0", dependencies=["core@^1.2"])
        assert refused.status_code == 409
        assert refused.json()["code"] == "DEPENDENCIES_UNMET"
        assert refused.json()["details"] == [
            {"ref": "core", "wanted": "^1.2", "active_version": None}]
        assert api.get("/packs/web/dependencies").status_code == 404  # nothing recorded

        assert register("core", "1.1.0").status_code == 201
        assert register("core", "1.2.5").status_code == 201
        assert register("web", "1.0.0", dependencies=["core@^1.2"]).status_code == 201

        body = api.get("/packs/web/dependencies").json()
        assert body == {"data": {"ref": "web", "version": "1.0.0", "dependencies": [
            {"ref": "core", "wanted": "^1.2", "active_version": "1.2.5", "satisfied": True}],
            "dependents": []}}
        reverse = api.get("/packs/core/dependencies").json()["data"]
        assert reverse["dependents"] == [
            {"ref": "web", "version": "1.0.0", "wanted": "^1.2", "satisfied": True}]
        assert api.get("/packs/web").json()["data"]["pack"]["dependencies"] == {"core": "^1.2"}
        assert api.get("/packs/nothing/dependencies").status_code == 404

        rollback = api.client.post("/api/v1/packs/core/rollback", headers=api.write)
        assert rollback.status_code == 409
        assert rollback.json()["code"] == "DEPENDENTS_ACTIVE"
        assert rollback.json()["details"] == [{"ref": "web", "wanted": "^1.2"}]
        unregister = api.client.delete("/api/v1/packs/core", headers=api.write)
        assert unregister.status_code == 409
        assert "web (needs core ^1.2)" in unregister.json()["error"]
        assert api.get("/packs/core").json()["data"]["pack"]["version"] == "1.2.5"

        forced = api.client.delete("/api/v1/packs/core", params={"force": "true"},
                                   headers=api.write)
        assert forced.status_code == 200
        rows = api.get("/packs/core/registrations").json()["data"]
        assert rows[0]["overridden_dependents"] == [{"ref": "web", "wanted": "^1.2"}]
        after = api.get("/packs/web/dependencies").json()["data"]["dependencies"]
        assert after == [{"ref": "core", "wanted": "^1.2", "active_version": None,
                          "satisfied": False}]


def test_the_remote_cli_prints_what_the_local_one_does(server, cli):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_API_URL=server.url, ATTUNE_TOKEN=server.write_token,
               ATTUNE_HOME="/nonexistent-on-purpose")

    def remote(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                              timeout=300)

    for ref, extra in (("core", {}), ("web", {"dependencies": {"core": "~1.0"}})):
        path = write_pack(server.root / ref, manifest(ref, **extra))
        done = remote("pack", "register", str(path), "--skip-tests")
        assert done.returncode == 0, done.stderr

    for args in (("pack", "deps", "web"), ("pack", "deps", "core", "--reverse"),
                 ("pack", "deps", "web", "--json")):
        there, here = remote(*args), cli(*args)
        assert (there.returncode, there.stdout) == (0, here.stdout), there.stderr
    assert json.loads(here.stdout)["data"]["dependencies"][0]["satisfied"] is True

    refused = remote("pack", "unregister", "core")
    assert refused.returncode == 1
    assert "Cannot unregister 'core': active packs depend on it: web" in refused.stderr
    assert remote("pack", "unregister", "core", "--force").returncode == 0
    history = remote("pack", "history", "core")
    assert "forced although active packs depended on it: web (needs core ~1.0)" in history.stdout
