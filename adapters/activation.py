"""``pack activate`` on the local store: find the kept release in the read models, then
register it through the service's register path (workers, catch-up and all)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import msgspec

from attune_registry.domain.errors import PackNotFoundError

from attune_registry.application.activate import ActivateCommand, Chosen, CommittedRelease, choose

if TYPE_CHECKING:
    from attune_registry.application.ports import Progress

    from attune_registry.adapters.contract import Registered
    from attune_registry.adapters.service import RegistryService


class ActivatedRelease(msgspec.Struct, frozen=True, kw_only=True):
    """The kept release an activation registered again."""

    registration_id: str
    """The earlier registration that committed it (the new one's ``origin`` names it)."""
    version: str
    digest: str
    other_digests: list[str]
    """Other contents committed under the same version, newest first (a version was asked
    for, and the newest of its contents chosen); empty otherwise."""

    @classmethod
    def of(cls, chosen: Chosen) -> ActivatedRelease:
        release = chosen.release
        return cls(registration_id=release.registration_id, version=release.version,
                   digest=release.digest, other_digests=list(chosen.other_digests))


@dataclass(frozen=True)
class Activation:
    """A committed activation: the new registration and what it activated."""

    registered: Registered
    release: ActivatedRelease
    reused_run_id: str | None
    """The passing run the new registration reused instead of running its suites."""


def activate(service: RegistryService, command: ActivateCommand,
             progress: Progress | None = None) -> Activation:
    """Raises (before anything is recorded): PackNotFoundError, ReleaseNotFoundError,
    AmbiguousDigestError, ReleaseAlreadyActiveError, ReleaseMissingError; then whatever
    ``register`` raises."""
    service.catch_up()
    view = service.view
    rows = view.committed_registrations(command.ref)
    if not rows and not view.has_history(command.ref):
        raise PackNotFoundError(command.ref)
    chosen = choose(command.ref, command.wanted, [
        CommittedRelease(row.id, row.pack_version, row.content_digest, row.source_path)
        for row in rows])
    active = view.get_pack(command.ref)
    registering = command.registering(chosen, service.releases,
                                      active.content_digest if active is not None else None)
    if registering.reuse and service.on_workers():
        # A reused run must match the environment the suites would run in: on workers that
        # is theirs, unknown here, so the suites run (an activation asks for reuse only
        # where it can be had; ``register --reuse`` refuses instead).
        registering = replace(registering, reuse=False)
    registered = service.register(registering, progress)
    row = view.get_registration(str(registered.outcome.registration_id))
    return Activation(registered, ActivatedRelease.of(chosen),
                      row.reused_run_id if row is not None else None)
