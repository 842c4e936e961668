"""Outcome policy: how cases become a suite status, suites a run, and a run a decision."""

from __future__ import annotations

from collections.abc import Sequence

from attune_registry.domain.manifest import TestingConfig
from attune_registry.domain.results import SuiteResult, TestCaseResult, TestResult
from attune_registry.domain.vocabulary import RunnerType, SuiteStatus


def suite_result(
    *,
    name: str,
    runner_type: RunnerType,
    cases: Sequence[TestCaseResult],
    exit_code: int | None,
    duration_ms: int,
    timed_out: bool = False,
    completed: bool = True,
    message: str | None = None,
    stdout: str = "",
    stderr: str = "",
) -> SuiteResult:
    """Build a suite result whose counts and status follow from its cases and exit code.

    A suite passes only if at least one test ran, none failed, and the runner exited 0:
    zero tests is not a pass, and a non-zero exit can never yield ``passed``. A suite that
    timed out or whose process ended before the runner finished (``completed=False``) is an
    ``error`` whatever its cases say.
    """
    passed = sum(1 for case in cases if case.status == "passed")
    failed = sum(1 for case in cases if case.status in ("failed", "error"))
    skipped = sum(1 for case in cases if case.status == "skipped")
    status: SuiteStatus
    if timed_out or not completed or (not cases and exit_code != 0):
        status = "error"
    elif failed or exit_code != 0 or passed == 0:
        status = "failed"
    else:
        status = "passed"
    if status != "passed" and message is None:
        message = _explain(passed, failed, exit_code)
    return SuiteResult(
        name=name,
        runner_type=runner_type,
        status=status,
        total=len(cases),
        passed=passed,
        failed=failed,
        skipped=skipped,
        duration_ms=duration_ms,
        exit_code=exit_code,
        timed_out=timed_out,
        message=message,
        test_cases=list(cases),
        stdout=stdout,
        stderr=stderr,
    )


def suite_error(*, name: str, runner_type: RunnerType, message: str) -> SuiteResult:
    """A suite that could not run at all (bad path, no matching files, missing runner)."""
    return suite_result(name=name, runner_type=runner_type, cases=[], exit_code=None,
                        duration_ms=0, message=message)


def _explain(passed: int, failed: int, exit_code: int | None) -> str | None:
    if failed:
        return f"{failed} test(s) failed"
    if passed == 0:
        return "no tests ran"
    if exit_code:
        return f"the runner exited with code {exit_code} although no test failed"
    return None


def pass_rate(passed: int, total: int, skipped: int) -> float:
    """Passed over tests that ran (skips excluded); 0.0 when nothing ran."""
    ran = total - skipped
    return round(passed / ran, 4) if ran > 0 else 0.0


def test_result(
    *,
    pack_ref: str,
    pack_version: str,
    execution_time: str,
    suites: Sequence[SuiteResult],
    duration_ms: int,
) -> TestResult:
    """Combine suites into a run: ``passed`` only if every suite passed."""
    total = sum(s.total for s in suites)
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites)
    skipped = sum(s.skipped for s in suites)
    status: SuiteStatus
    if suites and all(s.status == "passed" for s in suites):
        status = "passed"
    elif any(s.status == "error" for s in suites) or not suites:
        status = "error"
    else:
        status = "failed"
    return TestResult(
        pack_ref=pack_ref,
        pack_version=pack_version,
        execution_time=execution_time,
        status=status,
        total_tests=total,
        passed=passed,
        failed=failed,
        skipped=skipped,
        pass_rate=pass_rate(passed, total, skipped),
        duration_ms=duration_ms,
        test_suites=list(suites),
    )


test_result.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def accepts(result: TestResult, testing: TestingConfig) -> bool:
    """Whether a run lets the pack in without force.

    Accepted when ``pass_rate >= min_pass_rate`` (default 1.0) and every suite either
    passed or failed only through failing cases (no suite errors, no bare non-zero
    exits, at least one test ran); or when the pack declares ``on_failure: warn|ignore``.
    """
    if testing.on_failure in ("warn", "ignore"):
        return True
    counted = all(s.status == "passed" or (s.status == "failed" and s.failed > 0)
                  for s in result.test_suites)
    ran = result.total_tests - result.skipped
    # The exact ratio, not the rounded pass_rate: 1 failure in 20,000 tests rounds to 1.0.
    return bool(result.test_suites) and counted and ran > 0 and (
        result.passed / ran >= testing.min_pass_rate
    )
