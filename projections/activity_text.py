"""What each row of the activity feed says: an event in one line, with its ref, version, actor
and registration (see ``projections.activity``, which writes the rows)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import singledispatch
from typing import Any, NamedTuple, Protocol

from eventsourcing.utils import resolve_topic

from attune_registry.domain.pack import Pack
from attune_registry.domain.registration import Registration
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.token import ApiToken

MESSAGE_CHARS = 160


class Entry(NamedTuple):
    """What a row says about its event, besides the event itself."""

    kind: str
    summary: str
    ref: str | None = None
    version: str | None = None
    actor: str | None = None
    registration_id: str | None = None


class Lookups(Protocol):
    """What describing an event needs from the rows recorded before it."""

    originator_id: str
    """The aggregate of the event being described."""

    def first(self, originator_id: str | None = None) -> dict[str, Any]:
        """``ref``, ``version``, ``actor`` and ``registration_id`` of the first event of
        ``originator_id`` (by default the described event's aggregate); empty if unknown."""
        ...

    def latest_of_registration(self, registration_id: str) -> dict[str, Any]:
        """``kind`` and ``actor`` of the latest row about ``registration_id``; empty if none."""
        ...

    def first_state(self) -> dict[str, Any]:
        """The stored state of the first event of the described event's aggregate."""
        ...


def _pack_event(name: str) -> type:
    """A ``Pack`` event class that its ``@event`` decorator made, by its pinned topic."""
    found: type = resolve_topic(f"attune:Pack.{name}")
    return found


@singledispatch
def describe(event: Any, ctx: Lookups) -> Entry:
    """An event of a kind the feed does not know (one added later): its topic's words, and
    the ref and actor its state names, if any."""
    state = getattr(event, "__dict__", {})
    kind = _kind_of_topic(getattr(type(event), "TOPIC", None) or type(event).__qualname__)
    first = ctx.first() if getattr(event, "originator_version", 1) > 1 else {}
    ref = _text(state, "pack_ref", "ref") or first.get("ref")
    actor = _text(state, "actor", "requested_by", "issued_by") or first.get("actor")
    return Entry(kind, kind.replace("_", " ").replace(".", " "), ref=ref, actor=actor)


@describe.register
def _requested(e: Registration.PackRegistrationRequested, ctx: Lookups) -> Entry:
    how: str = e.trigger_reason
    if e.origin:
        how += " from " + _origin(e.origin)
    flags = [flag for flag, on in (("force", e.force), ("replace", e.replace and not e.force),
                                   ("skip-tests", e.skip_tests)) if on]
    return Entry("registration.requested",
                 f"requested {e.pack_version} ({how}{'; ' + ', '.join(flags) if flags else ''})",
                 e.pack_ref, e.pack_version, e.requested_by, str(e.originator_id))


@describe.register(Registration.TestSuiteCompleted)
@describe.register(TestRun.TestSuiteCompleted)
def _suite(e: Any, ctx: Lookups) -> Entry:
    first = ctx.first()
    counts = f"{e.passed}/{e.total} passed" + (f", {e.skipped} skipped" if e.skipped else "")
    summary = (f"suite {e.name!r} {e.status}: {counts}" + (", timed out" if e.timed_out else "")
               + f" ({e.runner_type})")
    kind = ("registration" if isinstance(e, Registration.Event) else "test_run")
    return Entry(f"{kind}.suite_completed", summary, first.get("ref"), first.get("version"),
                 first.get("actor"), first.get("registration_id"))


@describe.register(Registration.EnvironmentPrepared)
@describe.register(TestRun.EnvironmentPrepared)
def _environment(e: Any, ctx: Lookups) -> Entry:
    first = ctx.first()
    count = len(e.packages)
    summary = (f"Python {e.python_version} environment {'built' if e.built else 'reused'}: "
               f"{e.requirements or 'no requirements'}, {count} "
               f"package{'' if count == 1 else 's'}")
    kind = ("registration" if isinstance(e, Registration.Event) else "test_run")
    return Entry(f"{kind}.environment_prepared", summary, first.get("ref"), first.get("version"),
                 first.get("actor"), first.get("registration_id"))


@describe.register
def _reused(e: Registration.TestsReused, ctx: Lookups) -> Entry:
    first = ctx.first()
    summary = (f"tests reused from run {e.run_id} of {e.pack_version}, same content and "
               f"environment ({_counts(e.summary)})")
    return Entry("registration.tests_reused", summary, first.get("ref"), first.get("version"),
                 first.get("actor"), str(e.originator_id))


@describe.register
def _committed(e: Registration.RegistrationCommitted, ctx: Lookups) -> Entry:
    first = ctx.first()
    if e.tests_skipped:
        how = " (tests skipped)"
    elif e.forced:
        how = f" despite failing tests (forced; {_counts(e.summary)})"
    else:
        how = f" ({_counts(e.summary)})"
    replaced = ctx.first(str(e.replaced_registration_id)) if e.replaced_registration_id else {}
    summary = (f"committed {first.get('version')}{how}"
               + (f", replacing {replaced['version']}" if replaced.get("version") else ""))
    return Entry("registration.committed", summary, first.get("ref"), first.get("version"),
                 first.get("actor"), str(e.originator_id))


@describe.register
def _rejected(e: Registration.RegistrationRejected, ctx: Lookups) -> Entry:
    first = ctx.first()
    if e.reason == "tests_failed":
        why = f"tests failed ({_counts(e.summary)})"
    else:
        why = f"{e.reason.replace('_', ' ')}: {_one_line(e.message)}"
    return Entry("registration.rejected", f"rejected {first.get('version')}: {why}"
                 + _note(e), first.get("ref"), first.get("version"),
                 e.actor or first.get("actor"), str(e.originator_id))


@describe.register
def _rolled_back(e: Registration.RegistrationRolledBack, ctx: Lookups) -> Entry:
    first = ctx.first()
    if e.reason == "unregister":
        summary = f"unregistered {first.get('version')}"
    else:
        restored = ctx.first(str(e.restored_registration_id))
        summary = (f"rolled back {first.get('version')}; {restored.get('version')} "
                   "active again")
    return Entry("registration.rolled_back", summary + _note(e), first.get("ref"),
                 first.get("version"), e.actor, str(e.originator_id))


@describe.register
def _dependents_overridden(e: Registration.DependentsOverridden, ctx: Lookups) -> Entry:
    first = ctx.first()
    what = "unregister" if e.action == "unregister" else f"rollback to {e.restored_version}"
    needs = ", ".join(f"{d['ref']} ({d['wanted']})" for d in e.dependents)
    return Entry("registration.dependents_overridden",
                 f"{what} forced although active packs depend on it: {needs}",
                 first.get("ref"), first.get("version"), e.actor, str(e.originator_id))


@describe.register(_pack_event("Created"))
def _pack_created(e: Any, ctx: Lookups) -> Entry:
    return Entry("pack.created", "ref first submitted", e.ref)


@describe.register(Pack.RegistrationOpened)
def _lease_taken(e: Pack.RegistrationOpened, ctx: Lookups) -> Entry:
    summary = f"lease taken until {_clock(e.lease_expires)}"
    if e.taken_over:
        summary += f", from abandoned registration {e.taken_over}"
    # Saved before its request (``attune``), or after it (other writers): then the request
    # has just been recorded, and its actor is this event's too.
    latest = ctx.latest_of_registration(str(e.registration_id))
    return _pack_entry(ctx, "pack.registration_opened", summary, e.registration_id,
                       same_save=latest.get("kind") == "registration.requested")


@describe.register(_pack_event("RegistrationActivated"))
def _activated(e: Any, ctx: Lookups) -> Entry:
    return _pack_entry(ctx, "pack.activated", f"{e.pack_version} active", e.registration_id,
                       version=e.pack_version, same_save=True)


@describe.register(_pack_event("RegistrationClosed"))
def _lease_released(e: Any, ctx: Lookups) -> Entry:
    # Saved after its rejection, or (``pack cancel``) before it: then the rejection
    # attributes it.
    latest = ctx.latest_of_registration(str(e.registration_id))
    return _pack_entry(ctx, "pack.registration_closed", "lease released", e.registration_id,
                       same_save=latest.get("kind") == "registration.rejected")


@describe.register(_pack_event("RolledBack"))
def _pack_rolled_back(e: Any, ctx: Lookups) -> Entry:
    return _pack_entry(ctx, "pack.rolled_back", f"{e.restored_version} active again",
                       e.registration_id, version=e.restored_version, same_save=True)


@describe.register(_pack_event("Unregistered"))
def _pack_unregistered(e: Any, ctx: Lookups) -> Entry:
    return _pack_entry(ctx, "pack.unregistered", "no version active", e.registration_id,
                       same_save=True)


def _pack_entry(ctx: Lookups, kind: str, summary: str, registration_id: Any, *,
                version: str | None = None, same_save: bool = False) -> Entry:
    """A ``Pack`` event about ``registration_id``; ``same_save``: the registration's event of
    the same transaction was recorded just before, and its actor is this event's too."""
    registration = str(registration_id)
    actor = ctx.latest_of_registration(registration).get("actor") if same_save else None
    version = version or ctx.first(registration).get("version")
    return Entry(kind, summary, ctx.first().get("ref"), version, actor, registration)


@describe.register
def _token_issued(e: ApiToken.TokenIssued, ctx: Lookups) -> Entry:
    return Entry("token.issued", f"token {e.name!r} issued, scope {e.scope}",
                 actor=e.issued_by)


@describe.register
def _token_revoked(e: ApiToken.TokenRevoked, ctx: Lookups) -> Entry:
    return Entry("token.revoked", f"token {ctx.first_state().get('name')!r} revoked",
                 actor=e.actor)


@describe.register
def _test_run_requested(e: TestRun.TestRunRequested, ctx: Lookups) -> Entry:
    against = _against(e.candidate)
    return Entry("test_run.requested", f"{_run_kind(e.candidate)} of {e.pack_version}"
                 f"{against} started", e.pack_ref, e.pack_version, e.requested_by,
                 str(e.registration_id))


@describe.register
def _test_run_completed(e: TestRun.TestRunCompleted, ctx: Lookups) -> Entry:
    first = ctx.first()
    kind = _run_kind(ctx.first_state().get("candidate"))
    if e.summary is not None:
        summary = f"{kind} {e.summary.get('status')} ({_counts(e.summary)})"
    else:
        summary = f"{kind} stopped: {_one_line(e.error or 'no result')}"
    return Entry("test_run.completed", summary, first.get("ref"), first.get("version"),
                 first.get("actor"), first.get("registration_id"))


def _run_kind(candidate: dict[str, Any] | None) -> str:
    """A manual run, or one against the upgrade of a pack it depends on."""
    return "manual test run" if candidate is None else "dependency test run"


def _against(candidate: dict[str, Any] | None) -> str:
    if candidate is None:
        return ""
    return f" against {candidate.get('pack_ref')} {candidate.get('pack_version')}"


def _kind_of_topic(topic: str) -> str:
    """``attune:Webhook.DeliveryFailed`` -> ``webhook.delivery_failed``; an event named after
    its aggregate loses the repetition: ``attune:Webhook.WebhookAdded`` -> ``webhook.added``."""
    aggregate, _, name = topic.split(":", 1)[-1].rpartition(".")
    if aggregate and name.startswith(aggregate) and name != aggregate:
        name = name[len(aggregate):]
    return ".".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", part).lower()
                    for part in (aggregate, name) if part)


def _text(state: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if isinstance(state.get(key), str):
            return str(state[key])
    return None


def _counts(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "no result"
    return f"{summary.get('passed', 0)}/{summary.get('total_tests', 0)} passed"


def _note(event: Any) -> str:
    note = getattr(event, "note", None)
    return f"; reason: {note}" if isinstance(note, str) and note else ""


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= MESSAGE_CHARS else first[: MESSAGE_CHARS - 1] + "…"


def _origin(origin: dict[str, Any]) -> str:
    if origin.get("type") == "release":  # ``pack activate``: a kept release, not a source
        return f"kept release {origin.get('version')}, sha256:{str(origin.get('digest'))[:12]}"
    where = f"{origin.get('type')} {origin.get('source')}"
    return where + (f" at {origin['ref']}" if origin.get("ref") else "")


def _clock(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()[:19].replace("T", " ") + "Z"
