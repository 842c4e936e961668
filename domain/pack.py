"""The Pack aggregate: one per ref; guards one registration in flight and which one is active."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.errors import (
    NotCancellableError,
    NothingToRollBackError,
    PackAlreadyExistsError,
    PackNotFoundError,
    RegistrationInProgressError,
)
from attune_registry.domain.registration import RegistrationStateError


class Pack(Aggregate):
    """A pack ref. Its id derives from the ref, so two first registrations race on one stream."""

    TOPIC = "attune:Pack"
    # Snapshots taken before ``holder`` existed restore without it.
    holder: dict[str, Any] | None = None

    class RegistrationOpened(Aggregate.Event):
        """A registration took the ref's lease. Version 2 added ``holder``: the process that
        registers (host, pid and the pid's start time), so that ``pack cancel`` can tell
        whether it is gone; None for older events."""

        TOPIC = "attune:Pack.RegistrationOpened"
        class_version = 2

        registration_id: UUID
        lease_expires: datetime
        taken_over: UUID | None
        holder: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["holder"] = None

    @staticmethod
    def create_id(ref: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"attune:/packs/{ref}")

    @event("Created", topic="attune:Pack.Created")
    def __init__(self, *, ref: str) -> None:
        self.ref = ref
        self.active_registration_id: UUID | None = None
        self.active_version: str | None = None
        self.in_flight: UUID | None = None
        self.lease_expires: datetime | None = None
        self.holder: dict[str, Any] | None = None
        # Registrations this one replaced, most recent last: where a rollback goes back to.
        self.previous: list[tuple[UUID, str]] = []

    def open_registration(
        self, registration_id: UUID, *, replace: bool, lease_expires: datetime, now: datetime,
        holder: dict[str, Any] | None = None,
    ) -> UUID | None:
        """Take the ref's lease for a new registration.

        Returns:
            The id of an abandoned registration whose expired lease was taken over, if any.

        Raises:
            PackAlreadyExistsError: the ref is active and ``replace`` is false.
            RegistrationInProgressError: another registration holds an unexpired lease.
        """
        self.check_can_open(replace=replace, now=now)
        abandoned = self.in_flight
        self._open(registration_id=registration_id, lease_expires=lease_expires,
                   taken_over=abandoned, holder=holder)
        return abandoned

    def check_can_open(self, *, replace: bool, now: datetime) -> None:
        """Raise the error :meth:`open_registration` would raise, without changing anything."""
        if self.active_registration_id is not None and not replace:
            raise PackAlreadyExistsError(self.ref)
        self._check_no_lease(now)

    def holds_lease(self, registration_id: UUID, *, now: datetime) -> bool:
        """Whether ``registration_id`` is in flight under a lease that has not expired (it
        may still commit); once expired, another registration may take the ref over."""
        return self.in_flight == registration_id and self._lease_held(now)

    def _lease_held(self, now: datetime) -> bool:
        return self.in_flight is not None and self.lease_expires is not None and (
            self.lease_expires > now)

    def _check_no_lease(self, now: datetime) -> None:
        if self._lease_held(now):
            raise RegistrationInProgressError(self.ref, self.in_flight,
                                              lease_expires=self.lease_expires)

    def cancel_in_flight(self, *, now: datetime, holder_gone: bool, force: bool) -> UUID:
        """Release the lease of the registration in flight, whose process is gone (or was
        told to stop: ``force``); returns its id, for the registration's rejection.

        Raises:
            NotCancellableError: nothing is in flight, or its holder may still be running.
        """
        if self.in_flight is None:
            raise NotCancellableError(f"Pack '{self.ref}' has no registration in progress")
        if not (force or holder_gone or not self._lease_held(now)):
            raise NotCancellableError(
                f"Pack '{self.ref}' has a registration in progress ({self.in_flight}) whose "
                "process may still be running (it is alive, or on another machine, or "
                "unknown); stop that process, or use --force to cancel it anyway")
        registration_id = self.in_flight
        self._close(registration_id=registration_id)
        return registration_id

    @event(RegistrationOpened)
    def _open(
        self, *, registration_id: UUID, lease_expires: datetime, taken_over: UUID | None,
        holder: dict[str, Any] | None,
    ) -> None:
        self.in_flight = registration_id
        self.lease_expires = lease_expires
        self.holder = holder

    def activate(self, registration_id: UUID, pack_version: str) -> UUID | None:
        """Make the in-flight registration active; returns the registration it replaces."""
        self._check_in_flight(registration_id)
        replaced = self.active_registration_id
        self._activate(registration_id=registration_id, pack_version=pack_version)
        return replaced

    @event("RegistrationActivated", topic="attune:Pack.RegistrationActivated")
    def _activate(self, *, registration_id: UUID, pack_version: str) -> None:
        if self.active_registration_id is not None and self.active_version is not None:
            self.previous.append((self.active_registration_id, self.active_version))
        self.active_registration_id = registration_id
        self.active_version = pack_version
        self.in_flight = None
        self.lease_expires = None
        self.holder = None

    def close_registration(self, registration_id: UUID) -> None:
        """Release the lease without activating (the registration was rejected)."""
        self._check_in_flight(registration_id)
        self._close(registration_id=registration_id)

    @event("RegistrationClosed", topic="attune:Pack.RegistrationClosed")
    def _close(self, *, registration_id: UUID) -> None:
        self.in_flight = None
        self.lease_expires = None
        self.holder = None

    def roll_back(self, *, now: datetime) -> tuple[UUID, UUID, str]:
        """Re-activate the registration the active one replaced.

        Returns:
            (the registration rolled back, the one restored, the restored version).

        Raises:
            PackNotFoundError: nothing is active.
            NothingToRollBackError: the active registration replaced none.
            RegistrationInProgressError: a registration of the ref is running.
        """
        active = self._require_active(now)
        if not self.previous:
            raise NothingToRollBackError(self.ref)
        restored, restored_version = self.previous[-1]
        self._roll_back(registration_id=active, restored_registration_id=restored,
                        restored_version=restored_version)
        return active, restored, restored_version

    @event("RolledBack", topic="attune:Pack.RolledBack")
    def _roll_back(self, *, registration_id: UUID, restored_registration_id: UUID,
                   restored_version: str) -> None:
        self.previous.pop()
        self.active_registration_id = restored_registration_id
        self.active_version = restored_version

    def unregister(self, *, now: datetime) -> UUID:
        """Deactivate the ref; returns the registration that was active. History stays."""
        active = self._require_active(now)
        self._unregister(registration_id=active)
        return active

    @event("Unregistered", topic="attune:Pack.Unregistered")
    def _unregister(self, *, registration_id: UUID) -> None:
        self.active_registration_id = None
        self.active_version = None
        self.previous = []

    def _require_active(self, now: datetime) -> UUID:
        if self.active_registration_id is None:
            raise PackNotFoundError(self.ref)
        self._check_no_lease(now)
        return self.active_registration_id

    def _check_in_flight(self, registration_id: UUID) -> None:
        if self.in_flight != registration_id:
            raise RegistrationStateError(
                f"registration {registration_id} does not hold the lease of pack '{self.ref}'"
            )
