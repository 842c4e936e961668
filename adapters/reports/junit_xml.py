"""A stored test run (the ``test_result`` document) as JUnit XML, the report CI systems show.

Not to be confused with ``adapters.runners.junit``, which *reads* the JUnit XML pytest writes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attune_registry.domain.results import TestResult

# What XML 1.0 cannot carry, even escaped: C0 controls other than tab, newline and carriage
# return, lone surrogates, and U+FFFE/U+FFFF. They are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The count of ``<testsuite>`` each case status adds to (besides ``tests``).
_COUNTED = {"failed": "failures", "error": "errors", "skipped": "skipped"}

SUITE_CASE = "(suite)"
"""The name of the case that stands for a suite that did not pass yet reported no failing case
(it timed out, crashed or could not start), so that CI does not show it as green."""


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)


def junit_xml(result: TestResult | Mapping[str, Any]) -> bytes:
    """The run as a UTF-8 JUnit XML document: ``<testsuites>``, a ``<testsuite>`` per suite and
    a ``<testcase>`` per case. Takes the stored document as a dict too (a run still going
    has the suites recorded so far)."""
    run = result.to_dict() if isinstance(result, TestResult) else result
    root = ET.Element("testsuites", name=clean(
        f"{run.get('pack_ref', '')} {run.get('pack_version', '')}".strip()))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in run.get("test_suites") or []:
        counts = _suite(root, suite, str(run.get("execution_time", "")))
        for key in totals:
            totals[key] += counts[key]
    _set_counts(root, totals, int(run.get("duration_ms") or 0))
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_junit(path: Path, result: TestResult | Mapping[str, Any]) -> None:
    """Write the run's JUnit XML to ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(result))


def _suite(root: ET.Element, suite: Mapping[str, Any], timestamp: str) -> dict[str, int]:
    name = clean(str(suite.get("name", "")))
    element = ET.SubElement(root, "testsuite", name=name)
    if timestamp:
        element.set("timestamp", clean(timestamp))
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    cases = list(suite.get("test_cases") or [])
    reruns = _rerun_failures(suite)
    for case in cases:
        status = _case(element, case, name, reruns)
        counts["tests"] += 1
        if status in _COUNTED:
            counts[_COUNTED[status]] += 1
    if suite.get("status", "passed") != "passed" and not counts["failures"] + counts["errors"]:
        _case(element, {"name": SUITE_CASE, "status": "error",
                        "duration_ms": suite.get("duration_ms") or 0,
                        "error_message": _suite_problem(suite)}, name)
        counts["tests"] += 1
        counts["errors"] += 1
    for tag, key in (("system-out", "stdout"), ("system-err", "stderr")):
        if suite.get(key):
            ET.SubElement(element, tag).text = clean(str(suite[key]))
    _set_counts(element, counts, int(suite.get("duration_ms") or 0))
    return counts


def _case(parent: ET.Element, case: Mapping[str, Any], suite_name: str,
          reruns: Mapping[str, list[str]] | None = None) -> str:
    classname, name = _split(clean(str(case.get("name", ""))), suite_name)
    element = ET.SubElement(parent, "testcase", classname=classname, name=name,
                            time=_seconds(int(case.get("duration_ms") or 0)))
    status = str(case.get("status", "passed"))
    message = clean(str(case.get("error_message") or ""))
    if status in ("failed", "error"):
        child = ET.SubElement(element, "failure" if status == "failed" else "error",
                              message=message.split("\n", 1)[0] or status)
        child.text = message or None
    elif status == "skipped":
        skipped = ET.SubElement(element, "skipped")
        if message:
            skipped.set("message", message)
    elif case.get("flaky"):
        # Maven Surefire's form, which CI systems read: a passed case with a child per
        # failed attempt (the first, then those of the reruns before it passed).
        failures = [message, *(reruns or {}).get(str(case.get("name", "")), [])]
        for failure in failures:
            flaky = ET.SubElement(element, "flakyFailure",
                                  message=failure.split("\n", 1)[0] or "failed")
            flaky.text = failure or None
    return status


def _rerun_failures(suite: Mapping[str, Any]) -> dict[str, list[str]]:
    """The failure messages of each case in the suite's reruns, in order."""
    found: dict[str, list[str]] = {}
    for attempt in suite.get("retries") or []:
        for case in attempt.get("test_cases") or []:
            if case.get("status") in ("failed", "error"):
                found.setdefault(str(case.get("name", "")), []).append(
                    clean(str(case.get("error_message") or "")))
    return found


def _split(case_name: str, suite_name: str) -> tuple[str, str]:
    """``(classname, name)``: the dotted prefix of the case name (dots inside a parameter's
    brackets, as in ``test_x[1.5]``, do not count), or the suite's name."""
    head = case_name.split("[", 1)[0]
    dot = head.rfind(".")
    if dot <= 0 or dot == len(head) - 1:
        return suite_name, case_name
    return case_name[:dot], case_name[dot + 1:]


def _suite_problem(suite: Mapping[str, Any]) -> str:
    if suite.get("message"):
        return clean(str(suite["message"]))
    if suite.get("timed_out"):
        return "the suite timed out"
    return f"the suite ended with status {suite.get('status')} (exit code {suite.get('exit_code')})"


def _set_counts(element: ET.Element, counts: Mapping[str, int], duration_ms: int) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))
    element.set("time", _seconds(duration_ms))


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"
