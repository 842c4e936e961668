"""Which two runs ``attune pack test-diff`` and ``GET /packs/{ref}/tests/compare`` compare, and
the comparison itself (``domain.comparison``) with the facts of both runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from attune_registry.domain.comparison import CaseDiff, RunSelector, Thresholds, compare
from attune_registry.domain.errors import (
    PackNotFoundError,
    TestRunInProgressError,
    TestRunNotFoundError,
)
from attune_registry.domain.vocabulary import RunOutcome, RunStatus, TriggerReason

from attune_registry.projections.rows import TestExecutionRow

if TYPE_CHECKING:
    from attune_registry.projections.queries import ReadModelQueries


class ComparedRun(msgspec.Struct, frozen=True, kw_only=True):
    """One of the two runs compared: what identifies it and its counts."""

    id: int
    pack_version: str
    execution_time: str
    trigger_reason: TriggerReason
    status: RunStatus
    outcome: RunOutcome | None
    content_digest: str | None
    fingerprint: str | None
    total_tests: int
    passed: int
    failed: int
    skipped: int
    duration_ms: int

    @classmethod
    def of(cls, row: TestExecutionRow) -> ComparedRun:
        return cls(**{name: getattr(row, name) for name in cls.__struct_fields__})


class RunComparison(msgspec.Struct, frozen=True, kw_only=True):
    """Two finished runs of a ref, case by case (``from_run`` the older, usually)."""

    ref: str
    from_run: ComparedRun = msgspec.field(name="from")
    to_run: ComparedRun = msgspec.field(name="to")
    threshold_pct: float
    """A duration change is reported from this many percent..."""
    min_ms: int
    """... and this many milliseconds, both."""
    same_content: bool
    """Whether both runs tested the same content digest (then a difference is the
    environment's, or the tests' own: flaky)."""
    diff: CaseDiff


def compare_runs(view: ReadModelQueries, ref: str, from_: RunSelector | None,
                 to: RunSelector | None, thresholds: Thresholds) -> RunComparison:
    """Compare two finished runs of ``ref``: by default its newest two; with only ``to``, that
    run and the one before it; with only ``from_``, that run and the newest.

    Raises: PackNotFoundError (``ref`` never submitted), TestRunNotFoundError (no such run, or
    nothing to compare it with), TestRunInProgressError (a run named by id still runs).
    """
    if not view.has_history(ref):
        raise PackNotFoundError(ref)
    if to is not None:
        newer = _pick(view, ref, to)
    else:
        newest = view.finished_test_runs(ref, limit=1)
        if not newest:
            raise TestRunNotFoundError(ref)
        newer = newest[0]
    if from_ is not None:
        older = _pick(view, ref, from_)
    else:
        before = view.finished_test_runs(ref, limit=1, before=newer)
        if not before:
            raise TestRunNotFoundError(ref, older_than=newer.id)
        older = before[0]
    diff = compare(older.result.get("test_suites") or [], newer.result.get("test_suites") or [],
                   thresholds)
    return RunComparison(ref=ref, from_run=ComparedRun.of(older), to_run=ComparedRun.of(newer),
                         threshold_pct=thresholds.percent, min_ms=thresholds.min_ms,
                         same_content=older.content_digest is not None
                         and older.content_digest == newer.content_digest, diff=diff)


def _pick(view: ReadModelQueries, ref: str, selector: RunSelector) -> TestExecutionRow:
    if selector.run_id is not None:
        found = view.test_execution(ref, selector.run_id)
        if found is None:
            raise TestRunNotFoundError(ref, run_id=selector.run_id)
        if found.status == "running":
            raise TestRunInProgressError(ref, selector.run_id)
        return found
    rows = view.finished_test_runs(ref, limit=1, version=selector.version)
    if not rows:
        raise TestRunNotFoundError(ref, version=selector.version)
    return rows[0]


def selector_params(from_: RunSelector | None, to: RunSelector | None,
                    thresholds: Thresholds | None) -> dict[str, str]:
    """The query parameters of ``GET /packs/{ref}/tests/compare`` that ask for this."""
    params = {name: str(selector.run_id if selector.run_id is not None else selector.version)
              for name, selector in (("from", from_), ("to", to)) if selector is not None}
    if thresholds is not None:
        params.update(threshold=f"{thresholds.percent:g}", min_ms=str(thresholds.min_ms))
    return params
