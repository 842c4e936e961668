"""Test results as plain values: one case, one suite, and the whole run."""

from __future__ import annotations

from typing import Any

import msgspec

from domain.vocabulary import CaseStatus, RunnerType, SuiteStatus


class TestCaseResult(msgspec.Struct, frozen=True, kw_only=True):
    """One test case as its runner reported it."""

    __test__ = False

    name: str
    status: CaseStatus
    duration_ms: int = 0
    error_message: str | None = None


class SuiteResult(msgspec.Struct, frozen=True, kw_only=True):
    """One suite's outcome: status, counts derived from its cases, and bounded output."""

    name: str
    runner_type: RunnerType
    status: SuiteStatus
    total: int
    passed: int
    failed: int  # failures and errors
    skipped: int
    duration_ms: int
    exit_code: int | None = None
    timed_out: bool = False
    message: str | None = None
    test_cases: list[TestCaseResult] = msgspec.field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteResult:
        return msgspec.convert(data, type=cls)


class TestSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A run's counts without its suites: what the events that decide a registration carry."""

    __test__ = False

    pack_ref: str
    pack_version: str
    execution_time: str
    status: SuiteStatus
    total_tests: int
    passed: int
    failed: int
    skipped: int
    pass_rate: float
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class TestResult(TestSummary, frozen=True, kw_only=True):
    """The whole run of a pack's suites: the spec's ``test_result`` document."""

    __test__ = False

    test_suites: list[SuiteResult]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        return msgspec.convert(data, type=cls)

    def summary(self) -> TestSummary:
        """The counts without the suites."""
        return TestSummary(**{name: getattr(self, name)
                              for name in TestSummary.__struct_fields__})
