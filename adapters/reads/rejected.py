"""The stored run a rejection by failing tests names, so that any client can fetch it."""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

from domain.errors import TestsFailedError
from domain.vocabulary import RunStatus

from application.registry import STORE_FAILURES

from projections.rows import TestExecutionRow

from adapters.settings import ConfigError

log = logging.getLogger(__name__)

RECENT_RUNS = 5
"""How many of the ref's newest runs with the rejected run's status are searched for it."""


class RunHistory(Protocol):
    def test_history(self, ref: str, *, limit: int = 50, status: RunStatus | None = None,
                     ) -> list[TestExecutionRow]: ...


def stored_run_evidence(history: RunHistory, exc: TestsFailedError) -> list[dict[str, Any]]:
    """The rejection's evidence, naming its stored run as the API serves it: ``pack_ref`` and
    ``test_execution_id`` (``GET /packs/{pack_ref}/tests/{test_execution_id}/junit``).

    Called once the rejection is projected, so the run is among the ref's newest ones with its
    status (only a manual run of the active version can be newer: the ref's lease lets one
    registration run at a time). ``test_execution_id`` is None when it is not found there or
    the store stopped answering: the rejection is still reported as it is.
    """
    result = exc.result or {}
    ref = result.get("pack_ref")
    found: int | None = None
    if isinstance(ref, str) and ref:
        status = cast("RunStatus | None", result.get("status"))
        try:
            runs = history.test_history(ref, limit=RECENT_RUNS, status=status)
        except (ConfigError, *STORE_FAILURES) as problem:
            log.warning("rejected run of %s not looked up: %s", exc.registration_id, problem)
            runs = []
        found = next((run.id for run in runs if run.run_id == str(exc.registration_id)), None)
    evidence = (exc.details or [{}])[0]
    return [{"registration_id": str(exc.registration_id), "pack_ref": ref,
             "test_execution_id": found, **evidence}]
