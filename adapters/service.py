"""The registry as its front ends use it: commands, read-your-writes, and queries."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from application.registry import STORE_FAILURES, PackRegistry
from domain.errors import RegistryError, TokenNotFoundError
from domain.token import TokenRevokedError
from projections.rows import PackRow, RegistrationRow, TestExecutionRow, TokenRow
from projections.view import ProjectionStatus, RegistryView

from adapters.reads.lookup import PackDetails, Reads, Verification

if TYPE_CHECKING:
    from application.install import InstallPack
    from application.ports import Progress
    from application.register import RegisterPack, RegistrationOutcome
    from application.test_pack import TestPack, TestRunOutcome

F = TypeVar("F", bound=Callable[..., Any])


def store_call(method: F) -> F:
    """Report a store that cannot be reached or stopped answering as one clear error (a
    ConfigError: exit 1 and one line on the CLI, 503 from the API), not a stack trace."""

    @functools.wraps(method)
    def call(self: RegistryService, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except STORE_FAILURES as exc:
            raise self.unavailable(exc) from None

    return cast(F, call)


@dataclass(frozen=True)
class Registered:
    """A committed registration together with the pack row it produced."""

    outcome: RegistrationOutcome
    pack: PackRow


class InvalidTokenNameError(RegistryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Token name {name!r} must be 1 to 100 characters")


class TokenNameTakenError(RegistryError):
    code = "CONFLICT"

    def __init__(self, name: str) -> None:
        super().__init__(f"A live token is already called '{name}'; revoke it or pick another "
                         "name")


@dataclass(frozen=True)
class UseCases:
    """The use cases that read pack files and run tests (built lazily, see bootstrap)."""

    register_pack: RegisterPack
    test_pack: TestPack
    install_pack: InstallPack


class RegistryService:
    """Runs use cases and returns only after their events are in the read models."""

    def __init__(self, app: PackRegistry, view: RegistryView,
                 use_cases: Callable[[], UseCases], closers: list[Any], *,
                 default_jobs: Callable[[], int] = lambda: 1,
                 unavailable: Callable[[Exception], Exception] = lambda exc: exc) -> None:
        self.app = app
        self.view = view
        self.reads = Reads(view)
        self._use_cases = use_cases
        self._built: UseCases | None = None
        self.default_jobs = default_jobs
        self._closers = closers
        # Turns a lost or unreachable store into the error a user sees (naming the store).
        self.unavailable = unavailable

    @property
    def register_pack(self) -> RegisterPack:
        return self._cases().register_pack

    @property
    def install_pack(self) -> InstallPack:
        return self._cases().install_pack

    @property
    def test_pack(self) -> TestPack:
        return self._cases().test_pack

    def _cases(self) -> UseCases:
        if self._built is None:
            self._built = self._use_cases()
        return self._built

    @store_call
    def register(self, path: str, *, force: bool = False, replace: bool = False,
                 skip_tests: bool = False,
                 requested_by: str = "cli", progress: Progress | None = None,
                 jobs: int | None = None) -> Registered:
        # Rejections are history too: project whatever the attempt recorded.
        with self._then_catch_up():
            outcome = self.register_pack(path, force=force, replace=replace,
                                         skip_tests=skip_tests,
                                         requested_by=requested_by, progress=progress,
                                         jobs=jobs or (1 if skip_tests else self.default_jobs()))
        return self._registered(outcome)

    @store_call
    def install(self, source: str, *, ref: str | None = None, force: bool = False,
                replace: bool = False, skip_tests: bool = False, requested_by: str = "cli",
                progress: Progress | None = None, jobs: int | None = None,
                digest: str | None = None) -> Registered:
        """Fetch ``source`` (at git ``ref``) into the managed store and register it; with
        ``digest`` (``sha256:<hex>``), only if its content has that digest."""
        from application.install import parse_digest

        expected = parse_digest(digest) if digest is not None else None
        with self._then_catch_up():
            outcome = self.install_pack(source, ref=ref, force=force, replace=replace,
                                        skip_tests=skip_tests, requested_by=requested_by,
                                        progress=progress, expected_digest=expected,
                                        jobs=jobs or (1 if skip_tests else self.default_jobs()))
        return self._registered(outcome)

    def _registered(self, outcome: RegistrationOutcome) -> Registered:
        pack = self.view.get_pack(outcome.pack_ref)
        assert pack is not None, f"pack {outcome.pack_ref!r} missing after its commit"
        return Registered(outcome=outcome, pack=pack)

    @store_call
    def prune(self, *, dry_run: bool = False) -> list[str]:
        """Remove the managed store's directories that no registration needs any more, and
        return them: needed are those of committed registrations (active, or restorable by a
        rollback) and of registrations still testing under an unexpired lease. What is left
        is an install that was refused, rolled back, or killed before its decision."""
        from domain.pack import Pack

        store = self.install_pack.installed
        found = store.contents()  # listed first: a newer directory is not judged below
        self.catch_up()  # every listed directory's request is in the log by now
        needed = set()
        now = datetime.now(UTC)
        for row in self.view.registration_sources(("requested", "testing")):
            pack = self.app.repository.get(Pack.create_id(row["pack_ref"]))
            if str(pack.in_flight) == row["id"] and pack.lease_expires and \
                    pack.lease_expires > now:
                needed.add(row["source_path"])
        # Read after the leases: one decided meanwhile is committed here if it was committed.
        self.catch_up()
        needed |= {row["source_path"] for row in self.view.registration_sources(("committed",))}
        unneeded = [path for path in found if path not in needed]
        if not dry_run:
            for path in unneeded:
                store.discard(path)
        return unneeded

    @store_call
    def verify(self, ref: str) -> Verification:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        self.catch_up()
        return self.reads.verify(ref)

    @store_call
    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        """Run an active pack's suites again; the run joins its test history."""
        with self._then_catch_up():
            return self.test_pack.registered(ref, requested_by=requested_by, progress=progress,
                                             jobs=jobs or self.default_jobs())

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        """Run the suites of a pack directory without registering or recording anything."""
        return self.test_pack.directory(path, progress=progress, jobs=jobs or self.default_jobs())

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

    @store_call
    def list_packs(self) -> list[PackRow]:
        self.catch_up()
        return self.reads.list_packs()

    @store_call
    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        self.catch_up()
        return self.reads.test_history(ref, limit=limit)

    @store_call
    def show(self, ref: str) -> PackDetails:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        self.catch_up()
        return self.reads.show(ref)

    @store_call
    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        """Raises: PackNotFoundError when ``ref`` was never submitted."""
        self.catch_up()
        return self.reads.registrations(ref, limit=limit)

    @store_call
    def unregister(self, ref: str, *, actor: str) -> UUID:
        """Deactivate ``ref`` with a compensating event; returns the registration it ends."""
        with self._then_catch_up():
            return self.app.unregister(ref, actor=actor, now=datetime.now(UTC))

    @store_call
    def roll_back(self, ref: str, *, actor: str) -> PackRow:
        """Re-activate the registration the active one replaced; returns the restored pack."""
        with self._then_catch_up():
            self.app.roll_back(ref, actor=actor, now=datetime.now(UTC))
        pack = self.view.get_pack(ref)
        assert pack is not None, f"pack {ref!r} missing after its rollback"
        return pack

    @store_call
    def audit(self, registration_id: UUID) -> list[dict[str, Any]]:
        """The registration's events in order, as stored (topic and decoded state).

        Raises: RegistrationNotFoundError.
        """
        self.app.get_registration(registration_id)  # not found -> RegistrationNotFoundError
        stored = self.app.recorder.select_events(registration_id)
        return [{"originator_version": event.originator_version, "topic": event.topic,
                 "state": self.app.mapper.transcoder.decode(event.state)} for event in stored]

    @store_call
    def create_token(self, name: str, scope: str, *, actor: str) -> tuple[str, TokenRow]:
        """Issue a token; returns its text (shown once, never stored) and its public row."""
        from adapters.tokens import format_token, mint

        if not name.strip() or len(name) > 100:
            raise InvalidTokenNameError(name)
        if any(t.name == name and t.revoked_at is None for t in self.list_tokens()):
            raise TokenNameTakenError(name)
        secret, secret_hash = mint()
        token_id = self.app.issue_token(name=name, scope=scope, secret_hash=secret_hash,
                                        issued_by=actor)
        self.catch_up()
        row = next(t for t in self.view.tokens() if t.id == str(token_id))
        return format_token(token_id, secret), row

    @store_call
    def list_tokens(self) -> list[TokenRow]:
        self.catch_up()
        return self.view.tokens()

    @store_call
    def revoke_token(self, name_or_id: str, *, actor: str) -> TokenRow:
        """Revoke by id, or by name when exactly one live token has it.

        Raises: TokenNotFoundError (also when a name is ambiguous).
        """
        tokens = [t for t in self.list_tokens() if name_or_id in (t.id, t.name)]
        matches = [t for t in tokens if t.revoked_at is None]
        if not matches and tokens:
            raise TokenRevokedError(tokens[0].name)
        if len(matches) != 1:
            raise TokenNotFoundError(name_or_id)
        self.app.revoke_token(UUID(matches[0].id), actor=actor)
        self.catch_up()
        return next(t for t in self.view.tokens() if t.id == matches[0].id)

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
        """Rebuild the read models from the whole log; returns the events replayed."""
        return self.view.rebuild(self.app, batch_size=batch_size)

    @store_call
    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted for registration."""
        return self.reads.knows(ref)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
