"""The read side as the front ends use it: packs, details, history, on any read-model queries."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import PackNotFoundError
from projections.queries import ReadModelQueries
from projections.rows import ComponentRow, PackRow, RegistrationRow, TestExecutionRow


@dataclass(frozen=True)
class PackDetails:
    """An active pack with its components and its latest test run."""

    pack: PackRow
    components: list[ComponentRow]
    latest_test: TestExecutionRow | None


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
