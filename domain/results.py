"""Test results as plain values: one case, one suite, and the whole run."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from attune_registry.domain.vocabulary import CaseStatus, RunnerType, SandboxMechanism, SuiteStatus

# The limits a sandbox applies to each process of a suite, by their pack.yaml names.
LIMIT_UNITS = {"memory_mb": "MiB of memory", "processes": "processes", "open_files": "open files",
               "file_size_mb": "MiB per file", "cpu_seconds": "s of CPU"}


class TestCaseResult(msgspec.Struct, frozen=True, kw_only=True):
    """One test case as its runner reported it."""

    __test__ = False

    name: str
    status: CaseStatus
    duration_ms: int = 0
    error_message: str | None = None
    attempts: int = 1
    """How many times it ran: more than 1 when its suite's ``retries`` reran it."""
    flaky: bool = False
    """It failed, then passed on a retry: it counts as passed, and is shown as flaky
    (``error_message`` keeps the first failure)."""


class Isolation(msgspec.Struct, frozen=True, kw_only=True):
    """How a suite was isolated, recorded with its result and shown wherever results are."""

    mechanism: SandboxMechanism
    network: bool
    """Whether the suite could reach the network (loopback inside the sandbox always works)."""
    covers: list[str]
    """What the mechanism enforced: ``files``, ``processes``, ``network``, ``ipc``,
    ``identity``, ``syscalls``, ``limits``."""
    limits: dict[str, int] = msgspec.field(default_factory=dict)
    shared: list[str] = msgspec.field(default_factory=list)
    """Folders outside the pack the operator shares with every suite (``ATTUNE_SANDBOX_SHARE``)."""

    def describe(self) -> str:
        """One line for people: the mechanism, what it covers, the network, the limits."""
        if self.mechanism == "off":
            return ("sandbox OFF (ATTUNE_SANDBOX=off): tests ran with the registry's own "
                    "access to files, processes and network")
        network = "network allowed" if self.network else "no network"
        limits = ", ".join(f"{self.limits[name]} {unit}" for name, unit in LIMIT_UNITS.items()
                           if name in self.limits)
        covered = ", ".join(c for c in self.covers if c not in ("network", "limits"))
        shared = f"; shared: {', '.join(self.shared)}" if self.shared else ""
        return f"sandbox {self.mechanism} ({covered}; {network}; limits: {limits}{shared})"


class RetryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One rerun of a suite's failed cases (``retries`` in pack.yaml): the cases it ran."""

    attempt: int
    """2 for the first retry, 3 for the second..."""
    duration_ms: int
    exit_code: int | None = None
    timed_out: bool = False
    message: str | None = None
    test_cases: list[TestCaseResult] = msgspec.field(default_factory=list)


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
    isolation: Isolation | None = None
    """How the suite was isolated; None for results recorded before the sandbox existed."""
    fingerprint: str | None = None
    """The environment it ran in (interpreter, the pack's environment, the runner's version,
    the sandbox), as a digest: runs of one content with one fingerprint had the same inputs.
    None for results recorded before fingerprints."""
    retries: list[RetryAttempt] = msgspec.field(default_factory=list)
    """The reruns of its failed cases, in order; the suite's cases are already merged (a case
    that passed on a retry is ``passed`` and ``flaky``)."""

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


_PYTEST_E_LINE = re.compile(r"^E\s{2,}(\S.*)$")
_FRAME_LINE = re.compile(r'^\s+File "')


def summary_line(message: str) -> str:
    """The one line of a failure message that says what failed: pytest's first ``E`` line;
    for a Python traceback the exception line after its last frame (``AssertionError: 'a' !=
    'b'``, not the end of the diff that follows it); else the last non-blank line."""
    lines = [text.rstrip() for text in message.splitlines() if text.strip()]
    for text in lines:
        found = _PYTEST_E_LINE.match(text)
        if found:
            return found.group(1).strip()
    frames = [index for index, text in enumerate(lines) if _FRAME_LINE.match(text)]
    if frames:
        # After the frame line come its indented source lines, then the exception line.
        for text in lines[frames[-1] + 1:]:
            if not text[0].isspace():
                return text
    return lines[-1].strip() if lines else ""
