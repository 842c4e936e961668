"""What the dashboard's templates show, shaped from the read models: no I/O, no markup.

Templates stay simple when every value arrives as the words and numbers a person reads: times
in UTC without microseconds, durations in seconds, a registration's events as sentences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from attune_registry.domain.origin import ReleaseOrigin
from attune_registry.domain.results import summary_line

from attune_registry.projections.rows import RegistrationRow, TestExecutionJsonRow, TestExecutionRow

from attune_registry.adapters.contract import StoredEvent
from attune_registry.adapters.reads.timeline import (
    seconds as seconds,  # the templates show durations too
)
from attune_registry.adapters.reads.timeline import summarize
from attune_registry.adapters.web.charts import RunPoint

OUTPUT_CAP = 8 * 1024  # characters of a suite's stdout/stderr shown on a page
IN_FLIGHT = ("requested", "testing")
NO_RATE = "\N{EN DASH}"


def when(text: str | None) -> str:
    """An ISO 8601 time as ``2026-12-07 16:02:11 UTC``; empty for None."""
    if not text:
        return ""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def pass_rate(passed: int, failed: int) -> str:
    """``90%``; a dash when no case passed or failed (all skipped, or none ran)."""
    ran = passed + failed
    return f"{100 * passed / ran:.0f}%" if ran else NO_RATE


def run_point(row: TestExecutionJsonRow | TestExecutionRow) -> RunPoint:
    return RunPoint(id=row.id, when=when(row.execution_time), passed=row.passed,
                    failed=row.failed, skipped=row.skipped, duration_ms=row.duration_ms,
                    status=row.status)


def capped(text: str, limit: int = OUTPUT_CAP) -> str:
    """The end of ``text`` (where a failure usually is), said to be cut when it is."""
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} earlier characters not shown]\n{text[-limit:]}"


@dataclass(frozen=True)
class FailingCase:
    suite: str
    name: str
    status: str
    summary: str
    message: str
    attempts: int = 1


@dataclass(frozen=True)
class SuiteView:
    name: str
    runner: str
    status: str
    counts: str
    duration: str
    message: str
    isolation: str
    failing: list[FailingCase]
    stdout: str
    stderr: str
    flaky: list[FailingCase] = field(default_factory=list)
    """Cases that passed only on a retry, with their first failure."""


def suites_of(result: dict[str, Any]) -> list[SuiteView]:
    """A stored run's suites, each with its failing cases and capped output."""
    views = []
    for suite in result.get("test_suites") or []:
        failing = [FailingCase(suite=suite["name"], name=case["name"], status=case["status"],
                               summary=summary_line(case.get("error_message") or ""),
                               message=capped(case.get("error_message") or "", 4096))
                   for case in suite.get("test_cases") or []
                   if case.get("status") in ("failed", "error")]
        flaky = [FailingCase(suite=suite["name"], name=case["name"], status="flaky",
                             summary=summary_line(case.get("error_message") or ""),
                             message=capped(case.get("error_message") or "", 4096),
                             attempts=case.get("attempts") or 1)
                 for case in suite.get("test_cases") or [] if case.get("flaky")]
        isolation = suite.get("isolation") or {}
        views.append(SuiteView(
            name=suite["name"], runner=suite.get("runner_type", ""), status=suite["status"],
            counts=f"{suite['passed']} passed, {suite['failed']} failed, "
                   f"{suite['skipped']} skipped of {suite['total']}",
            duration=seconds(suite.get("duration_ms")), message=suite.get("message") or "",
            isolation=isolation.get("mechanism", ""), failing=failing,
            stdout=capped(suite.get("stdout") or ""), stderr=capped(suite.get("stderr") or ""),
            flaky=flaky))
    return views


@dataclass(frozen=True)
class TimelineEntry:
    """One registration of a ref, as the pack page's timeline shows it."""

    id: str
    version: str
    status: str
    when: str
    who: str
    how: str  # register or install, and from where
    flags: list[str] = field(default_factory=list)
    ended: str = ""  # why it is not (or no longer) active


def timeline_entry(row: RegistrationRow) -> TimelineEntry:
    flags = [name for name, on in (("forced despite failing tests", bool(row.forced)),
                                   ("--force", row.force and not row.forced),
                                   ("--replace", row.replace_active and not row.force),
                                   ("tests skipped", row.skip_tests),
                                   ("tests reused", bool(row.reused_run_id))) if on]
    how: str = row.trigger_reason
    if isinstance(row.origin, ReleaseOrigin):
        how = f"activate {row.origin.version} (a kept release)"
    elif row.origin is not None:
        how = f"install from {row.origin.source}"
    ended = ""
    if row.status == "rejected":
        by = f" by {row.cancelled_by}" if row.cancelled_by else ""
        ended = f"rejected{by}: {(row.reason or '').replace('_', ' ')}"
    elif row.status == "rolled_back":
        by = f" by {row.rolled_back_by}" if row.rolled_back_by else ""
        what = "unregistered" if row.reason == "unregister" else "rolled back"
        ended = f"{what}{by} at {when(row.rolled_back_at)}"
    if ended and row.note:
        ended += f", saying: {row.note}"
    return TimelineEntry(id=row.id, version=row.pack_version, status=row.status,
                         when=when(row.requested_at), who=row.requested_by, how=how,
                         flags=flags, ended=ended)


@dataclass(frozen=True)
class StoryLine:
    """One step of a registration in words, for the auditor's view."""

    when: str
    text: str
    tone: str = ""  # "good", "bad" or "" (the stylesheet colours them)
    details: list[str] = field(default_factory=list)


def story(registration_id: str, events: list[StoredEvent]) -> list[StoryLine]:
    """A registration's recorded events as sentences, in the words of ``attune audit
    --summary`` (``adapters.reads.timeline``), its rollback or unregister included."""
    return [StoryLine(when(step.at), step.text, step.tone, step.details)
            for step in summarize(registration_id, events).timeline]


def raw_events(events: list[StoredEvent]) -> list[tuple[int, str, str]]:
    """Each stored event as (version, topic, indented JSON of its state)."""
    return [(event.originator_version, event.topic,
             json.dumps(event.state, indent=2, sort_keys=True, default=str))
            for event in events]
