"""Live progress of a registration's test suites, drawn on stderr."""

from __future__ import annotations

from domain.manifest import TestSuite
from domain.results import SuiteResult

from adapters.cli import output

MAX_LISTED_FAILURES = 10


class SuiteProgress:
    """One line when a suite starts, one when it ends, and its failing cases."""

    def suite_started(self, suite: TestSuite) -> None:
        output.note(f"▶ Running suite '{suite.name}' ({suite.runner}, "
                    f"timeout {suite.timeout_seconds} s)")

    def suite_finished(self, result: SuiteResult) -> None:
        symbol = output.OK if result.status == "passed" else output.FAIL
        counts = f"{result.passed}/{result.total} passed"
        if result.skipped:
            counts += f", {result.skipped} skipped"
        output.note(f"  {symbol} {result.name}: {counts} in {output.duration(result.duration_ms)}"
                    + (f" ({result.message})" if result.message else ""))
        failing = [c for c in result.test_cases if c.status in ("failed", "error")]
        for case in failing[:MAX_LISTED_FAILURES]:
            first = (case.error_message or "").strip().splitlines()
            reason = f": {first[-1]}" if first else ""
            output.note(f"    {output.FAIL} {case.name}{reason}")
        if len(failing) > MAX_LISTED_FAILURES:
            output.note(f"    … and {len(failing) - MAX_LISTED_FAILURES} more")
