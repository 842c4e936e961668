"""Parsing a JUnit XML report (as pytest writes it) into test cases."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from attune_registry.domain.results import TestCaseResult
from attune_registry.domain.vocabulary import CaseStatus

MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_MESSAGE = 8000
# A case's child element, if any, and the status it means (first match wins).
_STATUS_OF_ELEMENT: tuple[tuple[str, CaseStatus], ...] = (
    ("error", "error"), ("failure", "failed"), ("skipped", "skipped"))


class ReportError(Exception):
    """Raised when the report is missing, too large or not JUnit XML."""


def read_junit(path: Path) -> list[TestCaseResult]:
    """Every ``testcase`` of the report, in document order.

    A case with an ``error`` child (collection, setup or teardown error) is an error, one with a
    ``failure`` child failed, one with ``skipped`` (including pytest's xfail) skipped.
    """
    try:
        size = path.stat().st_size
    except OSError:
        raise ReportError("the runner wrote no JUnit report") from None
    if size > MAX_REPORT_BYTES:
        raise ReportError(f"the JUnit report is {size} bytes, over {MAX_REPORT_BYTES}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"the JUnit report cannot be read: {exc.strerror}") from None
    return parse_junit(data)


def parse_junit(data: bytes) -> list[TestCaseResult]:
    """``read_junit`` of a report's bytes (as they came through the results pipe)."""
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(f"the JUnit report is {len(data)} bytes, over {MAX_REPORT_BYTES}")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ReportError(f"the JUnit report is not valid XML: {exc}") from None
    return [_case(element) for element in root.iter("testcase")]


def _case(element: ElementTree.Element) -> TestCaseResult:
    classname, name = element.get("classname", ""), element.get("name", "?")
    status: CaseStatus = "passed"
    message = None
    for kind, mapped in _STATUS_OF_ELEMENT:
        child = element.find(kind)
        if child is not None:
            status = mapped
            message = _message(child)
            break
    try:
        seconds = float(element.get("time") or 0)
    except ValueError:
        seconds = 0.0
    return TestCaseResult(name=f"{classname}.{name}" if classname else name, status=status,
                          duration_ms=round(seconds * 1000), error_message=message)


def _message(child: ElementTree.Element) -> str | None:
    text = "\n".join(part for part in (child.get("message"), child.text) if part)
    if len(text) > MAX_MESSAGE:
        text = "[...]\n" + text[-MAX_MESSAGE:]
    return text or None
