"""Remote mode: the same commands, answered by the HTTP API instead of the local store.

``RemoteRegistry`` offers the methods of ``RegistryService`` that the pack commands use and
returns the same objects, rebuilt from the API's JSON bodies, so every command prints exactly
what it prints in local mode.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import msgspec

from domain.errors import RegistryError
from domain.results import TestResult

from adapters.settings import ConfigError

TIMEOUT = httpx.Timeout(10.0, read=None)  # registrations wait for their tests


class RemoteError(RegistryError):
    """An error the API answered with; message and code are the server's."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ApiUnavailableError(ConfigError):
    code = "API_UNAVAILABLE"


class LocalOnlyError(RegistryError):
    """Raised for commands that need the local store (tokens, projections, directory tests)."""


class RemoteRegistry:
    def __init__(self, api_url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base = api_url.rstrip("/")
        self.client = httpx.Client(base_url=f"{self.base}/api/v1", headers=headers,
                                   timeout=TIMEOUT)

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"cannot reach the API at {self.base}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            if isinstance(body, dict) and "error" in body:
                raise RemoteError(str(body["error"]), str(body.get("code", "ERROR")))
            raise RemoteError(f"API error {response.status_code} at {url}", "HTTP_ERROR")
        return body

    def register(self, path: str, *, force: bool = False, replace: bool = False,
                 skip_tests: bool = False, progress: Any = None, jobs: int | None = None,
                 requested_by: str = "") -> Any:
        from pathlib import Path

        return self._registered(self._call("POST", "/packs/register", json={
            "path": str(Path(path).expanduser().absolute()), "force": force,
            "replace": replace, "skip_tests": skip_tests})["data"])

    def install(self, source: str, *, ref: str | None = None, force: bool = False,
                replace: bool = False, skip_tests: bool = False, progress: Any = None,
                jobs: int | None = None, requested_by: str = "",
                digest: str | None = None) -> Any:
        """The server fetches ``source``: a URL, or a path as the server sees it (made
        absolute here, as ``register`` does)."""
        from pathlib import Path

        from adapters.install.sources import local_path

        if "://" not in source and local_path(source) is not None:
            source = str(Path(source).expanduser().absolute())
        return self._registered(self._call("POST", "/packs/install", json={
            "source": source, "ref_spec": ref, "digest": digest, "force": force,
            "replace": replace, "skip_tests": skip_tests})["data"])

    def _registered(self, body: dict[str, Any]) -> Any:
        from application.register import RegistrationOutcome
        from projections.rows import PackRow

        from adapters.service import Registered

        pack = msgspec.convert(body["pack"], type=PackRow)
        result = TestResult.from_dict(body["test_result"]) if body["test_result"] else None
        outcome = RegistrationOutcome(
            registration_id=UUID(pack.registration_id), pack_ref=pack.ref,
            pack_version=pack.version, tests_skipped=body["tests_skipped"],
            forced=bool(result and result.status != "passed"), test_result=result,
            notification_id=0)
        return Registered(outcome=outcome, pack=pack)

    def test_registered(self, ref: str, **_: Any) -> Any:
        from application.test_pack import TestRunOutcome

        result = TestResult.from_dict(self._call("POST", f"/packs/{ref}/test")["data"])
        return TestRunOutcome(ref, result.pack_version, result, test_run_id=UUID(int=0))

    def test_directory(self, path: str, **_: Any) -> Any:
        raise LocalOnlyError("Testing a directory runs locally; it is not available with "
                             "--api-url (register it, or test it without --api-url)")

    def verify(self, ref: str) -> Any:
        from adapters.reads.lookup import Verification

        return msgspec.convert(self._call("GET", f"/packs/{ref}/verify")["data"],
                               type=Verification)

    def list_packs(self) -> list[Any]:
        from projections.rows import PackRow

        rows: list[Any] = []
        page = 1
        while True:
            body = self._call("GET", "/packs", params={"page": page, "page_size": 100})
            rows += msgspec.convert(body["data"], type=list[PackRow])
            if page >= body["pagination"]["total_pages"]:
                return rows
            page += 1

    def show(self, ref: str) -> Any:
        from projections.rows import ComponentRow, PackRow, TestExecutionRow

        from adapters.reads.lookup import PackDetails

        data = self._call("GET", f"/packs/{ref}")["data"]
        latest = data["latest_test"]
        return PackDetails(
            pack=msgspec.convert(data["pack"], type=PackRow),
            components=msgspec.convert(data["components"], type=list[ComponentRow]),
            latest_test=msgspec.convert(latest, type=TestExecutionRow) if latest else None)

    def registrations(self, ref: str, *, limit: int = 50) -> list[Any]:
        from projections.rows import RegistrationRow

        return msgspec.convert(self._newest(f"/packs/{ref}/registrations", limit),
                               type=list[RegistrationRow])

    def test_history(self, ref: str, *, limit: int = 50) -> list[Any]:
        from projections.rows import TestExecutionRow

        return msgspec.convert(self._newest(f"/packs/{ref}/tests", limit),
                               type=list[TestExecutionRow])

    def _newest(self, url: str, limit: int) -> list[Any]:
        """The first ``limit`` items of a list endpoint, page after page by cursor."""
        items: list[Any] = []
        params: dict[str, Any] = {}
        while True:
            params["page_size"] = min(limit - len(items), 100)
            body = self._call("GET", url, params=params)
            items += body["data"]
            params["cursor"] = body["pagination"]["next_cursor"]
            if len(items) >= limit or params["cursor"] is None:
                return items

    def knows(self, ref: str) -> bool:
        return True  # the API answers 404 itself for refs it never saw

    def unregister(self, ref: str, *, actor: str) -> UUID:
        return UUID(self._call("DELETE", f"/packs/{ref}")["data"]["registration_id"])

    def roll_back(self, ref: str, *, actor: str) -> Any:
        from projections.rows import PackRow

        return msgspec.convert(self._call("POST", f"/packs/{ref}/rollback")["data"],
                               type=PackRow)

    def audit(self, registration_id: UUID) -> list[dict[str, Any]]:
        return self._call("GET", f"/registrations/{registration_id}")["data"]["events"]

    def __getattr__(self, name: str) -> Any:
        raise LocalOnlyError(f"`{name.replace('_', ' ')}` works on the local store only; "
                             "run it without --api-url on the server")
