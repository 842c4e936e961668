"""The registry on the local store, as its front ends use it (``adapters.contract``): commands
that return once their events are in the read models, on top of the current reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import msgspec

from attune_registry.domain.errors import RegistrationNotFoundError, TestsFailedError
from attune_registry.domain.token import token_meant

from attune_registry.application.registry import STORE_FAILURES, PackRegistry

from attune_registry.projections.rows import PackRow, RegistrationRow, TokenRow
from attune_registry.projections.view import RegistryView

from attune_registry.adapters.contract import (
    Health,
    Registered,
    RegistrationDetails,
    StoredEvent,
    WorkerRow,
)
from attune_registry.adapters.packs.releases import ReleaseStore
from attune_registry.adapters.reads.current import CurrentReads, current, store_call
from attune_registry.adapters.reads.progress import (
    DECISION_TOPICS,
    REQUESTED_TOPIC,
    follow,
    progress_of,
    updates_of,
)
from attune_registry.adapters.reads.rejected import stored_run_evidence

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent as StoredEventRecord

    from attune_registry.domain.registration import Registration

    from attune_registry.application.activate import ActivateCommand
    from attune_registry.application.commands import InstallCommand, Queued, RegisterCommand
    from attune_registry.application.install import InstallPack
    from attune_registry.application.install_deps import InstallDependencies, InstalledDependency
    from attune_registry.application.ports import Progress
    from attune_registry.application.queued import QueueInstall, QueueRegistration
    from attune_registry.application.register import RegisterPack, RegistrationOutcome
    from attune_registry.application.test_pack import TestPack, TestRunOutcome

    from attune_registry.adapters.activation import Activation
    from attune_registry.adapters.contract import RegistrationUpdate
    from attune_registry.adapters.queue.status import QueueStatus


@dataclass(frozen=True)
class UseCases:
    """The use cases that read pack files and run tests (built lazily, see bootstrap)."""

    register_pack: RegisterPack
    install_pack: InstallPack
    test_pack: TestPack
    queue_registration: Callable[[], QueueRegistration]
    """Built on first use (PostgreSQL only: it raises QueueNeedsPostgresError otherwise)."""
    queue_install: Callable[[], QueueInstall]
    install_deps: InstallDependencies
    """``--install-deps``: the pack's missing dependencies from the pack index, first."""


