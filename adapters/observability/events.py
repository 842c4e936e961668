"""Application events in the log: what each saved domain event means to an operator.

``ObservedRegistry`` is the registry application that, once a command's events are stored,
logs them on the ``attune.events`` logger: a registration requested and decided (a commit
despite failing tests, ``forced``, as a WARNING: the specification asks for one), each suite,
rollbacks, unregisters and cancels, manual test runs, tokens issued and revoked (their names,
never their secrets or hashes). Whichever process stores an event logs it, once: the API
server for its requests (a client that went away changes nothing: the command still ends and
is logged with its outcome), a worker for the registrations it decides, the CLI (which
configures no handler, so it prints nothing of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import Recording

from attune_registry.domain.registration import Registration
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.token import ApiToken

from attune_registry.application.registry import PackRegistry

log = logging.getLogger("attune.events")
# Nothing configured (the CLI): the records go nowhere, rather than to Python's last-resort
# handler, which would print warnings among the CLI's own output.
log.addHandler(logging.NullHandler())

Saved = Sequence[DomainEventProtocol[UUID]]
Describe = Callable[[Any, Any, Saved], None]


class ObservedRegistry(PackRegistry):
    """The registry application, logging what it saved (see the module's docstring)."""

    name = PackRegistry.name  # persisted: the event table and the projection's tracking

    def save(self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
             **kwargs: Any) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        try:
            aggregates = {obj.id: obj for obj in objs if isinstance(obj, Aggregate)}
            log_saved([recording.domain_event for recording in recordings], aggregates)
        except Exception:  # the events are stored: a log line must not fail the command
            log.exception("could not log saved events", extra={"event": "log.failed"})
        return recordings


def log_saved(events: Saved, aggregates: Mapping[UUID, Aggregate]) -> None:
    """Log each of ``events`` that means something to an operator; ``aggregates`` are the
    saved aggregates by id, for what an event does not repeat (a decision's ref)."""
    for event in events:
        describe = DESCRIBERS.get(type(event))
        if describe is not None:
            describe(event, aggregates.get(event.originator_id), events)


def emit(level: int, event: str, message: str, **fields: Any) -> None:
    """One record on ``attune.events``: ``event`` names it, ``fields`` (None left out) go with
    it as structured fields."""
    if log.isEnabledFor(level):
        extra = {name: value for name, value in fields.items() if value is not None}
        log.log(level, message, extra={"event": event, **extra})


def _requested(event: Registration.PackRegistrationRequested, _: Any, __: Saved) -> None:
    origin = event.origin or {}
    emit(logging.INFO, "registration.requested",
         f"Registration of pack '{event.pack_ref}' {event.pack_version} requested by "
         f"{event.requested_by} ({event.trigger_reason})",
         registration_id=str(event.originator_id), ref=event.pack_ref,
         version=event.pack_version, actor=event.requested_by, trigger=event.trigger_reason,
         force=event.force, skip_tests=event.skip_tests, replace=event.replace,
         origin=origin.get("type"), source=origin.get("source"))


def _suite(event: Any, aggregate: Any, _: Saved) -> None:
    ref = getattr(aggregate, "pack_ref", None)
    owner = ({"registration_id": str(event.originator_id)} if isinstance(aggregate, Registration)
             else {"test_run_id": str(event.originator_id)})
    emit(logging.INFO, "suite.completed",
         f"Suite '{event.name}' of pack '{ref}' {event.status}: {event.passed}/{event.total} "
         f"passed in {event.duration_ms / 1000:.2f} s",
         **owner, ref=ref, suite=event.name, runner=event.runner_type, outcome=event.status,
         duration_ms=event.duration_ms, total=event.total, passed=event.passed,
         failed=event.failed, skipped=event.skipped, timed_out=event.timed_out or None)


def _committed(event: Registration.RegistrationCommitted, aggregate: Any, _: Saved) -> None:
    ref, version = _pack_of(aggregate)
    summary = event.summary or {}
    counts = f"{summary.get('passed')}/{summary.get('total_tests')} passed"
    if event.forced:
        level, outcome = logging.WARNING, "forced"
        message = (f"Pack '{ref}' {version} registered despite failing tests (forced): "
                   f"{counts}")
    else:
        level, outcome = logging.INFO, "committed"
        tested = "tests skipped" if event.tests_skipped else counts
        message = f"Pack '{ref}' {version} registered ({tested})"
    emit(level, "registration.decided", message, registration_id=str(event.originator_id),
         ref=ref, version=version, outcome=outcome,
         actor=getattr(aggregate, "requested_by", None),
         trigger=getattr(aggregate, "trigger_reason", None), tests_skipped=event.tests_skipped,
         passed=summary.get("passed"), total=summary.get("total_tests"),
         replaced_registration_id=_text(event.replaced_registration_id))


def _rejected(event: Registration.RegistrationRejected, aggregate: Any, _: Saved) -> None:
    ref, version = _pack_of(aggregate)
    actor, note = getattr(event, "actor", None), getattr(event, "note", None)
    summary = event.summary or {}
    fields = {"registration_id": str(event.originator_id), "ref": ref, "version": version,
              "outcome": "rejected", "reason": event.reason, "note": note,
              "trigger": getattr(aggregate, "trigger_reason", None),
              "passed": summary.get("passed"), "total": summary.get("total_tests")}
    if actor is not None:  # `pack cancel`: someone ended it
        because = f": {note}" if note else ""
        emit(logging.WARNING, "registration.cancelled",
             f"Registration of pack '{ref}' {version} cancelled by {actor}{because}",
             actor=actor, **fields)
        return
    emit(logging.INFO, "registration.decided",
         f"Registration of pack '{ref}' {version} rejected ({event.reason}): {event.message}",
         actor=getattr(aggregate, "requested_by", None), **fields)


def _rolled_back(event: Registration.RegistrationRolledBack, aggregate: Any,
                 saved: Saved) -> None:
    ref, version = _pack_of(aggregate)
    note = getattr(event, "note", None)
    because = f": {note}" if note else ""
    fields = {"registration_id": str(event.originator_id), "ref": ref, "version": version,
              "actor": event.actor, "note": note,
              "restored_registration_id": _text(event.restored_registration_id)}
    if event.reason == "unregister":
        emit(logging.INFO, "pack.unregistered",
             f"Pack '{ref}' {version} unregistered by {event.actor}{because}",
             outcome="unregistered", **fields)
        return
    restored = next((getattr(other, "restored_version", None) for other in saved
                     if getattr(other, "restored_registration_id", None)
                     == event.restored_registration_id and other is not event), None)
    emit(logging.INFO, "pack.rolled_back",
         f"Pack '{ref}' rolled back from {version} to {restored} by {event.actor}{because}",
         outcome="rolled_back", restored_version=restored, **fields)


def _test_run_requested(event: TestRun.TestRunRequested, _: Any, __: Saved) -> None:
    candidate = event.candidate
    against = (f" against {candidate.get('pack_ref')} {candidate.get('pack_version')}"
               if candidate else "")
    emit(logging.INFO, "test_run.requested",
         f"Test run of pack '{event.pack_ref}' {event.pack_version}{against} requested by "
         f"{event.requested_by}",
         test_run_id=str(event.originator_id), ref=event.pack_ref, version=event.pack_version,
         actor=event.requested_by, registration_id=str(event.registration_id),
         trigger=event.trigger_reason)


def _test_run_completed(event: TestRun.TestRunCompleted, aggregate: Any, _: Saved) -> None:
    ref, version = _pack_of(aggregate)
    summary = event.summary or {}
    status = summary.get("status", "error")
    ended = (f"stopped: {event.error}" if event.error else
             f"{status}: {summary.get('passed')}/{summary.get('total_tests')} passed")
    emit(logging.INFO, "test_run.completed", f"Test run of pack '{ref}' {version} {ended}",
         test_run_id=str(event.originator_id), ref=ref, version=version, outcome=status,
         actor=getattr(aggregate, "requested_by", None), passed=summary.get("passed"),
         total=summary.get("total_tests"))


def _token_issued(event: ApiToken.TokenIssued, _: Any, __: Saved) -> None:
    emit(logging.INFO, "token.issued",
         f"Token '{event.name}' ({event.scope}) issued by {event.issued_by}",
         token_id=str(event.originator_id), token_name=event.name, scope=event.scope,
         actor=event.issued_by)


def _token_revoked(event: ApiToken.TokenRevoked, aggregate: Any, _: Saved) -> None:
    name = getattr(aggregate, "name", None)
    emit(logging.INFO, "token.revoked", f"Token '{name}' revoked by {event.actor}",
         token_id=str(event.originator_id), token_name=name, actor=event.actor)


def _pack_of(aggregate: Any) -> tuple[str | None, str | None]:
    return getattr(aggregate, "pack_ref", None), getattr(aggregate, "pack_version", None)


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


DESCRIBERS: dict[type, Describe] = {
    Registration.PackRegistrationRequested: _requested,
    Registration.TestSuiteCompleted: _suite,
    Registration.RegistrationCommitted: _committed,
    Registration.RegistrationRejected: _rejected,
    Registration.RegistrationRolledBack: _rolled_back,
    TestRun.TestRunRequested: _test_run_requested,
    TestRun.TestSuiteCompleted: _suite,
    TestRun.TestRunCompleted: _test_run_completed,
    ApiToken.TokenIssued: _token_issued,
    ApiToken.TokenRevoked: _token_revoked,
}
