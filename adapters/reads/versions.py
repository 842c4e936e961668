"""``pack versions``: every release of a ref that committed, side by side, and how each ended.

A row per committed registration, newest commit first: what it was (version, digest, origin),
who made it active and how, the run that vouches for it (its own, or the one it reused),
whether it is the active one now, what ended it, and whether its release is still kept (only
a kept release can be activated again).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

import msgspec

from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.origin import Origin
from attune_registry.domain.vocabulary import TriggerReason

if TYPE_CHECKING:
    from attune_registry.projections.queries import ReadModelQueries
    from attune_registry.projections.rows import RegistrationRow
    from attune_registry.projections.version_queries import RunSummary

    from attune_registry.adapters.packs.releases import ReleaseStore

EndedHow = Literal["replaced", "rolled_back", "unregistered"]


class VersionTests(msgspec.Struct, frozen=True, kw_only=True):
    """The test run a committed registration rests on."""

    run_id: str
    """The run's id: the registration's own, or the reused run's."""
    execution_id: int
    """Its ``id`` in the test history (``GET /packs/{ref}/tests/{id}/junit``)."""
    status: str
    passed: int
    total: int
    pass_rate: float
    flaky: int
    reused: bool
    """The registration reused this passing run instead of running its suites."""


class VersionEnded(msgspec.Struct, frozen=True, kw_only=True):
    """What made a committed registration stop being the active one."""

    how: EndedHow
    """``replaced`` by a newer registration, ``rolled_back`` (to ``version``) or
    ``unregistered``."""
    at: str
    by: str
    """Who did it: the replacing registration's requester, or who rolled back."""
    registration_id: str | None
    """The registration that replaced it, or that its rollback restored; None for an
    unregister."""
    version: str | None
    """That registration's version."""
    note: str | None
    """The reason given to the rollback or unregister (``--reason``)."""


class PackVersion(msgspec.Struct, frozen=True, kw_only=True):
    """One committed registration of a ref: a release that was active."""

    version: str
    content_digest: str
    registration_id: str
    committed_at: str
    requested_by: str
    trigger: TriggerReason
    origin: Origin | None
    forced: bool
    """Committed although its tests did not pass."""
    tests_skipped: bool
    tests: VersionTests | None
    """None when its tests were skipped (or its run is not in the history)."""
    active: bool
    ended: VersionEnded | None
    """None while it is active (and for one whose end the read models cannot tell)."""
    kept: bool
    """Its release is in the release store: only then can ``pack activate`` bring it back."""


class PackVersions(msgspec.Struct, frozen=True, kw_only=True):
    """A ref's committed releases, newest commit first."""

    ref: str
    active_version: str | None
    """None when the ref is not active (unregistered)."""
    active_registration_id: str | None
    versions: list[PackVersion]


def pack_versions(view: ReadModelQueries, releases: ReleaseStore, ref: str) -> PackVersions:
    """Raises: PackNotFoundError when ``ref`` was never submitted."""
    rows = view.committed_registrations(ref)
    if not rows and not view.has_history(ref):
        raise PackNotFoundError(ref)
    pack = view.get_pack(ref)
    active_id = pack.registration_id if pack is not None else None
    runs = view.run_summaries(ref, [run for row in rows for run in _runs_of(row)])
    by_id = {row.id: row for row in rows}
    replacers: dict[str, RegistrationRow] = {}
    for row in reversed(rows):  # oldest first: the newest replacer of each wins
        if row.replaced_registration_id is not None:
            replacers[row.replaced_registration_id] = row
    return PackVersions(
        ref=ref, active_version=pack.version if pack is not None else None,
        active_registration_id=active_id,
        versions=[PackVersion(
            version=row.pack_version, content_digest=row.content_digest,
            registration_id=row.id, committed_at=row.finished_at or row.requested_at,
            requested_by=row.requested_by, trigger=row.trigger_reason, origin=row.origin,
            forced=bool(row.forced), tests_skipped=row.skip_tests, tests=_tests(row, runs),
            active=row.id == active_id,
            ended=None if row.id == active_id else _ended(row, by_id, replacers),
            kept=_kept(releases, row.content_digest)) for row in rows])


def _runs_of(row: RegistrationRow) -> list[str]:
    return [row.reused_run_id] if row.reused_run_id else [] if row.skip_tests else [row.id]


def _tests(row: RegistrationRow, runs: dict[str, RunSummary]) -> VersionTests | None:
    found = next((runs[run] for run in _runs_of(row) if run in runs), None)
    if found is None:
        return None
    return VersionTests(run_id=found.run_id, execution_id=found.id, status=found.status,
                        passed=found.passed, total=found.total_tests,
                        pass_rate=found.pass_rate, flaky=found.flaky,
                        reused=row.reused_run_id is not None)


def _ended(row: RegistrationRow, by_id: dict[str, RegistrationRow],
           replacers: dict[str, RegistrationRow]) -> VersionEnded | None:
    if row.status == "rolled_back" and row.rolled_back_at and row.rolled_back_by:
        restored = by_id.get(row.restored_registration_id or "")
        return VersionEnded(how="unregistered" if row.reason == "unregister" else "rolled_back",
                            at=row.rolled_back_at, by=row.rolled_back_by,
                            registration_id=row.restored_registration_id,
                            version=restored.pack_version if restored else None, note=row.note)
    replacer = replacers.get(row.id)
    if replacer is None:
        return None
    return VersionEnded(how="replaced", at=replacer.finished_at or replacer.requested_at,
                        by=replacer.requested_by, registration_id=replacer.id,
                        version=replacer.pack_version, note=None)


def _kept(releases: ReleaseStore, digest: str) -> bool:
    try:
        return os.path.isdir(releases.path_of(digest))
    except ValueError:  # not a digest (a store from before digests were checked)
        return False
