"""A registration told for people: the facts of its events and a sentence for each step.

``attune audit ID --summary`` prints it and the dashboard's registration page shows its
sentences, so both tell the same story in the same words. It is read from the events as the
log stores them (``StoredEvent``: what ``attune audit`` prints, locally or through the API),
brought to the current shape by the event classes' own upcasters, so a registration recorded
by an older version reads the same.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from attune_registry.domain.origin import Origin, ReleaseOrigin, describe, origin_from_dict
from attune_registry.domain.registration import Registration
from attune_registry.domain.results import summary_line
from attune_registry.domain.vocabulary import (
    RegistrationStatus,
    RejectReason,
    RollbackReason,
    RunnerType,
    SuiteStatus,
    TriggerReason,
)

from attune_registry.adapters.contract import MAX_FAILURES, StoredEvent, Worker
from attune_registry.adapters.reads.progress import expected_suites

Tone = Literal["good", "bad", ""]
# A rejection in the auditor's words; the stored message is the API's, with API syntax.
REJECTIONS = {"tests_failed": "its tests did not pass",
              "tests_not_executed": "its tests could not run",
              "environment_failed": "its Python environment could not be prepared",
              "dependents_failed": "the tests of packs that depend on it did not pass "
                                   "against it"}
_EVENTS: dict[str, type[Any]] = {cls.TOPIC: cls for cls in (
    Registration.PackRegistrationRequested, Registration.TestSuiteCompleted,
    Registration.RegistrationCommitted, Registration.RegistrationRejected,
    Registration.RegistrationRolledBack, Registration.DependentsOverridden,
    Registration.EnvironmentPrepared, Registration.TestsReused)}


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """Who asked for the registration, when, how, and for which files."""

    at: str
    by: str
    trigger: TriggerReason
    origin: Origin | None
    """Where an installed pack came from; None for ``register``."""
    source_path: str
    content_digest: str
    force: bool
    replace: bool
    skip_tests: bool
    suites: list[str]
    """The suites its manifest declares, in order (none when tests were skipped)."""
    skip_dependents: bool = False
    """An upgrade that did not run its active dependents' suites (``--skip-dependents``)."""


class Suite(msgspec.Struct, frozen=True, kw_only=True):
    """One suite's result, who ran it, and its first failing cases."""

    at: str
    name: str
    runner_type: RunnerType
    status: SuiteStatus
    total: int
    passed: int
    failed: int
    skipped: int
    duration_ms: int
    message: str | None
    worker: Worker | None
    sandbox: str | None
    """The mechanism that isolated it; None for suites recorded before the sandbox."""
    failing: list[str]
    """``case: message`` for its first failing cases (at most ``MAX_FAILURES``)."""
    flaky: list[str] = msgspec.field(default_factory=list)
    """``case: flaky, passed on attempt N`` for its first cases that passed only on a retry
    (at most ``MAX_FAILURES``)."""
    flaky_count: int = 0
    """How many of its cases passed only on a retry."""


class Reused(msgspec.Struct, frozen=True, kw_only=True):
    """The passing run a registration reused instead of running its suites (``--reuse``)."""

    at: str
    run_id: str
    registration_id: str
    """The registration whose release that run tested."""
    pack_version: str
    fingerprint: str
    summary: dict[str, Any]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """How the attempt ended: committed (the pack became active) or rejected."""

    at: str
    status: Literal["committed", "rejected"]
    reason: RejectReason | None
    message: str | None
    forced: bool
    tests_skipped: bool
    summary: dict[str, Any] | None
    replaced_registration_id: str | None
    actor: str | None
    """Who cancelled it (``pack cancel``); None when the registration decided itself."""
    note: str | None
    """The reason that person gave."""


class Ending(msgspec.Struct, frozen=True, kw_only=True):
    """A later rollback or unregister of the committed registration."""

    at: str
    reason: RollbackReason
    by: str
    note: str | None
    restored_registration_id: str | None
    overridden_dependents: list[dict[str, str]] = msgspec.field(default_factory=list)
    """``{"ref", "wanted"}`` of the active packs that depended on it, when ``--force`` ended
    it anyway."""


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One step as a sentence, with the lines that explain it."""

    at: str
    text: str
    tone: Tone = ""
    details: list[str] = msgspec.field(default_factory=list)


class AuditSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One registration from request to its end, as facts and as a timeline of sentences."""

    registration_id: str
    pack_ref: str
    pack_version: str
    status: RegistrationStatus
    request: Request
    suites: list[Suite]
    decision: Decision | None
    """None while it is still running."""
    ended: Ending | None
    timeline: list[Step]
    reused: Reused | None = None
    """The run it reused instead of running its suites; None when they ran (or not)."""


