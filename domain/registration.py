"""The Registration aggregate: one attempt to register a pack, from request to outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.component import Component
from attune_registry.domain.environment_event import EnvironmentPrepared as EnvironmentEvent
from attune_registry.domain.environment_event import environment_fields, environment_prepared
from attune_registry.domain.manifest import PackManifest
from attune_registry.domain.note import checked_note
from attune_registry.domain.origin import Origin, origin_to_dict
from attune_registry.domain.results import SuiteResult, TestSummary
from attune_registry.domain.suite_event import SuiteCompleted, suite_completed
from attune_registry.domain.vocabulary import (
    RegistrationStatus,
    RejectReason,
    RollbackReason,
    TriggerReason,
)


class RegistrationStateError(Exception):
    """Raised when a command does not fit the registration's current state (a bug, not input)."""


class Registration(Aggregate):
    """One registration attempt. Topics are pinned: they are persisted in the event log."""

    TOPIC = "attune:Registration"

    class Created(Aggregate.Created):
        # The library redefines its base Created event on every aggregate; with pinned
        # topics it needs one too, although this aggregate creates itself with its own event.
        TOPIC = "attune:Registration.Created"

    class PackRegistrationRequested(Aggregate.Created):
        """The request that opens a registration. Its fields are a persisted contract.

        Version 2 added ``origin`` (where an installed pack came from; None for a registered
        directory). Version 1 events also include those recorded before ``replace`` existed.
        Version 3 added ``skip_dependents`` (an upgrade that did not run its active dependents'
        suites against itself, ``--skip-dependents``).
        """

        TOPIC = "attune:Registration.PackRegistrationRequested"
        class_version = 3

        pack_ref: str
        pack_version: str
        label: str
        manifest: dict[str, Any]
        components: list[dict[str, Any]]
        source_path: str
        content_digest: str
        force: bool
        skip_tests: bool
        trigger_reason: TriggerReason
        requested_by: str
        replace: bool
        origin: dict[str, Any] | None
        skip_dependents: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("replace", False)
            state["origin"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["skip_dependents"] = False

    class TestSuiteCompleted(SuiteCompleted):
        TOPIC = "attune:Registration.TestSuiteCompleted"

    class EnvironmentPrepared(EnvironmentEvent):
        TOPIC = "attune:Registration.EnvironmentPrepared"

    class TestsReused(Aggregate.Event):
        """Instead of running its suites, the registration reuses a passing run of the same
        content digest in the same environment (``--reuse``): the decision that follows
        rests on that run."""

        TOPIC = "attune:Registration.TestsReused"

        run_id: str
        """The reused run: a registration's id, or a test run's."""
        registration_id: str
        """The registration whose release that run tested."""
        pack_version: str
        fingerprint: str
        """The environment both share (see ``SuiteResult.fingerprint``)."""
        summary: dict[str, Any]
        """The reused run's ``TestSummary`` as plain values."""

    class RegistrationCommitted(Aggregate.Event):
        """The registration became the active one for its ref."""

        TOPIC = "attune:Registration.RegistrationCommitted"

        summary: dict[str, Any] | None
        """The run's ``TestSummary`` as plain values; None when tests were skipped."""
        tests_skipped: bool
        forced: bool
        """Committed although its tests did not pass (``force``)."""
        replaced_registration_id: UUID | None

    class RegistrationRejected(Aggregate.Event):
        """The compensating event of the request: the pack never became active."""

        TOPIC = "attune:Registration.RegistrationRejected"
        class_version = 3

        reason: RejectReason
        message: str
        summary: dict[str, Any] | None
        actor: str | None
        """Who ended it (``pack cancel``); None when the registration decided for itself.
        Added in version 2."""
        note: str | None
        """Why, in the words of whoever cancelled it (``--reason``); None when none was
        given. Added in version 3."""

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["actor"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["note"] = None

    class DependentsOverridden(Aggregate.Event):
        """Force ended this committed registration (unregister, or rollback to
        ``restored_version``) although active packs depend on it: recorded just before the
        ``RegistrationRolledBack`` it allowed, in the same save."""

        TOPIC = "attune:Registration.DependentsOverridden"

        action: RollbackReason
        actor: str
        dependents: list[dict[str, str]]
        """``{"ref", "wanted"}`` of each active dependent left unsatisfied, by ref."""
        restored_version: str | None
        """The version a rollback made active; None for an unregister."""

    class RegistrationRolledBack(Aggregate.Event):
        """The compensating event of a commit: the pack stopped being this registration."""

        TOPIC = "attune:Registration.RegistrationRolledBack"
        class_version = 2

        reason: RollbackReason
        actor: str
        restored_registration_id: UUID | None
        note: str | None
        """Why, in the actor's words (``--reason``); None when none was given. Added in
        version 2."""

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["note"] = None

    @classmethod
    def request(
        cls,
        *,
        manifest: PackManifest,
        components: Sequence[Component],
        source_path: str,
        content_digest: str,
        force: bool,
        replace: bool,
        skip_tests: bool,
        trigger_reason: TriggerReason,
        requested_by: str,
        origin: Origin | None,
        skip_dependents: bool = False,
    ) -> Registration:
        """Open a registration of ``manifest``: here its typed values become the event's
        plain ones (the persisted shape)."""
        return cls(pack_ref=manifest.ref, pack_version=manifest.version, label=manifest.label,
                   manifest=manifest.to_dict(), components=[c.to_dict() for c in components],
                   source_path=source_path, content_digest=content_digest, force=force,
                   replace=replace, skip_tests=skip_tests, trigger_reason=trigger_reason,
                   requested_by=requested_by, origin=origin_to_dict(origin),
                   skip_dependents=skip_dependents)

    @event(PackRegistrationRequested)
    def __init__(
        self,
        *,
        pack_ref: str,
        pack_version: str,
        label: str,
        manifest: dict[str, Any],
        components: list[dict[str, Any]],
        source_path: str,
        content_digest: str,
        force: bool,
        skip_tests: bool,
        trigger_reason: TriggerReason,
        requested_by: str,
        replace: bool,
        origin: dict[str, Any] | None,
        skip_dependents: bool,
    ) -> None:
        self.pack_ref = pack_ref
        self.pack_version = pack_version  # never `version`: the library owns that name
        self.label = label
        self.manifest = manifest
        self.components = components
        self.source_path = source_path
        self.content_digest = content_digest
        self.force = force
        self.replace = replace
        self.skip_tests = skip_tests
        self.trigger_reason = trigger_reason
        self.requested_by = requested_by
        self.origin = origin
        self.skip_dependents = skip_dependents
        self.status: RegistrationStatus = "requested"
        self.suites: list[dict[str, Any]] = []
        self.reason: RejectReason | RollbackReason | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in ("committed", "rejected", "rolled_back")

    def complete_suite(self, result: SuiteResult, *,
                       worker: dict[str, Any] | None = None) -> None:
        """Record one finished suite (as soon as it finishes, so a crash loses nothing), run
        by ``worker`` (host and pid)."""
        if self.is_finished:
            raise RegistrationStateError(f"registration {self.id} is already {self.status}")
        self._complete_suite(**result.to_dict(), worker=worker)

    def has_suite(self, name: str) -> bool:
        """Whether a suite of that name was recorded (a queued suite runs at least once)."""
        return any(suite["name"] == name for suite in self.suites)

    def recorded_suites(self) -> list[SuiteResult]:
        """The suites recorded so far, with their counts and status (not their cases)."""
        return [SuiteResult.from_dict(suite) for suite in self.suites]

    _complete_suite = suite_completed(TestSuiteCompleted)

    def prepare_environment(self, record: dict[str, Any]) -> None:
        """Record the Python environment the suites run with (before they run)."""
        if self.is_finished:
            raise RegistrationStateError(f"registration {self.id} is already {self.status}")
        self._prepare_environment(**environment_fields(record))

    _prepare_environment = environment_prepared(EnvironmentPrepared)

    def reuse_tests(self, *, run_id: str, registration_id: str, pack_version: str,
                    fingerprint: str, summary: TestSummary) -> None:
        """Record that the passing run ``run_id`` stands for this registration's suites."""
        if self.is_finished or self.suites:
            raise RegistrationStateError(
                f"registration {self.id} is {self.status}: it cannot reuse a run now")
        self._reuse_tests(run_id=run_id, registration_id=registration_id,
                          pack_version=pack_version, fingerprint=fingerprint,
                          summary=summary.to_dict())

    @event(TestsReused)
    def _reuse_tests(self, *, run_id: str, registration_id: str, pack_version: str,
                     fingerprint: str, summary: dict[str, Any]) -> None:
        self.reused_run_id = run_id

    def commit(
        self,
        *,
        summary: TestSummary | None,
        forced: bool,
        replaced_registration_id: UUID | None,
    ) -> None:
        """Make this registration the active one for its ref."""
        if self.is_finished:
            raise RegistrationStateError(f"registration {self.id} is already {self.status}")
        self._commit(
            summary=summary.to_dict() if summary else None,
            tests_skipped=self.skip_tests,
            forced=forced,
            replaced_registration_id=replaced_registration_id,
        )

    @event(RegistrationCommitted)
    def _commit(
        self,
        *,
        summary: dict[str, Any] | None,
        tests_skipped: bool,
        forced: bool,
        replaced_registration_id: UUID | None,
    ) -> None:
        self.status = "committed"

    def reject(self, *, reason: RejectReason, message: str, summary: TestSummary | None,
               actor: str | None = None, note: str | None = None) -> None:
        """Close this attempt without activating it: the compensating event of the request;
        ``note`` is why, in the words of the ``actor`` who cancelled it.

        Raises:
            InvalidNoteError: the note is not one line of visible text, or too long.
        """
        if self.is_finished:
            raise RegistrationStateError(f"registration {self.id} is already {self.status}")
        self._reject(reason=reason, message=message,
                     summary=summary.to_dict() if summary else None, actor=actor,
                     note=checked_note(note))

    @event(RegistrationRejected)
    def _reject(self, *, reason: RejectReason, message: str,
                summary: dict[str, Any] | None, actor: str | None, note: str | None) -> None:
        self.status = "rejected"
        self.reason = reason

    def roll_back(self, *, reason: RollbackReason, actor: str,
                  restored_registration_id: UUID | None, note: str | None = None) -> None:
        """Compensate a commit: the pack stops being this registration (``reason`` is
        ``rollback`` or ``unregister``; ``note`` is why, in the actor's words). Nothing
        recorded before is changed.

        Raises:
            InvalidNoteError: the note is not one line of visible text, or too long.
        """
        if self.status != "committed":
            raise RegistrationStateError(f"registration {self.id} is {self.status}, not committed")
        self._roll_back(reason=reason, actor=actor,
                        restored_registration_id=restored_registration_id,
                        note=checked_note(note))

    def override_dependents(self, *, action: RollbackReason, actor: str,
                            dependents: Sequence[tuple[str, str]],
                            restored_version: str | None = None) -> None:
        """Record that ``actor`` forced ``action`` past ``dependents`` ((ref, range) of each);
        the ``roll_back`` it allows follows.

        Raises:
            RegistrationStateError: the registration is not the committed one.
        """
        if self.status != "committed":
            raise RegistrationStateError(f"registration {self.id} is {self.status}, not committed")
        self._override_dependents(
            action=action, actor=actor, restored_version=restored_version,
            dependents=[{"ref": ref, "wanted": wanted} for ref, wanted in dependents])

    @event(DependentsOverridden)
    def _override_dependents(self, *, action: RollbackReason, actor: str,
                             dependents: list[dict[str, str]],
                             restored_version: str | None) -> None:
        """Changes no state: the event is the record."""

    @event(RegistrationRolledBack)
    def _roll_back(self, *, reason: RollbackReason, actor: str,
                   restored_registration_id: UUID | None, note: str | None) -> None:
        self.status = "rolled_back"
        self.reason = reason
