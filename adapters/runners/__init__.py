"""Test runners, one module per runner, chosen by the suite's (canonical) runner name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.policy import suite_error
from attune_registry.domain.results import SuiteResult, TestCaseResult

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

from attune_registry.adapters.runners.fingerprint import fingerprint
from attune_registry.adapters.runners.process import kill_all
from attune_registry.adapters.runners.pytest_runner import PytestRunner
from attune_registry.adapters.runners.shell_runner import ShellRunner
from attune_registry.adapters.runners.unittest_runner import UnittestRunner
from attune_registry.adapters.sandbox import Jail, Sandbox, SuiteRefused
from attune_registry.adapters.sandbox.diagnose import limit_hit


class Runner(Protocol):
    """One kind of runner: says what to run for a suite of its kind; the jail isolates it."""

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            jail: Jail | None = None, context: SuiteContext = NO_CONTEXT) -> SuiteResult: ...


def without_nul(result: SuiteResult) -> SuiteResult:
    """NUL characters replaced (U+FFFD), in everything a test wrote: PostgreSQL's JSON and
    text types refuse them, and one test's output must not wedge the store's read models."""
    def clean(text: str) -> str:
        return text.replace("\0", "\ufffd")

    cases = [msgspec.structs.replace(
        case, name=clean(case.name),
        error_message=None if case.error_message is None else clean(case.error_message))
        for case in result.test_cases]
    return msgspec.structs.replace(
        result, stdout=clean(result.stdout), stderr=clean(result.stderr),
        message=None if result.message is None else clean(result.message), test_cases=cases)


class SandboxRunner:
    """Implements ``application.ports.SuiteRunner``: each suite goes to the runner its manifest
    names (one of ``domain.vocabulary.RunnerType``: the manifest model admits no other), in
    the sandbox, and its result records how it was isolated."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        self.runners: dict[str, Runner] = {
            "python_unittest": UnittestRunner(), "pytest": PytestRunner(), "shell": ShellRunner()}

    def ready(self) -> None:
        self.sandbox.ready()

    def fingerprint(self, context: SuiteContext = NO_CONTEXT) -> str:
        return fingerprint(self.sandbox.ready(), context)

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            context: SuiteContext = NO_CONTEXT) -> SuiteResult:
        runner = self.runners[suite.runner]
        try:
            jail = self.sandbox.jail_for(suite)
        except SuiteRefused as exc:
            return suite_error(name=suite.name, runner_type=suite.runner,  # type: ignore[arg-type]
                               message=str(exc))
        result = without_nul(runner.run(suite, pack_dir, on_case, jail, context))
        hint = limit_hit(result, jail.limits)
        if hint is not None:
            message = f"{result.message}; {hint}" if result.message else hint
            result = msgspec.structs.replace(result, message=message)
        return msgspec.structs.replace(result, isolation=jail.isolation(),
                                       fingerprint=fingerprint(jail.mechanism, context))

    def cancel(self) -> None:
        kill_all()


__all__ = ["PytestRunner", "SandboxRunner", "ShellRunner", "UnittestRunner"]
