"""The shell runner: runs each matched script in the sandbox and reads what it reports."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.policy import suite_error, suite_result
from attune_registry.domain.results import SuiteResult, TestCaseResult
from attune_registry.domain.vocabulary import RunnerType

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

from attune_registry.adapters.runners.paths import SuitePathError, matching_paths, suite_directory
from attune_registry.adapters.runners.process import (
    MAX_RESULT_BYTES,
    MAX_RESULT_LINES,
    OUTPUT_LIMIT_BYTES,
    ProcessOutcome,
    python_of,
    run_process,
    sandbox_env,
)
from attune_registry.adapters.runners.shell_output import (
    RESULT_LINES,
    ScriptReport,
    read_json_output,
    read_output,
)
from attune_registry.adapters.sandbox.jail import Jail

# By extension, for scripts that are not executable (".py": the suite's Python).
INTERPRETERS = {".sh": ["/bin/sh"], ".bash": ["/bin/bash"]}
# Largest JSON report (result_format: json) a script may print on its stdout.
MAX_JSON_REPORT_BYTES = MAX_RESULT_BYTES
DROPPED = re.compile(r"\n\[\.\.\. (\d+) bytes of output dropped \.\.\.\]\n")


class ShellRunner:
    runner_type: RunnerType = "shell"

    def run(self, suite: TestSuite, pack_dir: str,
            on_case: Callable[[TestCaseResult], None] | None = None,
            jail: Jail | None = None, context: SuiteContext = NO_CONTEXT) -> SuiteResult:
        root = Path(pack_dir).resolve()
        try:
            start = suite_directory(pack_dir, suite.working_dir)
            scripts = _scripts(start, root, suite.test_files)
        except SuitePathError as exc:
            return suite_error(name=suite.name, runner_type=self.runner_type, message=str(exc))
        deadline = time.monotonic() + suite.timeout_seconds
        cases: list[TestCaseResult] = []
        conflicts: list[str] = []
        contradicted = False
        json = suite.result_format == "json"
        stdout, stderr, exit_code, timed_out = [], [], 0, False
        started = time.monotonic()
        for script in scripts:
            name = script.relative_to(root).as_posix()
            script_started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="attune-run-") as private:
                outcome = run_process(_command(script, python_of(context)), cwd=str(start),
                                      env=sandbox_env(str(root), private, context),
                                      timeout=max(deadline - time.monotonic(), 0.1),
                                      keep=None if json else RESULT_LINES, jail=jail,
                                      write=[str(root), private], read=context.read_only,
                                      output_limit=MAX_JSON_REPORT_BYTES if json
                                      else OUTPUT_LIMIT_BYTES)
            report = _report(outcome, name, json)
            found = timed(_cases(report, outcome, name, suite.timeout_seconds),
                          int((time.monotonic() - script_started) * 1000))
            if on_case is not None:
                for case in found:
                    on_case(case)
            cases += found
            conflicts += report.conflicts
            contradicted = contradicted or report.contradicted
            stdout.append(_bounded(outcome.stdout) if json else outcome.stdout)
            stderr.append(_bounded(outcome.stderr) if json else outcome.stderr)
            if outcome.timed_out:
                timed_out = True
                break
            exit_code = exit_code or (outcome.exit_code or 0)
        result = suite_result(
            name=suite.name, runner_type=self.runner_type, cases=cases,
            exit_code=None if timed_out else exit_code,
            duration_ms=int((time.monotonic() - started) * 1000), timed_out=timed_out,
            message=f"timed out after {suite.timeout_seconds} s" if timed_out else None,
            stdout="\n".join(stdout), stderr="\n".join(stderr),
        )
        if conflicts and not timed_out:  # a timeout explains what it cut short
            said = "; ".join(conflicts)
            result = msgspec.structs.replace(
                result, message=f"{result.message}; {said}" if result.message else said,
                status="error" if contradicted else result.status)
        return result


def _report(outcome: ProcessOutcome, name: str, json: bool) -> ScriptReport:
    """Results from every result line the script printed, also those in the part of a flood
    that the kept output drops; or from the JSON report that is its whole stdout."""
    if json:
        return read_json_output(outcome.stdout, outcome.exit_code, name, MAX_JSON_REPORT_BYTES)
    assert outcome.stdout_lines is not None and outcome.stderr_lines is not None
    return read_output(outcome.stdout_lines, outcome.stderr_lines, outcome.exit_code, name)


def _cases(report: ScriptReport, outcome: ProcessOutcome, name: str,
           timeout: int) -> list[TestCaseResult]:
    """The report's cases; a script that hung or printed too many results is named."""
    found = list(report.cases)
    if not outcome.lines_complete:
        found.append(TestCaseResult(name=name, status="error", error_message=(
            f"more than {MAX_RESULT_LINES} result lines (or {MAX_RESULT_BYTES // 2**20} MiB); "
            "the rest was not read")))
    if outcome.timed_out and not any(c.status in ("failed", "error") for c in found):
        found.append(TestCaseResult(name=name, status="error",
                                    error_message=f"timed out after {timeout} s in this script"))
    return found


def timed(cases: list[TestCaseResult], script_ms: int) -> list[TestCaseResult]:
    """A script's cases with its measured duration shared evenly among them (a script reports
    results, not timings; the first ``script_ms % len(cases)`` cases get 1 ms more, so the
    durations add up to the script's). Cases that carry their own (a JSON report's
    ``duration_ms``) keep them all."""
    if not cases or any(case.duration_ms for case in cases):
        return cases
    share, extra = divmod(script_ms, len(cases))
    return [msgspec.structs.replace(case, duration_ms=share + (index < extra))
            for index, case in enumerate(cases)]


def _bounded(text: str) -> str:
    """What is stored of a stream: its first and last OUTPUT_LIMIT_BYTES / 2, as for every
    suite (a json suite's streams are read up to MAX_JSON_REPORT_BYTES first)."""
    data = text.encode()
    if len(data) <= OUTPUT_LIMIT_BYTES:
        return text
    dropped = DROPPED.search(text)
    earlier = int(dropped.group(1)) - len(dropped.group(0).encode()) if dropped else 0
    half = OUTPUT_LIMIT_BYTES // 2
    head = data[:half].decode("utf-8", "replace")
    tail = data[-half:].decode("utf-8", "replace")
    return f"{head}\n[... {len(data) - 2 * half + earlier} bytes of output dropped ...]\n{tail}"


def _scripts(start: Path, root: Path, patterns: list[str]) -> list[Path]:
    scripts: list[Path] = []
    for pattern in patterns:
        # Scripts are named, not discovered: a bare name matches in the working_dir only.
        found = matching_paths(start, pattern, root, recursive=False)
        if not found:
            where = start.relative_to(root).as_posix() or "."
            raise SuitePathError(f"no test files match {pattern!r} in {where!r}")
        scripts += [p for p in found if p not in scripts]
    return scripts


def _command(script: Path, python: str) -> list[str]:
    """Executable scripts run as they are (their shebang decides); others by their extension."""
    if os.access(script, os.X_OK):
        return [str(script)]
    if script.suffix == ".py":
        return [python, str(script)]
    return [*INTERPRETERS.get(script.suffix, ["/bin/sh"]), str(script)]
