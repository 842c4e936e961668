"""``--install-deps`` on each store: ``attune pack register`` and ``attune pack install`` (in
process, the ``cli`` fixture), and the API's ``install_deps`` (Litestar's TestClient).

The pack index is a real file naming real git repositories made here: ``core`` (tags v1.0.0,
v1.2.0, v1.3.0, v2.0.0; 1.3.0 needs ``util ~0.1``), ``util`` (v0.1.0, v0.2.0, and a branch
``broken`` of 0.1.0 whose tests fail) and ``web`` (v1.0.0, which needs ``core ^1.2``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_http import Api, running_api
from tests.packs import failing_tests, manifest, write_pack
from tests.remote_packs import git

WEB_NEEDS = {"core": "^1.2"}
INDEX = """\
packs:
  core:
    "1.0.0": {source: core.git, git_ref: v1.0.0}
    "1.2.0": {source: core.git, git_ref: v1.2.0}
    "1.3.0": {source: core.git, git_ref: v1.3.0}
    "2.0.0": {source: core.git, git_ref: v2.0.0}
  util:
    "0.1.0": {source: util.git, git_ref: v0.1.0}
    "0.2.0": {source: util.git, git_ref: v0.2.0}
"""


def make_pack_repo(root: Path, ref: str,
                   releases: list[tuple[str, dict[str, str], str | None]]) -> Path:
    """A bare repository ``root/<ref>.git`` with, for each (version, dependencies, label),
    a commit tagged ``v<version>``; a label ``broken`` is a branch whose tests fail."""
    bare, work = root / f"{ref}.git", root / f"{ref}-work"
    git("init", "-q", "--bare", str(bare), cwd=root)
    git("init", "-q", str(work), cwd=root)
    for version, dependencies, label in releases:
        tests = None
        if label == "broken":
            git("checkout", "-q", "-b", "broken", cwd=work)
            tests = {"test_math.py": failing_tests(1, 1)}
        write_pack(work, manifest(ref, version, dependencies=dependencies), tests)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", version, cwd=work)
        if label is None:
            git("tag", f"v{version}", cwd=work)
    git("push", "-q", "--tags", str(bare), "main", *(["broken"] if any(
        label == "broken" for *_, label in releases) else []), cwd=work)
    return bare


def make_sources(root: Path) -> Path:
    """The repositories and the index under ``root``; returns the index's path."""
    make_pack_repo(root, "core", [("1.0.0", {}, None), ("1.2.0", {}, None),
                                  ("1.3.0", {"util": "~0.1"}, None), ("2.0.0", {}, None)])
    make_pack_repo(root, "util", [("0.1.0", {}, None), ("0.2.0", {}, None),
                                  ("0.1.0", {}, "broken")])
    make_pack_repo(root, "web", [("1.0.0", WEB_NEEDS, None)])
    index = root / "index.yaml"
    index.write_text(INDEX)
    return index


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sources(tmp_path_factory.mktemp("index"))


@pytest.fixture
def indexed(cli: Any, sources: Path) -> Any:
    """The ``cli`` fixture with ``ATTUNE_PACK_INDEX`` set."""
    cli.env["ATTUNE_PACK_INDEX"] = str(sources)
    return cli


def web_dir(root: Path, dependencies: dict[str, str] | None = None) -> Path:
    return write_pack(root / "web", manifest("web", "1.0.0", dependencies=dependencies
                                             if dependencies is not None else WEB_NEEDS))


def active(cli: Any) -> dict[str, str]:
    done = cli("pack", "list", "--json")
    assert done.returncode == 0, both(done)
    return {row["ref"]: row["version"] for row in json.loads(done.stdout)["data"]}


def both(done: Any) -> str:
    return done.stdout + done.stderr


def leftovers(cli: Any) -> list[str]:
    work = Path(cli.env["ATTUNE_HOME"]) / "work"
    return sorted(p.name for p in work.iterdir()) if work.exists() else []


