"""The TestRun aggregate: a manual run of a registered pack's suites, outside registration."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.registration import RegistrationStateError
from domain.results import SuiteResult, TestSummary
from domain.suite_event import SuiteCompleted, suite_completed
from domain.vocabulary import TriggerReason


class TestRun(Aggregate):
    """One manual run. It changes nothing about which registration is active."""

    __test__ = False  # not a pytest test class

    TOPIC = "attune:TestRun"

    class Created(Aggregate.Created):
        # Redefined by the library on every aggregate; pinned like all our topics.
        TOPIC = "attune:TestRun.Created"

    class TestRunRequested(Aggregate.Created):
        """A manual run of an active registration's suites began."""

        TOPIC = "attune:TestRun.TestRunRequested"

        pack_ref: str
        pack_version: str
        registration_id: UUID
        trigger_reason: TriggerReason
        source_path: str
        content_digest: str
        requested_by: str

    class TestSuiteCompleted(SuiteCompleted):
        TOPIC = "attune:TestRun.TestSuiteCompleted"

    class TestRunCompleted(Aggregate.Event):
        """The run ended: its summary, or why it stopped before the end."""

        TOPIC = "attune:TestRun.TestRunCompleted"

        summary: dict[str, Any] | None
        error: str | None

    @event(TestRunRequested)
    def __init__(
        self,
        *,
        pack_ref: str,
        pack_version: str,
        registration_id: UUID,
        trigger_reason: TriggerReason,
        source_path: str,
        content_digest: str,
        requested_by: str,
    ) -> None:
        self.pack_ref = pack_ref
        self.pack_version = pack_version
        self.registration_id = registration_id
        self.trigger_reason = trigger_reason
        self.source_path = source_path
        self.content_digest = content_digest
        self.requested_by = requested_by
        self.status = "requested"
        self.suites: list[dict[str, Any]] = []

    @property
    def is_finished(self) -> bool:
        return self.status == "completed"

    def complete_suite(self, result: SuiteResult, *,
                       worker: dict[str, Any] | None = None) -> None:
        if self.is_finished:
            raise RegistrationStateError(f"test run {self.id} is already completed")
        self._complete_suite(**result.to_dict(), worker=worker)

    _complete_suite = suite_completed(TestSuiteCompleted)

    def complete(self, *, summary: TestSummary | None, error: str | None = None) -> None:
        """Close the run: ``summary`` when suites ran, ``error`` if it stopped before the end."""
        if self.is_finished:
            raise RegistrationStateError(f"test run {self.id} is already completed")
        self._complete(summary=summary.to_dict() if summary else None, error=error)

    @event(TestRunCompleted)
    def _complete(self, *, summary: dict[str, Any] | None, error: str | None) -> None:
        self.status = "completed"
