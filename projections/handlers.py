"""Event -> row handlers. Deterministic: a rebuild from the log writes identical rows."""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch
from typing import Any

from attune_registry.domain.dependencies import dependencies_from_stored
from attune_registry.domain.registration import Registration
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.token import ApiToken

from attune_registry.projections.case_stats import record_case_outcomes
from attune_registry.projections.sql import Writer, from_json

SUITE_FIELDS = ("name", "runner_type", "status", "total", "passed", "failed", "skipped",
                "duration_ms", "exit_code", "timed_out", "message", "test_cases", "stdout",
                "stderr", "isolation", "fingerprint", "retries")


@singledispatch
def apply_event(event: Any, w: Writer) -> None:
    """Events no read model needs (e.g. the Pack lease events) only advance the position."""


@apply_event.register
def registration_requested(e: Registration.PackRegistrationRequested, w: Writer) -> None:
    manifest, stored_manifest = w.json_stored(e.manifest)
    components, stored_components = w.json_stored(e.components)
    origin, stored_origin = (None, None) if e.origin is None else w.json_stored(e.origin)
    w.execute(
        "INSERT INTO {t}pack_registration (id, pack_ref, pack_version, status, reason, force,"
        " replace_active, skip_tests, trigger_reason, requested_by, source_path, content_digest,"
        " origin, manifest, components, requested_at) VALUES (:id, :ref, :version, 'requested',"
        " NULL, :force, :replace, :skip, :trigger, :by, :source, :digest, :origin, :manifest,"
        " :components, :at)",
        {"id": str(e.originator_id), "ref": e.pack_ref, "version": e.pack_version,
         "force": e.force, "replace": e.replace, "skip": e.skip_tests, "trigger": e.trigger_reason,
         "by": e.requested_by, "source": e.source_path, "digest": e.content_digest,
         "origin": origin, "manifest": manifest, "components": components,
         "at": w.timestamp(e.timestamp)},
    )
    # What its decision reads back (``_REQUESTED_COLUMNS``), unless it comes in a later batch.
    w.requested[str(e.originator_id)] = {
        "id": str(e.originator_id), "pack_ref": e.pack_ref, "source_path": e.source_path,
        "content_digest": e.content_digest, "origin": stored_origin,
        "manifest": stored_manifest, "components": stored_components}
    w.execute(
        "INSERT INTO {t}pack_registration_count AS c (pack_ref, n) VALUES (:ref, 1)"
        " ON CONFLICT (pack_ref) DO UPDATE SET n = c.n + 1", {"ref": e.pack_ref})
    if not e.skip_tests:
        _start_execution(w, str(e.originator_id), str(e.originator_id), None, e.pack_ref,
                         e.pack_version, e.trigger_reason, e.timestamp, e.content_digest)


@apply_event.register
def test_run_requested(e: TestRun.TestRunRequested, w: Writer) -> None:
    _start_execution(w, str(e.originator_id), str(e.registration_id), str(e.originator_id),
                     e.pack_ref, e.pack_version, e.trigger_reason, e.timestamp,
                     e.content_digest)


@apply_event.register(Registration.TestSuiteCompleted)
@apply_event.register(TestRun.TestSuiteCompleted)
def suite_completed(e: Any, w: Writer) -> None:
    if isinstance(e, Registration.TestSuiteCompleted):
        _set_status(w, e, "testing", None)
    row = w.one("SELECT result, pack_ref, pack_version, content_digest, trigger_reason"
                " FROM {t}pack_test_execution WHERE run_id = :run", {"run": str(e.originator_id)})
    if row is None:
        return
    record_case_outcomes(w, row, e)
    result = from_json(row["result"])
    suite = {key: getattr(e, key) for key in SUITE_FIELDS}
    result["test_suites"].append(suite)
    for key in ("passed", "failed", "skipped"):
        result[key] += suite[key]
    result["total_tests"] += suite["total"]
    w.execute(
        "UPDATE {t}pack_test_execution SET total_tests = :total, passed = :passed,"
        " failed = :failed, skipped = :skipped, result = :result WHERE run_id = :run",
        {"total": result["total_tests"], "passed": result["passed"],
         "failed": result["failed"], "skipped": result["skipped"],
         "result": w.json(result), "run": str(e.originator_id)},
    )


