"""``/api/v1/packs``: register, read, test and unregister packs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from domain.errors import PackNotFoundError, RegistryError
from domain.manifest import REF_PATTERN
from projections.queries import SortKey

from adapters.http.auth import requires
from adapters.http.body import json_body
from adapters.http.cursor import REGISTRATION_CURSOR, RUN_CURSOR, next_cursor, page_start
from adapters.http.errors import COMMON_ERRORS, documented_errors
from adapters.http.schemas import (
    InstallRequest,
    PackDetails,
    PackEnvelope,
    PackPage,
    Registered,
    RegisteredEnvelope,
    RegisterRequest,
    RegistrationPage,
    RolledBackEnvelope,
    TestExecutionEnvelope,
    TestExecutionPage,
    TestRunEnvelope,
    Unregistered,
    UnregisteredEnvelope,
    VerificationEnvelope,
    cursor_pagination,
    pagination,
)
from adapters.service import RegistryService

Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page number, from 1.")]
RunStatus = Literal["running", "passed", "failed", "error"]
TriggerReason = Literal["register", "install", "manual"]
PageSize = Annotated[int, QueryParameter(ge=1, le=100,
                                         description="Items per page (at most 100).")]
Cursor = Annotated[str | None, QueryParameter(
    description="Start after the page that answered with this `pagination.next_cursor` "
                "(opaque). Costs the same at any depth, unlike `page`; not with `page`.")]


ERRORS = documented_errors(*COMMON_ERRORS, 409)
BODY_ERRORS = documented_errors(*COMMON_ERRORS, 409, 415)


class OutsidePackRootsError(RegistryError):
    """Raised when a path to register is not under the server's pack roots (HTTP 403)."""

    code = "FORBIDDEN"


class InvalidPackPathError(RegistryError):
    """Raised when a path to register cannot name a directory at all (NUL, name too long...)."""


async def ref_that_can_exist(request: Request[Any, Any, Any]) -> None:
    """A ref that no manifest can declare is not found, and the store is not asked: PostgreSQL
    refuses a NUL in a query parameter with an error."""
    ref = request.path_params.get("ref")
    if ref is not None and not REF_PATTERN.fullmatch(ref):
        raise PackNotFoundError(ref)


