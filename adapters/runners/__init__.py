"""Test runners, one module per runner, chosen by the suite's (canonical) runner name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from domain.manifest import TestSuite
from domain.results import SuiteResult, TestCaseResult

from adapters.runners.process import kill_all
from adapters.runners.pytest_runner import PytestRunner
from adapters.runners.shell_runner import ShellRunner
from adapters.runners.unittest_runner import UnittestRunner


class Runner(Protocol):
    """One kind of runner: runs a suite of its kind in the sandbox."""

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None) -> SuiteResult: ...


class SandboxRunner:
    """Implements ``application.ports.SuiteRunner``: each suite goes to the runner its manifest
    names (one of ``domain.vocabulary.RunnerType``: the manifest model admits no other)."""

    def __init__(self) -> None:
        self.runners: dict[str, Runner] = {
            "python_unittest": UnittestRunner(), "pytest": PytestRunner(), "shell": ShellRunner()}

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None) -> SuiteResult:
        return self.runners[suite.runner].run(suite, pack_dir, on_case)

    def cancel(self) -> None:
        kill_all()


__all__ = ["PytestRunner", "SandboxRunner", "ShellRunner", "UnittestRunner"]