@apply_event.register
def registration_committed(e: Registration.RegistrationCommitted, w: Writer) -> None:
    update = ("UPDATE {t}pack_registration SET status = 'committed', reason = NULL,"
              " finished_at = :at, forced = :forced, replaced_registration_id = :replaced"
              " WHERE id = :id")
    params = {"at": w.timestamp(e.timestamp), "forced": e.forced, "id": str(e.originator_id),
              "replaced": str(e.replaced_registration_id) if e.replaced_registration_id
              else None}
    reg = w.requested.get(str(e.originator_id))
    if reg is None:  # requested in an earlier batch: read its row back
        reg = w.one(update + f" RETURNING {_REQUESTED_COLUMNS}", params)
    else:  # nothing to wait for: PostgreSQL sends it with the batch's other writes
        w.execute(update, params)
    assert reg is not None, f"committed registration {e.originator_id} was never requested"
    _activate(w, reg, e.timestamp)
    if not e.tests_skipped:
        _finish_execution(w, str(e.originator_id), e.summary,
                          "forced" if e.forced else "committed", manifest=reg["manifest"])


@apply_event.register
def registration_rolled_back(e: Registration.RegistrationRolledBack, w: Writer) -> None:
    restored = str(e.restored_registration_id) if e.restored_registration_id else None
    w.execute(
        "UPDATE {t}pack_registration SET status = 'rolled_back', reason = :reason,"
        " rolled_back_at = :at, rolled_back_by = :actor, restored_registration_id = :restored,"
        " note = :note WHERE id = :id",
        {"reason": e.reason, "at": w.timestamp(e.timestamp), "actor": e.actor,
         "restored": restored, "note": e.note, "id": str(e.originator_id)},
    )
    if restored is not None:
        reg = w.one("SELECT * FROM {t}pack_registration WHERE id = :id", {"id": restored})
        assert reg is not None, f"restored registration {restored} was never requested"
        _activate(w, reg, e.timestamp)
        return
    row = w.one("SELECT pack_ref FROM {t}pack_registration WHERE id = :id",
                {"id": str(e.originator_id)})
    assert row is not None, f"rolled back registration {e.originator_id} was never requested"
    pack_id = _pack_identity(w, row["pack_ref"])
    w.execute("DELETE FROM {t}pack_component WHERE pack_id = :id", {"id": pack_id})
    w.execute("DELETE FROM {t}pack WHERE id = :id", {"id": pack_id})


@apply_event.register
def dependents_overridden(e: Registration.DependentsOverridden, w: Writer) -> None:
    w.execute("UPDATE {t}pack_registration SET overridden_dependents = :dependents"
              " WHERE id = :id", {"dependents": w.json(e.dependents), "id": str(e.originator_id)})


@apply_event.register
def tests_reused(e: Registration.TestsReused, w: Writer) -> None:
    """No suite ran: the run its request started leaves the test history (the reused run is
    there already), and its decision then finds no run to finish."""
    w.execute("UPDATE {t}pack_registration SET reused_run_id = :run WHERE id = :id",
              {"run": e.run_id, "id": str(e.originator_id)})
    row = w.one("DELETE FROM {t}pack_test_execution WHERE run_id = :run"
                " RETURNING pack_ref, status, trigger_reason", {"run": str(e.originator_id)})
    if row is not None:
        _count_run(w, row["pack_ref"], row["status"], row["trigger_reason"], -1)


@apply_event.register
def registration_rejected(e: Registration.RegistrationRejected, w: Writer) -> None:
    _set_status(w, e, "rejected", e.reason)
    if e.actor is not None:  # cancelled by someone (``pack cancel``)
        w.execute("UPDATE {t}pack_registration SET cancelled_by = :actor, note = :note"
                  " WHERE id = :id", {"actor": e.actor, "note": e.note, "id": str(e.originator_id)})
    _finish_execution(w, str(e.originator_id), e.summary, "rejected")


@apply_event.register
def test_run_completed(e: TestRun.TestRunCompleted, w: Writer) -> None:
    _finish_execution(w, str(e.originator_id), e.summary, "manual", error=e.error)


@apply_event.register
def token_issued(e: ApiToken.TokenIssued, w: Writer) -> None:
    w.execute("INSERT INTO {t}api_token (id, name, scope, issued_by, issued_at) VALUES"
              " (:id, :name, :scope, :by, :at)",
              {"id": str(e.originator_id), "name": e.name, "scope": e.scope, "by": e.issued_by,
               "at": w.timestamp(e.timestamp)})


@apply_event.register
def token_revoked(e: ApiToken.TokenRevoked, w: Writer) -> None:
    w.execute("UPDATE {t}api_token SET revoked_at = :at, revoked_by = :actor WHERE id = :id",
              {"at": w.timestamp(e.timestamp), "actor": e.actor, "id": str(e.originator_id)})


