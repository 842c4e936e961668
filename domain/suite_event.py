"""The TestSuiteCompleted event, shared in shape by every aggregate that runs suites."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event


def suite_completed(topic: str) -> Any:
    """An ``@event`` command method recording one finished suite, under the given pinned topic.

    Each aggregate gets its own event class (topics are per class); the fields, a persisted
    contract, are defined once here.
    """

    @event("TestSuiteCompleted", topic=topic)
    def _complete_suite(
        self: Any,
        *,
        name: str,
        runner_type: str,
        status: str,
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
    ) -> None:
        self.status = "testing"
        self.suites.append({"name": name, "status": status, "total": total, "passed": passed})

    return _complete_suite
