"""The read side on the local store: each query first brings the read models up to the head of
the event log, so that a front end reads its own writes, whichever process made them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from attune_registry.domain.dependencies import ActivePacks

from attune_registry.application.registry import STORE_FAILURES, PackRegistry

from attune_registry.projections.activity_queries import ActivityFilter, Feed, RefState
from attune_registry.projections.case_stats import FlakyCase
from attune_registry.projections.rows import (
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
    TokenRow,
)
from attune_registry.projections.view import ProjectionStatus, RegistryView

from attune_registry.adapters.contract import (
    Health,
    PackDependencies,
    PackDetails,
    Page,
    Verification,
)
from attune_registry.adapters.reads.lookup import Reads

if TYPE_CHECKING:
    from attune_registry.domain.comparison import RunSelector, Thresholds

    from attune_registry.adapters.packs.releases import ReleaseStore
    from attune_registry.adapters.reads.compare import RunComparison
    from attune_registry.adapters.reads.versions import PackVersions

if TYPE_CHECKING:
    from attune_registry.domain.vocabulary import RunStatus, TriggerReason

    from attune_registry.projections.queries import SortKey

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="CurrentReads")


def store_call(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Report a store that cannot be reached or stopped answering as one clear error (a
    ConfigError: exit 1 and one line on the CLI, 503 from the API), not a stack trace."""

    @functools.wraps(method)
    def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except STORE_FAILURES as exc:
            raise self.unavailable(exc) from None

    return call


def current(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """A query on read models brought up to the head of the log first (``store_call`` too)."""

    @functools.wraps(method)
    def query(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.catch_up()
        return method(self, *args, **kwargs)

    return store_call(query)


class CurrentReads:
    """The queries of ``adapters.contract.ServedRegistry`` on the local store."""

    def __init__(self, app: PackRegistry, view: RegistryView, releases: ReleaseStore, *,
                 store_kind: str = "sqlite",
                 unavailable: Callable[[Exception], Exception] = lambda exc: exc) -> None:
        self.app = app
        self.view = view
        self.reads = Reads(view, lambda: releases)
        self.store_kind = store_kind
        # Turns a lost or unreachable store into the error a user sees (naming the store).
        self.unavailable = unavailable

    @store_call
    def catch_up(self, *, batch_size: int = 500, max_batches: int | None = None) -> int:
        """Bring the read models up to the head of the event log (or ``max_batches`` closer)."""
        return self.view.project(self.app, batch_size=batch_size, max_batches=max_batches)

    @current
    def list_packs(self) -> list[PackRow]:
        return self.reads.list_packs()

    @current
    def active_packs(self) -> ActivePacks:
        """The active packs' versions and dependencies (``application.ports.ActivePackReader``)."""
        return self.view.active_packs()

    @current
    def show(self, ref: str) -> PackDetails:
        return self.reads.show(ref)

    @current
    def test_history(self, ref: str, *, limit: int = 50, status: RunStatus | None = None,
                     trigger_reason: TriggerReason | None = None,
                     ) -> list[TestExecutionRow]:
        return self.reads.test_history(ref, limit=limit, status=status,
                                       trigger_reason=trigger_reason)

    @current
    def latest_test(self, ref: str) -> TestExecutionRow:
        return self.reads.latest_test(ref)

    @current
    def test_execution(self, ref: str, execution_id: int) -> TestExecutionRow | None:
        return self.reads.test_execution(ref, execution_id)

    @current
    def compare_tests(self, ref: str, from_: RunSelector | None = None,
                      to: RunSelector | None = None,
                      thresholds: Thresholds | None = None) -> RunComparison:
        return self.reads.compare_tests(ref, from_, to, thresholds)

    @current
    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        return self.reads.registrations(ref, limit=limit)

    @store_call
    def knows(self, ref: str) -> bool:
        return self.reads.knows(ref)

    @current
    def dependencies(self, ref: str) -> PackDependencies:
        return self.reads.dependencies(ref)

    @current
    def flaky_cases(self, ref: str) -> list[FlakyCase]:
        return self.reads.flaky_cases(ref)

    @current
    def verify(self, ref: str) -> Verification:
        return self.reads.verify(ref)

    @current
    def packs_page(self, *, limit: int, offset: int) -> Page[PackRow]:
        return self.reads.packs_page(limit=limit, offset=offset)

    @current
    def test_history_page(self, ref: str, *, limit: int, offset: int = 0,
                          after: SortKey | None = None, status: RunStatus | None = None,
                          trigger_reason: TriggerReason | None = None,
                          ) -> Page[TestExecutionJsonRow]:
        return self.reads.test_history_page(ref, limit=limit, offset=offset, after=after,
                                            status=status, trigger_reason=trigger_reason)

    @current
    def registrations_page(self, ref: str, *, limit: int, offset: int = 0,
                           after: SortKey | None = None) -> Page[RegistrationRow]:
        return self.reads.registrations_page(ref, limit=limit, offset=offset, after=after)

    @current
    def activity(self, query: ActivityFilter) -> Feed:
        return self.reads.activity(query)

    @current
    def ref_states(self) -> list[RefState]:
        return self.reads.ref_states()

    @current
    def versions(self, ref: str) -> PackVersions:
        return self.reads.versions(ref)

    @current
    def ref_states_page(self, *, limit: int, offset: int) -> Page[RefState]:
        return self.reads.ref_states_page(limit=limit, offset=offset)

    @current
    def list_tokens(self) -> list[TokenRow]:
        return self.view.tokens()

    @store_call
    def projection_status(self) -> ProjectionStatus:
        return self.view.status(self.app)

    def health(self) -> Health:
        status = self.projection_status()
        return Health(status="ok", store=self.store_kind, log_head=status.log_head,
                      projection_position=status.position, projection_lag=status.lag)
