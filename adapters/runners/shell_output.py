"""How a shell script's output becomes test cases: TAP, summary lines and the exit code (or a
JSON report), read by fixed rules, and what happens when they disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass

from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.runners.json_report import UnreadableReportError, read_json_report
from attune_registry.adapters.runners.reading import Counts, Reading, numbered, strip_ansi
from attune_registry.adapters.runners.tap import read_tap

SUMMARY_LABELS = {"total": "Total Tests:", "passed": "Passed:", "failed": "Failed:",
                  "skipped": "Skipped:"}
# Every raw output line the readers below could use (a superset: they decide), so that these
# lines can be kept from all of a script's output, not only from its capped head and tail.
# YAML markers are kept so that a TAP reader can skip the diagnostics between them.
RESULT_LINES = re.compile(rb"(?m)^(?:[ \t\r]|\x1b[^A-Za-z\n]*[A-Za-z])*"
                          rb"(?:(?:ok|not ok|1\.\.|TAP version|Bail out!|Total Tests:|Passed:"
                          rb"|Failed:|Skipped:).*|(?:---|\.\.\.)[ \t\r]*)$")

__all__ = ["RESULT_LINES", "ScriptReport", "cases_from_output", "read_json_output",
           "read_output", "read_summary", "strip_ansi"]


@dataclass(frozen=True)
class ScriptReport:
    """What one script reported: its cases, and the contradictions its suite's message names
    (each already makes the suite fail through a case)."""

    cases: list[TestCaseResult]
    conflicts: list[str]
    contradicted: bool = False
    """Whether its sources contradict each other (not merely exit 0 beside stated failures):
    then no count of it can be trusted, and its suite is an error, which no ``min_pass_rate``
    accepts."""


def read_summary(text: str, prefix: str, stream: str = "stdout") -> Reading | None:
    """Cases from ``Total Tests: / Passed: / Failed: / Skipped:`` lines (colours stripped).

    The last value printed for each label wins (a progress line early on does not); without a
    total or a passed count there is no summary. Individual names are unknown, so cases are
    numbered. A total that differs from the sum of the parts is an error: more is unaccounted
    for, less means the counts contradict each other.
    """
    counts: dict[str, int] = {}
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        for key, label in SUMMARY_LABELS.items():
            if line.startswith(label):
                value = line[len(label):].split()
                if value and value[0].isdigit():
                    counts[key] = int(value[0])
    if "total" not in counts or "passed" not in counts:
        return None
    source = f"the summary lines on {stream}"
    total, passed = counts["total"], counts["passed"]
    failed, skipped = counts.get("failed", 0), counts.get("skipped", 0)
    cases = (numbered(prefix, "passed", passed) + numbered(prefix, "failed", failed)
             + numbered(prefix, "skipped", skipped))
    conflicts = []
    parts = passed + failed + skipped
    if total > parts:
        # The rest is unaccounted for, so it cannot be a pass.
        cases += numbered(prefix, "error", total - parts, label="unaccounted",
                          message="counted in Total Tests but not as passed, failed or skipped")
        conflicts.append(f"{source} count Total Tests: {total} but only {parts} as passed, "
                         "failed or skipped")
    elif total < parts:
        message = (f"{source} count Total Tests: {total} but {parts} as passed, failed or "
                   "skipped")
        cases.append(TestCaseResult(name=prefix, status="error", error_message=message))
        conflicts.append(message)
    return Reading(source=source, cases=cases, conflicts=conflicts, reported_failures=failed)


def read_output(stdout: str, stderr: str, exit_code: int | None,
                prefix: str) -> ScriptReport:
    """A script's report from TAP, summary lines and its exit code (``result_format: simple``).

    Every source present is read: TAP (stdout, then stderr), then summary lines (stdout, then
    stderr). The first one found gives the cases; every other one must count the same, and the
    exit code must agree with them all (see ``_judge``). Without TAP or summary lines, the
    exit code alone is one case.
    """
    readings = [reading for reading in (
        read_tap(stdout, prefix, "stdout"), read_tap(stderr, prefix, "stderr"),
        read_summary(stdout, prefix, "stdout"), read_summary(stderr, prefix, "stderr"),
    ) if reading is not None]
    if readings:
        return _judge(readings, exit_code, prefix)
    if exit_code is None:
        return ScriptReport(cases=[], conflicts=[])
    if exit_code == 0:
        return ScriptReport(cases=[TestCaseResult(name=prefix, status="passed")], conflicts=[])
    return ScriptReport(cases=[TestCaseResult(name=prefix, status="failed",
                                              error_message=f"exited with code {exit_code}")],
                        conflicts=[])


def read_json_output(stdout: str, exit_code: int | None, prefix: str,
                     limit: int) -> ScriptReport:
    """A script's report from the JSON object on its stdout (``result_format: json``); TAP and
    summary lines are not read. The exit code must agree with it."""
    try:
        reading = read_json_report(stdout, prefix, limit)
    except UnreadableReportError as exc:
        if exit_code is None:
            return ScriptReport(cases=[], conflicts=[])  # killed mid-report: the timeout says it
        message = f"no valid JSON report on stdout (result_format: json): {exc}"
        return ScriptReport(cases=[TestCaseResult(name=prefix, status="error",
                                                  error_message=message)], conflicts=[])
    return _judge([reading], exit_code, prefix)


def cases_from_output(stdout: str, stderr: str, exit_code: int | None,
                      prefix: str) -> list[TestCaseResult]:
    """The cases of ``read_output``."""
    return read_output(stdout, stderr, exit_code, prefix).cases


def _judge(readings: list[Reading], exit_code: int | None, prefix: str) -> ScriptReport:
    """The first reading's cases, plus an ``error`` case for each contradiction: another
    reading that counts differently, or a non-zero exit although no test failed. An exit code
    of 0 beside stated failures is named too (the failures already fail the suite)."""
    primary = readings[0]
    cases = list(primary.cases)
    conflicts = list(primary.conflicts)
    contradicted = bool(conflicts)
    counted = Counts.of(primary.cases)
    for other in readings[1:]:
        if (theirs := Counts.of(other.cases)) != counted:
            message = (f"results disagree: {primary.source}: {counted.describe()}; "
                       f"{other.source}: {theirs.describe()}")
            cases.append(TestCaseResult(name=prefix, status="error", error_message=message))
            conflicts.append(message)
            contradicted = True
    if exit_code == 0:
        stated = next((r for r in readings if r.reported_failures), None)
        if stated is not None:
            conflicts.append(f"the script exited with 0, but {stated.reported_failures} "
                             f"failed according to {stated.source}")
    elif exit_code is not None and not any(c.status in ("failed", "error") for c in cases):
        message = (f"the script exited with code {exit_code}, but no test failed according "
                   f"to {primary.source}")
        cases.append(TestCaseResult(name=prefix, status="error", error_message=message))
        conflicts.append(message)
        contradicted = True
    return ScriptReport(cases=cases, conflicts=[f"{prefix}: {c}" for c in conflicts],
                        contradicted=contradicted)
