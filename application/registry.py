"""The event-sourced registry: registration commands on the Pack and Registration aggregates."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from eventsourcing.utils import Environment, EnvType

from attune_registry.domain.component import Component
from attune_registry.domain.dependencies import NOTHING_ACTIVE, ActivePacks, dependents_broken_by
from attune_registry.domain.environment_event import recorded_environments
from attune_registry.domain.errors import (
    ConcurrentChangeError,
    DependentsActiveError,
    PackNotFoundError,
    RegistrationEndedError,
    RegistrationInProgressError,
    RegistrationNotFoundError,
    ReleaseMissingError,
    TokenNotFoundError,
)
from attune_registry.domain.manifest import PackManifest
from attune_registry.domain.note import checked_note
from attune_registry.domain.pack import Pack
from attune_registry.domain.registration import Registration
from attune_registry.domain.results import SuiteResult, TestResult
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.token import ApiToken
from attune_registry.domain.vocabulary import RejectReason
from attune_registry.domain.webhook import Webhook  # noqa: F401 - its topics must resolve wherever the log is read

if TYPE_CHECKING:
    from attune_registry.application.commands import RegisterCommand
    from attune_registry.application.ports import ReusableRun

# A concurrent writer can change the Pack stream between our read and our write; the store
# then refuses our events. We re-read and decide again this many times before giving up.
SAVE_ATTEMPTS = 3

# What the store raises when it cannot be reached or a connection broke, once the library's
# own retries gave up.
STORE_FAILURES = (OperationalError, InterfaceError)


class PackRegistry(Application[UUID]):
    """Registration commands. The name is persisted (table and tracking names): never change it."""

    name = "registry"
    # A Pack stream grows by two events per registration of its ref; snapshots keep loading it
    # cheap however long its history gets. (Registrations and tokens stay short: no snapshots.)
    snapshotting_intervals: ClassVar = {Pack: 50}

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Configuration comes only from the settings the adapter passes in; the library's
        # default of also reading os.environ would let stray shell variables reconfigure it.
        return Environment(name, {**type(self).env, **(env or {})})

    def request_registration(
        self,
        command: RegisterCommand,
        *,
        manifest: PackManifest,
        components: Sequence[Component],
        source_path: str,
        content_digest: str,
        lease_expires: datetime,
        now: datetime,
        holder: dict[str, Any] | None = None,
    ) -> UUID:
        """Open a registration, taking the ref's lease in the same transaction; ``holder``
        names the process that will run it (see ``Pack.RegistrationOpened``).

        Raises:
            PackAlreadyExistsError: the ref is active and the command replaces nothing.
            RegistrationInProgressError: another registration of the ref is running.
        """
        for _ in range(SAVE_ATTEMPTS):
            pack = self._get_or_create_pack(manifest.ref)
            registration = Registration.request(
                manifest=manifest, components=components, source_path=source_path,
                content_digest=content_digest, force=command.force,
                replace=command.replaces_active, skip_tests=command.skip_tests,
                trigger_reason=command.trigger, requested_by=command.requested_by,
                origin=command.origin, skip_dependents=command.skip_dependents)
            with self._explained():
                abandoned_id = pack.open_registration(
                    registration.id, replace=command.replaces_active,
                    lease_expires=lease_expires, now=now, holder=holder)
            touched: list[Aggregate] = [pack, registration]
            if abandoned_id is not None:
                touched.append(self._abandon(abandoned_id))
            try:
                self._save(*touched)
            except IntegrityError:
                continue
            return registration.id
        raise RegistrationInProgressError(manifest.ref)

    def check_can_register(self, ref: str, *, replace: bool, now: datetime) -> None:
        """Fail early with the error a registration of ``ref`` would get (nothing is saved)."""
        try:
            pack = self._get_pack(ref)
        except AggregateNotFoundError:
            return
        with self._explained():
            pack.check_can_open(replace=replace, now=now)

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """Add when the registration in progress started to the domain's refusal."""
        try:
            yield
        except RegistrationInProgressError as error:
            if error.registration_id is None or error.started is not None:
                raise
            try:
                started = self._get(UUID(str(error.registration_id))).created_on
            except AggregateNotFoundError:
                raise error from None
            raise error.with_start(started) from None

    def complete_suite(self, run_id: UUID, result: SuiteResult, *,
                       worker: dict[str, Any] | None = None) -> int | None:
        """Record a finished suite of a registration or a test run, run by ``worker``; returns
        its notification id, or None when a suite of that name was recorded already (a queued
        suite that ran twice: after its worker was lost, say). Other writers of the same
        registration (the other suites' workers) are waited for by reading again.

        Raises:
            RegistrationEndedError: the registration was ended meanwhile (``pack cancel``).
        """
        for _ in range(SAVE_ATTEMPTS):
            run = self._get(run_id)
            assert isinstance(run, Registration | TestRun)
            if isinstance(run, Registration):
                self._check_open(run)
                if run.has_suite(result.name):
                    return None
            run.complete_suite(result, worker=worker)
            try:
                return self._save(run)
            except IntegrityError:
                continue
        raise ConcurrentChangeError(str(run_id))

    def record_environment(self, run_id: UUID, record: dict[str, Any]) -> int | None:
        """Record the Python environment (``Environments.prepare``'s record) that a
        registration's or a test run's suites run with; None when it was recorded already
        (each worker of a queued registration prepares it), or when the pack has no
        requirements: the shared empty environment holds nothing to record.

        Raises:
            RegistrationEndedError: the registration was ended meanwhile (``pack cancel``).
        """
        if record.get("requirements") is None:
            return None
        for _ in range(SAVE_ATTEMPTS):
            run = self._get(run_id)
            assert isinstance(run, Registration | TestRun)
            if isinstance(run, Registration):
                self._check_open(run)
            if record["environment_key"] in recorded_environments(run):
                return None
            run.prepare_environment(record)
            try:
                return self._save(run)
            except IntegrityError:
                continue
        raise ConcurrentChangeError(str(run_id))

    def reuse_tests(self, registration_id: UUID, run: ReusableRun) -> int:
        """Record that the passing ``run`` stands for the registration's suites (``--reuse``).

        Raises:
            RegistrationEndedError: the registration was ended meanwhile (``pack cancel``).
        """
        registration = self.get_registration(registration_id)
        self._check_open(registration)
        registration.reuse_tests(run_id=run.run_id, registration_id=run.registration_id,
                                 pack_version=run.pack_version, fingerprint=run.fingerprint,
                                 summary=run.result.summary())
        return self._save(registration)

    @staticmethod
    def _check_open(registration: Registration) -> None:
        if registration.is_finished:
            raise RegistrationEndedError(registration.id, registration.status,
                                         registration.reason)

    def commit_registration(
        self, registration_id: UUID, *, result: TestResult | None, forced: bool
    ) -> int:
        """Activate the registration, replacing the ref's previous one in the same transaction."""
        registration = self.get_registration(registration_id)
        self._check_open(registration)
        pack = self._get_pack(registration.pack_ref)
        replaced = pack.activate(registration.id, registration.pack_version)
        registration.commit(
            summary=result.summary() if result else None,
            forced=forced,
            replaced_registration_id=replaced,
        )
        return self._save(registration, pack)

    def reject_registration(
        self, registration_id: UUID, *, reason: RejectReason, message: str,
        result: TestResult | None
    ) -> int:
        """Close the registration without activating it and release the ref's lease.

        Raises:
            RegistrationEndedError: it was ended meanwhile (``pack cancel``, or its lease
                expired and another registration took the ref over).
        """
        registration = self.get_registration(registration_id)
        self._check_open(registration)
        pack = self._get_pack(registration.pack_ref)
        registration.reject(reason=reason, message=message,
                            summary=result.summary() if result else None)
        pack.close_registration(registration.id)
        return self._save(registration, pack)

    def holds_lease(self, ref: str, registration_id: UUID, *, now: datetime) -> bool:
        """Whether ``registration_id`` still holds the lease of ``ref`` (it may yet commit)."""
        try:
            return self._get_pack(ref).holds_lease(registration_id, now=now)
        except AggregateNotFoundError:
            return False

    def active_registration(self, ref: str) -> Registration:
        """The registration that made ``ref`` active.

        Raises:
            PackNotFoundError: no registration of ``ref`` is active.
        """
        try:
            pack = self._get_pack(ref)
        except AggregateNotFoundError:
            raise PackNotFoundError(ref) from None
        if pack.active_registration_id is None:
            raise PackNotFoundError(ref)
        return self.get_registration(pack.active_registration_id)

    def start_test_run(self, registration: Registration, *, content_digest: str,
                       requested_by: str, candidate: Registration | None = None) -> UUID:
        """Open a test run of an active registration's suites: a manual one, or, with a
        ``candidate`` (the registration of a pack it depends on, not yet active), a
        ``dependency`` run against it."""
        run = TestRun(
            pack_ref=registration.pack_ref,
            pack_version=registration.pack_version,
            registration_id=registration.id,
            trigger_reason="manual" if candidate is None else "dependency",
            source_path=registration.source_path,
            content_digest=content_digest,
            requested_by=requested_by,
            candidate=None if candidate is None else {
                "registration_id": str(candidate.id), "pack_ref": candidate.pack_ref,
                "pack_version": candidate.pack_version},
        )
        self._save(run)
        return run.id

    def complete_test_run(self, run_id: UUID, *, result: TestResult | None,
                          error: str | None = None) -> int:
        run = self._get(run_id)
        assert isinstance(run, TestRun)
        run.complete(summary=result.summary() if result else None, error=error)
        return self._save(run)

    def roll_back(self, ref: str, *, actor: str, now: datetime,
                  has_release: Callable[[Registration], bool] = lambda _: True,
                  note: str | None = None, active: ActivePacks = NOTHING_ACTIVE,
                  force: bool = False) -> tuple[UUID, UUID, str]:
        """Re-activate the registration the active one replaced, with compensating events,
        if ``has_release`` says its release can be made active again, and no pack of
        ``active`` that depends on ``ref`` refuses the restored version (unless ``force``:
        then the dependents it leaves unsatisfied are recorded).

        Returns:
            (rolled back registration id, restored registration id, restored version).

        Raises:
            PackNotFoundError, NothingToRollBackError, RegistrationInProgressError,
            DependentsActiveError, ReleaseMissingError, InvalidNoteError (nothing is saved).
        """
        note = checked_note(note)  # before anything, a release included, is touched
        pack = self._get_active_pack(ref)
        with self._explained():
            rolled_back, restored, version = pack.roll_back(now=now)
        broken = dependents_broken_by(ref, version, active.dependencies)
        if broken and not force:
            raise DependentsActiveError(ref, "roll back", broken, version)
        earlier = self.get_registration(restored)
        if not has_release(earlier):
            raise ReleaseMissingError(ref, version, earlier.content_digest)
        registration = self.get_registration(rolled_back)
        if broken:
            registration.override_dependents(action="rollback", actor=actor, dependents=broken,
                                             restored_version=version)
        registration.roll_back(reason="rollback", actor=actor, restored_registration_id=restored,
                               note=note)
        self._save_or_conflict(ref, registration, pack)
        return rolled_back, restored, version

    def lease_expiry(self, ref: str, registration_id: UUID) -> datetime | None:
        """When the lease ``registration_id`` holds on ``ref`` expires; None if it holds none."""
        try:
            pack = self._get_pack(ref)
        except AggregateNotFoundError:
            return None
        return pack.lease_expires if pack.in_flight == registration_id else None

    def restorable(self, ref: str) -> list[UUID]:
        """The active registration of ``ref`` and those a rollback can restore, in order."""
        try:
            pack = self._get_pack(ref)
        except AggregateNotFoundError:
            return []
        active = [pack.active_registration_id] if pack.active_registration_id else []
        return active + [registration_id for registration_id, _ in reversed(pack.previous)]

    def unregister(self, ref: str, *, actor: str, now: datetime,
                   note: str | None = None, active: ActivePacks = NOTHING_ACTIVE,
                   force: bool = False) -> UUID:
        """Deactivate ``ref``; its registrations and test history stay in the log. ``note``
        is why, in the actor's words. Refused while packs of ``active`` depend on ``ref``,
        unless ``force``: then those dependents are recorded.

        Raises:
            PackNotFoundError, DependentsActiveError, InvalidNoteError (nothing is saved).
        """
        note = checked_note(note)
        pack = self._get_active_pack(ref)
        dependents = [(other, active.dependencies[other][ref])
                      for other in active.dependents_of(ref)]
        if dependents and not force:
            raise DependentsActiveError(ref, "unregister", dependents)
        with self._explained():
            active_id = pack.unregister(now=now)
        registration = self.get_registration(active_id)
        if dependents:
            registration.override_dependents(action="unregister", actor=actor,
                                             dependents=dependents)
        registration.roll_back(reason="unregister", actor=actor, restored_registration_id=None,
                               note=note)
        self._save_or_conflict(ref, registration, pack)
        return registration.id

    def cancel_registration(self, ref: str, *, actor: str, now: datetime, force: bool,
                            holder_gone: Callable[[dict[str, Any] | None], bool],
                            note: str | None = None) -> UUID:
        """End the registration of ``ref`` in flight whose process ``holder_gone`` says is
        gone (or any, with ``force``), as an ``abandoned`` rejection by ``actor``, who says
        why in ``note``.

        Raises:
            PackNotFoundError: ``ref`` was never submitted.
            NotCancellableError: nothing is in flight, or its process may still run.
            InvalidNoteError: the note is not one line of visible text, or too long.
        """
        note = checked_note(note)
        pack = self._get_active_pack(ref)
        registration_id = pack.cancel_in_flight(now=now, holder_gone=holder_gone(pack.holder),
                                                force=force)
        registration = self.get_registration(registration_id)
        touched: list[Aggregate] = [pack]
        if not registration.is_finished:
            how = "with --force" if force else "its process is gone"
            registration.reject(reason="abandoned", message=f"cancelled by {actor} ({how})",
                                summary=None, actor=actor, note=note)
            touched.append(registration)
        self._save_or_conflict(ref, *touched)
        return registration_id

    def _save_or_conflict(self, ref: str, *aggregates: Aggregate) -> None:
        try:
            self._save(*aggregates)
        except IntegrityError:  # another command changed the pack meanwhile: nothing was saved
            raise ConcurrentChangeError(ref) from None

    def _save(self, *aggregates: Aggregate) -> int:
        """Save ``aggregates`` in one transaction; returns the last notification id.

        When the connection breaks as the commit is acknowledged, the library inserts the
        events again and meets its own, committed ones (IntegrityError): that is a success.

        Raises:
            IntegrityError: another writer saved these aggregates first (nothing was saved).
        """
        try:
            return self.save(*aggregates)[-1].notification.id
        except IntegrityError:
            if not all(self._is_stored(aggregate) for aggregate in aggregates):
                raise
            return self.recorder.max_notification_id() or 0

    def _is_stored(self, aggregate: Aggregate) -> bool:
        """Whether the aggregate's last event, as we made it, is the stream's last one."""
        last = self.recorder.select_events(aggregate.id, desc=True, limit=1)
        if not last or last[0].originator_version != aggregate.version:
            return False
        stored: Aggregate.Event = self.mapper.to_domain_event(last[0])  # type: ignore[assignment]
        return stored.timestamp == aggregate.modified_on

    def _get(self, aggregate_id: UUID) -> Aggregate:
        """Raises: AggregateNotFoundError."""
        aggregate: Aggregate = self.repository.get(aggregate_id)
        return aggregate

    def issue_token(self, *, name: str, scope: str, secret_hash: str, issued_by: str,
                    live_names: Collection[str] = ()) -> UUID:
        """Record a new API token (only the hash of its secret); ``live_names`` are the names
        of the tokens not revoked.

        Raises:
            InvalidTokenNameError, TokenNameTakenError, InvalidScopeError.
        """
        token = ApiToken.issue(name=name, scope=scope, secret_hash=secret_hash,
                               issued_by=issued_by, live_names=live_names)
        self._save(token)
        return token.id

    def revoke_token(self, token_id: UUID, *, actor: str) -> None:
        """Raises: TokenNotFoundError, TokenRevokedError."""
        token = self.get_token(token_id)
        token.revoke(actor=actor)
        self._save(token)

    def get_token(self, token_id: UUID) -> ApiToken:
        """Read from the event log itself, so a revocation counts from the next request on.

        Raises: TokenNotFoundError.
        """
        try:
            token = self._get(token_id)
        except AggregateNotFoundError:
            raise TokenNotFoundError(str(token_id)) from None
        if not isinstance(token, ApiToken):
            raise TokenNotFoundError(str(token_id))
        return token

    def get_registration(self, registration_id: UUID) -> Registration:
        """Raises: RegistrationNotFoundError."""
        try:
            registration = self._get(registration_id)
        except AggregateNotFoundError:
            raise RegistrationNotFoundError(registration_id) from None
        if not isinstance(registration, Registration):
            raise RegistrationNotFoundError(registration_id)
        return registration

    def _get_active_pack(self, ref: str) -> Pack:
        try:
            return self._get_pack(ref)
        except AggregateNotFoundError:
            raise PackNotFoundError(ref) from None

    def _abandon(self, registration_id: UUID) -> Registration:
        registration = self.get_registration(registration_id)
        if not registration.is_finished:
            registration.reject(
                reason="abandoned",
                message="the registering process stopped before finishing; its lease expired",
                summary=None,
            )
        return registration

    def _get_pack(self, ref: str) -> Pack:
        pack = self._get(Pack.create_id(ref))
        assert isinstance(pack, Pack)
        return pack

    def _get_or_create_pack(self, ref: str) -> Pack:
        try:
            return self._get_pack(ref)
        except AggregateNotFoundError:
            return Pack(ref=ref)