def summarize(registration_id: object, events: list[StoredEvent]) -> AuditSummary:
    """The summary of a registration from its stored events, in order (the first is its
    request: ``registry.audit`` raises for anything else)."""
    states = [(_EVENTS.get(event.topic), upcast(event)) for event in events]
    first = next(state for cls, state in states if cls is Registration.PackRegistrationRequested)
    request = _request(first)
    suites = [_suite(state) for cls, state in states if cls is Registration.TestSuiteCompleted]
    decision = next((_decision(cls, state) for cls, state in states
                     if cls in (Registration.RegistrationCommitted,
                                Registration.RegistrationRejected)), None)
    overridden: list[dict[str, str]] = next(
        (state["dependents"] for cls, state in states
         if cls is Registration.DependentsOverridden), [])
    ended = next((_ending(state, overridden) for cls, state in states
                  if cls is Registration.RegistrationRolledBack), None)
    status: RegistrationStatus = ("rolled_back" if ended else decision.status if decision
                                  else "testing" if suites else "requested")
    reused = next((Reused(at=state["timestamp"], run_id=state["run_id"],
                          registration_id=state["registration_id"],
                          pack_version=state["pack_version"], fingerprint=state["fingerprint"],
                          summary=state["summary"])
                   for cls, state in states if cls is Registration.TestsReused), None)
    steps = [request_step(first["pack_ref"], first["pack_version"], request),
             *[environment_step(state) for cls, state in states
               if cls is Registration.EnvironmentPrepared],
             *([reused_step(reused)] if reused else []),
             *[suite_step(suite) for suite in suites]]
    if decision is not None:
        steps.append(decision_step(decision))
    if ended is not None:
        steps.append(ending_step(ended))
    return AuditSummary(registration_id=str(registration_id), pack_ref=first["pack_ref"],
                        pack_version=first["pack_version"], status=status, request=request,
                        suites=suites, decision=decision, ended=ended, timeline=steps,
                        reused=reused)


def upcast(event: StoredEvent) -> dict[str, Any]:
    """The event's state as plain JSON values (times as ISO 8601, ids as text) in the shape
    of its class now: what the library's upcasters make of an older version."""
    state: dict[str, Any] = msgspec.to_builtins(event.state)
    cls = _EVENTS.get(event.topic)
    if cls is None:
        return state
    version = state.pop("class_version", 1)
    while version < getattr(cls, "class_version", 1):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


def _request(state: dict[str, Any]) -> Request:
    return Request(at=state["timestamp"], by=state["requested_by"],
                   trigger=state["trigger_reason"], origin=origin_from_dict(state["origin"]),
                   source_path=state["source_path"], content_digest=state["content_digest"],
                   force=state["force"], replace=state["replace"],
                   skip_tests=state["skip_tests"],
                   suites=expected_suites(state["manifest"], skip_tests=state["skip_tests"]),
                   # Stored before version 3 of the request: absent, as false.
                   skip_dependents=bool(state.get("skip_dependents")))


def _suite(state: dict[str, Any]) -> Suite:
    worker = state.get("worker") or {}
    failing = [f"{case.get('name')}: {summary_line(case.get('error_message') or '')}"
               for case in state.get("test_cases") or []
               if case.get("status") in ("failed", "error")]
    flaky = [f"{case.get('name')}: flaky, passed on attempt {case.get('attempts')}"
             for case in state.get("test_cases") or [] if case.get("flaky")]
    return Suite(at=state["timestamp"], name=state["name"], runner_type=state["runner_type"],
                 status=state["status"], total=state["total"], passed=state["passed"],
                 failed=state["failed"], skipped=state["skipped"],
                 duration_ms=state["duration_ms"], message=state.get("message"),
                 worker=Worker(str(worker["host"]), int(worker["pid"]))
                 if "host" in worker and "pid" in worker else None,
                 sandbox=(state.get("isolation") or {}).get("mechanism"),
                 failing=failing[:MAX_FAILURES],
                 flaky=flaky[:MAX_FAILURES], flaky_count=len(flaky))


def _decision(cls: type[Any] | None, state: dict[str, Any]) -> Decision:
    if cls is Registration.RegistrationCommitted:
        return Decision(at=state["timestamp"], status="committed", reason=None, message=None,
                        forced=state["forced"], tests_skipped=state["tests_skipped"],
                        summary=state["summary"],
                        replaced_registration_id=state["replaced_registration_id"],
                        actor=None, note=None)
    return Decision(at=state["timestamp"], status="rejected", reason=state["reason"],
                    message=state["message"], forced=False, tests_skipped=False,
                    summary=state["summary"], replaced_registration_id=None,
                    actor=state["actor"], note=state["note"])


def _ending(state: dict[str, Any], overridden: list[dict[str, str]]) -> Ending:
    return Ending(at=state["timestamp"], reason=state["reason"], by=state["actor"],
                  note=state["note"],
                  restored_registration_id=state["restored_registration_id"],
                  overridden_dependents=overridden)


