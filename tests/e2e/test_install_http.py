"""``POST /api/v1/packs/install`` and ``GET /api/v1/packs/{ref}/verify`` through Litestar's
TestClient, on both stores.

Sources are real: a bare git repository (``tests.remote_packs.make_repo``), archives on disk
and a real HTTPS server with a throwaway CA. The download happens in this process, so the CA
is trusted through this process's ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from attune_registry.adapters.install.sources import shown_source

from tests.e2e.test_http import Api, running_api
from tests.integration.test_install_sources import HOSTILE
from tests.packs import manifest, write_pack
from tests.remote_packs import archive_bytes, make_archive, make_repo

INSTALLED = "Pack installed successfully"
REJECTED = "Pack registration failed: tests did not pass. Use force=true to register anyway."
CONFLICT = "Pack 'lamp' already exists. Use force=true to reinstall."
NOT_FOUND_SOURCE = ("Install source {source} not found: give a git URL, an archive (a path or "
                    "an https:// URL) or a pack directory")


class InstallApi(Api):
    """``Api`` of the register tests, plus install, verify and what the store holds."""

    def install(self, source: str | Path, headers: dict[str, str] | None = None,
                **fields: object) -> httpx.Response:
        return self.client.post("/api/v1/packs/install", json={"source": str(source), **fields},
                                headers=self.write if headers is None else headers)

    def verify(self, ref: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.get(f"/packs/{ref}/verify", headers=self.read if headers is None else headers)

    def installed(self) -> list[str]:
        """Everything in the release store, $ATTUNE_HOME/releases (folders too), relative to
        it."""
        store = self.home / "releases"
        return sorted(p.relative_to(store).as_posix() for p in store.rglob("*"))

    def leftovers(self) -> list[str]:
        """What fetches left in the private work area (nothing, once a request is over)."""
        work = self.home / "work"
        return sorted(p.name for p in work.iterdir()) if work.exists() else []

    def log_head(self) -> int:
        return self.client.app.state.registry.app.recorder.max_notification_id() or 0


@pytest.fixture
def api(settings, tmp_path):
    """The API, allowed to fetch from this machine's addresses (the test servers' 127.0.0.1);
    ``TestPrivateAddresses`` runs it without."""
    with running_api(replace(settings, install_allow_private_setting="1"), tmp_path,
                     InstallApi) as api:
        yield api


@pytest.fixture
def repo(api):
    """The bare repository of pack ``lamp``, under the server's pack root."""
    return make_repo(api.root)


@pytest.fixture
def served(https_server, monkeypatch):
    """``https_server`` serving a passing ``lamp`` 1.0.0 tarball, trusted by this process."""
    pack = write_pack(https_server.ca_file.parent / "lamp-src", manifest("lamp"))
    https_server.files["/lamp-1.0.0.tar.gz"] = archive_bytes(pack)
    for name, value in https_server.env({}).items():
        monkeypatch.setenv(name, value)
    return https_server


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error(response: httpx.Response) -> tuple[int, dict]:
    return response.status_code, response.json()


