"""Results files that test processes write as JSON lines: followed live, read after."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.results import TestCaseResult
from domain.vocabulary import CASE_STATUSES, CaseStatus

POLL_SECONDS = 0.1


class CaseFollower:
    """Reads JSON lines as they are appended and reports each finished case.

    Use as a context manager around the process run; on exit it reads what is left.
    """

    def __init__(self, path: Path, on_case: Callable[[TestCaseResult], None] | None) -> None:
        self.path = path
        self.on_case = on_case
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> CaseFollower:
        if self.on_case is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.on_case is not None:
            self._stop.set()
            self._thread.join()

    def _follow(self) -> None:
        handle = None
        buffer = ""
        try:
            while True:
                stopping = self._stop.is_set()
                if handle is None and self.path.exists():
                    handle = open(self.path, encoding="utf-8", errors="replace")  # noqa: SIM115
                if handle is not None:
                    buffer += handle.read()
                    *lines, buffer = buffer.split("\n")
                    for line in lines:
                        self._report(line)
                if stopping:
                    return
                self._stop.wait(POLL_SECONDS)
        finally:
            if handle is not None:
                handle.close()

    def _report(self, line: str) -> None:
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError:
            return
        if isinstance(record, dict) and "name" in record and "status" in record:
            assert self.on_case is not None
            try:
                self.on_case(TestCaseResult(name=str(record["name"]),
                                            status=case_status(record["status"])))
            except Exception:
                pass


@dataclass
class CaseReport:
    """What a collector wrote: finished cases, the case it was in, whether it got to the end."""

    cases: list[TestCaseResult] = field(default_factory=list)
    running: str | None = None  # announced but never finished
    done: bool = False  # the collector got to the end of the suite


def read_report(results: Path) -> CaseReport:
    report = CaseReport()
    if not results.exists():
        return report
    with open(results, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if "started" in record:
                report.running = str(record["started"])
            elif "name" in record:
                report.running = None
                report.cases.append(TestCaseResult(
                    name=str(record["name"]), status=case_status(record["status"]),
                    duration_ms=int(record.get("duration_ms") or 0),
                    error_message=record.get("error_message"),
                ))
            elif record.get("done"):
                report.done = True
    return report


def case_status(reported: object) -> CaseStatus:
    """A status as a results file reports it. The file is written inside the test's process,
    which may be hostile: a status that is none of ours is an ``error``."""
    return next((status for status in CASE_STATUSES if status == reported), "error")