def request_step(ref: str, version: str, request: Request) -> Step:
    what = (f"install {ref} {version} from {origin_text(request.origin)}"
            if request.origin is not None else f"register {ref} {version}")
    if isinstance(request.origin, ReleaseOrigin):  # ``pack activate``
        what = f"activate {ref} {version} again: the {origin_text(request.origin)}"
    tests = (" without running its tests" if request.skip_tests else
             f"; suites to run: {', '.join(request.suites) or 'none'}")
    details = [f"source: {request.source_path}", f"content: sha256:{request.content_digest}"]
    if request.force:
        details.append("--force: activate even if tests fail")
    elif request.replace:
        details.append("--replace: may replace the active version if tests pass")
    if request.skip_dependents:
        details.append("--skip-dependents: the active dependents' suites are not run")
    return Step(at=request.at, text=f"{request.by} asked to {what}{tests}", details=details)


def environment_step(state: dict[str, Any]) -> Step:
    """The pack's Python environment in one line, what it holds below."""
    how = "built" if state["built"] else "reused"
    wanted = (f"{state['requirements']} (sha256:{state['requirements_digest']}"
              f"{', hash-checked' if state['hash_checked'] else ''})"
              if state["requirements"] else "no requirements")
    packages = state["packages"]
    listed = ", ".join(f"{package['name']} {package['version']}" for package in packages)
    return Step(at=state["timestamp"], text=(
        f"Python {state['python_version']} environment {how}: {wanted}; "
        f"{len(packages)} package{'' if len(packages) == 1 else 's'}"
        f"{': ' + listed if listed else ''}"),
        details=[f"{package['name']} {package['version']} {package['hash']}"
                 for package in packages if package.get("hash")])


def reused_step(reused: Reused) -> Step:
    """The run that stood for the suites, and why it may."""
    summary = reused.summary
    return Step(at=reused.at, text=(
        f"Tests reused from run {reused.run_id} of {reused.pack_version}"
        f"{of_registration(reused.run_id, reused.registration_id)}, same content and "
        f"environment: {summary['passed']}/{summary['total_tests']} passed"), tone="good",
        details=[f"environment fingerprint: {reused.fingerprint}",
                 "no suite ran for this registration (--reuse)"])


def of_registration(run_id: str, registration_id: str) -> str:
    """Which registration's release a reused run tested, when the run is a test run (a
    registration's own run has the registration's id)."""
    return "" if run_id == registration_id else f" (registration {registration_id})"


def suite_step(suite: Suite) -> Step:
    where = f" on {suite.worker.host} (pid {suite.worker.pid})" if suite.worker else ""
    return Step(at=suite.at, text=(
        f"Suite {suite.name} ({suite.runner_type}) {suite.status}: {suite.passed} passed, "
        f"{suite.failed} failed, {suite.skipped} skipped in {seconds(suite.duration_ms)}"
        + (f", {suite.flaky_count} flaky" if suite.flaky_count else "")
        + f"{where}"), tone="good" if suite.status == "passed" else "bad",
        details=[*suite.failing, *suite.flaky])


def decision_step(decision: Decision) -> Step:
    if decision.status == "committed":
        text = "Committed: the pack became active"
        details = ([f"replaced registration {decision.replaced_registration_id}"]
                   if decision.replaced_registration_id else [])
        if decision.forced:
            return Step(at=decision.at, text=text + " although its tests failed (forced)",
                        tone="bad", details=details)
        if decision.tests_skipped:
            return Step(at=decision.at, text=text + " with its tests skipped", details=details)
        return Step(at=decision.at, text=text, tone="good", details=details)
    by = f" by {decision.actor}" if decision.actor else ""
    why = REJECTIONS.get(decision.reason or "", "")
    given = [f"reason given: {decision.note}"] if decision.note else []
    if not why or decision.reason == "abandoned":  # the message says who or what ended it
        return Step(at=decision.at, text=f"Rejected{by}: {decision.message or decision.reason}",
                    tone="bad", details=given)
    return Step(at=decision.at, text=f"Rejected{by}: {why}", tone="bad",
                details=([decision.message] if decision.reason != "tests_failed"
                         and decision.message else []) + given)


def ending_step(ended: Ending) -> Step:
    what = "Unregistered" if ended.reason == "unregister" else "Rolled back"
    details = [f"reason given: {ended.note}"] if ended.note else []
    if ended.restored_registration_id:
        details.append(f"registration {ended.restored_registration_id} is active again")
    if ended.overridden_dependents:
        details.append("--force: active packs depended on it: " + ", ".join(
            f"{dep['ref']} ({dep['wanted']})" for dep in ended.overridden_dependents))
    return Step(at=ended.at, text=f"{what} by {ended.by}: no longer active", details=details)


def origin_text(origin: Origin | None) -> str:
    """Where an installed pack came from, in one line."""
    return describe(origin)


def seconds(duration_ms: int | None) -> str:
    """A duration as people read it: ``0.42 s``, ``12 s``; empty for None."""
    if duration_ms is None:
        return ""
    return f"{duration_ms / 1000:.2f} s" if duration_ms < 10_000 else f"{duration_ms / 1000:.0f} s"