class TestInstall:
    def test_a_tag_of_a_bare_repository_is_installed_with_its_origin(self, api, repo):
        done = api.install(repo.url, ref_spec="v1.0.0")

        assert done.status_code == 201, done.text
        body = done.json()
        assert body["message"] == INSTALLED and body["data"]["tests_skipped"] is False
        pack, result = body["data"]["pack"], body["data"]["test_result"]
        assert (pack["ref"], pack["version"]) == ("lamp", "1.0.0")
        assert pack["origin"] == {"type": "git", "source": repo.url, "ref": "v1.0.0",
                                  "commit": repo.commits["v1.0.0"]}
        assert (result["status"], result["passed"], result["total_tests"]) == ("passed", 2, 2)
        # The files live in the release store, named by their digest, read-only.
        store = api.home / "releases" / pack["content_digest"]
        assert pack["source_path"] == str(store)
        name = store.name
        assert api.installed() == [name, f"{name}.files", f"{name}/pack.yaml",
                                   f"{name}/tests", f"{name}/tests/test_math.py"]
        assert not (store / "pack.yaml").stat().st_mode & stat.S_IWUSR
        assert api.leftovers() == []
        [row] = api.get("/packs/lamp/registrations").json()["data"]
        assert (row["trigger_reason"], row["status"], row["origin"]) == (
            "install", "committed", pack["origin"])
        assert [r["trigger_reason"] for r in api.get("/packs/lamp/tests").json()["data"]] == [
            "install"]

    def test_a_tarball_by_path_and_a_zip_by_file_url_under_the_pack_root(self, api, tmp_path):
        tarball = make_archive(write_pack(tmp_path / "src-lamp", manifest("lamp")),
                               api.root / "lamp-1.0.0.tar.gz")
        zipped = make_archive(write_pack(tmp_path / "src-dim", manifest("dim", "2.0.0")),
                              api.root / "dim.zip", top_folder=None)

        by_path = api.install(tarball)
        by_url = api.install(zipped.as_uri(), skip_tests=True)

        assert by_path.status_code == 201, by_path.text
        assert by_path.json()["data"]["pack"]["origin"] == {
            "type": "archive", "source": str(tarball), "archive_sha256": sha256(tarball.read_bytes())}
        assert by_path.json()["data"]["test_result"]["status"] == "passed"
        assert by_url.status_code == 201, by_url.text
        assert by_url.json()["data"]["pack"]["origin"] == {
            "type": "archive", "source": str(zipped), "archive_sha256": sha256(zipped.read_bytes())}
        assert (by_url.json()["data"]["test_result"], by_url.json()["data"]["tests_skipped"]) == (
            None, True)
        assert [p["ref"] for p in api.get("/packs").json()["data"]] == ["dim", "lamp"]
        assert api.leftovers() == []

    def test_an_https_archive_is_downloaded_by_the_server(self, api, served):
        url = f"{served.url}/lamp-1.0.0.tar.gz"

        done = api.install(url)

        assert done.status_code == 201, done.text
        assert done.json()["message"] == INSTALLED
        assert done.json()["data"]["pack"]["origin"] == {
            "type": "archive", "source": url,
            "archive_sha256": sha256(served.files["/lamp-1.0.0.tar.gz"])}
        assert served.requests == [("/lamp-1.0.0.tar.gz", None)]
        assert api.leftovers() == []

    def test_a_directory_under_the_pack_root_is_copied_into_the_store(self, api):
        pack = write_pack(api.root / "lamp", manifest("lamp"))

        done = api.install(pack)

        assert done.status_code == 201, done.text
        installed = done.json()["data"]["pack"]
        assert installed["origin"] == {"type": "directory", "source": str(pack)}
        assert installed["source_path"] == str(api.home / "releases" /
                                               installed["content_digest"])


