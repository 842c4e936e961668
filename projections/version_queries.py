"""Reading a ref's committed releases and the test runs that vouch for them (``pack versions``,
``pack activate``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import msgspec

from attune_registry.projections.rows import RegistrationRow, registration_row


class RunSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The counts of one finished or running test run (``pack_test_execution`` without its
    result document)."""

    id: int
    run_id: str
    status: str
    total_tests: int
    passed: int
    failed: int
    pass_rate: float
    flaky: int


class VersionQueries(ABC):
    """The queries behind ``pack versions``; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def committed_registrations(self, ref: str) -> list[RegistrationRow]:
        """Every registration of ``ref`` that committed (those rolled back since included:
        they committed once), newest commit first."""
        rows = self._select(
            "SELECT * FROM {t}pack_registration WHERE pack_ref = :ref"
            " AND status IN ('committed', 'rolled_back')"
            " ORDER BY finished_at DESC, id DESC", {"ref": ref})
        return [registration_row(row) for row in rows]

    def run_summaries(self, ref: str, run_ids: Sequence[str]) -> dict[str, RunSummary]:
        """The runs of ``ref`` among ``run_ids`` (a registration's id, or a test run's), by
        run id; those that do not exist are left out."""
        if not run_ids:
            return {}
        names = {f"r{n}": run_id for n, run_id in enumerate(sorted(set(run_ids)))}
        rows = self._select(
            "SELECT id, run_id, status, total_tests, passed, failed, pass_rate, flaky"
            " FROM {t}pack_test_execution WHERE pack_ref = :ref"
            f" AND run_id IN ({', '.join(':' + name for name in names)})",
            {"ref": ref, **names})
        return {row["run_id"]: RunSummary(**{**row, "pass_rate": float(row["pass_rate"])})
                for row in rows}
