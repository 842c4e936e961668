"""The TestRun aggregate: a manual run of a registered pack's suites, outside registration."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.environment_event import EnvironmentPrepared as EnvironmentEvent
from attune_registry.domain.environment_event import environment_fields, environment_prepared
from attune_registry.domain.registration import RegistrationStateError
from attune_registry.domain.results import SuiteResult, TestSummary
from attune_registry.domain.suite_event import SuiteCompleted, suite_completed
from attune_registry.domain.vocabulary import TriggerReason


class TestRun(Aggregate):
    """One run of an active registration's suites outside its registration: by hand
    (``manual``), or against the upgrade of a pack it depends on (``dependency``). It changes
    nothing about which registration is active."""

    __test__ = False  # not a pytest test class

    TOPIC = "attune:TestRun"

    class Created(Aggregate.Created):
        # Redefined by the library on every aggregate; pinned like all our topics.
        TOPIC = "attune:TestRun.Created"

    class TestRunRequested(Aggregate.Created):
        """A run of an active registration's suites began.

        Version 2 added ``candidate``: for a ``dependency`` run, the registration of the
        dependency it ran against (``{"registration_id", "pack_ref", "pack_version"}``), which
        its outcome lets replace the active version or not; None for a manual run.
        """

        TOPIC = "attune:TestRun.TestRunRequested"
        class_version = 2

        pack_ref: str
        pack_version: str
        registration_id: UUID
        trigger_reason: TriggerReason
        source_path: str
        content_digest: str
        requested_by: str
        candidate: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["candidate"] = None

    class TestSuiteCompleted(SuiteCompleted):
        TOPIC = "attune:TestRun.TestSuiteCompleted"

    class EnvironmentPrepared(EnvironmentEvent):
        TOPIC = "attune:TestRun.EnvironmentPrepared"

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
        candidate: dict[str, Any] | None,
    ) -> None:
        self.pack_ref = pack_ref
        self.pack_version = pack_version
        self.registration_id = registration_id
        self.trigger_reason = trigger_reason
        self.source_path = source_path
        self.content_digest = content_digest
        self.requested_by = requested_by
        self.candidate = candidate
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

    def prepare_environment(self, record: dict[str, Any]) -> None:
        """Record the Python environment the suites run with (before they run)."""
        self._prepare_environment(**environment_fields(record))

    _prepare_environment = environment_prepared(EnvironmentPrepared)

    def complete(self, *, summary: TestSummary | None, error: str | None = None) -> None:
        """Close the run: ``summary`` when suites ran, ``error`` if it stopped before the end."""
        if self.is_finished:
            raise RegistrationStateError(f"test run {self.id} is already completed")
        self._complete(summary=summary.to_dict() if summary else None, error=error)

    @event(TestRunCompleted)
    def _complete(self, *, summary: dict[str, Any] | None, error: str | None) -> None:
        self.status = "completed"
