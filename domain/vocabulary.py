"""The words the registry records and shows: statuses, reasons, triggers, runner types, scopes.

One spelling for the events, the read-model rows, the HTTP schemas and the CLI, as ``Literal``
types: a type checker catches a misspelt status, and the API's schema lists the values.
"""

from __future__ import annotations

from typing import Literal, get_args

RegistrationStatus = Literal["requested", "testing", "committed", "rejected", "rolled_back"]
RejectReason = Literal["tests_failed", "tests_not_executed", "abandoned", "environment_failed",
                       "dependents_failed"]
"""Why a registration was closed without activating it."""
RollbackReason = Literal["rollback", "unregister"]
"""Why a committed registration stopped being the active one."""
TriggerReason = Literal["register", "install", "manual", "dependency", "activate"]
"""What started a test run: a registration, an install, ``attune pack test``, the upgrade of
a pack this one depends on (its suites run against the candidate before it may replace the
active version), or ``attune pack activate`` (a kept release made active again)."""
RunStatus = Literal["running", "passed", "failed", "error"]
"""A test run in the history: ``running`` until its last suite is recorded."""
SuiteStatus = Literal["passed", "failed", "error"]
"""A finished suite, or a finished run; ``error``: it could not run (timeout, crash...)."""
CaseStatus = Literal["passed", "failed", "error", "skipped"]
RunOutcome = Literal["committed", "forced", "rejected", "manual", "dependency"]
"""What a run decided: the registration committed (``forced``: despite failures), rejected, or
nothing about the pack it ran (a manual run; ``dependency``: a dependent's run, which decided
about the upgrade it ran against)."""
RunnerType = Literal["python_unittest", "pytest", "shell"]
SandboxMechanism = Literal["bwrap", "namespaces", "off"]
"""How a suite was isolated: bubblewrap, the built-in namespaces and Landlock launcher, or not at
all (only by an explicit setting)."""
TokenScope = Literal["read", "write"]
ComponentKind = Literal["action", "trigger", "sensor", "rule", "workflow"]

SANDBOX_MECHANISMS: tuple[SandboxMechanism, ...] = get_args(SandboxMechanism)
TOKEN_SCOPES: tuple[TokenScope, ...] = get_args(TokenScope)
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
SUITE_STATUSES: tuple[SuiteStatus, ...] = get_args(SuiteStatus)