class TestRefused:
    def test_local_sources_outside_the_pack_roots_are_forbidden_and_nothing_is_fetched(
            self, api, tmp_path):
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        elsewhere = make_repo(outside)
        pack = write_pack(outside / "lamp", manifest("lamp"))
        tarball = make_archive(pack, outside / "lamp.tar.gz")
        (api.root / "sneaky.git").symlink_to(elsewhere.path)
        before = api.log_head()
        forbidden = {
            # source -> the path the refusal names (as given, like register: the roots are
            # checked before anything is looked up)
            str(pack): pack,
            str(tarball): tarball,
            tarball.as_uri(): tarball,
            elsewhere.url: elsewhere.path,
            str(elsewhere.path): elsewhere.path,
            f"{api.root}/../elsewhere/lamp.git": f"{api.root}/../elsewhere/lamp.git",
            str(api.root / "sneaky.git"): api.root / "sneaky.git",  # a symlink out of the root
            (api.root / "sneaky.git").as_uri(): api.root / "sneaky.git",
        }

        for source, named in forbidden.items():
            for ref in (None, "main"):
                done = api.install(source, ref_spec=ref)
                assert error(done) == (403, {
                    "error": f"Path {named} is outside the server's pack roots: {api.root}",
                    "code": "FORBIDDEN"}), (source, ref)

        assert api.log_head() == before
        assert api.get("/packs").json()["data"] == []
        assert not (api.home / "releases").exists() and api.leftovers() == []

    def test_whether_a_path_outside_the_roots_exists_is_not_told(self, api, tmp_path):
        (tmp_path / "present.tgz").write_bytes(b"x")

        present = api.install(tmp_path / "present.tgz")
        absent = api.install(tmp_path / "absent.tgz")

        assert present.status_code == 403
        assert absent.status_code == 403

    def test_bad_sources_are_400s_naming_the_problem_and_change_nothing(self, api, repo,
                                                                         tmp_path):
        before = api.log_head()
        archive = make_archive(write_pack(tmp_path / "src", manifest("lamp")),
                               api.root / "lamp.tgz")
        cases = [
            ({"source": "http://example.com/lamp.tar.gz"},
             "Refused install source 'http://example.com/lamp.tar.gz': plain http:// is not "
             "accepted, use https://"),
            ({"source": f"{api.root}/nope"},
             NOT_FOUND_SOURCE.format(source=shown_source(f"{api.root}/nope"))),
            ({"source": str(archive), "ref_spec": "v1.0.0"},
             "A ref (--ref, ref_spec) applies to git sources only, and this source is an archive"),
            ({"source": repo.url, "ref_spec": "v9"}, "git fetch failed: ref 'v9' not found"),
        ]
        for number, name in enumerate(("dot-dot traversal", "symlink to /etc", "hard link")):
            build, _, problem = HOSTILE[name]
            hostile = build(api.root / f"hostile-{number}.tgz")
            cases.append(({"source": str(hostile)}, f"Refused archive '{hostile.name}': {problem}"))

        for fields, message in cases:
            done = api.client.post("/api/v1/packs/install", json=fields, headers=api.write)
            assert error(done) == (400, {"error": message, "code": "BAD_REQUEST"}), fields

        # Refused before a registration was requested: no event, no files, no registrations.
        assert api.log_head() == before
        assert api.get("/packs/lamp/registrations").status_code == 404
        assert not (api.home / "releases").exists() and api.leftovers() == []
        assert not (tmp_path / "etc").exists() and not (api.root.parent / "evil").exists()

    def test_failing_tests_are_the_spec_400_and_leave_no_files_until_forced(self, api, repo):
        refused = api.install(repo.url, ref_spec="broken")

        status, body = error(refused)
        assert (status, body["error"], body["code"]) == (400, REJECTED, "BAD_REQUEST")
        assert api.installed() == [] and api.leftovers() == []
        assert api.get("/packs/lamp").status_code == 404
        [row] = api.get("/packs/lamp/registrations").json()["data"]
        assert (row["status"], row["trigger_reason"], row["origin"]["commit"]) == (
            "rejected", "install", repo.commits["broken"])
        # The rejection names the attempt it recorded and the case that failed.
        [run] = api.get("/packs/lamp/tests").json()["data"]
        assert body["details"] == [{
            "registration_id": row["id"], "pack_ref": "lamp", "test_execution_id": run["id"],
            "summary": {"total_tests": 3, "passed": 2, "failed": 1, "skipped": 0,
                        "pass_rate": 0.6667},
            "failing_cases": [{"suite": "Unit Tests", "case": "test_math.TestMixed.test_fail_0",
                               "message": "AssertionError: 0 != 1 : deliberate failure 0"}],
            "more_failing_cases": 0}]

        forced = api.install(repo.url, ref_spec="broken", force=True)

        assert forced.status_code == 201, forced.text
        pack, result = forced.json()["data"]["pack"], forced.json()["data"]["test_result"]
        assert pack["version"] == "1.2.0" and pack["origin"]["ref"] == "broken"
        assert (result["status"], result["passed"], result["total_tests"]) == ("failed", 2, 3)
        assert Path(pack["source_path"]).is_dir()

    def test_an_active_ref_conflicts_without_force_and_is_replaced_with_it(self, api, repo):
        first = api.install(repo.url, ref_spec="v1.0.0")
        stored = api.installed()

        again = api.install(repo.url, ref_spec="main")
        same = api.install(repo.url, ref_spec="v1.0.0")

        assert first.status_code == 201
        assert error(again) == error(same) == (409, {"error": CONFLICT, "code": "CONFLICT"})
        assert api.installed() == stored and api.leftovers() == []

        forced = api.install(repo.url, ref_spec="main", force=True)

        assert forced.status_code == 201, forced.text
        pack = forced.json()["data"]["pack"]
        assert (pack["version"], pack["origin"]["commit"]) == ("1.1.0", repo.commits["main"])
        assert api.get("/packs/lamp").json()["data"]["pack"]["version"] == "1.1.0"
        # The old files stay: a rollback goes back to them.
        assert set(stored) < set(api.installed())
        assert Path(first.json()["data"]["pack"]["source_path"]).is_dir()
        rolled = api.client.post("/api/v1/packs/lamp/rollback", headers=api.write)
        assert rolled.status_code == 200 and rolled.json()["data"]["version"] == "1.0.0"


