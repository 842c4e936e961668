"""The pytest runner: ``python -m pytest`` in the sandbox, per-case results from JUnit XML."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.policy import suite_error, suite_result
from attune_registry.domain.results import SuiteResult, TestCaseResult
from attune_registry.domain.vocabulary import RunnerType

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

from attune_registry.adapters.runners.channel import ResultPipe
from attune_registry.adapters.runners.follow import CaseReport, CaseStream
from attune_registry.adapters.runners.junit import MAX_REPORT_BYTES, ReportError, parse_junit
from attune_registry.adapters.runners.paths import SuitePathError, matching_paths, suite_directory
from attune_registry.adapters.runners.process import python_of, run_process, sandbox_env
from attune_registry.adapters.sandbox.jail import Jail

PLUGIN_DIR = Path(__file__).resolve().parent / "pytest_plugin"
PROGRESS_PLUGIN = "_attune_progress"
PROGRESS_ENV = "PACK_TEST_PROGRESS_FD"
# pytest's exit codes that mean "the run itself went wrong", not "tests failed".
_PYTEST_EXIT_MEANING = {2: "interrupted or collection errors", 3: "internal error",
                        4: "usage error", 5: "no tests were collected"}


class PytestRunner:
    runner_type: RunnerType = "pytest"

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            jail: Jail | None = None, context: SuiteContext = NO_CONTEXT) -> SuiteResult:
        root = Path(pack_dir).resolve()
        try:
            start = suite_directory(pack_dir, suite.working_dir)
        except SuitePathError as exc:
            return self._error(suite, str(exc))
        try:
            targets, python_files = _targets(start, root, suite.test_files)
        except SuitePathError as exc:
            return self._error(suite, str(exc))
        # Both reports leave through pipes (see adapters.runners.channel): the JUnit XML,
        # written by pytest at the end, and the plugin's lines as each test starts and ends.
        stream = CaseStream(on_case)
        progress, junit = ResultPipe(on_line=stream.feed), ResultPipe(limit=MAX_REPORT_BYTES)
        with tempfile.TemporaryDirectory(prefix="attune-run-") as private:
            argv = [python_of(context), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "-p", PROGRESS_PLUGIN, f"--junitxml=/dev/fd/{junit.write_fd}",
                    "-o", "junit_family=xunit2", f"--rootdir={root}"]
            if python_files:
                argv += ["-o", f"python_files={' '.join(python_files)}"]
            env = sandbox_env(str(root), private, context)
            # Appended, so the pack's own modules win over anything in the plugin folder.
            env["PYTHONPATH"] += os.pathsep + str(PLUGIN_DIR)
            env[PROGRESS_ENV] = str(progress.write_fd)
            # The registry's own environment has pytest plugins (hypothesis, anyio, ...) that are
            # none of the pack's business and cost seconds of start-up: packs name the plugins
            # they need with -p in their pytest configuration.
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            outcome = run_process([*argv, *targets], cwd=str(start), env=env,
                                  timeout=suite.timeout_seconds, jail=jail,
                                  write=[str(root), private], channels=[progress, junit],
                                  read=context.read_only)
        try:
            if junit.overflowed:
                raise ReportError(f"the JUnit report is over {MAX_REPORT_BYTES} bytes")
            if not junit.data:
                raise ReportError("the runner wrote no JUnit report")
            cases = parse_junit(bytes(junit.data))
            report_problem = None
        except ReportError as exc:
            # Killed before pytest wrote its report: fall back to what the plugin saw.
            cases, report_problem = _progress_cases(stream.report, outcome.timed_out,
                                                    suite.timeout_seconds), str(exc)
        return suite_result(
            name=suite.name, runner_type=self.runner_type, cases=cases,
            exit_code=outcome.exit_code, duration_ms=outcome.duration_ms,
            timed_out=outcome.timed_out, completed=report_problem is None,
            message=_message(suite, outcome.timed_out, outcome.exit_code, outcome.stderr,
                             report_problem, cases),
            stdout=outcome.stdout, stderr=outcome.stderr,
        )

    def _error(self, suite: TestSuite, message: str) -> SuiteResult:
        return suite_error(name=suite.name, runner_type=self.runner_type, message=message)


def _progress_cases(seen: CaseReport, timed_out: bool, timeout: int) -> list[TestCaseResult]:
    cases = list(seen.cases)
    if seen.running is not None:
        why = f"timed out after {timeout} s" if timed_out else "the test process ended"
        cases.append(TestCaseResult(name=seen.running, status="error",
                                    error_message=f"{why} during this test"))
    return cases


def _targets(start: Path, root: Path, patterns: list[str]) -> tuple[list[str], list[str]]:
    """What to hand pytest: name globs become its ``python_files``; paths are passed as is."""
    name_globs = [p for p in patterns if "/" not in p and any(c in p for c in "*?[")]
    if len(name_globs) == len(patterns):
        for pattern in patterns:
            if not matching_paths(start, pattern, root):
                raise SuitePathError(f"no test files match {pattern!r} in {_rel(start, root)!r}")
        return [str(start)], patterns
    targets: list[str] = []
    for pattern in patterns:
        found = matching_paths(start, pattern, root, directories=True)
        if not found:
            raise SuitePathError(f"no test files match {pattern!r} in {_rel(start, root)!r}")
        targets += [str(p) for p in found]
    return targets, []


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() or "."


def _message(suite: TestSuite, timed_out: bool, exit_code: int | None, stderr: str,
             report_problem: str | None, cases: list[TestCaseResult]) -> str | None:
    if timed_out:
        return f"timed out after {suite.timeout_seconds} s"
    if "No module named pytest" in stderr:
        return "pytest is not installed in the registry's Python environment"
    if report_problem:
        return f"{report_problem} (pytest exit code {exit_code})"
    if exit_code in _PYTEST_EXIT_MEANING and not any(c.status != "passed" for c in cases):
        return f"pytest exited with code {exit_code}: {_PYTEST_EXIT_MEANING[exit_code]}"
    return None
