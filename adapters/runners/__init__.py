"""Test runners, one module per runner, chosen by the suite's (canonical) runner name."""

from __future__ import annotations

from collections.abc import Callable

from domain.manifest import TestSuite
from domain.policy import suite_error
from domain.results import SuiteResult, TestCaseResult

from adapters.runners.process import kill_all
from adapters.runners.pytest_runner import PytestRunner
from adapters.runners.shell_runner import ShellRunner
from adapters.runners.unittest_runner import UnittestRunner


class SandboxRunner:
    """Dispatches each suite to the runner its manifest names."""

    def __init__(self) -> None:
        self.runners = {"python_unittest": UnittestRunner(), "pytest": PytestRunner(),
                        "shell": ShellRunner()}

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None) -> SuiteResult:
        runner = self.runners.get(suite.runner)
        if runner is None:
            return suite_error(name=suite.name, runner_type=suite.runner,
                               message=f"the {suite.runner!r} runner is not available yet")
        return runner.run(suite, pack_dir, on_case)

    def cancel(self) -> None:
        kill_all()


__all__ = ["PytestRunner", "SandboxRunner", "ShellRunner", "UnittestRunner"]