class TestRegisterWithInstallDeps:
    def test_without_it_the_dependency_gate_refuses_and_installs_nothing(self, indexed,
                                                                        tmp_path):
        done = indexed("pack", "register", str(web_dir(tmp_path)))
        assert done.returncode == 1
        assert "core" in both(done) and "^1.2" in both(done)
        assert active(indexed) == {}

    def test_installs_the_highest_satisfying_versions_in_order_then_the_pack(self, indexed,
                                                                             sources, tmp_path):
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps")

        assert done.returncode == 0, both(done)
        notes = [line for line in done.stderr.splitlines() if "Installing dependency" in line]
        assert notes == [
            f"▶ Installing dependency 1/2: util 0.1.0 from {sources.parent / 'util.git'} "
            "at v0.1.0",
            f"▶ Installing dependency 2/2: core 1.3.0 from {sources.parent / 'core.git'} "
            "at v1.3.0"]
        assert "✓ Dependencies installed first: util 0.1.0, core 1.3.0" in done.stdout
        assert "✓ Pack 'web' registered successfully" in done.stdout
        assert active(indexed) == {"core": "1.3.0", "util": "0.1.0", "web": "1.0.0"}
        core = json.loads(indexed("pack", "history", "core", "--json").stdout)["data"][0]
        assert (core["status"], core["trigger_reason"], core["origin"]["ref"]) == (
            "committed", "install", "v1.3.0")
        assert core["origin"]["source"] == str(sources.parent / "core.git")
        web = json.loads(indexed("pack", "history", "web", "--json").stdout)["data"][0]
        assert (web["status"], web["trigger_reason"]) == ("committed", "register")
        assert leftovers(indexed) == []  # every fetch for the plan is removed

    def test_json_lists_what_was_installed_first(self, indexed, tmp_path):
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps", "--json")

        assert done.returncode == 0, both(done)
        data = json.loads(done.stdout)["data"]
        assert data["pack"]["ref"] == "web"
        assert [(i["ref"], i["version"]) for i in data["installed_dependencies"]] == [
            ("util", "0.1.0"), ("core", "1.3.0")]
        history = json.loads(indexed("pack", "history", "util", "--json").stdout)["data"]
        assert data["installed_dependencies"][0]["registration_id"] == history[0]["id"]

    def test_dependencies_already_satisfied_install_nothing_and_need_no_index(
            self, cli, sources, tmp_path):
        # No ATTUNE_PACK_INDEX: the index is read only when something is missing.
        cli.env.pop("ATTUNE_PACK_INDEX", None)
        assert cli("pack", "install", str(sources.parent / "core.git"), "--ref",
                   "v1.2.0").returncode == 0
        done = cli("pack", "register", str(web_dir(tmp_path)), "--install-deps", "--json")
        assert done.returncode == 0, both(done)
        assert "installed_dependencies" not in json.loads(done.stdout)["data"]
        assert active(cli) == {"core": "1.2.0", "web": "1.0.0"}

    def test_a_conflict_is_explained_and_installs_nothing(self, indexed, tmp_path):
        pack = web_dir(tmp_path, {"core": "~1.3", "util": "^0.2"})
        done = indexed("pack", "register", str(pack), "--install-deps")

        assert done.returncode == 1
        assert done.stderr.splitlines()[-2:] == [
            "✗ Error: Cannot install the dependencies of pack 'web' from the pack index; "
            "nothing was installed:",
            "  util: web needs ^0.2, core 1.3.0 needs ~0.1; it is not active and no version "
            "in the index satisfies all of them (index has 0.1.0, 0.2.0)"]
        assert active(indexed) == {}
        assert leftovers(indexed) == []

    def test_an_active_dependency_that_does_not_satisfy_is_not_upgraded(self, indexed,
                                                                        sources, tmp_path):
        assert indexed("pack", "install", str(sources.parent / "core.git"), "--ref",
                       "v1.0.0").returncode == 0
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps")

        assert done.returncode == 1
        assert ("  core: active core 1.0.0 does not satisfy web's ^1.2; the index has 1.3.0, "
                "but an active pack is not replaced here") in both(done)
        assert active(indexed) == {"core": "1.0.0"}

    def test_a_dependency_that_fails_its_tests_stops_before_the_pack(self, indexed, sources,
                                                                     tmp_path):
        broken = sources.parent / "broken-index.yaml"
        broken.write_text(INDEX.replace("util.git, git_ref: v0.1.0", "util.git, git_ref: broken"))
        indexed.env["ATTUNE_PACK_INDEX"] = str(broken)
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps")

        assert done.returncode == 1
        assert ("✗ Error: Dependency util 0.1.0 of pack 'web' could not be installed, so 'web' "
                "was not registered: Pack registration failed: tests did not pass.") \
            in both(done)
        assert "deliberate failure 0" in both(done)  # the failing case, as any rejection
        assert active(indexed) == {}
        history = json.loads(indexed("pack", "history", "util", "--json").stdout)["data"]
        assert [(h["status"], h["trigger_reason"]) for h in history] == [("rejected", "install")]

    def test_an_index_entry_holding_another_version_is_refused(self, indexed, sources,
                                                               tmp_path):
        wrong = sources.parent / "wrong-index.yaml"
        wrong.write_text(INDEX.replace('"1.3.0": {source: core.git, git_ref: v1.3.0}',
                                       '"1.3.0": {source: core.git, git_ref: v1.2.0}'))
        indexed.env["ATTUNE_PACK_INDEX"] = str(wrong)
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps")

        assert done.returncode == 1
        assert ("The pack index's entry core 1.3.0 holds pack 'core' 1.2.0 (its pack.yaml); "
                "fix the index entry") in both(done)
        assert active(indexed) == {}

    def test_without_an_index_it_says_what_to_set(self, cli, tmp_path):
        cli.env.pop("ATTUNE_PACK_INDEX", None)
        done = cli("pack", "register", str(web_dir(tmp_path)), "--install-deps")
        assert done.returncode == 1
        assert "--install-deps needs a pack index: set ATTUNE_PACK_INDEX" in both(done)

    def test_it_cannot_be_combined_with_no_wait(self, indexed, tmp_path):
        done = indexed("pack", "register", str(web_dir(tmp_path)), "--install-deps",
                       "--no-wait")
        assert done.returncode == 2
        assert "cannot be combined with --no-wait" in both(done)


