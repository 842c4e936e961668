"""Picking finished test runs of a ref to compare (``attune pack test-diff``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from attune_registry.projections.rows import TestExecutionRow, execution_row


class RunPickQueries(ABC):
    """Finished runs, newest first; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    @abstractmethod
    def _timestamp(self, iso: str) -> Any:
        """A timestamp as a query parameter."""

    def finished_test_runs(self, ref: str, *, limit: int, version: str | None = None,
                           before: TestExecutionRow | None = None) -> list[TestExecutionRow]:
        """Up to ``limit`` runs of ``ref`` that are no longer running, newest first: only
        those of ``version`` when given, only those older than run ``before`` when given."""
        where = "pack_ref = :ref AND status <> 'running'"
        params: dict[str, Any] = {"ref": ref}
        if version is not None:
            where += " AND pack_version = :version"
            params["version"] = version
        if before is not None:
            # As the test history orders runs: by time, then by id among runs of one time.
            where += (" AND execution_time <= :before_time"
                      " AND (execution_time < :before_time OR id < :before_id)")
            params.update(before_time=self._timestamp(before.execution_time),
                          before_id=before.id)
        rows = self._select(f"SELECT * FROM {{t}}pack_test_execution WHERE {where}"
                            " ORDER BY execution_time DESC, id DESC LIMIT :limit",
                            {**params, "limit": limit})
        return [execution_row(row) for row in rows]
