"""The read side as the front ends use it: packs, details, history, on any read-model queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from domain.errors import PackNotFoundError
from projections.queries import ReadModelQueries
from projections.rows import ComponentRow, PackRow, RegistrationRow, TestExecutionRow


@dataclass(frozen=True)
class PackDetails:
    """An active pack with its components and its latest test run."""

    pack: PackRow
    components: list[ComponentRow]
    latest_test: TestExecutionRow | None


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    """An active pack's files now, against the digest its registration recorded."""

    ref: str
    version: str
    registration_id: str
    source_path: str
    origin: dict[str, Any] | None
    status: str
    """``ok`` (same digest), ``drifted`` (files changed) or ``missing`` (no directory)."""
    expected_digest: str
    actual_digest: str | None
    files_listed: bool
    """Whether the store kept a list of the files (installed packs): only then are the changed
    files below known; for a registered directory, only the digests are compared."""
    added: list[str]
    removed: list[str]
    modified: list[str]


class Reads:
    """Queries with the registry's rules for what "not found" means."""

    def __init__(self, view: ReadModelQueries) -> None:
        self.view = view

    def list_packs(self) -> list[PackRow]:
        return self.view.list_packs()

    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        return self.view.test_history(ref, limit=limit)

    def show(self, ref: str) -> PackDetails:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        pack = self.view.get_pack(ref)
        if pack is None:
            raise PackNotFoundError(ref)
        latest = self.view.test_history(ref, limit=1)
        return PackDetails(pack, self.view.components(pack.id), latest[0] if latest else None)

    def verify(self, ref: str) -> Verification:
        """Recompute the digest of active pack ``ref``'s files and compare.

        Raises: PackNotFoundError when ``ref`` is not active.
        """
        from adapters.install.managed_store import check_drift

        pack = self.view.get_pack(ref)
        if pack is None:
            raise PackNotFoundError(ref)
        drift = check_drift(pack.source_path, pack.content_digest)
        return Verification(ref=pack.ref, version=pack.version,
                            registration_id=pack.registration_id, source_path=pack.source_path,
                            origin=pack.origin, status=drift.status,
                            expected_digest=pack.content_digest,
                            actual_digest=drift.actual_digest, files_listed=drift.listed,
                            added=drift.added, removed=drift.removed, modified=drift.modified)

    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        """Every registration attempt of ``ref``, newest first.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        rows = self.view.registrations(ref, limit=limit)
        if not rows:
            raise PackNotFoundError(ref)
        return rows

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted (active or not)."""
        return self.view.has_history(ref)