def _start_execution(w: Writer, run_id: str, registration_id: str, test_run_id: str | None,
                     ref: str, version: str, trigger: str, at: datetime,
                     digest: str) -> None:
    result = {"pack_ref": ref, "pack_version": version, "execution_time": at.isoformat(),
              "status": "running", "total_tests": 0, "passed": 0, "failed": 0, "skipped": 0,
              "pass_rate": 0.0, "duration_ms": 0, "test_suites": []}
    w.execute(
        "INSERT INTO {t}pack_test_execution (id, pack_id, pack_ref, pack_version, run_id,"
        " registration_id, test_run_id, trigger_reason, execution_time, status, outcome,"
        " total_tests, passed, failed, skipped, pass_rate, duration_ms, result, created,"
        " content_digest) VALUES ("
        " (SELECT COALESCE(MAX(id), 0) + 1 FROM {t}pack_test_execution),"
        " (SELECT id FROM {t}pack_identity WHERE ref = :ref), :ref, :version, :run, :reg,"
        " :test_run, :trigger, :at, 'running', NULL, 0, 0, 0, 0, 0.0, 0, :result, :at,"
        " :digest)",
        {"ref": ref, "version": version, "run": run_id, "reg": registration_id,
         "test_run": test_run_id, "trigger": trigger, "at": w.timestamp(at),
         "result": w.json(result), "digest": digest},
    )
    _count_run(w, ref, "running", trigger, 1)


def _set_status(w: Writer, e: Any, status: str, reason: str | None) -> None:
    finished = status in ("committed", "rejected")
    w.execute(
        "UPDATE {t}pack_registration SET status = :status, reason = :reason,"
        " finished_at = :finished WHERE id = :id",
        {"status": status, "reason": reason, "id": str(e.originator_id),
         "finished": w.timestamp(e.timestamp) if finished else None},
    )


def prefetch(events: list[Any], w: Writer) -> None:
    """Read, in one statement, the pack ids that a batch of events will need, rather than one
    round trip per event (PostgreSQL; SQLite's reads cost no round trip)."""
    if not w.dialect.postgres:
        return
    refs = {e.pack_ref for e in events
            if isinstance(e, Registration.PackRegistrationRequested)} - w.identities.keys()
    if refs:
        w.identities.update((row["ref"], int(row["id"])) for row in w.all(
            "SELECT ref, id FROM {t}pack_identity WHERE ref = ANY(:refs)", {"refs": list(refs)}))
        w.new_refs.update(refs - w.identities.keys())


def _pack_identity(w: Writer, ref: str) -> int:
    """The stable integer id of a ref, assigned in log order when it first becomes active."""
    if ref in w.identities:
        return w.identities[ref]
    row = None if ref in w.new_refs else w.one(
        "SELECT id FROM {t}pack_identity WHERE ref = :ref", {"ref": ref})
    if row is None:
        row = w.one(
            "INSERT INTO {t}pack_identity (ref, id)"
            " SELECT :ref, COALESCE(MAX(id), 0) + 1 FROM {t}pack_identity RETURNING id",
            {"ref": ref})
        assert row is not None
    w.identities[ref] = int(row["id"])
    return w.identities[ref]


def _activate(w: Writer, reg: dict[str, Any], at: datetime) -> None:
    """Make the pack row and its components those of a (committed) registration row."""
    pack_id = _pack_identity(w, reg["pack_ref"])
    _upsert_pack(w, at, reg, pack_id)
    components = from_json(reg["components"])
    w.execute("DELETE FROM {t}pack_component WHERE pack_id = :id", {"id": pack_id})
    for component in components:
        w.execute(
            "INSERT INTO {t}pack_component (pack_id, kind, ref, label, description,"
            " entry_point, definition) VALUES (:pack_id, :kind, :ref, :label, :description,"
            " :entry_point, :definition) ON CONFLICT (pack_id, kind, ref) DO NOTHING",
            {"pack_id": pack_id, "kind": component["kind"], "ref": component["ref"],
             "label": component["label"], "description": component["description"],
             "entry_point": component["entry_point"],
             "definition": w.json(component["definition"])},
        )


# The columns of a registration row that committing it reads (``_activate``, the run's order).
_REQUESTED_COLUMNS = "id, pack_ref, source_path, content_digest, origin, manifest, components"

_PACK_COLUMNS = ("ref", "label", "description", "version", "author", "email", "conf_schema",
                 "config", "meta", "tags", "runtime_deps", "dependencies", "system", "enabled",
                 "source_path", "content_digest", "origin", "registration_id", "updated")


