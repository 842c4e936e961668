"""How a shell suite's output becomes test cases: TAP, summary lines, or the exit code."""

from __future__ import annotations

import re

from domain.results import TestCaseResult

# CSI sequences (colours, cursor moves), charset switches like tput's ESC ( B, and other
# two-byte escapes.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[()*+][0-9A-Za-z]|[@-Z\\-_])")
TAP_PLAN = re.compile(r"^1\.\.(\d+)")
# Results are lowercase in TAP ("ok", "not ok"); only the directives are case-insensitive, so a
# log line such as "OK: setup done" is not mistaken for a result.
TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*"
                      r"(?:#\s*((?i:SKIP|TODO))\b\s*(.*))?$")
SUMMARY_LABELS = {"total": "Total Tests:", "passed": "Passed:", "failed": "Failed:",
                  "skipped": "Skipped:"}
# Every raw output line the parsers below could use (a superset: they decide), so that these
# lines can be kept from all of a script's output, not only from its capped head and tail.
RESULT_LINES = re.compile(rb"(?m)^(?:[ \t\r]|\x1b[^A-Za-z\n]*[A-Za-z])*"
                          rb"(?:ok|not ok|1\.\.|Total Tests:|Passed:|Failed:|Skipped:).*$")


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def parse_tap(text: str, prefix: str) -> list[TestCaseResult] | None:
    """Cases from TAP (``ok 1 - name``, ``not ok 2``, ``# SKIP``, ``# TODO``), or None if no TAP.

    Tests the plan announces but the output never reports are counted as errors, so a script
    that dies half-way cannot look complete. ``not ok … # TODO`` is an expected failure and
    counts as passed, as TAP consumers treat it.
    """
    cases: list[TestCaseResult] = []
    planned: int | None = None
    for raw in strip_ansi(text).splitlines():
        line = raw.strip()
        if plan := TAP_PLAN.match(line):
            planned = int(plan.group(1))
            continue
        match = TAP_LINE.match(line)
        if not match:
            continue
        verdict, number, description, directive, reason = match.groups()
        label = description or f"test {number or len(cases) + 1}"
        name = f"{prefix}: {label}"
        directive = (directive or "").upper()
        if directive == "SKIP":
            cases.append(TestCaseResult(name=name, status="skipped", error_message=reason or None))
        elif verdict == "ok" or directive == "TODO":
            cases.append(TestCaseResult(name=name, status="passed"))
        else:
            cases.append(TestCaseResult(name=name, status="failed", error_message=reason or None))
    if not cases and planned is None:
        return None
    for missing in range(len(cases) + 1, (planned or 0) + 1):
        cases.append(TestCaseResult(name=f"{prefix}: test {missing}", status="error",
                                    error_message="planned but never reported"))
    return cases


def parse_summary(text: str, prefix: str) -> list[TestCaseResult] | None:
    """Cases from ``Total Tests: / Passed: / Failed: / Skipped:`` lines (colours stripped).

    The last value printed for each label wins (a progress line early on does not); without a
    total or a passed count there is no summary. Individual names are unknown, so cases are
    numbered.
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
    passed, failed, skipped = counts["passed"], counts.get("failed", 0), counts.get("skipped", 0)
    # A total larger than the parts: the rest is unaccounted for, so it cannot be a pass.
    unaccounted = max(counts["total"] - passed - failed - skipped, 0)
    cases = [TestCaseResult(name=f"{prefix}: passed #{n}", status="passed") for n in
             range(1, passed + 1)]
    cases += [TestCaseResult(name=f"{prefix}: failed #{n}", status="failed") for n in
              range(1, failed + 1)]
    cases += [TestCaseResult(name=f"{prefix}: skipped #{n}", status="skipped") for n in
              range(1, skipped + 1)]
    cases += [TestCaseResult(name=f"{prefix}: unaccounted #{n}", status="error",
                             error_message="counted in Total Tests but not as passed, failed "
                                           "or skipped") for n in range(1, unaccounted + 1)]
    return cases


def cases_from_output(stdout: str, stderr: str, exit_code: int | None,
                      prefix: str) -> list[TestCaseResult]:
    """TAP first, then summary lines, else one case whose status is the exit code's."""
    for parse in (parse_tap, parse_summary):
        for stream in (stdout, stderr):
            cases = parse(stream, prefix)
            if cases is not None:  # an empty list is a report too: "1..0" ran nothing
                return cases
    if exit_code is None:
        return []
    if exit_code == 0:
        return [TestCaseResult(name=prefix, status="passed")]
    return [TestCaseResult(name=prefix, status="failed",
                           error_message=f"exited with code {exit_code}")]
