"""Rows of the read models, as frozen structs the CLI and the API return directly."""

from __future__ import annotations

from typing import Any

import msgspec


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
    dependencies: list[str]
    system: bool
    enabled: bool
    source_path: str
    content_digest: str
    registration_id: str
    created: str
    updated: str


class TestExecutionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One test run of a pack (the ``pack_test_execution`` table), rejected ones included."""

    __test__ = False

    id: int
    pack_id: int | None
    pack_ref: str
    pack_version: str
    run_id: str  # the registration's or the manual test run's id
    registration_id: str  # the registration whose pack was tested
    test_run_id: str | None  # set for manual runs
    trigger_reason: str
    execution_time: str
    status: str  # running | passed | failed | error
    outcome: str | None  # committed | forced | rejected | manual; None while running
    total_tests: int
    passed: int
    failed: int
    skipped: int
    pass_rate: float
    duration_ms: int
    result: dict[str, Any]
    created: str
