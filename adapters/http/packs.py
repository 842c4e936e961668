"""``/api/v1/packs``: register, read, test and unregister packs."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.manifest import REF_PATTERN
from attune_registry.domain.vocabulary import RunStatus, TriggerReason

from attune_registry.application.commands import (
    InstallCommand,
    Queued,
    RegisterCommand,
    parse_digest,
)

from attune_registry.projections.queries import SortKey

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.body import json_body
from attune_registry.adapters.http.cursor import (
    REGISTRATION_CURSOR,
    RUN_CURSOR,
    next_cursor,
    page_start,
)
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.http.install_deps import dependency_sources
from attune_registry.adapters.http.roots import (
    check_install_source,
    check_pack_root,
    install_address_policy,
)
from attune_registry.adapters.http.schemas import (
    Cancelled,
    CancelledEnvelope,
    DependenciesEnvelope,
    InstallRequest,
    PackEnvelope,
    PackPage,
    QueuedEnvelope,
    QueuedRegistration,
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
from attune_registry.adapters.install.network import address_policy

Page = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page number, from 1.")]
PageSize = Annotated[int, QueryParameter(ge=1, le=100,
                                         description="Items per page (at most 100).")]
Reason = Annotated[str | None, QueryParameter(
    description="Why, in your words: kept with the event, shown in the pack's history and the "
                "registration's audit. One line of visible text, at most 500 characters.")]
DependentsForce = Annotated[bool, QueryParameter(
    description="Do it although active packs depend on the pack (their refs and ranges are "
                "recorded with the event and shown in its history and audit).")]
Cursor = Annotated[str | None, QueryParameter(
    description="Start after the page that answered with this `pagination.next_cursor` "
                "(opaque). Costs the same at any depth, unlike `page`; not with `page`.")]


ERRORS = documented_errors(*COMMON_ERRORS, 409)
BODY_ERRORS = documented_errors(*COMMON_ERRORS, 409, 415)
QUEUED_RESPONSE = {202: ResponseSpec(data_container=QueuedEnvelope, generate_examples=False,
                                     description="Queued for workers (\"wait\": false)")}


def queued_response(done: Queued) -> Response[QueuedEnvelope]:
    """202 Accepted, with the registration to follow in ``Location``."""
    body = QueuedEnvelope(data=QueuedRegistration(
        registration_id=str(done.registration_id), ref=done.pack_ref, version=done.pack_version,
        suites=done.suites, status="queued"),
        message=f"Pack '{done.pack_ref}' {done.pack_version} queued")
    return Response(body, status_code=202,
                    headers={"Location": f"/api/v1/registrations/{done.registration_id}"})
# What every handler of a scope shares: its errors, its guard, and a thread for the store.
READ: dict[str, Any] = {"responses": ERRORS, "guards": [requires("read")], "sync_to_thread": True}
WRITE: dict[str, Any] = {"responses": ERRORS, "guards": [requires("write")],
                         "sync_to_thread": True}


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
    before_request = ref_that_can_exist  # type: ignore[assignment]  # a hook, not a method

    @post("/register", responses={**BODY_ERRORS, **QUEUED_RESPONSE}, status_code=201,
          guards=[requires("write")], before_request=json_body(RegisterRequest),
          sync_to_thread=True, operation_id="registerPack",
          summary="Register a pack directory, gated on its tests")
    def register(self, data: JSONBody[RegisterRequest], request: Request[Any, Any, Any],
                 registry: NamedDependency[ServedRegistry],
                 ) -> RegisteredEnvelope | Response[QueuedEnvelope]:
        """Validate, test on a private copy and activate; failing tests give 400 unless forced.
        With ``"wait": false`` (PostgreSQL): 202 at once, the suites queued for workers."""
        check_pack_root(data.path, request.app.state.pack_roots)
        command = RegisterCommand(
            path=data.path, force=data.force, replace=data.replace, skip_tests=data.skip_tests,
            skip_dependents=data.skip_dependents, reuse=data.reuse,
            requested_by=request.state.actor, install_deps=data.install_deps)
        if data.install_deps:
            with dependency_sources(request.app.state, data.wait):
                done = registry.register(command)
            return RegisteredEnvelope(data=Registered.of(done),
                                      message="Pack registered successfully")
        if not data.wait and not data.skip_tests:
            return queued_response(registry.queue(command))
        done = registry.register(command)
        return RegisteredEnvelope(data=Registered.of(done),
                                  message="Pack registered successfully")

    @post("/install", responses={**BODY_ERRORS, **QUEUED_RESPONSE}, status_code=201,
          guards=[requires("write")],
          before_request=json_body(InstallRequest), sync_to_thread=True,
          operation_id="installPack",
          summary="Install a pack from git, an archive or a directory, gated on its tests")
    def install(self, data: JSONBody[InstallRequest], request: Request[Any, Any, Any],
                registry: NamedDependency[ServedRegistry],
                ) -> RegisteredEnvelope | Response[QueuedEnvelope]:
        """Fetch, keep as a release, test and activate; failing tests give 400 unless
        forced, and leave no files behind. With ``"wait": false`` (PostgreSQL): 202 once
        fetched and queued."""
        state = request.app.state
        # What was checked is what is fetched: the normalised source, not the text as given;
        # and the fetch connects only to addresses the policy judged (see network.py).
        source = check_install_source(data.source, state.pack_roots, state.install_sources)
        command = InstallCommand(
            source=source, git_ref=data.ref_spec, force=data.force, replace=data.replace,
            skip_tests=data.skip_tests, skip_dependents=data.skip_dependents,
            reuse=data.reuse, requested_by=request.state.actor, install_deps=data.install_deps,
            expected_digest=parse_digest(data.digest) if data.digest is not None else None)
        if data.install_deps:
            with dependency_sources(state, data.wait):
                done = registry.install(command)
            return RegisteredEnvelope(data=Registered.of(done),
                                      message="Pack installed successfully")
        with address_policy(install_address_policy(state)):
            if not data.wait and not data.skip_tests:
                return queued_response(registry.queue_install(command))
            done = registry.install(command)
        return RegisteredEnvelope(data=Registered.of(done),
                                  message="Pack installed successfully")

    @get("/", **READ, operation_id="listPacks", summary="List active packs")
    def list_packs(self, registry: NamedDependency[ServedRegistry], page: Page = 1,
                   page_size: PageSize = 50) -> PackPage:
        found = registry.packs_page(limit=page_size, offset=(page - 1) * page_size)
        return PackPage(data=found.rows, pagination=pagination(page, page_size, found.total))

    @get("/{ref:str}", **READ, operation_id="getPack",
         summary="An active pack with its components and latest test run")
    def get_pack(self, ref: FromPath[str],
                 registry: NamedDependency[ServedRegistry]) -> PackEnvelope:
        return PackEnvelope(data=registry.show(ref))

    @delete("/{ref:str}", status_code=200, **WRITE, operation_id="unregisterPack",
            summary="Unregister (a compensating event)")
    def unregister(self, ref: FromPath[str], request: Request[Any, Any, Any],
                   registry: NamedDependency[ServedRegistry],
                   reason: Reason = None, force: DependentsForce = False,
                   ) -> UnregisteredEnvelope:
        """409 ``DEPENDENTS_ACTIVE`` while active packs depend on the pack, unless
        ``force``."""
        ended = registry.unregister(ref, actor=request.state.actor, note=reason, force=force)
        return UnregisteredEnvelope(data=Unregistered(ref=ref, registration_id=str(ended)),
                                    message=f"Pack '{ref}' unregistered")

    @post("/{ref:str}/rollback", status_code=200, **WRITE, operation_id="rollBackPack",
          summary="Re-activate the registration the active one replaced")
    def roll_back(self, ref: FromPath[str], request: Request[Any, Any, Any],
                  registry: NamedDependency[ServedRegistry],
                  reason: Reason = None, force: DependentsForce = False,
                  ) -> RolledBackEnvelope:
        """409 ``DEPENDENTS_ACTIVE`` when an active dependent's range refuses the restored
        version, unless ``force``."""
        pack = registry.roll_back(ref, actor=request.state.actor, note=reason, force=force)
        return RolledBackEnvelope(data=pack, message=f"Pack '{ref}' rolled back to {pack.version}")

    @post("/{ref:str}/cancel", status_code=200, **WRITE, operation_id="cancelRegistration",
          summary="End a registration in progress whose process is gone")
    def cancel(self, ref: FromPath[str], request: Request[Any, Any, Any],
               registry: NamedDependency[ServedRegistry], force: FromQuery[bool] = False,
               reason: Reason = None) -> CancelledEnvelope:
        """Records the registration as rejected (``abandoned``) by the caller and frees the
        ref. Without ``force`` only when its process is certainly gone (same host, pid ended);
        409 otherwise."""
        ended = registry.cancel(ref, actor=request.state.actor, force=force, note=reason)
        return CancelledEnvelope(data=Cancelled(ref=ref, registration_id=str(ended)),
                                 message=f"Registration {ended} of pack '{ref}' cancelled")

    @post("/{ref:str}/test", status_code=200, **WRITE, operation_id="testPack",
          summary="Run an active pack's suites again (recorded)")
    def test(self, ref: FromPath[str], request: Request[Any, Any, Any],
             registry: NamedDependency[ServedRegistry]) -> TestRunEnvelope:
        """Answers 200 with the result whether or not the tests pass."""
        outcome = registry.test_registered(ref, requested_by=request.state.actor)
        return TestRunEnvelope(data=outcome.result, message="Pack tests executed successfully")

    @get("/{ref:str}/verify", **READ, operation_id="verifyPack",
         summary="Recompute the digest of an active pack's files and report drift")
    def verify(self, ref: FromPath[str],
               registry: NamedDependency[ServedRegistry]) -> VerificationEnvelope:
        """200 whatever the outcome: ``data.status`` is ok, drifted or missing."""
        return VerificationEnvelope(data=registry.verify(ref))

    @get("/{ref:str}/dependencies", **READ, operation_id="packDependencies",
         summary="A pack's declared dependencies and the active packs that depend on it")
    def pack_dependencies(self, ref: FromPath[str],
                          registry: NamedDependency[ServedRegistry]) -> DependenciesEnvelope:
        """Both directions at once: ``dependencies`` (what the active version declares, each
        with the active version of that pack and whether it satisfies the range) and
        ``dependents`` (active packs that declare this one, with their range and whether the
        active version is in it). 404 when the ref was never submitted and nothing depends
        on it."""
        return DependenciesEnvelope(data=registry.dependencies(ref))

    @get("/{ref:str}/tests", **READ, operation_id="listPackTests",
         summary="Test history, newest first")
    def tests(self, ref: FromPath[str], request: Request[Any, Any, Any],
              registry: NamedDependency[ServedRegistry], page: Page = 1,
              page_size: PageSize = 50, cursor: Cursor = None,
              status: FromQuery[RunStatus | None] = None,
              trigger_reason: FromQuery[TriggerReason | None] = None) -> TestExecutionPage:
        after, page = page_start(request, cursor, page, RUN_CURSOR)
        found = registry.test_history_page(ref, limit=page_size,
                                           offset=_offset(after, page, page_size), after=after,
                                           status=status, trigger_reason=trigger_reason)
        following = next_cursor(found, page, lambda row: SortKey(row.execution_time, row.id))
        return TestExecutionPage(data=found.rows, pagination=cursor_pagination(
            page, page_size, found.total, following))

    @get("/{ref:str}/tests/latest", **READ, operation_id="latestPackTest",
         summary="The newest test run")
    def latest_test(self, ref: FromPath[str],
                    registry: NamedDependency[ServedRegistry]) -> TestExecutionEnvelope:
        return TestExecutionEnvelope(data=registry.latest_test(ref))

    @get("/{ref:str}/tests/{execution_id:int}/junit", **READ, operation_id="packTestJunit",
         media_type="application/xml", summary="One test run as JUnit XML (for CI systems)")
    def test_junit(self, ref: FromPath[str], execution_id: FromPath[int],
                   registry: NamedDependency[ServedRegistry]) -> Response[bytes]:
        """Any stored run (``id`` in the test history), rejected and running ones included."""
        from attune_registry.adapters.reports.junit_xml import junit_xml

        # Past SQLite's and PostgreSQL's integers, no run can have the id: not found, not a 500.
        in_range = 1 <= execution_id < 2**63
        found = registry.test_execution(ref, execution_id) if in_range else None
        if found is None:
            raise NotFoundException(f"Test run {execution_id} of pack '{ref}' not found")
        return Response(junit_xml(found.result), media_type="application/xml")

    @get("/{ref:str}/registrations", **READ, operation_id="listPackRegistrations",
         summary="Every registration attempt, newest first")
    def registrations(self, ref: FromPath[str], request: Request[Any, Any, Any],
                      registry: NamedDependency[ServedRegistry], page: Page = 1,
                      page_size: PageSize = 50, cursor: Cursor = None) -> RegistrationPage:
        after, page = page_start(request, cursor, page, REGISTRATION_CURSOR)
        found = registry.registrations_page(ref, limit=page_size,
                                            offset=_offset(after, page, page_size), after=after)
        following = next_cursor(found, page, lambda row: SortKey(row.requested_at, row.id))
        return RegistrationPage(data=found.rows, pagination=cursor_pagination(
            page, page_size, found.total, following))


def _offset(after: SortKey | None, page: int, page_size: int) -> int:
    """A cursor says where the page starts; a page number counts rows from the newest."""
    return 0 if after is not None else (page - 1) * page_size
