"""``attune ARGS`` in this process, timing the phases of a registration's fixed cost.

Used by ``bench/register_overhead.py --breakdown``: the real command runs unchanged; the
methods below are wrapped with a clock, and the sums are written as JSON to the file named by
ATTUNE_BENCH_PHASES. ATTUNE_BENCH_SPAWNED_AT is the parent's ``time.monotonic()`` when it
started this process (CLOCK_MONOTONIC: one clock for every process of the machine), so that
start-up includes the interpreter's own.

Phases (seconds, summed over calls):
  start_up     process start to the register use case (interpreter, imports, opening the
               store and catching its read models up)
  snapshot     loading and validating the pack, copying and digesting it, keeping its release,
               removing the copy
  sandbox      making sure the sandbox works (once per process)
  environment  the pack's Python environment (a cache hit without requirements)
  suites       running the suites, runners included (the sandbox's start per suite too);
               suites that run at once count once
  events       the registry's commands: reading aggregates, writing events
  projection   bringing the read models up to the new events
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from attune_registry.application.register import RegisterPack
from attune_registry.application.registry import PackRegistry

from attune_registry.adapters.environments.cache import EnvironmentCache
from attune_registry.adapters.packs import loader, releases
from attune_registry.adapters.reads.current import CurrentReads
from attune_registry.adapters.runners import SandboxRunner
from attune_registry.adapters.sandbox import Sandbox

spent: dict[str, float] = defaultdict(float)
marks: dict[str, float] = {}
# Suites may run at once (--jobs): their time is the union of their spans, not the sum.
suite_spans: list[tuple[float, float]] = []


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Counts the calls once the use case has begun (before it, they are start-up)."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            if "use_case" in marks:
                spent[phase] += time.monotonic() - started
    return wrapper


def timed_context(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A context manager factory whose entering and leaving both count (not its body)."""
    @contextmanager
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.monotonic()
        manager = function(*args, **kwargs)
        value = manager.__enter__()
        spent[phase] += time.monotonic() - started
        try:
            yield value
        except BaseException:
            started = time.monotonic()
            if not manager.__exit__(*sys.exc_info()):
                raise
        else:
            started = time.monotonic()
            manager.__exit__(None, None, None)
        finally:
            spent[phase] += time.monotonic() - started
    return wrapper


def install() -> None:
    call = RegisterPack.__call__

    def register(self: RegisterPack, *args: Any, **kwargs: Any) -> Any:
        marks.setdefault("use_case", time.monotonic())
        return call(self, *args, **kwargs)

    RegisterPack.__call__ = register  # type: ignore[method-assign]
    loader.FilesystemPackLoader.load = timed(  # type: ignore[method-assign]
        "snapshot", loader.FilesystemPackLoader.load)
    loader.snapshot_of = timed_context("snapshot", loader.snapshot_of)
    releases.ReleaseStore.keep = timed(  # type: ignore[method-assign]
        "snapshot", releases.ReleaseStore.keep)
    Sandbox.ready = timed("sandbox", Sandbox.ready)  # type: ignore[method-assign]
    EnvironmentCache.prepare = timed(  # type: ignore[method-assign]
        "environment", EnvironmentCache.prepare)
    run = SandboxRunner.run

    def run_suite(self: SandboxRunner, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return run(self, *args, **kwargs)
        finally:
            suite_spans.append((started, time.monotonic()))

    SandboxRunner.run = run_suite  # type: ignore[method-assign]
    for name in ("check_can_register", "request_registration", "record_environment",
                 "complete_suite", "commit_registration", "reject_registration"):
        setattr(PackRegistry, name, timed("events", getattr(PackRegistry, name)))
    CurrentReads.catch_up = timed("projection", CurrentReads.catch_up)  # type: ignore[method-assign]


def union(spans: list[tuple[float, float]]) -> float:
    total, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


def report() -> None:
    phases = dict(spent)
    phases["suites"] = union(suite_spans)
    spawned = float(os.environ.get("ATTUNE_BENCH_SPAWNED_AT", "nan"))
    phases["start_up"] = marks.get("use_case", float("nan")) - spawned
    phases["process"] = time.monotonic() - spawned
    with open(os.environ["ATTUNE_BENCH_PHASES"], "w") as out:
        json.dump(phases, out)


def main() -> None:
    install()
    atexit.register(report)
    from attune_registry.adapters.cli import run

    sys.argv = ["attune", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
