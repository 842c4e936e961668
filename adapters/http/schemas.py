"""Request and response bodies of the HTTP API (msgspec structs; the OpenAPI schema follows)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from attune_registry.domain.results import TestResult

from attune_registry.projections.rows import (
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
)

from attune_registry.adapters import contract
from attune_registry.adapters.contract import (
    Health,
    PackDependencies,
    PackDetails,
    RegistrationDetails,
    Verification,
)


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Register the pack directory at ``path`` (under one of the server's pack roots)."""

    path: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]  # Linux's PATH_MAX
    force: bool = False
    skip_tests: bool = False
    replace: bool = False
    skip_dependents: bool = False
    """Replace an active pack without running its active dependents' suites against the new
    version first (recorded)."""
    reuse: bool = False
    """Decide on a passing run of the same content in the same environment, if there is one,
    instead of running the suites (recorded); not with ``wait: false``."""
    install_deps: bool = False
    """First install the pack's missing dependencies from the server's pack index
    (``ATTUNE_PACK_INDEX``); needs ``wait``."""
    wait: bool = True
    """False: answer 202 at once and let workers run the suites (PostgreSQL)."""


class InstallRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Install a pack from a git repository, an archive or a directory into the managed store.

    ``source``: an https/ssh/file git URL or ``user@host:path``, an ``https://`` archive URL
    (``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``), or a local repository, archive
    or pack directory under the server's pack roots. ``ref_spec``: git tag, branch or commit.
    ``digest``: install only if the pack's content digest is this (``sha256:<hex>``).
    """

    source: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    ref_spec: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    digest: Annotated[str, msgspec.Meta(pattern=r"^(sha256:)?[0-9a-fA-F]{64}$")] | None = None
    force: bool = False
    replace: bool = False
    skip_tests: bool = False
    skip_dependents: bool = False
    """As for a registration: do not run the active dependents' suites (recorded)."""
    reuse: bool = False
    """As for a registration: reuse a passing run of the same content and environment."""
    install_deps: bool = False
    """First install the pack's missing dependencies from the server's pack index
    (``ATTUNE_PACK_INDEX``); needs ``wait``."""
    wait: bool = True
    """False: answer 202 once fetched and queued; workers run the suites (PostgreSQL)."""


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error: a message a person can act on and a stable code; field errors in details."""

    error: str
    code: str
    details: list[dict[str, Any]] | None = None


class Pagination(msgspec.Struct):
    page: int
    page_size: int
    total_items: int
    total_pages: int


class CursorPagination(msgspec.Struct):
    """``Pagination`` of the lists that can also be walked by cursor (keyset pagination)."""

    page: int
    page_size: int
    total_items: int
    total_pages: int
    next_cursor: str | None  # the ``cursor`` of the next page; None on the last page


class InstalledDependency(msgspec.Struct):
    """A dependency ``install_deps`` installed (and registered) before the pack."""

    ref: str
    version: str
    registration_id: str


class ReusedRun(msgspec.Struct):
    """The passing run a registration reused instead of running its suites (``reuse``)."""

    run_id: str
    registration_id: str
    """The registration whose release that run tested."""
    pack_version: str
    fingerprint: str
    """The environment both share (64 hex digits)."""


class Registered(msgspec.Struct, omit_defaults=True):
    """The pack a registration or install activated, and its test result; with
    ``install_deps``, the dependencies installed first, in order (left out when none);
    ``reused_run``: the run it reused (left out when its suites ran or were skipped)."""

    pack: PackRow
    test_result: TestResult | None
    tests_skipped: bool
    tests_reused: bool
    installed_dependencies: list[InstalledDependency] = msgspec.field(default_factory=list)
    reused_run: ReusedRun | None = None

    @classmethod
    def of(cls, registered: contract.Registered) -> Registered:
        outcome = registered.outcome
        reused = outcome.reused
        return cls(pack=registered.pack, test_result=outcome.test_result,
                   tests_skipped=outcome.tests_skipped, tests_reused=reused is not None,
                   installed_dependencies=[
                       InstalledDependency(i.ref, i.version, str(i.registration_id))
                       for i in registered.installed_dependencies],
                   reused_run=None if reused is None else ReusedRun(
                       reused.run_id, reused.registration_id, reused.pack_version,
                       reused.fingerprint))


class RegisteredEnvelope(msgspec.Struct):
    data: Registered
    message: str


class PackEnvelope(msgspec.Struct):
    data: PackDetails


class PackPage(msgspec.Struct):
    data: list[PackRow]
    pagination: Pagination


class TestRunEnvelope(msgspec.Struct):
    __test__ = False

    data: TestResult
    message: str


class TestExecutionEnvelope(msgspec.Struct):
    __test__ = False

    data: TestExecutionRow


class TestExecutionPage(msgspec.Struct):
    __test__ = False

    data: list[TestExecutionJsonRow]
    pagination: CursorPagination


class RegistrationPage(msgspec.Struct):
    data: list[RegistrationRow]
    pagination: CursorPagination


class RegistrationEnvelope(msgspec.Struct):
    data: RegistrationDetails


class Unregistered(msgspec.Struct):
    ref: str
    registration_id: str


class UnregisteredEnvelope(msgspec.Struct):
    data: Unregistered
    message: str


class QueuedRegistration(msgspec.Struct):
    registration_id: str
    ref: str
    version: str
    suites: int
    status: str


class QueuedEnvelope(msgspec.Struct):
    data: QueuedRegistration
    message: str


class Cancelled(msgspec.Struct):
    ref: str
    registration_id: str


class CancelledEnvelope(msgspec.Struct):
    data: Cancelled
    message: str


class RolledBackEnvelope(msgspec.Struct):
    data: PackRow
    message: str


class VerificationEnvelope(msgspec.Struct):
    data: Verification


class DependenciesEnvelope(msgspec.Struct):
    data: PackDependencies


class HealthEnvelope(msgspec.Struct):
    data: Health


def pagination(page: int, page_size: int, total: int) -> Pagination:
    return Pagination(page=page, page_size=page_size, total_items=total,
                      total_pages=_pages(total, page_size))


def cursor_pagination(page: int, page_size: int, total: int,
                      next_cursor: str | None) -> CursorPagination:
    return CursorPagination(page=page, page_size=page_size, total_items=total,
                            total_pages=_pages(total, page_size), next_cursor=next_cursor)


def _pages(total: int, page_size: int) -> int:
    return max((total + page_size - 1) // page_size, 1)
