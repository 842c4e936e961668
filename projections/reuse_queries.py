"""Reading the passing runs a registration may reuse (``--reuse``) from the test history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from attune_registry.projections.sql import from_json

# Newer passing runs of one content in one environment whose suites differ from the declared
# ones are rare (the manifest is part of the content): a few candidates are enough.
CANDIDATES = 20


class ReuseQueries(ABC):
    """The query behind ``application.ports.ReusableRuns``; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def reusable_run(self, ref: str, digest: str, fingerprint: str,
                     suites: Sequence[str]) -> dict[str, Any] | None:
        """The newest passing run of ``ref`` on content ``digest`` whose suites all ran with
        ``fingerprint`` and are exactly ``suites``, as its row with ``result`` decoded; runs
        against an upgrade candidate (trigger ``dependency``) never count. None if none."""
        rows = self._select(
            "SELECT run_id, registration_id, pack_version, fingerprint,"
            " CAST(result AS TEXT) AS result FROM {t}pack_test_execution"
            " WHERE pack_ref = :ref AND content_digest = :digest"
            " AND fingerprint = :fingerprint AND status = 'passed'"
            " AND trigger_reason <> 'dependency'"
            " ORDER BY execution_time DESC, id DESC LIMIT :limit",
            {"ref": ref, "digest": digest, "fingerprint": fingerprint, "limit": CANDIDATES})
        wanted = sorted(suites)
        for row in rows:
            result = from_json(row["result"])
            if sorted(suite["name"] for suite in result["test_suites"]) == wanted:
                return {**row, "result": result}
        return None
