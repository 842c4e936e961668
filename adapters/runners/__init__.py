"""Test runners, one module per runner, chosen by the suite's (canonical) runner name."""

from __future__ import annotations

from domain.manifest import TestSuite
from domain.policy import suite_result
from domain.results import SuiteResult

from adapters.runners.unittest_runner import UnittestRunner


class SandboxRunner:
    """Dispatches each suite to the runner its manifest names."""

    def __init__(self) -> None:
        self.runners = {"python_unittest": UnittestRunner()}

    def run(self, suite: TestSuite, pack_dir: str) -> SuiteResult:
        runner = self.runners.get(suite.runner)
        if runner is None:
            return suite_result(name=suite.name, runner_type=suite.runner, cases=[],
                                exit_code=None, duration_ms=0,
                                message=f"the {suite.runner!r} runner is not available yet")
        return runner.run(suite, pack_dir)


__all__ = ["SandboxRunner", "UnittestRunner"]
