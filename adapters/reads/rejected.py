"""The stored run a rejection by failing tests names, so that any client can fetch it."""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

from attune_registry.domain.errors import DependentsFailedError, TestsFailedError
from attune_registry.domain.vocabulary import RunStatus

from attune_registry.application.registry import STORE_FAILURES

from attune_registry.projections.rows import TestExecutionRow

from attune_registry.adapters.settings import ConfigError

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
    the store stopped answering: the rejection is still reported as it is. An upgrade rejected
    because its dependents' suites failed names each of their runs (``pack_ref``: the
    dependent), which were stored before the rejection.
    """
    if isinstance(exc, DependentsFailedError):
        # The runs of the dependents that broke: one piece of evidence for each.
        return [{**evidence, "pack_ref": dependent,
                 "test_execution_id": _stored_run(history, exc, result, str(run_id))}
                for (dependent, run_id, result), evidence in zip(exc.failed, exc.details or [],
                                                                 strict=True)]
    result = exc.result or {}
    found = _stored_run(history, exc, result, str(exc.registration_id))
    evidence = (exc.details or [{}])[0]
    return [{"registration_id": str(exc.registration_id), "pack_ref": result.get("pack_ref"),
             "test_execution_id": found, **evidence}]


def _stored_run(history: RunHistory, exc: TestsFailedError, result: dict[str, Any] | None,
                run_id: str) -> int | None:
    """The id of the stored run ``run_id`` of ``result``'s pack, among its newest ones."""
    ref = (result or {}).get("pack_ref")
    if not isinstance(ref, str) or not ref:
        return None
    status = cast("RunStatus | None", (result or {}).get("status"))
    try:
        runs = history.test_history(ref, limit=RECENT_RUNS, status=status)
    except (ConfigError, *STORE_FAILURES) as problem:
        log.warning("rejected run of %s not looked up: %s", exc.registration_id, problem)
        return None
    return next((run.id for run in runs if run.run_id == run_id), None)
