"""The TestSuiteCompleted event, shared in shape by every aggregate that runs suites."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.vocabulary import RunnerType, SuiteStatus


class SuiteCompleted(Aggregate.Event):
    """One finished suite. Its fields are a persisted contract; each aggregate that runs suites
    subclasses it with its own pinned ``TOPIC`` (topics are per class).

    Version 2 added ``isolation`` (how the suite was sandboxed: see ``domain.results.Isolation``);
    suites recorded before it have None. Version 3 added ``worker``: the process that ran it
    (``host``, ``pid``), a queue worker's or the registering process's; None before.
    Version 4 added ``fingerprint`` (the environment it ran in; None before) and ``retries``
    (the reruns of its failed cases; none before), and each case's ``attempts`` and ``flaky``.
    """

    class_version = 4

    name: str
    runner_type: RunnerType
    status: SuiteStatus
    total: int
    passed: int
    failed: int
    skipped: int
    duration_ms: int
    exit_code: int | None
    timed_out: bool
    message: str | None
    test_cases: list[dict[str, Any]]
    stdout: str
    stderr: str
    isolation: dict[str, Any] | None
    worker: dict[str, Any] | None
    fingerprint: str | None
    retries: list[dict[str, Any]]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["isolation"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["worker"] = None

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        state["fingerprint"] = None
        state["retries"] = []
        for case in state["test_cases"]:
            case.setdefault("attempts", 1)
            case.setdefault("flaky", False)


def suite_completed(event_class: type[SuiteCompleted]) -> Callable[..., None]:
    """The ``@event`` command method that records one finished suite as ``event_class``."""

    @event(event_class)
    def _complete_suite(
        self: Any,
        *,
        name: str,
        runner_type: RunnerType,
        status: SuiteStatus,
        total: int,
        passed: int,
        failed: int,
        skipped: int,
        duration_ms: int,
        exit_code: int | None,
        timed_out: bool,
        message: str | None,
        test_cases: list[dict[str, Any]],
        stdout: str,
        stderr: str,
        isolation: dict[str, Any] | None = None,
        worker: dict[str, Any] | None = None,
        fingerprint: str | None = None,
        retries: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = "testing"
        # The counts a decision needs (see ``Registration.recorded_suites``); cases stay in
        # the events.
        self.suites.append({"name": name, "runner_type": runner_type, "status": status,
                            "total": total, "passed": passed, "failed": failed,
                            "skipped": skipped, "duration_ms": duration_ms,
                            "exit_code": exit_code, "timed_out": timed_out,
                            "message": message})

    return _complete_suite
