"""The registry as its front ends use it: commands, read-your-writes, and queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.registry import PackRegistry
from domain.errors import PackNotFoundError, RegistryError, TokenNotFoundError
from domain.token import TokenRevokedError
from projections.rows import ComponentRow, PackRow, RegistrationRow, TestExecutionRow, TokenRow
from projections.view import ProjectionStatus, RegistryView

if TYPE_CHECKING:
    from application.ports import Progress
    from application.register import RegisterPack, RegistrationOutcome
    from application.test_pack import TestPack, TestRunOutcome


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


@dataclass(frozen=True)
class PackDetails:
    """An active pack with its components and its latest test run."""

    pack: PackRow
    components: list[ComponentRow]
    latest_test: TestExecutionRow | None


class RegistryService:
    """Runs use cases and returns only after their events are in the read models."""

    def __init__(self, app: PackRegistry, view: RegistryView,
                 use_cases: Callable[[], UseCases], closers: list[Any], *,
                 default_jobs: Callable[[], int] = lambda: 1) -> None:
        self.app = app
        self.view = view
        self._use_cases = use_cases
        self._built: UseCases | None = None
        self.default_jobs = default_jobs
        self._closers = closers

    @property
    def register_pack(self) -> RegisterPack:
        return self._cases().register_pack

    @property
    def test_pack(self) -> TestPack:
        return self._cases().test_pack

    def _cases(self) -> UseCases:
        if self._built is None:
            self._built = self._use_cases()
        return self._built

    def register(self, path: str, *, force: bool = False, replace: bool = False,
                 skip_tests: bool = False,
                 requested_by: str = "cli", progress: Progress | None = None,
                 jobs: int | None = None) -> Registered:
        try:
            outcome = self.register_pack(path, force=force, replace=replace,
                                         skip_tests=skip_tests,
                                         requested_by=requested_by, progress=progress,
                                         jobs=jobs or (1 if skip_tests else self.default_jobs()))
        finally:
            # Rejections are history too: project whatever the attempt recorded.
            self.catch_up()
        pack = self.view.get_pack(outcome.pack_ref)
        assert pack is not None, f"pack {outcome.pack_ref!r} missing after its commit"
        return Registered(outcome=outcome, pack=pack)

    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        """Run an active pack's suites again; the run joins its test history."""
        try:
            return self.test_pack.registered(ref, requested_by=requested_by, progress=progress,
                                             jobs=jobs or self.default_jobs())
        finally:
            self.catch_up()

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        """Run the suites of a pack directory without registering or recording anything."""
        return self.test_pack.directory(path, progress=progress, jobs=jobs or self.default_jobs())

    def catch_up(self) -> int:
        """Bring the read models up to the head of the event log."""
        return self.view.project(self.app)

    def list_packs(self) -> list[PackRow]:
        self.catch_up()
        return self.view.list_packs()

    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        self.catch_up()
        return self.view.test_history(ref, limit=limit)

    def show(self, ref: str) -> PackDetails:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        self.catch_up()
        pack = self.view.get_pack(ref)
        if pack is None:
            raise PackNotFoundError(ref)
        latest = self.view.test_history(ref, limit=1)
        return PackDetails(pack, self.view.components(pack.id), latest[0] if latest else None)

    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        """Every registration attempt of ``ref``, newest first.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        self.catch_up()
        rows = self.view.registrations(ref, limit=limit)
        if not rows:
            raise PackNotFoundError(ref)
        return rows

    def unregister(self, ref: str, *, actor: str) -> UUID:
        """Deactivate ``ref`` with a compensating event; returns the registration it ends."""
        try:
            return self.app.unregister(ref, actor=actor, now=datetime.now(UTC))
        finally:
            self.catch_up()

    def roll_back(self, ref: str, *, actor: str) -> PackRow:
        """Re-activate the registration the active one replaced; returns the restored pack."""
        try:
            self.app.roll_back(ref, actor=actor, now=datetime.now(UTC))
        finally:
            self.catch_up()
        pack = self.view.get_pack(ref)
        assert pack is not None, f"pack {ref!r} missing after its rollback"
        return pack

    def audit(self, registration_id: UUID) -> list[dict[str, Any]]:
        """The registration's events in order, as stored (topic and decoded state).

        Raises: RegistrationNotFoundError.
        """
        self.app.get_registration(registration_id)  # not found -> RegistrationNotFoundError
        stored = self.app.recorder.select_events(registration_id)
        return [{"originator_version": event.originator_version, "topic": event.topic,
                 "state": self.app.mapper.transcoder.decode(event.state)} for event in stored]

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

    def list_tokens(self) -> list[TokenRow]:
        self.catch_up()
        return self.view.tokens()

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

    def authenticate(self, token: str | None, scope: str) -> str:
        """Who the bearer of ``token`` is, if it allows ``scope`` (see adapters.tokens)."""
        from adapters.tokens import authenticate

        return authenticate(self.app, token, scope)

    def projection_status(self) -> ProjectionStatus:
        return self.view.status(self.app)

    def rebuild(self, *, batch_size: int = 500) -> int:
        """Rebuild the read models from the whole log; returns the events replayed."""
        return self.view.rebuild(self.app, batch_size=batch_size)

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted for registration."""
        return self.view.has_history(ref)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
