"""Remote mode: the same commands, answered by the HTTP API instead of the local store.

``RemoteRegistry`` is the ``adapters.contract.Registry`` of a server: it returns the values the
local service returns, rebuilt from the API's JSON bodies, so every command prints exactly what
it prints in local mode. Commands that only work on the local store are refused in one line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import httpx
import msgspec

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.results import TestResult

from attune_registry.projections.case_stats import FlakyCase
from attune_registry.projections.rows import PackRow, RegistrationRow, TestExecutionRow, TokenRow

from attune_registry.adapters.contract import (
    PackDependencies,
    PackDetails,
    Registered,
    StoredEvent,
    Verification,
    WorkerRow,
)
from attune_registry.adapters.settings import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from attune_registry.domain.comparison import RunSelector, Thresholds
    from attune_registry.domain.vocabulary import RunStatus, TriggerReason

    from attune_registry.application.activate import ActivateCommand
    from attune_registry.application.commands import (
        InstallCommand,
        Queued,
        RegisterCommand,
        RegistrationOptions,
    )
    from attune_registry.application.ports import Progress, ReusableRun
    from attune_registry.application.test_pack import TestRunOutcome

    from attune_registry.projections.activity_queries import ActivityFilter, Feed, RefState
    from attune_registry.projections.view import ProjectionStatus

    from attune_registry.adapters.activation import Activation
    from attune_registry.adapters.contract import Health, RegistrationUpdate
    from attune_registry.adapters.reads.compare import RunComparison
    from attune_registry.adapters.reads.versions import PackVersions

TIMEOUT = httpx.Timeout(10.0, read=None)  # registrations wait for their tests
T = TypeVar("T")
RECONNECT_SECONDS = 1.0  # before following a stream the server ended again
UPDATE_EVENTS = ("requested", "suite", "decided")  # the others are for later clients


class RemoteError(RegistryError):
    """An error the API answered with; message and code are the server's."""

    def __init__(self, message: str, code: str,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details

    @property
    def rejection(self) -> dict[str, Any] | None:
        """The evidence of a registration rejected by its tests (``details``' one object with
        ``registration_id`` and ``failing_cases``), else None."""
        evidence = self.details[0] if self.details and len(self.details) == 1 else None
        if (isinstance(evidence, dict) and "registration_id" in evidence
                and isinstance(evidence.get("failing_cases"), list)):
            return evidence
        return None


class RunNotNamedError(RegistryError):
    """Raised when a server's rejection does not say which stored test run it rejected."""

    def __init__(self, registration_id: str) -> None:
        super().__init__(
            f"the server did not name the stored test run of rejected registration "
            f"{registration_id} (it predates this client); it is in `attune pack test-history`")


class ApiUnavailableError(ConfigError):
    code = "API_UNAVAILABLE"


class LocalOnlyError(RegistryError):
    """Raised for commands that need the local store (tokens, projections, directory tests)."""

    @classmethod
    def command(cls, name: str) -> LocalOnlyError:
        return cls(f"`{name}` works on the local store only; run it without --api-url on the "
                   "server")


class RemoteRegistry:
    """Implements ``adapters.contract.Registry`` over the HTTP API at ``api_url``."""

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
        """The API's JSON answer."""
        response = self._send(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            return None

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The API's answer, if it is not an error."""
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"cannot reach the API at {self.base}: {exc}") from None
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise _api_error(response.status_code, body, url)
        return response

    def _data(self, kind: type[T], method: str, url: str, **kwargs: Any) -> T:
        """The ``data`` of the API's answer, as ``kind``."""
        return msgspec.convert(self._call(method, url, **kwargs)["data"], type=kind)

    def register(self, command: RegisterCommand,
                 progress: Progress | None = None) -> Registered:
        """The server reads the path as it sees it: made absolute here."""
        return self._registered(self._call("POST", "/packs/register", json={
            "path": str(Path(command.path).expanduser().absolute()), "force": command.force,
            "replace": command.replace, "skip_tests": command.skip_tests,
            "skip_dependents": command.skip_dependents, **_reuse(command),
            **_install_deps(command)})["data"])

    def install(self, command: InstallCommand,
                progress: Progress | None = None) -> Registered:
        """The server fetches the source: a URL, or a path as the server sees it (made
        absolute here, as ``register`` does)."""
        return self._registered(self._call("POST", "/packs/install",
                                           json=self._install_body(command))["data"])

    def queue_install(self, command: InstallCommand) -> Queued:
        return self._queued(self._call("POST", "/packs/install",
                                       json={**self._install_body(command), "wait": False}))

    @staticmethod
    def _install_body(command: InstallCommand) -> dict[str, Any]:
        from attune_registry.adapters.install.sources import local_path

        source = command.source
        if "://" not in source and local_path(source) is not None:
            source = str(Path(source).expanduser().absolute())
        return {"source": source, "ref_spec": command.git_ref, "digest": command.expected_digest,
                "force": command.force, "replace": command.replace,
                "skip_tests": command.skip_tests, "skip_dependents": command.skip_dependents,
                **_reuse(command), **_install_deps(command)}

    @staticmethod
    def _queued(body: dict[str, Any]) -> Queued:
        from attune_registry.application.commands import Queued

        data = body["data"]
        return Queued(UUID(data["registration_id"]), data["ref"], data["version"],
                      data["suites"])

    def _registered(self, body: dict[str, Any]) -> Registered:
        from attune_registry.application.install_deps import InstalledDependency
        from attune_registry.application.register import RegistrationOutcome

        pack = msgspec.convert(body["pack"], type=PackRow)
        result = TestResult.from_dict(body["test_result"]) if body["test_result"] else None
        outcome = RegistrationOutcome(
            registration_id=UUID(pack.registration_id), pack_ref=pack.ref,
            pack_version=pack.version, tests_skipped=body["tests_skipped"],
            forced=bool(result and result.status != "passed"), test_result=result,
            notification_id=0, reused=_reused_run(body.get("reused_run"), result))
        return Registered(outcome=outcome, pack=pack, installed_dependencies=tuple(
            InstalledDependency(item["ref"], item["version"], UUID(item["registration_id"]))
            for item in body.get("installed_dependencies") or ()))

    def rejected_run_junit(self, error: RemoteError) -> bytes | None:
        """The JUnit XML of the stored test run that a rejection by its tests names (the
        ``pack_ref`` and ``test_execution_id`` of its details); None for any other error.

        Raises: RunNotNamedError when the rejection does not name its run (a server from
        before they were named); RemoteError or ApiUnavailableError when it cannot be read.
        """
        evidence = error.rejection
        if evidence is None:
            return None
        ref, run = evidence.get("pack_ref"), evidence.get("test_execution_id")
        if not isinstance(ref, str) or not isinstance(run, int):
            raise RunNotNamedError(str(evidence.get("registration_id")))
        return self._send("GET", f"/packs/{ref}/tests/{run}/junit").content

    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        from attune_registry.application.test_pack import TestRunOutcome

        result = self._data(TestResult, "POST", f"/packs/{ref}/test")
        return TestRunOutcome(ref, result.pack_version, result, test_run_id=UUID(int=0))

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        raise LocalOnlyError("Testing a directory runs locally; it is not available with "
                             "--api-url (register it, or test it without --api-url)")

    def verify(self, ref: str) -> Verification:
        return self._data(Verification, "GET", f"/packs/{ref}/verify")

    def compare_tests(self, ref: str, from_: RunSelector | None = None,
                      to: RunSelector | None = None,
                      thresholds: Thresholds | None = None) -> RunComparison:
        from attune_registry.adapters.reads.compare import RunComparison, selector_params

        return self._data(RunComparison, "GET", f"/packs/{ref}/tests/compare",
                          params=selector_params(from_, to, thresholds))

    def dependencies(self, ref: str) -> PackDependencies:
        return self._data(PackDependencies, "GET", f"/packs/{ref}/dependencies")

    def versions(self, ref: str) -> PackVersions:
        from attune_registry.adapters.reads.versions import PackVersions

        return self._data(PackVersions, "GET", f"/packs/{ref}/versions")

    def activate(self, command: ActivateCommand,
                 progress: Progress | None = None) -> Activation:
        from attune_registry.adapters.activation import ActivatedRelease, Activation

        wanted = command.wanted
        named = ({"version": wanted.version} if wanted.version is not None
                 else {"digest": wanted.digest})
        data = self._call("POST", f"/packs/{command.ref}/activate", json={
            **named, "force": command.force, "reuse": command.reuse,
            "skip_dependents": command.skip_dependents})["data"]
        reused = data.get("reused_run")
        return Activation(self._registered(data),
                          msgspec.convert(data["release"], type=ActivatedRelease),
                          reused["run_id"] if isinstance(reused, dict) else None)

    def flaky_cases(self, ref: str) -> list[FlakyCase]:
        return self._data(list[FlakyCase], "GET", f"/packs/{ref}/flaky")

    def list_packs(self) -> list[PackRow]:
        rows: list[PackRow] = []
        page = 1
        while True:
            body = self._call("GET", "/packs", params={"page": page, "page_size": 100})
            rows += msgspec.convert(body["data"], type=list[PackRow])
            if page >= body["pagination"]["total_pages"]:
                return rows
            page += 1

    def show(self, ref: str) -> PackDetails:
        return self._data(PackDetails, "GET", f"/packs/{ref}")

    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        return msgspec.convert(self._newest(f"/packs/{ref}/registrations", limit),
                               type=list[RegistrationRow])

    def test_history(self, ref: str, *, limit: int = 50, status: RunStatus | None = None,
                     trigger_reason: TriggerReason | None = None,
                     ) -> list[TestExecutionRow]:
        pairs = (("status", status), ("trigger_reason", trigger_reason))
        filters: dict[str, str] = {name: value for name, value in pairs if value}
        return msgspec.convert(self._newest(f"/packs/{ref}/tests", limit, filters),
                               type=list[TestExecutionRow])

    def _newest(self, url: str, limit: int, filters: dict[str, str] | None = None) -> list[Any]:
        """The first ``limit`` items of a list endpoint (with query ``filters``), page after
        page by cursor."""
        items: list[Any] = []
        params: dict[str, Any] = dict(filters or {})
        while True:
            params["page_size"] = min(limit - len(items), 100)
            body = self._call("GET", url, params=params)
            items += body["data"]
            params["cursor"] = body["pagination"]["next_cursor"]
            if len(items) >= limit or params["cursor"] is None:
                return items

    def knows(self, ref: str) -> bool:
        return True  # the API answers 404 itself for refs it never saw

    def activity(self, query: ActivityFilter) -> Feed:
        """Up to ``query.limit`` events of ``GET /activity``, page after page by cursor
        (``query.before`` has no API parameter: the cursor carries it)."""
        from attune_registry.projections.activity_queries import ActivityRow, Feed

        pairs = (("since", query.since.isoformat() if query.since else None),
                 ("ref", query.ref), ("actor", query.actor), ("after", query.after))
        params: dict[str, Any] = {name: value for name, value in pairs if value is not None}
        params["order"] = "desc" if query.newest_first else "asc"
        rows: list[ActivityRow] = []
        while True:
            params["page_size"] = min(query.limit - len(rows), 100)
            body = self._call("GET", "/activity", params=params)
            rows += msgspec.convert(body["data"], type=list[ActivityRow])
            params["cursor"] = body["pagination"]["next_cursor"]
            if len(rows) >= query.limit or params["cursor"] is None:
                return Feed(rows, more=params["cursor"] is not None)

    def ref_states(self) -> list[RefState]:
        from attune_registry.projections.activity_queries import RefState

        rows: list[RefState] = []
        page = 1
        while True:
            body = self._call("GET", "/refs", params={"page": page, "page_size": 100})
            rows += msgspec.convert(body["data"], type=list[RefState])
            if page >= body["pagination"]["total_pages"]:
                return rows
            page += 1

    def unregister(self, ref: str, *, actor: str, note: str | None = None,
                   force: bool = False) -> UUID:
        return UUID(self._call("DELETE", f"/packs/{ref}", params={
            **_force(force), **_reason(note)})["data"]["registration_id"])

    def roll_back(self, ref: str, *, actor: str, note: str | None = None,
                  force: bool = False) -> PackRow:
        return self._data(PackRow, "POST", f"/packs/{ref}/rollback",
                          params={**_force(force), **_reason(note)})

    def queue(self, command: RegisterCommand) -> Queued:
        return self._queued(self._call("POST", "/packs/register", json={
            "path": str(Path(command.path).expanduser().absolute()), "force": command.force,
            "replace": command.replace, "skip_tests": command.skip_tests,
            "skip_dependents": command.skip_dependents, **_reuse(command), "wait": False}))

    def cancel(self, ref: str, *, actor: str, force: bool = False,
               note: str | None = None) -> UUID:
        body = self._call("POST", f"/packs/{ref}/cancel",
                          params={"force": "true" if force else "false", **_reason(note)})
        return UUID(body["data"]["registration_id"])

    def audit(self, registration_id: UUID) -> list[StoredEvent]:
        events = self._call("GET", f"/registrations/{registration_id}")["data"]["events"]
        return msgspec.convert(events, type=list[StoredEvent])

    def watch(self, registration_id: UUID, *, after: int = 0) -> Iterator[RegistrationUpdate]:
        """The server's event stream of the registration; when it ends before the decision
        (the server's idle limit, a proxy's), connect again with ``Last-Event-ID``."""
        from attune_registry.adapters.contract import DecidedUpdate

        while True:
            for update in self._updates(registration_id, after):
                yield update
                if isinstance(update, DecidedUpdate):
                    return
                after = update.originator_version
            time.sleep(RECONNECT_SECONDS)

    def _updates(self, registration_id: UUID, after: int) -> Iterator[RegistrationUpdate]:
        from attune_registry.adapters.cli.sse import events
        from attune_registry.adapters.contract import RegistrationUpdate

        url = f"/registrations/{registration_id}/events"
        headers = {"Accept": "text/event-stream"}
        if after:
            headers["Last-Event-ID"] = str(after)
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.is_error:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    raise _api_error(response.status_code, body, url)
                for event in events(response.iter_lines()):
                    if event.type in UPDATE_EVENTS:
                        yield msgspec.json.decode(event.data, type=RegistrationUpdate)
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"cannot reach the API at {self.base}: {exc}") from None

    def prune(self, *, dry_run: bool = False) -> list[str]:
        raise LocalOnlyError.command("pack prune")

    def create_token(self, name: str, scope: str, *, actor: str) -> tuple[str, TokenRow]:
        raise LocalOnlyError.command("token create")

    def list_tokens(self) -> list[TokenRow]:
        raise LocalOnlyError.command("token list")

    def revoke_token(self, name_or_id: str, *, actor: str) -> TokenRow:
        raise LocalOnlyError.command("token revoke")

    def projection_status(self) -> ProjectionStatus:
        raise LocalOnlyError.command("projections status")

    def rebuild(self, *, batch_size: int = 500) -> int:
        raise LocalOnlyError.command("projections rebuild")

    def workers(self) -> list[WorkerRow]:
        """Raises: QueueNeedsPostgresError when the server's store is the embedded one (it
        answers ``"queue": null``)."""
        body = self._call("GET", "/workers")
        if body.get("queue") is None:
            from attune_registry.adapters.queue.jobs import QueueNeedsPostgresError

            raise QueueNeedsPostgresError()
        return msgspec.convert(body["data"], type=list[WorkerRow])

    def health(self) -> Health:
        """The server's ``GET /health`` (needs no token)."""
        from attune_registry.adapters.contract import Health

        return self._data(Health, "GET", "/health")


