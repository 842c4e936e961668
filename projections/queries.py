"""The queries the CLI and the API read the registry with, whatever holds the connection.

Kept apart from ``projections.view`` (which needs the event store library) so that a reading
command can run them on a plain database connection (see ``adapters.quick_reads``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from projections.rows import (
    ComponentRow,
    PackRow,
    RegistrationRow,
    TestExecutionRow,
    TokenRow,
    component_row,
    execution_row,
    pack_row,
    registration_row,
    token_row,
)
from projections.tables import READ_MODEL_TABLES


class ReadModelQueries(ABC):
    """Queries over the read-model tables; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def list_packs(self, *, limit: int = 1_000_000, offset: int = 0) -> list[PackRow]:
        rows = self._select("SELECT * FROM {t}pack ORDER BY ref LIMIT :limit OFFSET :offset",
                            {"limit": limit, "offset": offset})
        return [pack_row(r) for r in rows]

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
                     status: str | None = None,
                     trigger_reason: str | None = None) -> list[TestExecutionRow]:
        """Test runs of ``ref``, newest first, rejected and in-progress ones included."""
        where, params = _history_filter(ref, status, trigger_reason)
        rows = self._select(
            f"SELECT * FROM {{t}}pack_test_execution WHERE {where}"
            " ORDER BY execution_time DESC, id DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": limit, "offset": offset},
        )
        return [execution_row(r) for r in rows]

    def count_test_history(self, ref: str, *, status: str | None = None,
                           trigger_reason: str | None = None) -> int:
        where, params = _history_filter(ref, status, trigger_reason)
        rows = self._select(f"SELECT COUNT(*) AS n FROM {{t}}pack_test_execution WHERE {where}",
                            params)
        return int(rows[0]["n"])

    def registrations(self, ref: str, *, limit: int = 50,
                      offset: int = 0) -> list[RegistrationRow]:
        """Every registration attempt of ``ref``, newest first."""
        rows = self._select(
            "SELECT * FROM {t}pack_registration WHERE pack_ref = :ref"
            " ORDER BY requested_at DESC, id DESC LIMIT :limit OFFSET :offset",
            {"ref": ref, "limit": limit, "offset": offset})
        return [registration_row(r) for r in rows]

    def count_registrations(self, ref: str) -> int:
        rows = self._select("SELECT COUNT(*) AS n FROM {t}pack_registration WHERE pack_ref = :ref",
                            {"ref": ref})
        return int(rows[0]["n"])

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

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every read model in a stable order (for comparing rebuilds)."""
        return {table: self._select(f"SELECT * FROM {{t}}{table} ORDER BY 1, 2", {})
                for table in READ_MODEL_TABLES}


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