class RegistryService(CurrentReads):
    """Implements ``adapters.contract.ServedRegistry`` (and so ``Registry``) on the local
    store. The rules are the domain's and the application's; this wires them to the store."""

    def __init__(self, app: PackRegistry, view: RegistryView,
                 use_cases: Callable[[], UseCases], closers: list[Callable[[], object]], *,
                 releases: ReleaseStore, keep_releases: Callable[[], int] = lambda: 3,
                 on_workers: Callable[[], bool] = lambda: False,
                 queue_status: QueueStatus | None = None,
                 store_kind: str = "sqlite",
                 unavailable: Callable[[Exception], Exception] = lambda exc: exc) -> None:
        super().__init__(app, view, releases, store_kind=store_kind, unavailable=unavailable)
        self.releases = releases
        self.keep_releases = keep_releases
        # Whether suites run on `attune worker` processes only (ATTUNE_RUN_TESTS=workers).
        self.on_workers = on_workers
        # The queue's workers and figures: PostgreSQL only (None on the embedded store).
        self.queue_status = queue_status
        self._use_cases = use_cases
        self._built: UseCases | None = None
        self._closers = closers

    @property
    def cases(self) -> UseCases:
        if self._built is None:
            self._built = self._use_cases()
        return self._built

    @store_call
    def register(self, command: RegisterCommand,
                 progress: Progress | None = None) -> Registered:
        # Rejections are history too: project whatever the attempt recorded.
        if command.install_deps:
            with self._then_catch_up():
                done = self.cases.install_deps.register(command, self._register_one, progress)
            return self._registered(done.outcome, done.installed)
        return self._registered(self._register_one(command, progress))

    def _register_one(self, command: RegisterCommand,
                      progress: Progress | None = None) -> RegistrationOutcome:
        """One registration, its events projected before it returns (rejections too)."""
        with self._then_catch_up():
            if self.on_workers() and not command.skip_tests:
                return self._decided(self.cases.queue_registration()(command))
            return self.cases.register_pack(command, progress)

    def _decided(self, queued: Queued) -> RegistrationOutcome:
        """Wait for the workers' decision on ``queued``, for as long as its lease runs."""
        import time

        from attune_registry.application.queued import wait_for_decision

        deadline = self.app.lease_expiry(queued.pack_ref, queued.registration_id)
        return wait_for_decision(self.app, queued, deadline=deadline or datetime.now(UTC),
                                 pause=lambda: time.sleep(0.2))

    @store_call
    def queue(self, command: RegisterCommand) -> Queued:
        """Record the registration and queue its suites for workers; returns at once.

        Raises: QueueNeedsPostgresError on the embedded store; RegistryError as ``register``.
        """
        with self._then_catch_up():
            return self.cases.queue_registration()(command)

    @store_call
    def queue_install(self, command: InstallCommand) -> Queued:
        """Fetch here, then queue what was fetched (as ``queue``)."""
        with self._then_catch_up():
            return self.cases.queue_install()(command)

    @store_call
    def install(self, command: InstallCommand,
                progress: Progress | None = None) -> Registered:
        if command.install_deps:  # fetched once: its manifest says what to install first
            with self._then_catch_up():
                done = self.cases.install_deps.install(command, self._register_one, progress)
            return self._registered(done.outcome, done.installed)
        with self._then_catch_up():
            if self.on_workers() and not command.skip_tests:
                outcome = self._decided(self.cases.queue_install()(command))
            else:
                outcome = self.cases.install_pack(command, progress)
        return self._registered(outcome)

    @store_call
    def activate(self, command: ActivateCommand,
                 progress: Progress | None = None) -> Activation:
        from attune_registry.adapters.activation import activate

        return activate(self, command, progress)

    def _registered(self, outcome: RegistrationOutcome,
                    installed: tuple[InstalledDependency, ...] = ()) -> Registered:
        pack = self.view.get_pack(outcome.pack_ref)
        assert pack is not None, f"pack {outcome.pack_ref!r} missing after its commit"
        return Registered(outcome=outcome, pack=pack, installed_dependencies=installed)

    @store_call
    def prune(self, *, dry_run: bool = False) -> list[str]:
        """Remove the releases that nothing can bring back, and return their paths.

        Kept: the release of every registration still testing under its lease, of each
        ref's active registration and of those a rollback can restore (the ref's stack), and
        of each ref's ``keep_releases`` most recent committed registrations. Directories of
        the managed store from before releases go when no committed registration uses them.
        """
        keep = self.keep_releases()  # a bad setting refuses before anything is removed
        found = self.releases.digests()  # listed first: a newer release is not judged below
        legacy = self.releases.legacy_contents()
        self.catch_up()  # every listed release's request is in the log by now
        now = datetime.now(UTC)
        in_flight = [row for row in self.view.registration_sources(("requested", "testing"))
                     if self.app.holds_lease(row["pack_ref"], UUID(row["id"]), now=now)]
        # Read after the leases: one decided meanwhile is committed here if it was committed.
        self.catch_up()
        committed = self.view.registration_sources(("committed", "rolled_back"))
        needed = {row["content_digest"] for row in in_flight}
        needed |= self._restorable_digests({row["pack_ref"] for row in committed})
        newest: dict[str, int] = {}
        for row in committed:  # newest first
            seen = newest[row["pack_ref"]] = newest.get(row["pack_ref"], 0) + 1
            if seen <= keep:
                needed.add(row["content_digest"])
        used_paths = {row["source_path"] for row in in_flight}
        used_paths |= {row["source_path"] for row in committed if row["status"] == "committed"}
        unneeded = [digest for digest in found if digest not in needed]
        unneeded_legacy = [path for path in legacy if path not in used_paths]
        if not dry_run:
            for digest in unneeded:
                self.releases.discard(digest)
            for path in unneeded_legacy:
                self.releases.discard_legacy(path)
        return [self.releases.path_of(digest) for digest in unneeded] + unneeded_legacy

    def _restorable_digests(self, refs: set[str]) -> set[str]:
        """The digests of each ref's active registration and of its rollback stack."""
        digests = set()
        for ref in refs:
            for registration_id in self.app.restorable(ref):
                digests.add(self.app.get_registration(registration_id).content_digest)
        return digests

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
    def unregister(self, ref: str, *, actor: str, note: str | None = None,
                   force: bool = False) -> UUID:
        with self._then_catch_up():
            return self.app.unregister(ref, actor=actor, now=datetime.now(UTC), note=note,
                                       active=self.active_packs(), force=force)

    @store_call
    def roll_back(self, ref: str, *, actor: str, note: str | None = None,
                  force: bool = False) -> PackRow:
        def has_release(registration: Registration) -> bool:
            return self.releases.restore(registration.content_digest,
                                         registration.source_path) is not None

        with self._then_catch_up():
            self.app.roll_back(ref, actor=actor, now=datetime.now(UTC), has_release=has_release,
                               note=note, active=self.active_packs(), force=force)
        pack = self.view.get_pack(ref)
        assert pack is not None, f"pack {ref!r} missing after its rollback"
        return pack

    @store_call
    def cancel(self, ref: str, *, actor: str, force: bool = False,
               note: str | None = None) -> UUID:
        from attune_registry.adapters.holder import is_gone

        with self._then_catch_up():
            return self.app.cancel_registration(ref, actor=actor, now=datetime.now(UTC),
                                                force=force, holder_gone=is_gone, note=note)

    @contextmanager
    def _then_catch_up(self) -> Iterator[None]:
        """Project what a command recorded, whether it succeeded or was refused; not when the
        store itself failed (catching up would only wait for it again)."""
        try:
            yield
        except STORE_FAILURES:
            raise
        except TestsFailedError as exc:
            self.catch_up()
            exc.details = stored_run_evidence(self.reads, exc)  # any client can fetch the run
            raise
        except BaseException:
            self.catch_up()
            raise
        self.catch_up()

    @store_call
    def audit(self, registration_id: UUID) -> list[StoredEvent]:
        """The registration's events in order, as stored (topic and decoded state), read from
        the log itself."""
        return [self._as_stored(event) for event in self._log(registration_id)]

    @store_call
    def registration(self, registration_id: UUID) -> RegistrationDetails:
        log = self._log(registration_id)
        progress = progress_of(self.app.mapper.to_domain_event(event) for event in log)
        return RegistrationDetails(registration=self._registration_row(registration_id),
                                   events=[self._as_stored(event) for event in log],
                                   progress=progress)

    def _log(self, registration_id: UUID) -> list[StoredEventRecord]:
        self.app.get_registration(registration_id)  # not found -> RegistrationNotFoundError
        return list(self.app.recorder.select_events(registration_id))

    def _as_stored(self, event: StoredEventRecord) -> StoredEvent:
        return StoredEvent(event.originator_version, event.topic,
                           self.app.mapper.transcoder.decode(event.state))

    @store_call
    def updates(self, registration_id: UUID, *, after: int = 0) -> list[RegistrationUpdate]:
        """The updates recorded after event version ``after``, up to the decision; once it is
        decided, at least the decision (so that a stream resumed after it ends at once).

        Raises: RegistrationNotFoundError.
        """
        recorder, mapper = self.app.recorder, self.app.mapper
        found = updates_of(mapper.to_domain_event(event)
                           for event in recorder.select_events(registration_id, gt=after))
        if found:  # only a registration's events make updates
            return found
        first = recorder.select_events(registration_id, lte=1, limit=1)
        if not first or first[0].topic != REQUESTED_TOPIC:
            raise RegistrationNotFoundError(registration_id)
        # Only a rollback can follow the decision: it is one of the last three events (a
        # forced one is preceded by DependentsOverridden).
        latest = recorder.select_events(registration_id, lte=after, desc=True, limit=3)
        return updates_of(mapper.to_domain_event(event) for event in reversed(latest)
                          if event.topic in DECISION_TOPICS)

    def watch(self, registration_id: UUID, *, after: int = 0) -> Iterator[RegistrationUpdate]:
        """Read the log every ``POLL_SECONDS`` until the registration is decided."""
        return follow(lambda since: self.updates(registration_id, after=since), after=after)

    @current
    def _registration_row(self, registration_id: UUID) -> RegistrationRow:
        row = self.view.get_registration(str(registration_id))
        if row is None:
            raise RegistrationNotFoundError(registration_id)
        return row

    @store_call
    def create_token(self, name: str, scope: str, *, actor: str) -> tuple[str, TokenRow]:
        from attune_registry.adapters.tokens import format_token, mint

        live = [t.name for t in self.list_tokens() if t.revoked_at is None]
        secret, secret_hash = mint()
        token_id = self.app.issue_token(name=name, scope=scope, secret_hash=secret_hash,
                                        issued_by=actor, live_names=live)
        return format_token(token_id, secret), self._token_row(str(token_id))

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
        from attune_registry.adapters.tokens import authenticate

        return authenticate(self.app, token, scope)

    def session_actor(self, token_id: UUID, scope: str) -> str:
        """Who a dashboard session acts as: its token, checked again (see adapters.tokens)."""
        from attune_registry.adapters.tokens import authenticate_id

        return authenticate_id(self.app, token_id, scope)

    @store_call
    def rebuild(self, *, batch_size: int = 500) -> int:
        return self.view.rebuild(self.app, batch_size=batch_size)

    def workers(self) -> list[WorkerRow]:
        """Raises: QueueNeedsPostgresError on the embedded store."""
        if self.queue_status is None:
            from attune_registry.adapters.queue.jobs import QueueNeedsPostgresError

            raise QueueNeedsPostgresError()
        return self.queue_status.workers()

    def health(self) -> Health:
        """The read models' lag, and on PostgreSQL the queue's figures (one more query)."""
        health = super().health()
        if self.queue_status is None:
            return health
        figures = self.queue_status.figures()
        return msgspec.structs.replace(
            health, queue_depth=figures.queue_depth, workers_alive=figures.workers_alive,
            oldest_queued_seconds=figures.oldest_queued_seconds)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
