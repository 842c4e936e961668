"""The HTTP API through Litestar's test client (both stores) and a real `attune serve`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import msgspec
import pytest
import yaml
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app

from tests.conftest import CORE_COMPONENTS, CORE_PACK, CORE_VERSION
from tests.packs import PASSING_TEST, failing_tests, manifest, write_pack

REJECTED = ("Pack registration failed: tests did not pass. Use force=true to register anyway.")


class Api:
    """A test client plus a write token, a read token, the pack root and the data directory."""

    def __init__(self, client: TestClient, root: Path, write: str, read: str,
                 home: Path) -> None:
        self.client, self.root, self.home = client, root, home
        self.write = {"Authorization": f"Bearer {write}"}
        self.read = {"Authorization": f"Bearer {read}"}

    def register(self, path: Path | str, **flags: bool) -> httpx.Response:
        return self.client.post("/api/v1/packs/register", json={"path": str(path), **flags},
                                headers=self.write)

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.client.get(f"/api/v1{url}", headers=kwargs.pop("headers", self.read),
                               **kwargs)


@contextmanager
def running_api(settings, tmp_path: Path, api_class: type[Api] = Api) -> Iterator[Api]:
    """The app in a test client, with pack root tmp/packs and a token of each scope."""
    root = tmp_path / "packs"
    root.mkdir()
    settings = replace(settings, pack_roots=(root,))
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    with TestClient(app=create_app(settings)) as client:
        yield api_class(client, root, write, read, settings.home)


@pytest.fixture
def api(settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        yield api


def core_in(root: Path) -> Path:
    return Path(shutil.copytree(CORE_PACK, root / "core"))


class TestRegister:
    def test_a_passing_pack_is_created_with_its_test_result(self, api):
        done = api.register(core_in(api.root))

        assert done.status_code == 201, done.text
        body = done.json()
        assert body["message"] == "Pack registered successfully"
        assert body["data"]["tests_skipped"] is False
        pack, result = body["data"]["pack"], body["data"]["test_result"]
        assert (pack["id"], pack["ref"], pack["version"], pack["label"]) == (
            1, "core", CORE_VERSION, "Core Pack")
        assert {"pack_ref", "pack_version", "status", "total_tests", "passed", "failed",
                "skipped", "pass_rate", "duration_ms", "test_suites"} <= set(result)
        assert result["status"] == "passed" and result["passed"] == result["total_tests"] >= 20

    def test_failing_tests_are_a_400_with_the_spec_message(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        refused = api.register(pack)
        forced = api.register(pack, force=True)

        assert refused.status_code == 400
        body = refused.json()
        assert (body["error"], body["code"]) == (REJECTED, "BAD_REQUEST")
        # The evidence: the recorded attempt, its counts and its failing cases.
        [_, attempt] = api.get("/packs/mypack/registrations").json()["data"]  # newest first
        [_, run] = api.get("/packs/mypack/tests").json()["data"]  # newest first
        assert run["registration_id"] == attempt["id"]
        assert body["details"] == [{
            "registration_id": attempt["id"], "pack_ref": "mypack", "test_execution_id": run["id"],
            "summary": {"total_tests": 10, "passed": 8, "failed": 2, "skipped": 0,
                        "pass_rate": 0.8},
            "failing_cases": [
                {"suite": "Unit Tests", "case": f"test_mixed.TestMixed.test_fail_{n}",
                 "message": f"AssertionError: {n} != {n + 1} : deliberate failure {n}"}
                for n in (0, 1)],
            "more_failing_cases": 0}]
        assert attempt["status"] == "rejected"
        assert forced.status_code == 201
        result = forced.json()["data"]["test_result"]
        assert (result["status"], result["passed"], result["total_tests"]) == ("failed", 8, 10)

    def test_existing_ref_conflicts_and_skip_tests_stores_no_result(self, api):
        core = core_in(api.root)
        assert api.register(core, skip_tests=True).json()["data"]["test_result"] is None

        again = api.register(core)

        assert again.status_code == 409
        assert again.json() == {"error": "Pack 'core' already exists. Use force=true to "
                                         "reinstall.", "code": "CONFLICT"}

    @pytest.mark.parametrize(("setup", "message"), [
        ("absent", "Pack directory does not exist: {path}"),
        ("empty", "pack.yaml not found in directory: {path}"),
        ("no_testing", "No testing configuration found in pack.yaml for pack 'mypack'"),
        ("disabled", "Testing is disabled for pack 'mypack'"),
        ("bad_version", "Invalid pack.yaml: version: '1.0' is not a semantic version "
                        "(MAJOR.MINOR.PATCH, e.g. 1.0.0)"),
    ])
    def test_spec_errors_are_400s(self, api, setup, message):
        path = api.root / "mypack"
        if setup == "empty":
            path.mkdir()
        elif setup == "no_testing":
            write_pack(path, manifest("mypack", testing=None))
        elif setup == "disabled":
            write_pack(path, manifest("mypack", testing={"enabled": False}))
        elif setup == "bad_version":
            write_pack(path, manifest("mypack", "1.0"))

        done = api.register(path)

        assert (done.status_code, done.json()) == (
            400, {"error": message.format(path=path), "code": "BAD_REQUEST"})

    def test_paths_outside_the_pack_roots_are_forbidden(self, api, tmp_path):
        outside = write_pack(tmp_path / "elsewhere", manifest("mypack"))
        (api.root / "sneaky").symlink_to(outside)

        for path in (outside, api.root / "sneaky", f"{api.root}/../elsewhere"):
            done = api.register(path)
            assert done.status_code == 403
            assert done.json() == {"error": f"Path {path} is outside the server's pack roots: "
                                            f"{api.root}", "code": "FORBIDDEN"}
        assert api.get("/packs").json()["data"] == []


class TestReads:
    def test_list_show_history_and_registrations(self, api):
        core = core_in(api.root)
        api.register(core)
        api.client.post("/api/v1/packs/core/test", headers=api.write)

        packs = api.get("/packs").json()
        shown = api.get("/packs/core").json()["data"]
        history = api.get("/packs/core/tests").json()
        manual = api.get("/packs/core/tests", params={"trigger_reason": "manual"}).json()
        latest = api.get("/packs/core/tests/latest").json()["data"]
        registrations = api.get("/packs/core/registrations").json()["data"]
        audit = api.get(f"/registrations/{registrations[0]['id']}").json()["data"]

        assert packs["pagination"] == {"page": 1, "page_size": 50, "total_items": 1,
                                       "total_pages": 1}
        assert shown["pack"]["ref"] == "core" and len(shown["components"]) == CORE_COMPONENTS
        assert [r["trigger_reason"] for r in history["data"]] == ["manual", "register"]
        assert [r["trigger_reason"] for r in manual["data"]] == ["manual"]
        assert latest["trigger_reason"] == "manual"
        assert registrations[0]["status"] == "committed"
        suites = len(yaml.safe_load((CORE_PACK / "pack.yaml").read_text())["testing"]["test_suites"])
        assert [e["topic"].rsplit(".", 1)[1] for e in audit["events"]] == [
            "PackRegistrationRequested", "EnvironmentPrepared", *["TestSuiteCompleted"] * suites,
            "RegistrationCommitted"]

    def test_pagination_is_newest_first_and_bounded(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"))
        for _ in range(3):
            api.register(pack, force=True)

        first = api.get("/packs/mypack/tests", params={"page": 1, "page_size": 2}).json()
        second = api.get("/packs/mypack/tests", params={"page": 2, "page_size": 2}).json()
        too_big = api.get("/packs", params={"page_size": 101})

        assert first["pagination"] == {"page": 1, "page_size": 2, "total_items": 3,
                                       "total_pages": 2,
                                       "next_cursor": first["pagination"]["next_cursor"]}
        assert first["pagination"]["next_cursor"] and second["pagination"]["next_cursor"] is None
        ids = [r["id"] for r in first["data"] + second["data"]]
        assert ids == sorted(ids, reverse=True) and len(ids) == 3
        assert too_big.status_code == 422 and too_big.json()["code"] == "VALIDATION_ERROR"
        assert too_big.json()["details"][0]["key"] == "page_size"

    def walk(self, api, url, **params):
        """Every page of a list, following next_cursor from the first page."""
        pages = [api.get(url, params=params).json()]
        while cursor := pages[-1]["pagination"]["next_cursor"]:
            pages.append(api.get(url, params={**params, "cursor": cursor}).json())
        return pages

    def test_a_cursor_walks_the_whole_history_and_the_last_page_says_so(self, api):
        api.register(write_pack(api.root / "mypack", manifest("mypack")))
        for _ in range(4):
            api.client.post("/api/v1/packs/mypack/test", headers=api.write)
        everything = api.get("/packs/mypack/tests").json()["data"]

        pages = self.walk(api, "/packs/mypack/tests", page_size=2)
        manual = self.walk(api, "/packs/mypack/tests", page_size=3, trigger_reason="manual")
        by_offset = api.get("/packs/mypack/tests", params={"page": 2, "page_size": 2}).json()

        assert len(everything) == 5
        assert [r["id"] for p in pages for r in p["data"]] == [r["id"] for r in everything]
        assert [(p["pagination"]["page"], len(p["data"])) for p in pages] == [(1, 2), (2, 2),
                                                                              (3, 1)]
        assert {(p["pagination"]["total_items"], p["pagination"]["total_pages"])
                for p in pages} == {(5, 3)}
        assert pages[1]["data"] == by_offset["data"]
        assert by_offset["pagination"]["next_cursor"] == pages[1]["pagination"]["next_cursor"]
        assert [[r["trigger_reason"] for r in p["data"]] for p in manual] == [["manual"] * 3,
                                                                             ["manual"]]
        assert manual[0]["pagination"]["total_items"] == 4

    def test_a_cursor_walks_the_registrations(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"))
        api.register(pack, skip_tests=True)
        for _ in range(2):
            api.register(pack, skip_tests=True, replace=True)
        everything = api.get("/packs/mypack/registrations").json()["data"]

        pages = self.walk(api, "/packs/mypack/registrations", page_size=2)

        assert [r["id"] for p in pages for r in p["data"]] == [r["id"] for r in everything]
        assert [(p["pagination"]["page"], len(p["data"])) for p in pages] == [(1, 2), (2, 1)]
        assert pages[0]["pagination"]["total_items"] == 3

    def test_a_foreign_or_malformed_cursor_or_one_with_page_is_a_400(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"))
        api.register(pack)
        api.register(pack, replace=True)
        registrations = api.get("/packs/mypack/registrations", params={"page_size": 1}).json()
        tests = api.get("/packs/mypack/tests", params={"page_size": 1}).json()
        invalid = {"error": "Invalid cursor: pass the next_cursor of a previous page back "
                            "unchanged", "code": "BAD_REQUEST"}

        for url, cursor in [("/packs/mypack/tests", "nope!"), ("/packs/mypack/tests", ""),
                            ("/packs/mypack/tests", "WzEsMiwzXQ"),  # [1,2,3]
                            ("/packs/mypack/tests", "x" * 600),
                            # A registrations cursor carries a text id, not a run's number.
                            ("/packs/mypack/tests", registrations["pagination"]["next_cursor"]),
                            ("/packs/mypack/registrations", tests["pagination"]["next_cursor"])]:
            refused = api.get(url, params={"cursor": cursor})
            assert (refused.status_code, refused.json()) == (400, invalid), (url, cursor)
        both = api.get("/packs/mypack/tests", params={"page": 1,
                                                      "cursor": tests["pagination"]["next_cursor"]})
        assert (both.status_code, both.json()) == (400, {
            "error": "Pass either page or cursor, not both", "code": "BAD_REQUEST"})

    def test_the_history_sends_the_stored_results_as_the_decoded_rows_would_read(self, api):
        # Non-ASCII and quotes in a failure message: escaped differently in the stored JSON
        # text than in a fresh encoding, equal once parsed.
        unicode_failure = PASSING_TEST + """
    def test_names(self):
        self.assertEqual("été \\"☃\\"", "winter", "café 😀")
