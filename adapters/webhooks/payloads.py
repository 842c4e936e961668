"""What a webhook receives: ``{"type", "timestamp", "data"}`` for each event it subscribed to.

Payloads are made from the event log alone (the event, and the events of its aggregate
before it), so the same event always gives the same payload, also when made again later.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from attune_registry.domain.errors import failing_cases
from attune_registry.domain.registration import Registration
from attune_registry.domain.suite_event import SuiteCompleted
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.webhook import TEST_EVENT_TYPE

# A payload names the first failing cases; ``more_failing_cases`` counts the others.
MAX_FAILING_CASES = 20
SUMMARY_FIELDS = ("status", "total_tests", "passed", "failed", "skipped", "pass_rate",
                  "duration_ms")


@dataclass(frozen=True)
class Message:
    """One event as webhooks see it: its type, the body to send, and what it is about."""

    event_type: str
    body: str
    registration_id: str | None = None
    test_run_id: str | None = None
    ref: str | None = None


def message_of(event: Any, history: Callable[[UUID, int], list[Any]],
               public_url: str) -> Message | None:
    """The message of ``event`` for webhooks, or None when no webhook type covers it.

    Args:
        event: a domain event of the log.
        history: ``history(aggregate_id, version)``: the aggregate's events up to that one.
        public_url: the registry's address for its clients ("" for links as paths).
    """
    if isinstance(event, Registration.RegistrationCommitted | Registration.RegistrationRejected):
        earlier = history(event.originator_id, event.originator_version)
        return _registration_message(event, earlier[0], _suites(earlier), public_url)
    if isinstance(event, TestRun.TestRunCompleted):
        earlier = history(event.originator_id, event.originator_version)
        return _test_run_message(event, earlier[0], _suites(earlier), public_url)
    return None


def _suites(events: list[Any]) -> list[dict[str, Any]]:
    """The suites the events recorded, with their cases (the aggregates keep only counts)."""
    return [{"name": e.name, "status": e.status, "message": e.message,
             "test_cases": e.test_cases} for e in events if isinstance(e, SuiteCompleted)]


def _registration_message(event: Registration.RegistrationCommitted
                          | Registration.RegistrationRejected,
                          requested: Registration.PackRegistrationRequested,
                          suites: list[dict[str, Any]], public_url: str) -> Message:
    committed = isinstance(event, Registration.RegistrationCommitted)
    forced = isinstance(event, Registration.RegistrationCommitted) and event.forced
    registration_id = str(event.originator_id)
    ref = requested.pack_ref
    data: dict[str, Any] = {
        "registration_id": registration_id,
        "ref": ref,
        "version": requested.pack_version,
        "outcome": ("forced" if forced else "committed") if committed else "rejected",
        "trigger": requested.trigger_reason,
        "requested_by": requested.requested_by,
        "tests_skipped": requested.skip_tests,
        "summary": _summary(event.summary),
        **_failing(suites),
    }
    if isinstance(event, Registration.RegistrationRejected):
        data |= {"reason": event.reason, "message": event.message}
    data["links"] = _links(public_url, registration_id, ref)
    event_type = "registration.committed" if committed else "registration.rejected"
    return Message(event_type, _body(event_type, event.timestamp, data),
                   registration_id=registration_id, ref=ref)


def _test_run_message(event: TestRun.TestRunCompleted, requested: TestRun.TestRunRequested,
                      suites: list[dict[str, Any]], public_url: str) -> Message:
    ref = requested.pack_ref
    summary = _summary(event.summary)
    data: dict[str, Any] = {
        "test_run_id": str(event.originator_id),
        "registration_id": str(requested.registration_id),
        "ref": ref,
        "version": requested.pack_version,
        "status": summary["status"] if summary else "error",
        "error": event.error,
        "requested_by": requested.requested_by,
        "summary": summary,
        **_failing(suites),
        "links": _links(public_url, str(requested.registration_id), ref),
    }
    return Message("test_run.completed", _body("test_run.completed", event.timestamp, data),
                   registration_id=str(requested.registration_id),
                   test_run_id=str(event.originator_id), ref=ref)


def test_message(webhook_id: UUID, now: datetime) -> Message:
    """The message ``attune webhook test`` sends."""
    return Message(TEST_EVENT_TYPE, _body(TEST_EVENT_TYPE, now, {
        "webhook_id": str(webhook_id),
        "message": "A test delivery from the Attune pack registry"}))


def _summary(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if summary is None else {name: summary.get(name) for name in SUMMARY_FIELDS}


def _failing(suites: list[dict[str, Any]]) -> dict[str, Any]:
    failing = failing_cases({"test_suites": suites})
    return {"failing_cases": failing[:MAX_FAILING_CASES],
            "more_failing_cases": max(0, len(failing) - MAX_FAILING_CASES)}


def _links(public_url: str, registration_id: str, ref: str) -> dict[str, str]:
    api = f"{public_url}/api/v1"
    return {"registration": f"{api}/registrations/{registration_id}",
            "pack": f"{api}/packs/{ref}", "tests": f"{api}/packs/{ref}/tests"}


def _body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    return json.dumps({"type": event_type, "timestamp": timestamp.isoformat(), "data": data},
                      separators=(",", ":"), ensure_ascii=False)
