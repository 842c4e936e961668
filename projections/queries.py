"""The queries the CLI and the API read the registry with, whatever holds the connection.

Kept apart from ``projections.view`` (which needs the event store library) so that a reading
command can run them on a plain database connection (see ``adapters.reads.quick``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, NamedTuple

from attune_registry.projections.activity_queries import ActivityQueries
from attune_registry.projections.case_stats import CaseStatQueries
from attune_registry.projections.reuse_queries import ReuseQueries
from attune_registry.projections.rows import (
    ComponentRow,
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
    TokenRow,
    component_row,
    execution_json_row,
    execution_row,
    pack_row,
    registration_row,
    token_row,
)
from attune_registry.projections.run_pick_queries import RunPickQueries
from attune_registry.projections.sql import from_json

if TYPE_CHECKING:
    # Imported where used: its range grammar (semantic_version) would cost every read ~30 ms.
    from attune_registry.domain.dependencies import ActivePacks
from attune_registry.projections.tables import READ_MODEL_TABLES
from attune_registry.projections.version_queries import VersionQueries

# pack_test_execution's columns, with ``result`` as its JSON text on both stores (PostgreSQL
# would otherwise decode its JSONB into Python objects).
_EXECUTION_JSON_COLUMNS = (
    "id, pack_id, pack_ref, pack_version, run_id, registration_id, test_run_id, trigger_reason,"
    " execution_time, status, outcome, total_tests, passed, failed, skipped, pass_rate,"
    " duration_ms, CAST(result AS TEXT) AS result, created, content_digest, fingerprint, flaky")

# Columns that order each table's rows completely, where the first two do not.
_SNAPSHOT_ORDER = {"pack_test_count": "1, 2, 3", "pack_case_stat": "1, 2, 3, 4, 5"}


class SortKey(NamedTuple):
    """Where a newest-first page ends: the time and id of its last row. The next page starts
    below it (keyset pagination), which costs the same at any depth, unlike an offset."""

    time: str  # ISO 8601, as the rows carry it
    id: Any  # int for test runs, str for registrations


class ReadModelQueries(ActivityQueries, CaseStatQueries, ReuseQueries, VersionQueries,
                       RunPickQueries, ABC):
    """Queries over the read-model tables; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def list_packs(self, *, limit: int = 1_000_000, offset: int = 0) -> list[PackRow]:
        rows = self._select("SELECT * FROM {t}pack ORDER BY ref LIMIT :limit OFFSET :offset",
                            {"limit": limit, "offset": offset})
        return [pack_row(r) for r in rows]

    def active_packs(self) -> ActivePacks:
        """Every active pack's version and declared dependencies."""
        from attune_registry.domain.dependencies import ActivePacks

        rows = self._select("SELECT ref, version, dependencies FROM {t}pack ORDER BY ref", {})
        return ActivePacks(
            versions={row["ref"]: row["version"] for row in rows},
            dependencies={row["ref"]: dict(sorted(from_json(row["dependencies"]).items()))
                          for row in rows})

    def count_packs(self) -> int:
        return int(self._select("SELECT COUNT(*) AS n FROM {t}pack", {})[0]["n"])

    def get_pack(self, ref: str) -> PackRow | None:
        rows = self._select("SELECT * FROM {t}pack WHERE ref = :ref", {"ref": ref})
        return pack_row(rows[0]) if rows else None

    def components(self, pack_id: int) -> list[ComponentRow]:
        rows = self._select("SELECT * FROM {t}pack_component WHERE pack_id = :id"
                            " ORDER BY kind, ref", {"id": pack_id})
        return [component_row(r) for r in rows]

    def test_history(self, ref: str, *, limit: int = 50, offset: int = 0,
                     after: SortKey | None = None, status: str | None = None,
                     trigger_reason: str | None = None) -> list[TestExecutionRow]:
        """Test runs of ``ref``, newest first, rejected and in-progress ones included: from
        ``offset``, or those older than ``after``."""
        sql, params = self._history_page("*", ref, limit, offset, after, status, trigger_reason)
        return [execution_row(r) for r in self._select(sql, params)]

    def test_history_json(self, ref: str, *, limit: int = 50, offset: int = 0,
                          after: SortKey | None = None, status: str | None = None,
                          trigger_reason: str | None = None) -> list[TestExecutionJsonRow]:
        """``test_history`` with each ``result`` left as the stored JSON (for responses)."""
        sql, params = self._history_page(_EXECUTION_JSON_COLUMNS, ref, limit, offset, after,
                                         status, trigger_reason)
        return [execution_json_row(r) for r in self._select(sql, params)]

    def _history_page(self, columns: str, ref: str, limit: int, offset: int,
                      after: SortKey | None, status: str | None,
                      trigger_reason: str | None) -> tuple[str, dict[str, Any]]:
        where, params = _history_filter(ref, status, trigger_reason)
        if after is not None:
            where += " AND " + _older_than("execution_time")
            params.update(after_time=self._timestamp(after.time), after_id=after.id)
        sql = (f"SELECT {columns} FROM {{t}}pack_test_execution WHERE {where}"
               " ORDER BY execution_time DESC, id DESC LIMIT :limit OFFSET :offset")
        return sql, {**params, "limit": limit, "offset": offset}

    def test_execution(self, ref: str, execution_id: int) -> TestExecutionRow | None:
        """Test run ``execution_id`` of ``ref``, whatever its status."""
        rows = self._select("SELECT * FROM {t}pack_test_execution WHERE pack_ref = :ref"
                            " AND id = :id", {"ref": ref, "id": execution_id})
        return execution_row(rows[0]) if rows else None

    def count_test_history(self, ref: str, *, status: str | None = None,
                           trigger_reason: str | None = None) -> int:
        """How many runs ``test_history`` has with these filters, from the per-ref counts the
        projection keeps (a few rows, however long the history)."""
        where, params = _history_filter(ref, status, trigger_reason)
        rows = self._select(f"SELECT SUM(n) AS n FROM {{t}}pack_test_count WHERE {where}",
                            params)
        return int(rows[0]["n"] or 0)

    def registrations(self, ref: str, *, limit: int = 50, offset: int = 0,
                      after: SortKey | None = None) -> list[RegistrationRow]:
        """Every registration attempt of ``ref``, newest first: from ``offset``, or those
        older than ``after``."""
        where, params = "pack_ref = :ref", {"ref": ref}
        if after is not None:
            where += " AND " + _older_than("requested_at")
            params.update(after_time=self._timestamp(after.time), after_id=after.id)
        rows = self._select(
            f"SELECT * FROM {{t}}pack_registration WHERE {where}"
            " ORDER BY requested_at DESC, id DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset})
        return [registration_row(r) for r in rows]

    def registration_sources(self, statuses: tuple[str, ...]) -> list[dict[str, str]]:
        """``id``, ``pack_ref``, ``source_path``, ``content_digest`` and ``status`` of every
        registration in ``statuses``, newest first."""
        names = {f"s{n}": status for n, status in enumerate(statuses)}
        return self._select("SELECT id, pack_ref, source_path, content_digest, status"
                            " FROM {t}pack_registration"
                            f" WHERE status IN ({', '.join(':' + n for n in names)})"
                            " ORDER BY requested_at DESC, id DESC", names)

    def count_registrations(self, ref: str) -> int:
        rows = self._select("SELECT n FROM {t}pack_registration_count WHERE pack_ref = :ref",
                            {"ref": ref})
        return int(rows[0]["n"]) if rows else 0

    def get_registration(self, registration_id: str) -> RegistrationRow | None:
        rows = self._select("SELECT * FROM {t}pack_registration WHERE id = :id",
                            {"id": registration_id})
        return registration_row(rows[0]) if rows else None

    def tokens(self) -> list[TokenRow]:
        rows = self._select("SELECT * FROM {t}api_token ORDER BY issued_at, id", {})
        return [token_row(r) for r in rows]

    def has_history(self, ref: str) -> bool:
        rows = self._select("SELECT 1 AS x FROM {t}pack_registration WHERE pack_ref = :ref"
                            " LIMIT 1", {"ref": ref})
        return bool(rows)

    def _timestamp(self, iso: str) -> Any:
        """A timestamp as a query parameter: SQLite stores the ISO text itself."""
        return iso

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every read model in a stable order (for comparing rebuilds)."""
        return {table: self._select(f"SELECT * FROM {{t}}{table}"
                                    f" ORDER BY {_SNAPSHOT_ORDER.get(table, '1, 2')}", {})
                for table in READ_MODEL_TABLES}


def _older_than(time_column: str) -> str:
    # Spelled out rather than as a row comparison: the first term is a range on the history
    # index on both stores; the second only sorts out rows sharing the boundary's time.
    return (f"{time_column} <= :after_time"
            f" AND ({time_column} < :after_time OR id < :after_id)")


def _history_filter(ref: str, status: str | None,
                    trigger_reason: str | None) -> tuple[str, dict[str, Any]]:
    where, params = "pack_ref = :ref", {"ref": ref}
    if status is not None:
        where += " AND status = :status"
        params["status"] = status
    if trigger_reason is not None:
        where += " AND trigger_reason = :trigger"
        params["trigger"] = trigger_reason
    return where, params
