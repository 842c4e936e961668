"""``/api/v1/packs/{ref}/versions`` and ``/activate``: a ref's committed releases side by side,
and one of them made active again (a new registration of its kept release)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from attune_registry.domain.errors import InvalidReleaseError, RegistryError
from attune_registry.domain.refs import SEMVER_PATTERN
from attune_registry.domain.results import TestResult

from attune_registry.application.activate import ActivateCommand, ReleaseWanted, parse_release

from attune_registry.projections.rows import PackRow

from attune_registry.adapters.activation import ActivatedRelease, Activation
from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.body import json_body
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.http.packs import ref_that_can_exist
from attune_registry.adapters.http.schemas import Registered, ReusedRun
from attune_registry.adapters.reads.versions import PackVersions

ERRORS = documented_errors(*COMMON_ERRORS, 409)


class ActivateRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Activate the committed release named by exactly one of ``version`` (its newest
    committed content) or ``digest`` (``sha256:<hex>`` or hex: whole, or its first 12 digits
    or more)."""

    version: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    digest: Annotated[str, msgspec.Meta(
        pattern=r"^(sha256:)?[0-9a-fA-F]{12,64}$")] | None = None
    force: bool = False
    """Activate it even if its tests fail now (recorded as forced)."""
    reuse: bool = True
    """Reuse a passing run of the same content in the same environment instead of running
    the suites, when there is one."""
    skip_dependents: bool = False
    """Do not run the active dependents' suites against it first (recorded)."""


class OneReleaseError(RegistryError):
    """Raised when an activation names no release, or two (400)."""

    def __init__(self) -> None:
        super().__init__("Name the release to activate with exactly one of \"version\" and "
                         "\"digest\"")


class Activated(msgspec.Struct):
    """What a registration answers (the pack made active, its test result, the run it reused
    if it did) and the kept release it registered again."""

    pack: PackRow
    test_result: TestResult | None
    tests_skipped: bool
    tests_reused: bool
    reused_run: ReusedRun | None
    """The passing run it reused instead of running its suites; None when they ran."""
    release: ActivatedRelease

    @classmethod
    def of(cls, done: Activation) -> Activated:
        registered = Registered.of(done.registered)
        return cls(pack=registered.pack, test_result=registered.test_result,
                   tests_skipped=registered.tests_skipped,
                   tests_reused=registered.tests_reused, reused_run=registered.reused_run,
                   release=done.release)


class ActivatedEnvelope(msgspec.Struct):
    data: Activated
    message: str


class VersionsEnvelope(msgspec.Struct):
    data: PackVersions


def wanted_release(data: ActivateRequest) -> ReleaseWanted:
    """Raises: OneReleaseError, InvalidReleaseError (a version that is not one)."""
    if (data.version is None) == (data.digest is None):
        raise OneReleaseError()
    if data.version is not None:
        if not SEMVER_PATTERN.fullmatch(data.version):
            raise InvalidReleaseError(data.version)
        return ReleaseWanted(version=data.version)
    return parse_release(data.digest or "")


_body_check = json_body(ActivateRequest)


async def _ref_and_body(request: Request[Any, Any, Any]) -> None:
    await ref_that_can_exist(request)
    await _body_check(request)


class VersionsController(Controller):
    path = "/packs/{ref:str}"
    tags = ["packs"]
    security = [{"BearerToken": []}]
    before_request = ref_that_can_exist  # type: ignore[assignment]  # a hook, not a method

    @get("/versions", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="listPackVersions",
         summary="Every committed release of a pack, newest first, with what ended each")
    def versions(self, ref: FromPath[str],
                 registry: NamedDependency[ServedRegistry]) -> VersionsEnvelope:
        """Each registration that committed (rolled back ones too): version, digest, who and
        how, its tests (its own run or the one it reused), whether it is active, what ended
        it (`replaced`, `rolled_back`, `unregistered`) and whether its release is `kept`
        (only a kept release can be activated). 404 when the ref was never submitted."""
        return VersionsEnvelope(data=registry.versions(ref))

    @post("/activate", status_code=201, responses=documented_errors(*COMMON_ERRORS, 409, 415),
          guards=[requires("write")], before_request=_ref_and_body, sync_to_thread=True,
          operation_id="activatePackVersion",
          summary="Make a kept release active again, as a new tested registration")
    def activate(self, ref: FromPath[str], data: JSONBody[ActivateRequest],
                 request: Request[Any, Any, Any],
                 registry: NamedDependency[ServedRegistry]) -> ActivatedEnvelope:
        """Registers the release again (trigger `activate`, origin `release`): gated on its
        tests like a registration (400 when they fail, unless `force`), unless a passing run
        of the same content in the same environment is reused; dependencies and active
        dependents are checked. 404 `RELEASE_NOT_FOUND` when no committed release matches,
        409 `ALREADY_ACTIVE` when it is the active one, 409 when its release was pruned;
        nothing is recorded then."""
        command = ActivateCommand(ref=ref, wanted=wanted_release(data), force=data.force,
                                  reuse=data.reuse, skip_dependents=data.skip_dependents,
                                  requested_by=request.state.actor)
        done = registry.activate(command)
        release = done.release
        return ActivatedEnvelope(data=Activated.of(done),
                                 message=f"Pack '{ref}' {release.version} activated")