def _install_deps(command: RegistrationOptions) -> dict[str, bool]:
    """``install_deps`` in a register or install body, only when asked (a server from before
    it refuses the unknown field)."""
    return {"install_deps": True} if command.install_deps else {}


def _reuse(command: RegistrationOptions) -> dict[str, bool]:
    """``reuse`` in a register or install body, only when asked (as ``_install_deps``)."""
    return {"reuse": True} if command.reuse else {}


def _reused_run(data: dict[str, Any] | None, result: TestResult | None) -> ReusableRun | None:
    """The run the server says a registration reused (its result is the one answered)."""
    if data is None or result is None:
        return None
    from attune_registry.application.ports import ReusableRun

    return ReusableRun(run_id=data["run_id"], registration_id=data["registration_id"],
                       pack_version=data["pack_version"], fingerprint=data["fingerprint"],
                       result=result)


def _force(force: bool) -> dict[str, str]:
    """The ``force`` query parameter of rollback and unregister, when set."""
    return {"force": "true"} if force else {}


def _reason(note: str | None) -> dict[str, str]:
    """The ``reason`` query parameter of rollback, unregister and cancel, if one is given."""
    return {} if note is None else {"reason": note}


def _api_error(status: int, body: Any, url: str) -> RemoteError:
    """The error the API answered with (its message and code), or one naming the status."""
    if isinstance(body, dict) and "error" in body:
        details = body.get("details")
        return RemoteError(str(body["error"]), str(body.get("code", "ERROR")),
                           details if isinstance(details, list) else None)
    return RemoteError(f"API error {status} at {url}", "HTTP_ERROR")
