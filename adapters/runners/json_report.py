"""Reading a shell script's JSON report (``result_format: json``): its whole stdout is one
JSON object with counts and, optionally, its cases. docs/pack-yaml.md has the schema."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.runners.reading import Counts, Reading, numbered

Count = Annotated[int, msgspec.Meta(ge=0)]
# What CappedOutput puts where it dropped the middle of a stream.
DROPPED = re.compile(r"\n\[\.\.\. \d+ bytes of output dropped \.\.\.\]\n")
SOURCE = "the JSON report"


class UnreadableReportError(ValueError):
    """Raised when stdout holds no valid JSON report; the message says what is wrong."""


class JsonCase(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of ``tests``."""

    name: str
    status: Literal["passed", "failed", "error", "skipped"]
    duration_ms: Count = 0
    message: str | None = None
    output: str | None = None


class JsonReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The object a ``json`` script prints: counts first, the cases if it knows them."""

    total: Count
    passed: Count
    failed: Count
    skipped: Count = 0
    errors: Count = 0
    duration_ms: Count | None = None
    tests: list[JsonCase] | None = None


def read_json_report(stdout: str, prefix: str, limit: int) -> Reading:
    """The cases of the report on ``stdout``.

    The counts must add up (``total = passed + failed + errors + skipped``) and, when ``tests``
    is given, match it; otherwise the source contradicts itself and that is an ``error`` case.

    Raises:
        UnreadableReportError: stdout is not one JSON object of this schema, or was cut short.
    """
    if DROPPED.search(stdout):
        raise UnreadableReportError(f"stdout is larger than {limit // 2**20} MiB")
    if not stdout.strip():
        raise UnreadableReportError("stdout is empty")
    try:
        report = msgspec.json.decode(stdout.encode(), type=JsonReport, strict=True)
    except msgspec.ValidationError as exc:
        raise UnreadableReportError(str(exc).replace("`$", "`report")) from None
    except msgspec.DecodeError as exc:
        raise UnreadableReportError(f"stdout is not one JSON object ({exc})") from None
    counts = Counts(total=report.total, passed=report.passed,
                    failed=report.failed + report.errors, skipped=report.skipped)
    if report.tests is None:
        cases = (numbered(prefix, "passed", report.passed)
                 + numbered(prefix, "failed", report.failed)
                 + numbered(prefix, "error", report.errors)
                 + numbered(prefix, "skipped", report.skipped))
    else:
        cases = [TestCaseResult(name=f"{prefix}: {case.name}", status=case.status,
                                duration_ms=case.duration_ms,
                                error_message=case.message or case.output or None)
                 for case in report.tests]
    conflicts: list[str] = []
    parts = report.passed + report.failed + report.errors + report.skipped
    if report.total != parts:
        conflicts.append(f"{SOURCE} says total {report.total} but passed + failed + errors + "
                         f"skipped is {parts}")
    elif report.tests is not None and Counts.of(cases) != counts:
        conflicts.append(f"{SOURCE}'s counts say {counts.describe()} but its tests list "
                         f"{Counts.of(cases).describe()}")
    cases += [TestCaseResult(name=prefix, status="error", error_message=c) for c in conflicts]
    return Reading(source=SOURCE, cases=cases, conflicts=conflicts,
                   reported_failures=report.failed + report.errors)
