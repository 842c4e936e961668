"""Reruns of a suite's failed cases (``retries`` in pack.yaml), merged into one suite result.

A case that fails and then passes on a rerun counts as passed and is marked flaky, keeping its
first failure's message; every rerun is recorded (``SuiteResult.retries``). Only a suite that
ran to its end is retried, and only while few enough of its cases fail: many failures are a
broken suite, not a flaky one.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from attune_registry.domain import policy
from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.results import RetryAttempt, SuiteResult, TestCaseResult

# More failing cases than this are not rerun (and bound what a rerun records).
MAX_RETRY_CASES = 1000
FAILING = ("failed", "error")


def time_budget(suite: TestSuite) -> int:
    """The seconds a suite may take with its reruns: each attempt has the whole timeout."""
    return suite.timeout_seconds * (1 + suite.retries)


def failing_names(result: SuiteResult) -> list[str]:
    """The names of its failed or errored cases, each once, in report order."""
    return list(dict.fromkeys(case.name for case in result.test_cases
                              if case.status in FAILING))


def rerun_cases(current: SuiteResult, retries: int,
                last: SuiteResult | None = None) -> list[str]:
    """The cases to run again after ``current`` (the suite merged so far; ``last``: the
    rerun merged last, if any), or none: no retry left, nothing failed, the suite or the last
    rerun did not run to its end, the last rerun ran none of the cases it was asked to, or
    too many cases fail."""
    if len(current.retries) >= retries or current.status != "failed" or current.timed_out:
        return []
    if last is not None and (last.status == "error" or last.timed_out):
        return []
    if current.retries and not current.retries[-1].test_cases:
        return []
    names = failing_names(current)
    return names if len(names) <= MAX_RETRY_CASES else []


def merge_rerun(current: SuiteResult, rerun: SuiteResult, *, selected: bool) -> SuiteResult:
    """``current`` with the outcome of ``rerun``, which ran its failing cases again
    (``selected``: it ran only them; else the whole suite ran, and only their outcomes count).

    A case the rerun reports as passed (every time it reports it) becomes passed and flaky; one
    it fails again, or does not report, keeps its first failure. Counts and status follow
    ``policy.suite_result``; the exit code is the rerun's once no case fails any more, else
    the first attempt's.
    """
    asked = failing_names(current)
    attempt = len(current.retries) + 2
    outcome: dict[str, TestCaseResult] = {}
    for case in rerun.test_cases:
        if case.name in asked:
            seen = outcome.get(case.name)
            # A failure among several reports of one name decides it.
            if seen is None or (case.status in FAILING and seen.status not in FAILING):
                outcome[case.name] = case
    cases = [_merged_case(case, outcome.get(case.name)) for case in current.test_cases]
    still_failing = any(case.status in FAILING for case in cases)
    exit_code = current.exit_code if still_failing else rerun.exit_code
    record = RetryAttempt(
        attempt=attempt, duration_ms=rerun.duration_ms, exit_code=rerun.exit_code,
        timed_out=rerun.timed_out, message=_attempt_message(rerun, asked, outcome, selected),
        test_cases=[outcome[name] for name in asked if name in outcome])
    retried = [*current.retries, record]
    merged = policy.suite_result(
        name=current.name, runner_type=current.runner_type, cases=cases, exit_code=exit_code,
        duration_ms=current.duration_ms + rerun.duration_ms, timed_out=current.timed_out,
        stdout=current.stdout, stderr=current.stderr)
    return msgspec.structs.replace(
        merged, message=_suite_message(merged, cases, len(retried) + 1),
        isolation=current.isolation, fingerprint=current.fingerprint, retries=retried)


def with_reruns(first: SuiteResult, reruns: Sequence[SuiteResult], *,
                selected: bool = True) -> SuiteResult:
    """``first`` with each of ``reruns`` merged in turn (as a retried suite records it)."""
    current = first
    for rerun in reruns:
        current = merge_rerun(current, rerun, selected=selected)
    return current


def not_retried(result: SuiteResult, retries: int) -> SuiteResult:
    """``result`` of a suite with ``retries`` that was not rerun at all, saying why when the
    reason is not plain (it passed, or it was not asked to retry)."""
    if retries == 0 or result.retries or result.status == "passed":
        return result
    why = None
    if result.status == "error" or result.timed_out:
        why = "not retried: the suite did not run to its end"
    elif len(failing_names(result)) > MAX_RETRY_CASES:
        why = (f"not retried: more than {MAX_RETRY_CASES} cases failed, which is a broken "
               "suite rather than a flaky one")
    if why is None:
        return result
    message = f"{result.message}; {why}" if result.message else why
    return msgspec.structs.replace(result, message=message)


def flaky_cases(result: SuiteResult) -> list[TestCaseResult]:
    return [case for case in result.test_cases if case.flaky]


def _merged_case(case: TestCaseResult, rerun: TestCaseResult | None) -> TestCaseResult:
    if case.status not in FAILING or rerun is None:
        return case
    if rerun.status == "passed":
        return msgspec.structs.replace(case, status="passed", flaky=True,
                                       attempts=case.attempts + 1,
                                       duration_ms=rerun.duration_ms)
    return msgspec.structs.replace(case, attempts=case.attempts + 1)


def _attempt_message(rerun: SuiteResult, asked: list[str],
                     outcome: dict[str, TestCaseResult], selected: bool) -> str | None:
    notes = [rerun.message] if rerun.message else []
    if not selected:
        others = sum(1 for case in rerun.test_cases
                     if case.name not in outcome and case.status in FAILING)
        notes.append(f"the whole suite ran again; only its {len(asked)} earlier failure(s) "
                     "count" + (f" ({others} other case(s) failed in it)" if others else ""))
    missing = len(asked) - len(outcome)
    if missing:
        notes.append(f"{missing} of the {len(asked)} case(s) to rerun were not reported")
    return "; ".join(notes) or None


def _suite_message(merged: SuiteResult, cases: list[TestCaseResult], attempts: int) -> str:
    notes = [merged.message] if merged.message else []
    flaky = sum(1 for case in cases if case.flaky)
    if flaky:
        notes.append(f"{flaky} flaky case(s) passed only on a retry")
    notes.append(f"{attempts} attempts")
    return "; ".join(notes)
