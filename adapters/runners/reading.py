"""What one source of a script's results says: its cases, and where it contradicts itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from attune_registry.domain.results import TestCaseResult
from attune_registry.domain.vocabulary import CaseStatus

# CSI sequences (colours, cursor moves), charset switches like tput's ESC ( B, and other
# two-byte escapes.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[()*+][0-9A-Za-z]|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


@dataclass(frozen=True)
class Reading:
    """The cases one source reports (TAP, summary lines, a JSON report)."""

    source: str
    """How messages name the source: ``TAP on stdout``, ``the summary lines on stderr``."""
    cases: list[TestCaseResult]
    conflicts: list[str] = field(default_factory=list)
    """Contradictions inside the source; each is already an ``error`` case in ``cases``."""
    reported_failures: int = 0
    """Failures the source itself states (``not ok``, ``Failed: N``), which an exit code of 0
    contradicts; failures the reader derives (a test planned but never reported) are not."""


@dataclass(frozen=True)
class Counts:
    total: int
    passed: int
    failed: int  # failures and errors
    skipped: int

    @classmethod
    def of(cls, cases: Sequence[TestCaseResult]) -> Counts:
        statuses = [case.status for case in cases]
        return cls(total=len(statuses), passed=statuses.count("passed"),
                   failed=statuses.count("failed") + statuses.count("error"),
                   skipped=statuses.count("skipped"))

    def describe(self) -> str:
        """``3 tests (2 passed, 1 failed)``."""
        parts = [f"{n} {word}" for n, word in ((self.passed, "passed"), (self.failed, "failed"),
                                               (self.skipped, "skipped")) if n]
        noun = "test" if self.total == 1 else "tests"
        return f"{self.total} {noun}" + (f" ({', '.join(parts)})" if parts else "")


def numbered(prefix: str, status: CaseStatus, count: int, label: str | None = None,
             message: str | None = None) -> list[TestCaseResult]:
    """``count`` cases a source counted without naming them: ``prefix: failed #1``, …"""
    return [TestCaseResult(name=f"{prefix}: {label or status} #{n}", status=status,
                           error_message=message) for n in range(1, count + 1)]