"""
        pack = write_pack(api.root / "mypack", manifest("mypack"),
                          {"test_math.py": unicode_failure})
        api.register(pack, force=True)
        api.client.post("/api/v1/packs/mypack/test", headers=api.write)
        view = api.client.app.state.registry.view

        sent = api.get("/packs/mypack/tests").json()["data"]
        decoded = msgspec.to_builtins(view.test_history("mypack"))

        assert sent == decoded and len(sent) == 2
        [suite] = sent[0]["result"]["test_suites"]
        assert "AssertionError: 'été \"☃\"' != 'winter'" in suite["test_cases"][-1]["error_message"]
        assert "café 😀" in suite["test_cases"][-1]["error_message"]

    def test_unknown_things_are_404s(self, api):
        assert api.get("/packs/nope").json() == {"error": "Pack 'nope' not found",
                                                 "code": "NOT_FOUND"}
        assert api.get("/packs/nope/tests").status_code == 404
        api.register(core_in(api.root), skip_tests=True)
        assert api.get("/packs/core/tests/latest").json() == {
            "error": "No test results found for pack 'core'", "code": "NOT_FOUND"}
        assert api.get("/registrations/00000000-0000-0000-0000-000000000000").status_code == 404
        assert api.get("/registrations/not-a-uuid").status_code == 404

    def test_health_needs_no_token(self, api):
        body = api.client.get("/api/v1/health").json()["data"]
        assert body["status"] == "ok" and body["projection_lag"] == 0


class TestCommands:
    def test_manual_test_runs_answer_200_even_when_tests_fail(self, api):
        pack = write_pack(api.root / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=1, failed=1)})
        api.register(pack, force=True)

        done = api.client.post("/api/v1/packs/mypack/test", headers=api.write)

        assert done.status_code == 200
        assert done.json()["data"]["status"] == "failed"

    def test_unregister_and_rollback_are_compensating_events(self, api):
        core = core_in(api.root)
        api.register(core, skip_tests=True)
        api.register(core, skip_tests=True, replace=True)

        rolled = api.client.post("/api/v1/packs/core/rollback", headers=api.write)
        gone = api.client.delete("/api/v1/packs/core", headers=api.write)

        assert rolled.status_code == 200 and rolled.json()["data"]["version"] == CORE_VERSION
        assert gone.status_code == 200 and gone.json()["message"] == "Pack 'core' unregistered"
        assert api.get("/packs").json()["data"] == []
        statuses = [r["reason"] for r in api.get("/packs/core/registrations").json()["data"]]
        assert statuses == ["rollback", "unregister"]

    # POST /packs/install and GET /packs/{ref}/verify: tests/e2e/test_install_http.py.


class TestSecurity:
    def test_tokens_are_required_and_scoped(self, api):
        core = core_in(api.root)
        missing = api.client.get("/api/v1/packs")
        garbage = api.get("/packs", headers={"Authorization": "Bearer attn_nope"})
        basic = api.get("/packs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        read_writes = api.client.post("/api/v1/packs/register", json={"path": str(core)},
                                      headers=api.read)

        for response in (missing, garbage, basic):
            assert response.status_code == 401
            assert response.json() == {"error": "Missing or invalid bearer token",
                                       "code": "UNAUTHORIZED"}
        assert read_writes.status_code == 403
        assert read_writes.json()["error"] == ("Token 'reader' has scope 'read'; this request "
                                               "needs 'write'")

    def test_a_revoked_token_stops_working_at_once(self, api, settings):
        assert api.get("/packs").status_code == 200
        with build_registry(replace(settings, pack_roots=(api.root,))) as registry:
            registry.revoke_token("reader", actor="test")
        assert api.get("/packs").status_code == 401

    def test_a_tampered_secret_is_refused(self, api):
        token = api.read["Authorization"].removeprefix("Bearer ")
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert api.get("/packs", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401

    def test_malformed_requests_are_4xx_never_5xx(self, api):
        url = "/api/v1/packs/register"
        cases = {
            "bad json": api.client.post(url, content=b"{nope", headers={
                **api.write, "content-type": "application/json"}),
            "wrong type": api.client.post(url, json={"path": 5}, headers=api.write),
            "unknown field": api.client.post(url, json={"path": "x", "sudo": True},
                                             headers=api.write),
            "missing field": api.client.post(url, json={}, headers=api.write),
            "huge body": api.client.post(url, content=b" " * 200_000, headers={
                **api.write, "content-type": "application/json"}),
            "wrong method": api.client.put("/api/v1/packs/core", headers=api.write),
            "no route": api.client.get("/api/v1/nothing", headers=api.read),
        }
        expected = {"bad json": 400, "wrong type": 422, "unknown field": 422,
                    "missing field": 422, "huge body": 413, "wrong method": 405,
                    "no route": 404}
        assert {name: r.status_code for name, r in cases.items()} == expected
        for response in cases.values():
            assert set(response.json()) <= {"error", "code", "details"}


class TestOpenApi:
    def test_the_schema_lists_every_endpoint_and_the_bearer_scheme(self, api):
        schema = api.client.get("/schema/openapi.json").json()
        assert {"/api/v1/packs/register", "/api/v1/packs/{ref}/tests",
                "/api/v1/registrations/{registration_id}", "/api/v1/health"} <= set(
                    schema["paths"])
        assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
        assert api.client.get("/schema").status_code == 200

    def test_the_test_history_rows_are_documented_like_every_other_test_run(self, api):
        components = api.client.get("/schema/openapi.json").json()["components"]["schemas"]
        page = components["TestExecutionPage"]["properties"]
        listed = components[page["data"]["items"]["$ref"].rsplit("/", 1)[1]]
        latest = components["TestExecutionRow"]

        # The list sends `result` as stored, undecoded: its schema is still the object's.
        assert listed["properties"]["result"] == {"type": "object", "additionalProperties": {}}
        assert (listed["properties"], listed["required"]) == (latest["properties"],
                                                              latest["required"])
        assert page["pagination"]["$ref"].endswith("/CursorPagination")


class TestRealServer:
    def test_attune_serve_answers_on_a_real_socket(self, server):
        core = core_in(server.root)
        base = f"{server.url}/api/v1"
        headers = {"Authorization": f"Bearer {server.write_token}"}

        created = httpx.post(f"{base}/packs/register", json={"path": str(core)},
                             headers=headers, timeout=300)
        conflict = httpx.post(f"{base}/packs/register", json={"path": str(core)},
                              headers=headers, timeout=300)
        listed = httpx.get(f"{base}/packs", headers=headers, timeout=10)
        anonymous = httpx.get(f"{base}/packs", timeout=10)

        assert created.status_code == 201 and created.json()["data"]["pack"]["ref"] == "core"
        assert conflict.status_code == 409
        assert [p["ref"] for p in listed.json()["data"]] == ["core"]
        assert anonymous.status_code == 401