def _upsert_pack(w: Writer, at: datetime, reg: dict[str, Any], pack_id: int) -> None:
    """One statement: ``created`` is kept from the row it replaces (set when the ref became
    active, again after an unregister), everything else comes from the registration."""
    m = from_json(reg["manifest"])
    w.execute(
        "INSERT INTO {t}pack (id, ref, label, description, version, author, email, conf_schema,"
        " config, meta, tags, runtime_deps, dependencies, system, enabled, source_path,"
        " content_digest, origin, registration_id, created, updated) VALUES (:id, :ref, :label,"
        " :description, :version, :author, :email, :conf_schema, :config, :meta, :tags,"
        " :runtime_deps, :dependencies, :system, :enabled, :source_path, :digest, :origin,"
        " :reg, :updated, :updated) ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{column} = excluded.{column}" for column in _PACK_COLUMNS),
        {"id": pack_id, "ref": m["ref"], "label": m["label"], "description": m["description"],
         "version": m["version"], "author": m.get("author"), "email": m.get("email"),
         "conf_schema": w.json(m["conf_schema"]), "config": w.json(m["config"]),
         "meta": w.json(m["meta"]), "tags": w.json(m["tags"]),
         "runtime_deps": w.json(m["runtime_deps"]),
         "dependencies": w.json(dependencies_from_stored(m["dependencies"])),
         "system": m["system"], "enabled": m["enabled"], "source_path": reg["source_path"],
         "digest": reg["content_digest"], "origin": _json_or_null(w, from_json(reg["origin"])),
         "reg": reg["id"], "updated": w.timestamp(at)},
    )


def _json_or_null(w: Writer, value: Any) -> Any:
    """SQL NULL for None (a registered directory has no origin), not a JSON ``null``."""
    return None if value is None else w.json(value)


def _finish_execution(w: Writer, run_id: str, summary: dict[str, Any] | None,
                      outcome: str, *, error: str | None = None, manifest: Any = None) -> None:
    row = w.one("SELECT result, pack_ref, registration_id, status, trigger_reason"
                " FROM {t}pack_test_execution WHERE run_id = :run", {"run": run_id})
    if row is None:  # tests were skipped: nothing ran, nothing to record
        return
    result = from_json(row["result"])
    if summary is not None:
        result.update(summary)
    else:  # stopped before a decision: keep what finished, mark the run as an error
        result["status"] = "error"
    if error:
        result["error"] = error
    result["test_suites"] = _in_declared_order(w, row["registration_id"], result["test_suites"],
                                               manifest)
    if row["trigger_reason"] == "dependency":  # a dependent's run against an upgrade
        outcome = "dependency"
    identity = w.one("SELECT id FROM {t}pack_identity WHERE ref = :ref", {"ref": row["pack_ref"]})
    fingerprints = {suite.get("fingerprint") for suite in result["test_suites"]}
    w.execute(
        "UPDATE {t}pack_test_execution SET status = :status, outcome = :outcome,"
        " pack_id = :pack_id, total_tests = :total, passed = :passed, failed = :failed,"
        " skipped = :skipped, pass_rate = :rate, duration_ms = :duration, result = :result,"
        " fingerprint = :fingerprint, flaky = :flaky WHERE run_id = :run",
        {"status": result["status"], "outcome": outcome,
         "pack_id": identity["id"] if identity else None, "total": result["total_tests"],
         "passed": result["passed"], "failed": result["failed"], "skipped": result["skipped"],
         "rate": result["pass_rate"], "duration": result["duration_ms"],
         "result": w.json(result), "run": run_id,
         "fingerprint": fingerprints.pop() if len(fingerprints) == 1 else None,
         "flaky": sum(1 for suite in result["test_suites"]
                      for case in suite["test_cases"] if case.get("flaky"))},
    )
    if result["status"] != row["status"]:  # the run moves to its final status's count
        _count_run(w, row["pack_ref"], row["status"], row["trigger_reason"], -1)
        _count_run(w, row["pack_ref"], result["status"], row["trigger_reason"], 1)


def _count_run(w: Writer, ref: str, status: str, trigger: str, delta: int) -> None:
    """Keep ``pack_test_count`` equal to the rows of ``pack_test_execution`` it counts."""
    w.execute(
        "INSERT INTO {t}pack_test_count AS c (pack_ref, status, trigger_reason, n)"
        " VALUES (:ref, :status, :trigger, :delta)"
        " ON CONFLICT (pack_ref, status, trigger_reason) DO UPDATE SET n = c.n + :delta",
        {"ref": ref, "status": status, "trigger": trigger, "delta": delta})


def _in_declared_order(w: Writer, registration_id: str, suites: list[dict[str, Any]],
                       manifest: Any = None) -> list[dict[str, Any]]:
    """Suites are recorded as they finish (in parallel runs, any order); show declared order."""
    if len(suites) < 2:
        return suites
    if manifest is None:
        reg = w.one("SELECT manifest FROM {t}pack_registration WHERE id = :id",
                    {"id": registration_id})
        manifest = reg["manifest"] if reg else None
    testing = from_json(manifest).get("testing") if manifest else None
    declared = [s["name"] for s in (testing or {}).get("test_suites", [])]
    position = {name: index for index, name in enumerate(declared)}
    return sorted(suites, key=lambda s: position.get(s["name"], len(declared)))
