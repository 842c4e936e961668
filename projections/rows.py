"""Rows of the read models, as frozen structs the CLI and the API return directly."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from attune_registry.domain.origin import Origin, origin_from_dict
from attune_registry.domain.vocabulary import (
    ComponentKind,
    RegistrationStatus,
    RejectReason,
    RollbackReason,
    RunOutcome,
    RunStatus,
    TokenScope,
    TriggerReason,
)

from attune_registry.projections.sql import from_json, from_timestamp


class PackRow(msgspec.Struct, frozen=True, kw_only=True):
    """An active pack (the ``pack`` table)."""

    id: int
    ref: str
    label: str
    description: str
    version: str
    author: str | None
    email: str | None
    conf_schema: dict[str, Any]
    config: dict[str, Any]
    meta: dict[str, Any]
    tags: list[str]
    runtime_deps: list[str]
    dependencies: dict[str, str]
    """Pack ref -> version range (``*``: any), by ref (PostgreSQL's JSON keeps no order)."""
    system: bool
    enabled: bool
    source_path: str
    content_digest: str
    origin: Origin | None
    """Where an installed pack's files came from; None for a registered directory."""
    registration_id: str
    created: str
    updated: str


class ComponentRow(msgspec.Struct, frozen=True, kw_only=True):
    """An action, trigger, sensor, rule or workflow of an active pack."""

    pack_id: int
    kind: ComponentKind
    ref: str
    label: str
    description: str
    entry_point: str | None
    definition: dict[str, Any]


class RegistrationRow(msgspec.Struct, frozen=True, kw_only=True):
    """One registration attempt and its lifecycle (the ``pack_registration`` table)."""

    id: str
    pack_ref: str
    pack_version: str
    status: RegistrationStatus
    reason: RejectReason | RollbackReason | None
    force: bool
    replace_active: bool  # allowed to replace an active registration (--replace or --force)
    skip_tests: bool
    forced: bool | None  # committed although its tests did not pass
    trigger_reason: TriggerReason
    requested_by: str
    source_path: str
    content_digest: str
    origin: Origin | None
    replaced_registration_id: str | None
    requested_at: str
    finished_at: str | None
    rolled_back_at: str | None
    rolled_back_by: str | None
    restored_registration_id: str | None
    note: str | None = None
    """Why it was rolled back, unregistered or cancelled, in the words of who did it
    (``--reason``); None when no reason was given."""
    cancelled_by: str | None = None
    """Who cancelled it (``pack cancel``: rejected as ``abandoned``); None otherwise."""
    overridden_dependents: list[dict[str, str]] | None = None
    """``{"ref", "wanted"}`` of the active packs that depended on it when it was unregistered
    or rolled back with ``--force``; None otherwise."""
    reused_run_id: str | None = None
    """The passing run it reused instead of running its suites (``--reuse``); None: it ran
    them, or skipped them."""


class _TestExecutionFields(msgspec.Struct, frozen=True, kw_only=True):
    """The columns of ``pack_test_execution`` before its ``result`` document."""

    id: int
    pack_id: int | None
    pack_ref: str
    pack_version: str
    run_id: str  # the registration's or the manual test run's id
    registration_id: str  # the registration whose pack was tested
    test_run_id: str | None  # set for manual runs
    trigger_reason: TriggerReason
    execution_time: str
    status: RunStatus
    outcome: RunOutcome | None  # None while running
    total_tests: int
    passed: int
    failed: int
    skipped: int
    pass_rate: float
    duration_ms: int
    content_digest: str | None = None
    """The content the run tested; None for runs projected before digests were kept."""
    fingerprint: str | None = None
    """The environment every suite of the run ran in (``SuiteResult.fingerprint``); None
    while running, when its suites ran in different ones, or before fingerprints."""
    flaky: int = 0
    """Cases that failed, then passed on a retry."""


class TestExecutionRow(_TestExecutionFields, frozen=True, kw_only=True):
    """One test run of a pack (the ``pack_test_execution`` table), rejected ones included."""

    __test__ = False

    result: dict[str, Any]
    created: str


# A JSON object exactly as the store holds it, spliced into an encoded response without being
# decoded and encoded again. The metadata documents it (in the API's OpenAPI schema) as the
# object it is, like a ``dict[str, Any]`` field.
JsonObjectText = Annotated[msgspec.Raw, msgspec.Meta(extra_json_schema={
    "extra": {"type": "object", "additional_properties": {}}})]


class TestExecutionJsonRow(_TestExecutionFields, frozen=True, kw_only=True):
    """A ``TestExecutionRow`` whose ``result`` is the stored JSON, not decoded: the API's test
    history sends it on as is (decoding and re-encoding it was most of the cost of a page)."""

    __test__ = False

    result: JsonObjectText
    created: str


class TokenRow(msgspec.Struct, frozen=True, kw_only=True):
    """An API token's public facts (never its secret or hash)."""

    id: str
    name: str
    scope: TokenScope
    issued_by: str
    issued_at: str
    revoked_at: str | None
    revoked_by: str | None


def token_row(row: dict[str, Any]) -> TokenRow:
    for key in ("issued_at", "revoked_at"):
        row[key] = from_timestamp(row[key])
    return TokenRow(**row)


def pack_row(row: dict[str, Any]) -> PackRow:
    for key in ("conf_schema", "config", "meta", "tags", "runtime_deps", "dependencies"):
        row[key] = from_json(row[key])
    row["dependencies"] = dict(sorted(row["dependencies"].items()))
    row["origin"] = origin_from_dict(from_json(row["origin"]))
    for key in ("system", "enabled"):
        row[key] = bool(row[key])
    for key in ("created", "updated"):
        row[key] = from_timestamp(row[key])
    return PackRow(**row)


def component_row(row: dict[str, Any]) -> ComponentRow:
    row["definition"] = from_json(row["definition"])
    return ComponentRow(**row)


def registration_row(row: dict[str, Any]) -> RegistrationRow:
    for key in ("manifest", "components"):
        del row[key]
    for key in ("force", "replace_active", "skip_tests"):
        row[key] = bool(row[key])
    row["origin"] = origin_from_dict(from_json(row["origin"]))
    row["overridden_dependents"] = from_json(row.get("overridden_dependents"))
    row["forced"] = None if row["forced"] is None else bool(row["forced"])
    for key in ("requested_at", "finished_at", "rolled_back_at"):
        row[key] = from_timestamp(row[key])
    return RegistrationRow(**row)


def execution_row(row: dict[str, Any]) -> TestExecutionRow:
    row["result"] = from_json(row["result"])
    return TestExecutionRow(**_execution_fields(row))


def execution_json_row(row: dict[str, Any]) -> TestExecutionJsonRow:
    """From a row whose ``result`` was selected as text (on PostgreSQL: cast from JSONB)."""
    row["result"] = msgspec.Raw(row["result"])
    return TestExecutionJsonRow(**_execution_fields(row))


def _execution_fields(row: dict[str, Any]) -> dict[str, Any]:
    row["execution_time"] = from_timestamp(row["execution_time"])
    row["created"] = from_timestamp(row["created"])
    row["pass_rate"] = float(row["pass_rate"])
    return row
