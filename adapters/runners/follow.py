"""The JSON lines a collector writes inside the test's process, read as they arrive.

The lines come from the sandbox, where the test may be hostile: every record is checked, a
status that is none of ours is an error, and messages and case counts are bounded here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from attune_registry.domain.results import TestCaseResult
from attune_registry.domain.vocabulary import CASE_STATUSES, CaseStatus

MAX_MESSAGE = 8000
MAX_NAME = 1000
MAX_CASES = 50_000
# A collector writes two lines per case: decoding them is most of what a case costs here.
# msgspec reads the lines a collector writes (UTF-8 JSON) several times faster than json;
# what it refuses (NaN, UTF-16, lone surrogates, huge numbers, ...) falls back to json, so a
# line means what json.loads makes of it, as before.
_decode = msgspec.json.Decoder().decode


@dataclass
class CaseReport:
    """What a collector wrote: finished cases, the case it was in, whether it got to the end."""

    cases: list[TestCaseResult] = field(default_factory=list)
    running: str | None = None  # announced but never finished
    done: bool = False  # the collector got to the end of the suite
    too_many: bool = False  # more cases than MAX_CASES: the rest were not kept
    broken: str | None = None  # why the report breaks the collector's protocol, if it does


class CaseStream:
    """Builds a ``CaseReport`` from lines, telling ``on_case`` of each finished case.

    ``strict``: the lines come from the unittest collector, which announces every case before
    it runs, reports it once, and ends with the number it ran. Lines that break that order
    (written by test code into the collector's pipe) make the report ``broken``: never a pass.
    """

    def __init__(self, on_case: Callable[[TestCaseResult], None] | None = None, *,
                 strict: bool = False) -> None:
        self.report = CaseReport()
        self.on_case = on_case
        self.strict = strict
        self._finished: set[str] = set()

    def feed(self, line: bytes | str) -> None:
        record = _record(line)
        if not isinstance(record, dict):
            return
        report = self.report
        if "started" in record:
            report.running = _text(record["started"], MAX_NAME)
        elif "name" in record:
            name = _text(record["name"], MAX_NAME)
            if self.strict and (name != report.running or name in self._finished):
                self._break(f"case {name!r} was reported without being started, or twice")
            self._finished.add(name)
            report.running = None
            if len(report.cases) >= MAX_CASES:
                report.too_many = True
                return
            case = TestCaseResult(
                name=name, status=case_status(record.get("status")),
                duration_ms=_duration(record.get("duration_ms")),
                error_message=(None if record.get("error_message") is None
                               else _text(record["error_message"], MAX_MESSAGE)))
            report.cases.append(case)
            if self.on_case is not None:
                try:
                    self.on_case(case)
                except Exception:
                    pass  # progress display only: never lose a result over it
        elif record.get("done") is True:
            if self.strict and (report.done or record.get("tests_run") != len(self._finished)):
                self._break("the end of the suite was reported out of order")
            report.done = report.broken is None

    def _break(self, why: str) -> None:
        if self.report.broken is None:
            self.report.broken = f"the results break the collector's protocol: {why}"
        self.report.done = False


def _record(line: bytes | str) -> Any:
    """The JSON value of ``line``, as ``json.loads`` reads it; None if it is not JSON."""
    try:
        return _decode(line)
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a line cut short by a kill


def report_of(lines: Iterable[bytes | str]) -> CaseReport:
    stream = CaseStream()
    for line in lines:
        stream.feed(line)
    return stream.report


def case_status(reported: object) -> CaseStatus:
    """A status as a collector reports it; one that is none of ours is an ``error``."""
    return _STATUSES.get(reported, "error") if isinstance(reported, str) else "error"


_STATUSES: dict[str, CaseStatus] = {status: status for status in CASE_STATUSES}


def _text(value: object, limit: int) -> str:
    text = value if type(value) is str else str(value)
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def _duration(value: object) -> int:
    return value if isinstance(value, int) and 0 <= value < 2**53 else 0