class TestInstallWithInstallDeps:
    def test_the_source_is_fetched_then_its_dependencies_installed_then_it(self, indexed,
                                                                           sources):
        done = indexed("pack", "install", str(sources.parent / "web.git"), "--ref", "v1.0.0",
                       "--install-deps")

        assert done.returncode == 0, both(done)
        assert "✓ Dependencies installed first: util 0.1.0, core 1.3.0" in done.stdout
        assert "✓ Pack 'web' installed successfully" in done.stdout
        assert active(indexed) == {"core": "1.3.0", "util": "0.1.0", "web": "1.0.0"}
        web = json.loads(indexed("pack", "history", "web", "--json").stdout)["data"][0]
        assert (web["trigger_reason"], web["origin"]["ref"]) == ("install", "v1.0.0")


class DepsApi(Api):
    def install(self, source: str | Path, **fields: object) -> Any:
        return self.client.post("/api/v1/packs/install", json={"source": str(source), **fields},
                                headers=self.write)


@pytest.fixture
def api(settings, tmp_path):
    """The API with its index under its pack root (local sources must be under it)."""
    root = tmp_path / "packs"
    with running_api(replace(settings, pack_index=str(root / "sources" / "index.yaml")),
                     tmp_path, DepsApi) as api:
        (root / "sources").mkdir()
        make_sources(root / "sources")
        yield api


