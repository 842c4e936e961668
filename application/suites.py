"""Running a pack's suites: in declared order, or several at once, recording each as it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

from attune_registry.domain import policy
from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.results import SuiteResult, TestResult

from attune_registry.application.ports import NO_CONTEXT, Progress, SuiteContext, SuiteRunner
from attune_registry.application.retries import run_with_retries


def run_suites(
    runner: SuiteRunner,
    suites: Sequence[TestSuite],
    pack_dir: str,
    *,
    pack_ref: str,
    pack_version: str,
    started_at: datetime,
    record: Callable[[SuiteResult], object],
    progress: Progress,
    jobs: int = 1,
    context: SuiteContext = NO_CONTEXT,
) -> TestResult:
    """Run every suite and combine the results, which keep the declared order.

    ``record`` is called as soon as each suite finishes (in finishing order), so a crash later
    loses no finished suite. With ``jobs > 1`` up to that many suites run at once.
    """
    started = time.monotonic()
    results: dict[int, SuiteResult] = {}

    def run_one(suite: TestSuite) -> SuiteResult:
        progress.suite_started(suite)
        return run_with_retries(runner, suite, pack_dir,
                                on_case=lambda case: progress.case_finished(suite, case),
                                context=context, progress=progress)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending: dict[Future[SuiteResult], int] = {}
        queue = list(enumerate(suites))
        try:
            while queue or pending:
                while queue and len(pending) < max(1, jobs):
                    index, suite = queue.pop(0)
                    pending[pool.submit(run_one, suite)] = index
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    result = future.result()
                    record(result)
                    progress.suite_finished(result)
                    results[index] = result
        except BaseException:
            # Interrupted (Ctrl-C) or failed: the suites still running must not outlive us,
            # and the pool can only shut down once they have stopped.
            queue.clear()
            runner.cancel()
            raise
    return policy.test_result(
        pack_ref=pack_ref,
        pack_version=pack_version,
        execution_time=started_at.isoformat(),
        suites=[results[i] for i in range(len(suites))],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
