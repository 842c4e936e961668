"""The python_unittest runner: unittest discovery in a sandboxed process, one result per case."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.policy import suite_error, suite_result
from attune_registry.domain.results import SuiteResult, TestCaseResult
from attune_registry.domain.vocabulary import RunnerType

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

from attune_registry.adapters.runners.channel import ResultPipe
from attune_registry.adapters.runners.follow import CaseStream
from attune_registry.adapters.runners.paths import (
    SuitePathError,
    discoverable_files,
    suite_directory,
    top_level_dir,
)
from attune_registry.adapters.runners.process import python_of, run_process, sandbox_env
from attune_registry.adapters.sandbox.jail import Jail

COLLECTOR = Path(__file__).resolve().parent / "child" / "unittest_collect.py"


class UnittestRunner:
    """Runs ``python -m unittest discover``-equivalent collection with a per-case reporter."""

    runner_type: RunnerType = "python_unittest"

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            jail: Jail | None = None, context: SuiteContext = NO_CONTEXT) -> SuiteResult:
        root = Path(pack_dir).resolve()
        try:
            start = suite_directory(pack_dir, suite.working_dir)
            # Within the glob budget: over it is a suite error, like a bad path.
            unmatched = [p for p in suite.test_files if not discoverable_files(start, p, root)]
        except SuitePathError as exc:
            return self._error(suite, str(exc))
        if unmatched:
            return self._error(suite, f"no test files match {unmatched[0]!r} in "
                                      f"{suite.working_dir!r}")
        stream = CaseStream(on_case, strict=True)
        results = ResultPipe(on_line=stream.feed)
        with tempfile.TemporaryDirectory(prefix="attune-run-") as private:
            argv = [python_of(context), str(COLLECTOR), str(results.write_fd), str(start),
                    str(top_level_dir(root, start)), *suite.test_files]
            outcome = run_process(argv, cwd=str(start),
                                  env=sandbox_env(str(root), private, context),
                                  timeout=suite.timeout_seconds, jail=jail,
                                  write=[str(root), private], channels=[results],
                                  read=context.read_only)
        report = stream.report
        cases = report.cases
        message = None
        if outcome.timed_out:
            message = f"timed out after {suite.timeout_seconds} s"
        elif results.overflowed or report.too_many:
            message = "the suite's results exceeded the registry's limit; the rest were dropped"
        elif report.broken:
            message = report.broken
        elif not report.done:
            message = (f"the test process ended (exit code {outcome.exit_code}) before the "
                       "suite finished")
        if report.running is not None and not report.done:
            cases = [*cases, TestCaseResult(name=report.running, status="error",
                                            error_message=f"{message} during this test")]
        return suite_result(
            name=suite.name, runner_type=self.runner_type, cases=cases,
            exit_code=outcome.exit_code, duration_ms=outcome.duration_ms,
            timed_out=outcome.timed_out, message=message,
            completed=report.done and not (results.overflowed or report.too_many
                                           or report.broken),
            stdout=outcome.stdout, stderr=outcome.stderr,
        )

    def _error(self, suite: TestSuite, message: str) -> SuiteResult:
        return suite_error(name=suite.name, runner_type=self.runner_type, message=message)
