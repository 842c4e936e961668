"""The registry on the local store, as its front ends use it: commands that return once their
events are in the read models, and queries on current read models (``adapters.contract``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar
from uuid import UUID

from domain.errors import RegistrationNotFoundError
from domain.token import token_meant

from application.registry import STORE_FAILURES, PackRegistry

from projections.queries import SortKey
from projections.rows import (
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
    TokenRow,
)
from projections.view import ProjectionStatus, RegistryView

from adapters.contract import (
    Health,
    PackDetails,
    Page,
    Registered,
    RegistrationDetails,
    StoredEvent,
    Verification,
)
from adapters.reads.lookup import Reads

if TYPE_CHECKING:
    from domain.vocabulary import RunStatus, TriggerReason

    from application.commands import InstallCommand, RegisterCommand
    from application.install import InstallPack
    from application.ports import InstalledPacks, Progress
    from application.register import RegisterPack, RegistrationOutcome
    from application.test_pack import TestPack, TestRunOutcome

P = ParamSpec("P")
T = TypeVar("T")


def store_call(method: Callable[Concatenate[RegistryService, P], T],
               ) -> Callable[Concatenate[RegistryService, P], T]:
    """Report a store that cannot be reached or stopped answering as one clear error (a
    ConfigError: exit 1 and one line on the CLI, 503 from the API), not a stack trace."""

    @functools.wraps(method)
    def call(self: RegistryService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except STORE_FAILURES as exc:
            raise self.unavailable(exc) from None

    return call


def current(method: Callable[Concatenate[RegistryService, P], T],
            ) -> Callable[Concatenate[RegistryService, P], T]:
    """A query on read models brought up to the head of the log first (``store_call`` too)."""

    @functools.wraps(method)
    def query(self: RegistryService, /, *args: P.args, **kwargs: P.kwargs) -> T:
        self.catch_up()
        return method(self, *args, **kwargs)

    return store_call(query)


@dataclass(frozen=True)
class UseCases:
    """The use cases that read pack files and run tests (built lazily, see bootstrap)."""

    register_pack: RegisterPack
    install_pack: InstallPack
    test_pack: TestPack
    installed: InstalledPacks


class RegistryService:
    """Implements ``adapters.contract.Registry`` on the local store."""

    def __init__(self, app: PackRegistry, view: RegistryView,
                 use_cases: Callable[[], UseCases], closers: list[Callable[[], object]], *,
                 store_kind: str = "sqlite",
                 unavailable: Callable[[Exception], Exception] = lambda exc: exc) -> None:
        self.app = app
        self.view = view
        self.reads = Reads(view)
        self.store_kind = store_kind
        self._use_cases = use_cases
        self._built: UseCases | None = None
        self._closers = closers
        # Turns a lost or unreachable store into the error a user sees (naming the store).
        self.unavailable = unavailable

    @property
    def cases(self) -> UseCases:
        if self._built is None:
            self._built = self._use_cases()
        return self._built

    @store_call
    def register(self, command: RegisterCommand,
                 progress: Progress | None = None) -> Registered:
        # Rejections are history too: project whatever the attempt recorded.
        with self._then_catch_up():
            outcome = self.cases.register_pack(command, progress)
        return self._registered(outcome)

    @store_call
    def install(self, command: InstallCommand,
                progress: Progress | None = None) -> Registered:
        with self._then_catch_up():
            outcome = self.cases.install_pack(command, progress)
        return self._registered(outcome)

    def _registered(self, outcome: RegistrationOutcome) -> Registered:
        pack = self.view.get_pack(outcome.pack_ref)
        assert pack is not None, f"pack {outcome.pack_ref!r} missing after its commit"
        return Registered(outcome=outcome, pack=pack)

    @store_call
    def prune(self, *, dry_run: bool = False) -> list[str]:
        """Remove the managed store's directories that no registration needs any more, and
        return them: needed are those of committed registrations (active, or restorable by a
        rollback) and of registrations still testing under their lease. What is left is an
        install that was refused, rolled back, or killed before its decision."""
        store = self.cases.installed
        found = store.contents()  # listed first: a newer directory is not judged below
        self.catch_up()  # every listed directory's request is in the log by now
        now = datetime.now(UTC)
        needed = {row["source_path"] for row in self.view.registration_sources(("requested",
                                                                               "testing"))
                  if self.app.holds_lease(row["pack_ref"], UUID(row["id"]), now=now)}
        # Read after the leases: one decided meanwhile is committed here if it was committed.
        self.catch_up()
        needed |= {row["source_path"] for row in self.view.registration_sources(("committed",))}
        unneeded = [path for path in found if path not in needed]
        if not dry_run:
            for path in unneeded:
                store.discard(path)
        return unneeded

    @store_call
    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        with self._then_catch_up():
            return self.cases.test_pack.registered(ref, requested_by=requested_by,
                                                   progress=progress, jobs=jobs)

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        return self.cases.test_pack.directory(path, progress=progress, jobs=jobs)

    @store_call
    def unregister(self, ref: str, *, actor: str) -> UUID:
        with self._then_catch_up():
            return self.app.unregister(ref, actor=actor, now=datetime.now(UTC))

    @store_call
    def roll_back(self, ref: str, *, actor: str) -> PackRow:
        with self._then_catch_up():
            self.app.roll_back(ref, actor=actor, now=datetime.now(UTC))
        pack = self.view.get_pack(ref)
        assert pack is not None, f"pack {ref!r} missing after its rollback"
        return pack

    @store_call
    def catch_up(self, *, batch_size: int = 500, max_batches: int | None = None) -> int:
        """Bring the read models up to the head of the event log (or ``max_batches`` closer)."""
        return self.view.project(self.app, batch_size=batch_size, max_batches=max_batches)

    @contextmanager
    def _then_catch_up(self) -> Iterator[None]:
        """Project what a command recorded, whether it succeeded or was refused; not when the
        store itself failed (catching up would only wait for it again)."""
        try:
            yield
        except STORE_FAILURES:
            raise
        except BaseException:
            self.catch_up()
            raise
        self.catch_up()

    @current
    def list_packs(self) -> list[PackRow]:
        return self.reads.list_packs()

    @current
    def show(self, ref: str) -> PackDetails:
        return self.reads.show(ref)

    @current
    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        return self.reads.test_history(ref, limit=limit)

    @current
    def latest_test(self, ref: str) -> TestExecutionRow:
        return self.reads.latest_test(ref)

    @current
    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        return self.reads.registrations(ref, limit=limit)

    @store_call
    def knows(self, ref: str) -> bool:
        return self.reads.knows(ref)

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

    @store_call
    def audit(self, registration_id: UUID) -> list[StoredEvent]:
        """The registration's events in order, as stored (topic and decoded state), read from
        the log itself."""
        self.app.get_registration(registration_id)  # not found -> RegistrationNotFoundError
        stored = self.app.recorder.select_events(registration_id)
        return [StoredEvent(event.originator_version, event.topic,
                            self.app.mapper.transcoder.decode(event.state)) for event in stored]

    def registration(self, registration_id: UUID) -> RegistrationDetails:
        events = self.audit(registration_id)
        row = self._registration_row(registration_id)
        return RegistrationDetails(registration=row, events=events)

    @current
    def _registration_row(self, registration_id: UUID) -> RegistrationRow:
        row = self.view.get_registration(str(registration_id))
        if row is None:
            raise RegistrationNotFoundError(registration_id)
        return row

    @store_call
    def create_token(self, name: str, scope: str, *, actor: str) -> tuple[str, TokenRow]:
        from adapters.tokens import format_token, mint

        live = [t.name for t in self.list_tokens() if t.revoked_at is None]
        secret, secret_hash = mint()
        token_id = self.app.issue_token(name=name, scope=scope, secret_hash=secret_hash,
                                        issued_by=actor, live_names=live)
        return format_token(token_id, secret), self._token_row(str(token_id))

    @current
    def list_tokens(self) -> list[TokenRow]:
        return self.view.tokens()

    @store_call
    def revoke_token(self, name_or_id: str, *, actor: str) -> TokenRow:
        """Revoke by id, or by name when exactly one live token has it.

        Raises: TokenNotFoundError (also when a name is ambiguous), TokenRevokedError.
        """
        token_id = token_meant(name_or_id, [(t.id, t.name, t.revoked_at is not None)
                                            for t in self.list_tokens()])
        self.app.revoke_token(UUID(token_id), actor=actor)
        return self._token_row(token_id)

    @current
    def _token_row(self, token_id: str) -> TokenRow:
        return next(t for t in self.view.tokens() if t.id == token_id)

    @store_call
    def authenticate(self, token: str | None, scope: str) -> str:
        """Who the bearer of ``token`` is, if it allows ``scope`` (see adapters.tokens)."""
        from adapters.tokens import authenticate

        return authenticate(self.app, token, scope)

    @store_call
    def projection_status(self) -> ProjectionStatus:
        return self.view.status(self.app)

    @store_call
    def rebuild(self, *, batch_size: int = 500) -> int:
        return self.view.rebuild(self.app, batch_size=batch_size)

    def health(self) -> Health:
        status = self.projection_status()
        return Health(status="ok", store=self.store_kind, log_head=status.log_head,
                      projection_position=status.position, projection_lag=status.lag)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