class TestSecurity:
    def test_a_token_with_write_scope_is_needed_before_anything_is_fetched(self, api, served):
        before = api.log_head()
        url = f"{served.url}/lamp-1.0.0.tar.gz"

        missing = api.install(url, headers={})
        reader = api.install(url, headers=api.read)

        assert error(missing) == (401, {"error": "Missing or invalid bearer token",
                                        "code": "UNAUTHORIZED"})
        assert error(reader) == (403, {"error": "Token 'reader' has scope 'read'; this request "
                                                "needs 'write'", "code": "FORBIDDEN"})
        assert served.requests == [] and api.log_head() == before

    def test_bodies_are_as_strict_as_for_register_and_nothing_is_fetched(self, api, served):
        before = api.log_head()
        url = f"{served.url}/lamp-1.0.0.tar.gz"
        json_headers = {**api.write, "content-type": "application/json"}
        post = api.client.post
        install = "/api/v1/packs/install"
        cases = {
            "text/plain": (post(install, content=f'{{"source": "{url}"}}', headers={
                **api.write, "content-type": "text/plain"}), 415,
                "Content-Type must be application/json (not text/plain)"),
            "bad json": (post(install, content=b"{nope", headers=json_headers), 400, None),
            "empty body": (post(install, content=b"", headers=json_headers), 400,
                           "Request body is empty: send a JSON object"),
            "missing source": (post(install, json={}, headers=api.write), 422,
                               "Invalid request: Object missing required field `source`"),
            "source a number": (post(install, json={"source": 5}, headers=api.write), 422,
                                "Invalid request: source"),
            "empty source": (post(install, json={"source": ""}, headers=api.write), 422,
                             "Invalid request: source"),
            "ref_spec a number": (post(install, json={"source": url, "ref_spec": 1},
                                       headers=api.write), 422, "Invalid request: ref_spec"),
            "empty ref_spec": (post(install, json={"source": url, "ref_spec": ""},
                                    headers=api.write), 422, "Invalid request: ref_spec"),
            "force a string": (post(install, json={"source": url, "force": "true"},
                                    headers=api.write), 422, "Invalid request: force"),
            "unknown field": (post(install, json={"source": url, "path": url}, headers=api.write),
                              422, "Invalid request: Object contains unknown field `path`"),
            "huge body": (post(install, content=b" " * 200_000, headers=json_headers), 413, None),
        }

        codes = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
                 422: "VALIDATION_ERROR"}
        for name, (response, status, message) in cases.items():
            assert response.status_code == status, (name, response.text)
            assert response.json()["code"] == codes[status], name
            if message is not None:
                assert response.json()["error"] == message, name
        assert served.requests == [] and api.log_head() == before

    def test_credentials_in_a_source_url_never_come_back(self, api, served):
        secret = "s3cret-pw"
        with_password = served.url.replace("https://", f"https://alice:{secret}@")
        masked = served.url.replace("https://", "https://***@")

        done = api.install(f"{with_password}/lamp-1.0.0.tar.gz")
        missing = api.install(f"{with_password}/gone.tar.gz", force=True)
        git = api.install(f"{with_password}/lamp.git", ref_spec="main", force=True)
        registration = done.json()["data"]["pack"]["registration_id"]
        reads = [api.get("/packs/lamp"), api.get("/packs/lamp/registrations"),
                 api.get(f"/registrations/{registration}"), api.verify("lamp"),
                 api.get("/packs/lamp/tests")]

        assert done.status_code == 201, done.text
        assert done.json()["data"]["pack"]["origin"]["source"] == f"{masked}/lamp-1.0.0.tar.gz"
        # The credentials were used: the server received them.
        basic = base64.b64encode(f"alice:{secret}".encode()).decode()
        assert served.requests[0] == ("/lamp-1.0.0.tar.gz", f"Basic {basic}")
        assert error(missing) == (400, {
            "error": f"Download of '{masked}/gone.tar.gz' failed: HTTP 404", "code": "BAD_REQUEST"})
        assert git.status_code == 400 and git.json()["error"].startswith("git fetch failed")
        assert [r.status_code for r in reads] == [200] * 5
        assert reads[1].json()["data"][0]["origin"]["source"] == f"{masked}/lamp-1.0.0.tar.gz"
        for response in (done, missing, git, *reads):
            assert secret not in response.text and "alice" not in response.text, response.url

    def test_credentials_in_a_source_url_never_reach_the_server_log(self, api, served, caplog):
        # Litestar configured the root logger when the app was built, dropping caplog's handler.
        logging.getLogger().addHandler(caplog.handler)
        caplog.set_level(logging.DEBUG)
        with_password = served.url.replace("https://", "https://alice:s3cret-pw@")

        done = api.install(f"{with_password}/lamp-1.0.0.tar.gz")
        missing = api.install(f"{with_password}/gone.tar.gz", force=True)

        assert (done.status_code, missing.status_code) == (201, 400)
        # The log holds this request (so it would hold a leak), without the password.
        assert "POST http://testserver.local/api/v1/packs/install" in caplog.text
        assert "s3cret-pw" not in caplog.text