class PackController(Controller):
    path = "/packs"
    tags = ["packs"]
    security = [{"BearerToken": []}]
    # Runs after the guards. A handler's own hook replaces it: those that take a body have no
    # ref and check their body instead.
    before_request = ref_that_can_exist

    @post("/register", responses=BODY_ERRORS, status_code=201, guards=[requires("write")],
          before_request=json_body(RegisterRequest), sync_to_thread=True,
          operation_id="registerPack", summary="Register a pack directory, gated on its tests")
    def register(self, data: JSONBody[RegisterRequest], request: Request[Any, Any, Any],
                 registry: NamedDependency[RegistryService]) -> RegisteredEnvelope:
        """Validate, test on a private copy and activate; failing tests give 400 unless forced."""
        _check_pack_root(data.path, request.app.state.pack_roots)
        done = registry.register(data.path, force=data.force, replace=data.replace,
                                 skip_tests=data.skip_tests, requested_by=request.state.actor)
        return RegisteredEnvelope(
            data=Registered(pack=done.pack, test_result=done.outcome.test_result,
                            tests_skipped=done.outcome.tests_skipped),
            message="Pack registered successfully")

    @post("/install", responses=BODY_ERRORS, status_code=201, guards=[requires("write")],
          before_request=json_body(InstallRequest), sync_to_thread=True,
          operation_id="installPack",
          summary="Install a pack from git, an archive or a directory, gated on its tests")
    def install(self, data: JSONBody[InstallRequest], request: Request[Any, Any, Any],
                registry: NamedDependency[RegistryService]) -> RegisteredEnvelope:
        """Fetch into the managed store, test and activate; failing tests give 400 unless
        forced, and leave no files behind."""
        from adapters.install.sources import check_allowed_source, local_path

        local = local_path(data.source)
        if local is not None:
            _check_pack_root(local, request.app.state.pack_roots)
        else:
            check_allowed_source(data.source, request.app.state.install_sources)
        done = registry.install(data.source, ref=data.ref_spec, force=data.force,
                                replace=data.replace, skip_tests=data.skip_tests,
                                requested_by=request.state.actor, digest=data.digest)
        return RegisteredEnvelope(
            data=Registered(pack=done.pack, test_result=done.outcome.test_result,
                            tests_skipped=done.outcome.tests_skipped),
            message="Pack installed successfully")

    @get("/", responses=ERRORS, guards=[requires("read")], sync_to_thread=True, operation_id="listPacks",
         summary="List active packs")
    def list_packs(self, registry: NamedDependency[RegistryService], page: Page = 1,
                   page_size: PageSize = 50) -> PackPage:
        registry.catch_up()
        rows = registry.view.list_packs(limit=page_size, offset=(page - 1) * page_size)
        return PackPage(data=rows, pagination=pagination(page, page_size,
                                                         registry.view.count_packs()))

    @get("/{ref:str}", responses=ERRORS, guards=[requires("read")], sync_to_thread=True, operation_id="getPack",
         summary="An active pack with its components and latest test run")
    def get_pack(self, ref: FromPath[str], registry: NamedDependency[RegistryService]) -> PackEnvelope:
        details = registry.show(ref)
        return PackEnvelope(data=PackDetails(pack=details.pack, components=details.components,
                                             latest_test=details.latest_test))

    @delete("/{ref:str}", responses=ERRORS, status_code=200, guards=[requires("write")], sync_to_thread=True,
            operation_id="unregisterPack", summary="Unregister (a compensating event)")
    def unregister(self, ref: FromPath[str], request: Request[Any, Any, Any],
                   registry: NamedDependency[RegistryService]) -> UnregisteredEnvelope:
        ended = registry.unregister(ref, actor=request.state.actor)
        return UnregisteredEnvelope(data=Unregistered(ref=ref, registration_id=str(ended)),
                                    message=f"Pack '{ref}' unregistered")

    @post("/{ref:str}/rollback", responses=ERRORS, status_code=200, guards=[requires("write")],
          sync_to_thread=True, operation_id="rollBackPack",
          summary="Re-activate the registration the active one replaced")
    def roll_back(self, ref: FromPath[str], request: Request[Any, Any, Any],
                  registry: NamedDependency[RegistryService]) -> RolledBackEnvelope:
        pack = registry.roll_back(ref, actor=request.state.actor)
        return RolledBackEnvelope(data=pack, message=f"Pack '{ref}' rolled back to {pack.version}")

    @post("/{ref:str}/test", responses=ERRORS, status_code=200, guards=[requires("write")], sync_to_thread=True,
          operation_id="testPack", summary="Run an active pack's suites again (recorded)")
    def test(self, ref: FromPath[str], request: Request[Any, Any, Any],
             registry: NamedDependency[RegistryService]) -> TestRunEnvelope:
        """Answers 200 with the result whether or not the tests pass."""
        outcome = registry.test_registered(ref, requested_by=request.state.actor)
        return TestRunEnvelope(data=outcome.result, message="Pack tests executed successfully")

    @get("/{ref:str}/verify", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="verifyPack",
         summary="Recompute the digest of an active pack's files and report drift")
    def verify(self, ref: FromPath[str],
               registry: NamedDependency[RegistryService]) -> VerificationEnvelope:
        """200 whatever the outcome: ``data.status`` is ok, drifted or missing."""
        return VerificationEnvelope(data=registry.verify(ref))

    @get("/{ref:str}/tests", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="listPackTests", summary="Test history, newest first")
    def tests(self, ref: FromPath[str], request: Request[Any, Any, Any],
              registry: NamedDependency[RegistryService], page: Page = 1,
              page_size: PageSize = 50, cursor: Cursor = None,
              status: FromQuery[RunStatus | None] = None,
              trigger_reason: FromQuery[TriggerReason | None] = None) -> TestExecutionPage:
        after, page = page_start(request, cursor, page, RUN_CURSOR)
        registry.catch_up()
        view = registry.view
        total = view.count_test_history(ref, status=status, trigger_reason=trigger_reason)
        if total == 0 and not view.has_history(ref):
            raise PackNotFoundError(ref)
        # One row more than the page says whether there is a next one.
        rows = view.test_history_json(ref, limit=page_size + 1,
                                      offset=_offset(after, page, page_size), after=after,
                                      status=status, trigger_reason=trigger_reason)
        following = next_cursor(rows, page_size, page,
                                lambda row: SortKey(row.execution_time, row.id))
        return TestExecutionPage(data=rows[:page_size],
                                 pagination=cursor_pagination(page, page_size, total, following))

    @get("/{ref:str}/tests/latest", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="latestPackTest", summary="The newest test run")
    def latest_test(self, ref: FromPath[str],
                    registry: NamedDependency[RegistryService]) -> TestExecutionEnvelope:
        rows = registry.test_history(ref, limit=1)
        if not rows:
            raise NoTestResultsError(ref) if registry.knows(ref) else PackNotFoundError(ref)
        return TestExecutionEnvelope(data=rows[0])

    @get("/{ref:str}/registrations", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="listPackRegistrations", summary="Every registration attempt, newest first")
    def registrations(self, ref: FromPath[str], request: Request[Any, Any, Any],
                      registry: NamedDependency[RegistryService], page: Page = 1,
                      page_size: PageSize = 50, cursor: Cursor = None) -> RegistrationPage:
        after, page = page_start(request, cursor, page, REGISTRATION_CURSOR)
        registry.catch_up()
        total = registry.view.count_registrations(ref)
        if total == 0:
            raise PackNotFoundError(ref)
        rows = registry.view.registrations(ref, limit=page_size + 1,
                                           offset=_offset(after, page, page_size), after=after)
        following = next_cursor(rows, page_size, page,
                                lambda row: SortKey(row.requested_at, row.id))
        return RegistrationPage(data=rows[:page_size],
                                pagination=cursor_pagination(page, page_size, total, following))


def _offset(after: SortKey | None, page: int, page_size: int) -> int:
    """A cursor says where the page starts; a page number counts rows from the newest."""
    return 0 if after is not None else (page - 1) * page_size


class NoTestResultsError(RegistryError):
    code = "NOT_FOUND"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No test results found for pack '{ref}'")


def _check_pack_root(path: str, roots: tuple[Path, ...]) -> None:
    """The server only reads packs under its configured roots (symlinks resolved)."""
    if "\x00" in path:
        raise InvalidPackPathError("Path must not contain NUL characters")
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, ~user without a home
        raise InvalidPackPathError(f"Path {path} cannot be resolved: {exc}") from None
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        listed = ", ".join(str(root) for root in roots)
        raise OutsidePackRootsError(
            f"Path {path} is outside the server's pack roots: {listed}")
    try:
        resolved.exists()
    except OSError as exc:  # a name too long for the filesystem: say so before loading
        raise InvalidPackPathError(f"Path {path} cannot be used: {exc.strerror}") from None
