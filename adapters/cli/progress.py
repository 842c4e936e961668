"""Live progress of test suites, drawn on stderr (stdout stays the command's result)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.resolution import IndexEntry
from attune_registry.domain.results import SuiteResult, TestCaseResult, summary_line

from attune_registry.adapters.cli import output

MAX_LISTED_FAILURES = 10


class SuiteProgress:
    """A line when a suite starts and when it ends, with its failing cases.

    On a terminal, a status line counts cases as they finish; elsewhere (logs, CI) only the
    start and end lines are printed, so logs stay readable.
    """

    def __init__(self, live: bool | None = None, *, end_lines: bool = True) -> None:
        self.live = sys.stderr.isatty() if live is None else live
        self.end_lines = end_lines
        self.lock = threading.Lock()
        self.counts: dict[str, list[int]] = {}
        self.sandboxes_shown: set[str] = set()

    def suite_started(self, suite: TestSuite) -> None:
        with self.lock:
            self.counts[suite.name] = [0, 0]
            self._clear()
            output.note(f"▶ Running suite '{suite.name}' ({suite.runner}, "
                        f"timeout {suite.timeout_seconds} s)")

    def case_finished(self, suite: TestSuite, case: TestCaseResult) -> None:
        with self.lock:
            done_failed = self.counts.setdefault(suite.name, [0, 0])
            done_failed[0] += 1
            done_failed[1] += case.status in ("failed", "error")
            if self.live:
                status = ", ".join(f"{name}: {done} done, {failed} failed"
                                   for name, (done, failed) in self.counts.items())
                sys.stderr.write(f"\r\x1b[2K  {output.safe(status, one_line=True)}"[:200])
                sys.stderr.flush()

    def suite_finished(self, result: SuiteResult) -> None:
        with self.lock:
            self.counts.pop(result.name, None)
            self._clear()
            for text in suite_summary(result) if self.end_lines else ():
                output.note(text)
            # How the suites were isolated: once, unless a suite differs (network, limits).
            sandbox = result.isolation.describe() if result.isolation else None
            if sandbox and sandbox not in self.sandboxes_shown:
                self.sandboxes_shown.add(sandbox)
                output.note(f"  {sandbox[0].upper()}{sandbox[1:]}")

    def suite_retrying(self, suite: TestSuite, cases: Sequence[str], attempt: int,
                       attempts: int) -> None:
        """Implements ``application.retries.RetryProgress``: a rerun is never silent."""
        with self.lock:
            self.counts[suite.name] = [0, 0]
            self._clear()
            output.note(f"↻ Suite '{suite.name}': retrying {len(cases)} failed case(s) "
                        f"(attempt {attempt} of {attempts})")

    def installing_dependency(self, entry: IndexEntry, step: int, steps: int) -> None:
        """Implements ``application.ports.DependencyProgress`` (``--install-deps``)."""
        from attune_registry.adapters.redact import redact_url

        at = f" at {entry.git_ref}" if entry.git_ref else ""
        with self.lock:
            self._clear()
            output.note(f"▶ Installing dependency {step}/{steps}: {entry.ref} {entry.version} "
                        f"from {redact_url(entry.source)}{at}")

    def _clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[2K")


def suite_summary(result: SuiteResult, *, verbose: bool = False) -> list[str]:
    """The end-of-suite line, then every case (verbose) or the failing ones (at most ten)."""
    symbol = output.OK if result.status == "passed" else output.FAIL
    counts = f"{result.passed}/{result.total} passed"
    if result.skipped:
        counts += f", {result.skipped} skipped"
    lines = [f"  {symbol} {result.name}: {counts} in {output.duration(result.duration_ms)}"
             + (f" ({result.message})" if result.message else "")]
    if verbose:
        for case in result.test_cases:
            lines.append(_flaky_line(case) if case.flaky else
                         f"    {CASE_SYMBOLS.get(case.status, '?')} {case.name}"
                         + _reason(case, always=False))
        return lines
    failing = [c for c in result.test_cases if c.status in ("failed", "error")]
    for case in failing[:MAX_LISTED_FAILURES]:
        lines.append(f"    {output.FAIL} {case.name}{_reason(case, always=True)}")
    if len(failing) > MAX_LISTED_FAILURES:
        lines.append(f"    … and {len(failing) - MAX_LISTED_FAILURES} more")
    flaky = [c for c in result.test_cases if c.flaky]
    lines += [_flaky_line(case) for case in flaky[:MAX_LISTED_FAILURES]]
    if len(flaky) > MAX_LISTED_FAILURES:
        lines.append(f"    … and {len(flaky) - MAX_LISTED_FAILURES} more flaky")
    return lines


def _flaky_line(case: TestCaseResult) -> str:
    """A case that passed only on a retry, with the failure it had first."""
    first = summary_line(case.error_message or "")
    return (f"    {output.WARN} {case.name}: flaky, passed on attempt {case.attempts}"
            + (f" (first failure: {first})" if first else ""))


CASE_SYMBOLS = {"passed": output.OK, "failed": output.FAIL, "error": output.FAIL, "skipped": "○"}


def _reason(case: TestCaseResult, *, always: bool) -> str:
    if case.status not in ("failed", "error") and not always:
        return ""
    line = summary_line(case.error_message or "")
    return f": {line}" if line else ""


MAX_LISTED_FLAKY = 5


def flaky_line(suites: Sequence[SuiteResult]) -> str | None:
    """One line naming a run's flaky cases (passed only on a retry); None if it has none."""
    flaky = [f"{suite.name}/{case.name}" for suite in suites for case in suite.test_cases
             if case.flaky]
    if not flaky:
        return None
    named = ", ".join(flaky[:MAX_LISTED_FLAKY])
    more = f" and {len(flaky) - MAX_LISTED_FLAKY} more" if len(flaky) > MAX_LISTED_FLAKY else ""
    return f"{output.WARN} {len(flaky)} flaky case(s) passed on retry: {named}{more}"