class TestVerify:
    def test_an_installed_pack_is_ok_then_drifted_then_missing(self, api, repo):
        pack = api.install(repo.url, ref_spec="v1.0.0").json()["data"]["pack"]
        store = Path(pack["source_path"])

        ok = api.verify("lamp")

        assert ok.status_code == 200
        assert ok.json()["data"] == {
            "ref": "lamp", "version": "1.0.0", "registration_id": pack["registration_id"],
            "source_path": str(store), "origin": pack["origin"], "status": "ok",
            "expected_digest": pack["content_digest"], "actual_digest": pack["content_digest"],
            "files_listed": True, "added": [], "removed": [], "modified": [],
            "release_path": str(store)}

        # Installed files are read-only: whoever edits them has to mean it.
        for path in (store, store / "tests", store / "pack.yaml"):
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        (store / "pack.yaml").write_text((store / "pack.yaml").read_text() + "# edited\n")
        (store / "notes.txt").write_text("added by hand\n")
        (store / "tests" / "test_math.py").unlink()

        drifted = api.verify("lamp").json()["data"]

        assert drifted["status"] == "drifted" and drifted["files_listed"] is True
        assert drifted["expected_digest"] == pack["content_digest"] != drifted["actual_digest"]
        assert (drifted["modified"], drifted["added"], drifted["removed"]) == (
            ["pack.yaml"], ["notes.txt"], ["tests/test_math.py"])

        shutil.rmtree(store)
        missing = api.verify("lamp")

        assert missing.status_code == 200
        assert (missing.json()["data"]["status"], missing.json()["data"]["actual_digest"]) == (
            "missing", None)

    def test_a_registered_directory_is_checked_through_its_release(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"))
        digest = api.register(pack, skip_tests=True).json()["data"]["pack"]["content_digest"]
        (pack / "extra.txt").write_text("new\n")  # the source may change: the release does not

        found = api.verify("mypack").json()["data"]

        assert (found["status"], found["files_listed"], found["origin"]) == ("ok", True, None)
        assert found["source_path"] == str(pack)
        assert found["release_path"] == str(api.home / "releases" / digest)

    def test_unknown_refs_are_404s_and_a_token_is_needed(self, api):
        assert error(api.verify("nope")) == (404, {"error": "Pack 'nope' not found",
                                                   "code": "NOT_FOUND"})
        assert api.verify("nope", headers={}).status_code == 401
        assert api.verify("Bad%00Ref").status_code == 404


class TestOpenApi:
    def test_install_and_verify_are_documented(self, api):
        schema = api.client.get("/schema/openapi.json").json()
        install = schema["paths"]["/api/v1/packs/install"]["post"]
        verify = schema["paths"]["/api/v1/packs/{ref}/verify"]["get"]

        assert install["operationId"] == "installPack"
        assert {"201", "202", "400", "401", "403", "409", "415", "422"} <= set(
            install["responses"])
        body = install["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        request = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
        assert set(request["properties"]) == {"source", "ref_spec", "digest", "force", "replace",
                                              "skip_tests", "wait", "install_deps",
                                              "skip_dependents", "reuse"}
        assert request["required"] == ["source"]
        assert verify["operationId"] == "verifyPack" and "200" in verify["responses"]
        answer = verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        data = schema["components"]["schemas"][answer.rsplit("/", 1)[1]]["properties"]["data"]
        listed = schema["components"]["schemas"][data["$ref"].rsplit("/", 1)[1]]["properties"]
        assert {"status", "expected_digest", "actual_digest", "added", "removed",
                "modified"} <= set(listed)


class TestAllowedSources:
    """``ATTUNE_INSTALL_SOURCES``: the operator's list of remote sources the API may fetch."""

    ALLOWED = ("https://127.0.0.1:{port}/packs/", "git@git.example.org:acme/")

    @pytest.fixture
    def limited(self, settings, tmp_path, served):
        port = served.url.rsplit(":", 1)[1]
        allowed = tuple(p.format(port=port) for p in self.ALLOWED)
        with running_api(replace(settings, install_sources=allowed,
                                 install_allow_private_setting="1"), tmp_path,
                         InstallApi) as api:
            yield api, allowed

    def test_only_sources_under_the_allowed_prefixes_are_fetched(self, limited, served):
        api, allowed = limited
        served.files["/packs/lamp-1.0.0.tar.gz"] = served.files["/lamp-1.0.0.tar.gz"]
        before, head = len(served.requests), api.log_head()
        listed = ", ".join(allowed)
        refused = {
            f"{served.url}/lamp-1.0.0.tar.gz": f"{served.url}/lamp-1.0.0.tar.gz",
            f"{served.url}/packs-evil/lamp-1.0.0.tar.gz": f"{served.url}/packs-evil/lamp-1.0.0.tar.gz",
            # The user part is no host: judged by the real one, and shown masked.
            served.url.replace("https://", "https://127.0.0.1@") + "/x/lamp-1.0.0.tar.gz":
                served.url.replace("https://", "https://***@") + "/x/lamp-1.0.0.tar.gz",
            "git@git.example.org:acme-evil/lamp.git": "git@git.example.org:acme-evil/lamp.git",
            "https://git.example.org/acme/lamp.git": "https://git.example.org/acme/lamp.git",
        }
        for source, shown in refused.items():
            done = api.install(source)
            assert error(done) == (403, {
                "error": f"Install source {shown_source(shown)} is not under the server's "
                         f"allowed install sources: {listed}",
                "code": "FORBIDDEN"}), source
        assert len(served.requests) == before  # nothing was fetched
        assert api.log_head() == head  # nothing was recorded

        with_password = served.url.replace("https://", "https://alice:pw@")
        done = api.install(f"{with_password}/packs/lamp-1.0.0.tar.gz")
        assert done.status_code == 201, done.text
        assert done.json()["data"]["pack"]["origin"]["type"] == "archive"


class TestChecksOnWhatIsFetched:
    """Issue 16: the checks judge the source as it is fetched, and refuse before fetching."""

    @pytest.fixture
    def public_only(self, settings, tmp_path, served):
        """The API as deployed by default: installs reach public addresses only."""
        with running_api(settings, tmp_path, InstallApi) as api:
            yield api

    def test_private_addresses_are_forbidden_by_default_and_nothing_is_fetched(
            self, public_only, served):
        api, head = public_only, public_only.log_head()
        port = served.url.rsplit(":", 1)[1]
        cases = {
            f"{served.url}/lamp-1.0.0.tar.gz": "'127.0.0.1': it is a loopback address",
            f"https://localhost:{port}/lamp-1.0.0.tar.gz": "'localhost': it resolves to ",
            "https://169.254.169.254/latest/meta-data.tar.gz":
                "'169.254.169.254': it is a link-local address",
            "https://[::ffff:10.0.0.1]/x.tar.gz": "'::ffff:10.0.0.1': it is a private address",
            "https://[fd00::1]/lamp.git": "'fd00::1': it is a unique-local address",
            "ssh://git@10.0.0.1/lamp.git": "'10.0.0.1': it is a private address",
        }
        for source, problem in cases.items():
            status, body = error(api.install(source))
            assert (status, body["code"]) == (403, "FORBIDDEN"), (source, body)
            assert body["error"].startswith(f"Refused install source host {problem}"), body

        assert served.requests == [] and api.log_head() == head
        assert api.leftovers() == []

    def test_a_bad_allow_private_setting_is_a_503_naming_it(self, settings, tmp_path, served):
        with running_api(replace(settings, install_allow_private_setting="maybe"), tmp_path,
                         InstallApi) as api:
            status, body = error(api.install(f"{served.url}/lamp-1.0.0.tar.gz"))

        assert status == 503 and body["error"].startswith("ATTUNE_INSTALL_ALLOW_PRIVATE must")
        assert served.requests == []

    def test_dot_segments_are_refused_even_under_an_allowed_prefix(self, settings, tmp_path,
                                                                   served):
        allowed = (f"{served.url}/packs/",)
        served.files["/evil/lamp-1.0.0.tar.gz"] = served.files["/lamp-1.0.0.tar.gz"]
        with running_api(replace(settings, install_sources=allowed,
                                 install_allow_private_setting="1"), tmp_path,
                         InstallApi) as api:
            head = api.log_head()
            for source in (f"{served.url}/packs/../evil/lamp-1.0.0.tar.gz",
                           f"{served.url}/packs/%2e%2e/evil/lamp-1.0.0.tar.gz",
                           f"{served.url}/packs/%2E%2e%2Fevil/lamp-1.0.0.tar.gz"):
                status, body = error(api.install(source))
                assert (status, body["code"]) == (400, "BAD_REQUEST"), source
                assert body["error"].startswith(f"Invalid install source {shown_source(source)}")
            assert api.log_head() == head

        assert served.requests == []

    def test_a_scp_like_source_that_git_would_not_read_as_one_is_refused(self, api, tmp_path):
        head = api.log_head()

        status, body = error(api.install("x@y_z:/../../anywhere"))

        assert (status, body["code"]) == (400, "BAD_REQUEST")
        assert "reads as git's host:path form" in body["error"]
        assert api.log_head() == head and api.leftovers() == []

    def test_a_path_outside_the_roots_is_forbidden_before_any_file_system_call(self, api):
        # /proc/1/root is unreadable here: a lookup would answer "Permission denied" (400).
        for source in ("/proc/1/root/etc/passwd", "/proc/1/root/x.tar.gz",
                       "file:///proc/1/root/etc", f"{api.root}/../../proc/1/root/etc"):
            status, body = error(api.install(source))
            assert (status, body["code"]) == (403, "FORBIDDEN"), (source, body)
            assert "is outside the server's pack roots" in body["error"]

        status, body = error(api.register("/proc/1/root/etc"))
        assert (status, body["code"]) == (403, "FORBIDDEN")

    def test_a_symlink_inside_a_root_that_leads_out_is_forbidden_after_resolution(
            self, api, tmp_path):
        outside = write_pack(tmp_path / "outside", manifest("lamp"))
        (api.root / "link").symlink_to(outside.parent)

        status, body = error(api.install(f"{api.root}/link/outside"))

        assert (status, body["code"]) == (403, "FORBIDDEN")
        assert api.leftovers() == []
