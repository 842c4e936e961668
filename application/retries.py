"""Running a suite with its ``retries``: its failed cases run again until they pass or the
retries are spent, each rerun merged into the one result recorded (``domain.retries``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.results import SuiteResult, TestCaseResult
from attune_registry.domain.retries import merge_rerun, not_retried, rerun_cases

from attune_registry.application.ports import NO_CONTEXT, SuiteContext, SuiteRunner

RERUN_VARIABLE = "ATTUNE_RERUN_CASES"
"""The cases a rerun runs, one name per line, as the runners report them: the unittest
collector and the pytest plugin run only these; a shell script may read it."""
# One environment variable holds at most 128 KiB on Linux; a longer list reruns the whole
# suite (only the listed cases' outcomes count either way).
MAX_RERUN_BYTES = 100_000


@runtime_checkable
class RetryProgress(Protocol):
    """Progress that is also told when a suite's failed cases run again (the CLI's)."""

    def suite_retrying(self, suite: TestSuite, cases: Sequence[str], attempt: int,
                       attempts: int) -> None: ...


def run_with_retries(runner: SuiteRunner, suite: TestSuite, pack_dir: str,
                     on_case: Callable[[TestCaseResult], None] | None = None,
                     context: SuiteContext = NO_CONTEXT, progress: object = None) -> SuiteResult:
    """Run ``suite``, then rerun its failed cases up to ``suite.retries`` times.

    A rerun asks for the failing cases by name (``RERUN_VARIABLE``); a runner that cannot
    select cases (shell) runs the whole suite again. The cases of reruns are not passed to
    ``on_case``: ``progress.suite_retrying`` announces each rerun instead.
    """
    current = runner.run(suite, pack_dir, on_case=on_case, context=context)
    last: SuiteResult | None = None
    while names := rerun_cases(current, suite.retries, last):
        attempt = len(current.retries) + 2
        if isinstance(progress, RetryProgress):
            progress.suite_retrying(suite, names, attempt, suite.retries + 1)
        listed = "\n".join(names)
        listable = (len(listed.encode()) <= MAX_RERUN_BYTES
                    and not any("\n" in name for name in names))
        selected = listable and suite.runner != "shell"
        variables = (*context.variables, (RERUN_VARIABLE, listed)) if listable else (
            context.variables)
        last = runner.run(suite, pack_dir, context=dataclasses.replace(
            context, variables=tuple(variables)))
        current = merge_rerun(current, last, selected=selected)
    return not_retried(current, suite.retries)
