"""A registration's progress, read from its events: the updates a watcher follows, and the
summary of its suites that ``GET /registrations/{id}`` shows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.manifest import PackManifest, required_testing
from attune_registry.domain.registration import Registration
from attune_registry.domain.results import TestCaseResult
from attune_registry.domain.vocabulary import RegistrationStatus

from attune_registry.adapters.contract import (
    MAX_FAILURES,
    DecidedUpdate,
    RecordedSuite,
    RegistrationProgress,
    RegistrationUpdate,
    RequestedUpdate,
    SuiteUpdate,
    Worker,
)

POLL_SECONDS = 0.5
"""How often a watcher reads the log for new events (one indexed read of one stream)."""
REQUESTED_TOPIC = Registration.PackRegistrationRequested.TOPIC
"""The topic of a registration's first event: what tells a registration's id from others'."""
DECISION_TOPICS = (Registration.RegistrationCommitted.TOPIC,
                   Registration.RegistrationRejected.TOPIC)

STATUS_AFTER: dict[type[Any], RegistrationStatus] = {
    Registration.PackRegistrationRequested: "requested",
    Registration.TestSuiteCompleted: "testing",
    Registration.RegistrationCommitted: "committed",
    Registration.RegistrationRejected: "rejected",
    Registration.RegistrationRolledBack: "rolled_back",
}


def updates_of(events: Iterable[object]) -> list[RegistrationUpdate]:
    """The updates among a registration's domain events, in order, up to its decision (what
    follows it, such as a rollback, is not progress)."""
    found: list[RegistrationUpdate] = []
    for event in events:
        update = update_of(event)
        if update is not None:
            found.append(update)
            if isinstance(update, DecidedUpdate):
                break
    return found


def update_of(event: object) -> RegistrationUpdate | None:
    """The update one event makes; None for events that are not progress."""
    match event:
        case Registration.PackRegistrationRequested():
            return RequestedUpdate(
                originator_version=event.originator_version, recorded_at=event.timestamp,
                registration_id=str(event.originator_id), ref=event.pack_ref,
                pack_version=event.pack_version, requested_by=event.requested_by,
                suites=expected_suites(event.manifest, skip_tests=event.skip_tests),
                skip_tests=event.skip_tests)
        case Registration.TestSuiteCompleted():
            failing = [case for case in event.test_cases
                       if case.get("status") in ("failed", "error")]
            return SuiteUpdate(**msgspec.structs.asdict(recorded_suite(event)),
                               originator_version=event.originator_version,
                               failures=msgspec.convert(failing[:MAX_FAILURES],
                                                        list[TestCaseResult]))
        case Registration.RegistrationCommitted():
            return DecidedUpdate(
                originator_version=event.originator_version, recorded_at=event.timestamp,
                status="committed", reason=None, message=None, forced=event.forced,
                tests_skipped=event.tests_skipped, actor=None, summary=event.summary)
        case Registration.RegistrationRejected():
            return DecidedUpdate(
                originator_version=event.originator_version, recorded_at=event.timestamp,
                status="rejected", reason=event.reason, message=event.message, forced=False,
                tests_skipped=False, actor=event.actor, summary=event.summary)
    return None


def progress_of(events: Iterable[object]) -> RegistrationProgress:
    """Where the suites of a registration stand after ``events`` (all of its events)."""
    status: RegistrationStatus = "requested"
    expected: list[str] = []
    recorded: list[RecordedSuite] = []
    for event in events:
        status = STATUS_AFTER.get(type(event), status)
        if isinstance(event, Registration.PackRegistrationRequested):
            expected = expected_suites(event.manifest, skip_tests=event.skip_tests)
        elif isinstance(event, Registration.TestSuiteCompleted):
            recorded.append(recorded_suite(event))
    done = {suite.name for suite in recorded}
    return RegistrationProgress(status=status, expected=expected, recorded=recorded,
                                pending=[name for name in expected if name not in done])


def recorded_suite(event: Registration.TestSuiteCompleted) -> RecordedSuite:
    worker = event.worker or {}
    return RecordedSuite(
        name=event.name, runner_type=event.runner_type, status=event.status,
        total=event.total, passed=event.passed, failed=event.failed, skipped=event.skipped,
        duration_ms=event.duration_ms,
        message=event.message, recorded_at=event.timestamp,
        worker=Worker(str(worker["host"]), int(worker["pid"]))
        if "host" in worker and "pid" in worker else None)


def expected_suites(manifest: dict[str, Any], *, skip_tests: bool) -> list[str]:
    """The names of the suites a registration of ``manifest`` runs, in declared order."""
    if skip_tests:
        return []
    try:
        testing = required_testing(PackManifest.from_dict(manifest))
    except (RegistryError, msgspec.ValidationError):  # refused before any suite ran
        return []
    return [suite.name for suite in testing.test_suites]


def follow(read: Callable[[int], list[RegistrationUpdate]], *, after: int = 0,
           pause: Callable[[], object] = lambda: time.sleep(POLL_SECONDS),
           ) -> Iterator[RegistrationUpdate]:
    """Each update ``read(after)`` finds, calling it again after a ``pause`` until the
    decision: ``read`` gives the updates after an event version (and raises for an unknown
    registration, before anything is yielded)."""
    while True:
        for update in read(after):
            yield update
            if isinstance(update, DecidedUpdate):
                return
            after = update.originator_version
        pause()