class TestApi:
    def test_register_with_install_deps_answers_what_it_installed(self, api):
        done = api.register(web_dir(api.root), install_deps=True)

        assert done.status_code == 201, done.text
        data = done.json()["data"]
        assert data["pack"]["ref"] == "web"
        assert [(i["ref"], i["version"]) for i in data["installed_dependencies"]] == [
            ("util", "0.1.0"), ("core", "1.3.0")]
        listed = api.get("/packs").json()["data"]
        assert {row["ref"]: row["version"] for row in listed} == {
            "core": "1.3.0", "util": "0.1.0", "web": "1.0.0"}

    def test_install_with_install_deps(self, api):
        done = api.install(api.root / "sources" / "web.git", ref_spec="v1.0.0",
                           install_deps=True)
        assert done.status_code == 201, done.text
        assert len(done.json()["data"]["installed_dependencies"]) == 2

    def test_a_plain_registration_says_nothing_of_dependencies(self, api):
        pack = write_pack(api.root / "plain", manifest("plain"))
        done = api.register(pack)
        assert done.status_code == 201, done.text
        assert "installed_dependencies" not in done.json()["data"]

    def test_a_conflict_is_a_409_with_who_needs_what(self, api):
        done = api.register(web_dir(api.root, {"core": ">=3"}), install_deps=True)

        assert done.status_code == 409, done.text
        body = done.json()
        assert body["code"] == "CONFLICT"
        assert body["details"] == [{
            "ref": "core", "needed_by": {"web": ">=3"}, "active_version": None,
            "index_versions": ["2.0.0", "1.3.0", "1.2.0", "1.0.0"],
            "problem": body["details"][0]["problem"]}]
        assert api.get("/packs").json()["data"] == []

    def test_index_sources_outside_the_pack_roots_are_refused(self, api, sources):
        # An index that names repositories outside the server's pack root.
        index = api.root / "sources" / "index.yaml"
        index.write_text(INDEX.replace("core.git", str(sources.parent / "core.git")))
        done = api.register(web_dir(api.root), install_deps=True)

        assert done.status_code == 403, done.text
        assert "outside the server's pack roots" in done.json()["error"]
        assert api.get("/packs").json()["data"] == []

    def test_without_wait_it_is_refused(self, api):
        done = api.register(web_dir(api.root), install_deps=True, wait=False)
        assert done.status_code == 400
        assert "cannot be combined with \"wait\": false" in done.json()["error"]


class TestRemoteMode:
    def test_the_server_installs_from_its_own_index(self, settings, request, monkeypatch,
                                                      tmp_path):
        from tests.e2e.test_remote_cli import remote

        # The server's index, under its pack root (tmp/packs, made by the fixture).
        monkeypatch.setenv("ATTUNE_PACK_INDEX", str(tmp_path / "packs" / "sources" / "index.yaml"))
        server = request.getfixturevalue("server")
        (server.root / "sources").mkdir()
        make_sources(server.root / "sources")

        done = remote(server, "pack", "register", str(web_dir(server.root)), "--install-deps",
                      "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)["data"]
        assert [(i["ref"], i["version"]) for i in data["installed_dependencies"]] == [
            ("util", "0.1.0"), ("core", "1.3.0")]

        conflict = remote(server, "pack", "register",
                          str(web_dir(server.root / "next", {"core": ">=3"})), "--install-deps")
        assert conflict.returncode == 1
        assert conflict.stderr.splitlines()[-1] == (
            "  core: active core 1.3.0 does not satisfy web's >=3; no version in the index "
            "does (index has 1.0.0, 1.2.0, 1.3.0, 2.0.0)")
        listed = json.loads(remote(server, "pack", "list", "--json").stdout)["data"]
        assert {row["ref"]: row["version"] for row in listed} == {
            "core": "1.3.0", "util": "0.1.0", "web": "1.0.0"}
