"""Pinning an install to its content digest (`--digest` / `"digest"`): reproducible installs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app

from tests.packs import manifest, write_pack
from tests.remote_packs import make_archive, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("git"))


def content_digest(cli, source: str, *args: str) -> str:
    """The digest an install of ``source`` records (installed, then unregistered)."""
    done = cli("pack", "install", source, *args, "--skip-tests", "--json")
    assert done.returncode == 0, done.stderr
    digest = json.loads(done.stdout)["data"]["pack"]["content_digest"]
    assert cli("pack", "unregister", "lamp").returncode == 0
    return digest


class TestCli:
    def test_the_same_commit_gives_the_same_digest_from_git_and_from_an_archive(
            self, cli, repo, tmp_path):
        """What is pinned is the pack's files, not how they travelled."""
        from tests.remote_packs import git

        work = tmp_path / "export"
        git("clone", "-q", "--branch", "v1.0.0", str(repo.path), str(work), cwd=tmp_path)
        archive = make_archive(work, tmp_path / "lamp-1.0.0.tar.gz")
        from_git = content_digest(cli, repo.url, "--ref", "v1.0.0")
        assert content_digest(cli, str(archive)) == from_git

        done = cli("pack", "install", str(archive), "--digest", f"sha256:{from_git}",
                      "--skip-tests", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["data"]["pack"]["content_digest"] == from_git

    def test_other_content_is_refused_before_anything_is_recorded(self, cli, repo):
        pinned = content_digest(cli, repo.url, "--ref", "v1.0.0")
        history = cli("pack", "history", "lamp", "--json").stdout

        done = cli("pack", "install", repo.url, "--ref", "main", "--digest", pinned)

        assert done.returncode == 1
        assert done.stderr.splitlines()[-1].startswith("✗ Error: Pack 'lamp' has content "
                                                        "digest sha256:")
        assert done.stderr.splitlines()[-1].endswith(
            f", not the expected sha256:{pinned}; nothing was installed")
        assert cli("pack", "history", "lamp", "--json").stdout == history
        home = cli.env["ATTUNE_HOME"]
        from pathlib import Path

        releases = Path(home) / "releases"
        assert [p.name for p in releases.iterdir() if p.is_dir()] == [pinned]

    def test_a_malformed_digest_is_refused_before_fetching(self, cli, repo):
        done = cli("pack", "install", repo.url, "--digest", "sha256:abc")
        assert done.returncode == 1
        assert done.stderr.splitlines()[-1] == (
            "✗ Error: Invalid digest 'sha256:abc': expected sha256:<64 hex digits>, as "
            "`attune pack show` prints it")
        assert cli("pack", "list", "--json").stdout.strip() == '{\n  "data": []\n}'


class TestApi:
    def test_digest_pins_the_install(self, settings, tmp_path):
        root = tmp_path / "packs"
        pack = write_pack(root / "lamp", manifest("lamp"))
        settings = replace(settings, pack_roots=(root,))
        with build_registry(settings) as registry:
            write, _ = registry.create_token("writer", "write", actor="test")
        headers = {"Authorization": f"Bearer {write}"}
        with TestClient(app=create_app(settings)) as client:
            wrong = client.post("/api/v1/packs/install", headers=headers, json={
                "source": str(pack), "digest": "0" * 64, "skip_tests": True})
            assert (wrong.status_code, wrong.json()["code"]) == (400, "BAD_REQUEST")
            actual = wrong.json()["error"].split("sha256:")[1].split(",")[0]
            malformed = client.post("/api/v1/packs/install", headers=headers,
                                    json={"source": str(pack), "digest": "xyz"})
            assert malformed.status_code == 422
            assert "digest" in malformed.json()["error"]
            done = client.post("/api/v1/packs/install", headers=headers, json={
                "source": str(pack), "digest": f"sha256:{actual.upper()}", "skip_tests": True})
            assert done.status_code == 201, done.text
            assert done.json()["data"]["pack"]["content_digest"] == actual
