"""``attune pack test-diff REF``: two finished test runs of a pack, case by case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from attune_registry.domain.comparison import (
    DEFAULT_MIN_MS,
    DEFAULT_THRESHOLD_PCT,
    MAX_MIN_MS,
    MAX_THRESHOLD_PCT,
    RunSelector,
    Thresholds,
)
from attune_registry.domain.errors import InvalidRunSelectorError

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import json_option, reads_session

if TYPE_CHECKING:
    from attune_registry.domain.comparison import CaseChange, DurationChange

    from attune_registry.adapters.reads.compare import ComparedRun, RunComparison

# Per category: its heading, and the mark before each case.
CASE_LISTS = (("newly_failing", "Newly failing", output.FAIL),
              ("fixed", "Fixed", output.OK),
              ("still_failing", "Still failing", output.FAIL),
              ("now_skipped", "Now skipped", "-"),
              ("no_longer_skipped", "No longer skipped", output.OK),
              ("added", "Added", "+"),
              ("removed", "Removed", "-"))


def _selector(_: click.Context, param: click.Parameter, value: str | None) -> RunSelector | None:
    if value is None:
        return None
    try:
        return RunSelector.parse(value)
    except InvalidRunSelectorError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'--{param.name}'") from None


@click.command("test-diff")
@click.argument("ref", shell_complete=pack_refs)
@click.option("--from", "from_", metavar="RUN|VERSION", callback=_selector,
              help="The older run: a run's id (as `pack test-history --json` shows it) or a "
                   "version (its newest finished run). Default: the finished run before --to.")
@click.option("--to", metavar="RUN|VERSION", callback=_selector,
              help="The newer run, as --from. Default: the newest finished run.")
@click.option("--threshold", "threshold_pct", metavar="PCT",
              type=click.FloatRange(0, MAX_THRESHOLD_PCT), default=DEFAULT_THRESHOLD_PCT,
              show_default=True,
              help="Report a case as slower or faster when its duration changed by at least "
                   "PCT percent (50: 1.5 times as long)...")
@click.option("--min-ms", metavar="MS", type=click.IntRange(0, MAX_MIN_MS), default=DEFAULT_MIN_MS,
              show_default=True, help="... and by at least this many milliseconds.")
@click.option("--fail-on-new-failures", is_flag=True,
              help="Exit 1 when a case newly fails (or a new case fails): for CI. Without it "
                   "the exit status is 0 whatever the comparison says.")
@json_option
def test_diff(ref: str, from_: RunSelector | None, to: RunSelector | None,
              threshold_pct: float, min_ms: int, fail_on_new_failures: bool,
              as_json: bool) -> None:
    """Compare two finished test runs of pack REF, case by case.

    Lists the cases that newly fail, were fixed, still fail, were skipped or unskipped, were
    added or removed, got notably slower or faster (cases that passed in both), and the cases
    of the newer run that passed only on a retry (flaky). By default the two newest finished
    runs; a run still in progress is refused.
    """
    thresholds = Thresholds(percent=threshold_pct, min_ms=min_ms)
    with reads_session(as_json) as registry:
        found = registry.compare_tests(ref, from_, to, thresholds)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(found)})
    else:
        _print(found)
    if fail_on_new_failures and found.diff.has_new_failures:
        raise SystemExit(1)


def _print(found: RunComparison) -> None:
    diff = found.diff
    output.line(f"Pack '{found.ref}': run {_run(found.from_run)} -> run {_run(found.to_run)}")
    if found.same_content:
        output.line("Both runs tested the same content.")
    for name, heading, mark in CASE_LISTS:
        changes: list[CaseChange] = getattr(diff, name)
        if changes:
            output.line(f"{heading} ({len(changes)}):")
            for change in changes:
                output.line(f"  {mark} {_case(change)}")
    for name, heading in (("slower", "Slower"), ("faster", "Faster")):
        moved: list[DurationChange] = getattr(diff, name)
        if moved:
            output.line(f"{heading} ({len(moved)}; by {found.threshold_pct:g}% and "
                        f"{found.min_ms} ms or more):")
            for item in moved:
                output.line(f"  {item.suite}: {item.name}: {output.duration(item.from_ms)} -> "
                            f"{output.duration(item.to_ms)}{_change_pct(item.change_pct)}")
    if diff.flaky:
        output.line(f"Flaky in run {found.to_run.id} ({len(diff.flaky)}; passed only on a "
                    "retry):")
        for case in diff.flaky:
            output.line(f"  {output.WARN} {case.suite}: {case.name}: passed on attempt "
                        f"{case.attempts}" + (f"; first failure: "
                                              f"{output.shorten(case.message, 160)}"
                                              if case.message else ""))
    if diff.suites:
        output.line("Suites:")
        for suite in diff.suites:
            output.line(f"  {suite.name}: {suite.from_status or 'absent'} -> "
                        f"{suite.to_status or 'absent'}"
                        + (f": {output.shorten(suite.message, 160)}" if suite.message else ""))
    counts = diff.counts
    output.line(", ".join(f"{getattr(counts, name)} {label}" for name, label in (
        ("newly_failing", "newly failing"), ("fixed", "fixed"),
        ("still_failing", "still failing"), ("added", "added"), ("removed", "removed"),
        ("slower", "slower"), ("faster", "faster"), ("flaky", "flaky"),
        ("unchanged", "unchanged"))) + _skips(counts))


def _run(run: ComparedRun) -> str:
    return (f"{run.id} ({run.pack_version}, {output.timestamp(run.execution_time)}, "
            f"{run.trigger_reason}, {run.status})")


def _case(change: CaseChange) -> str:
    text = f"{change.suite}: {change.name}"
    if change.from_status is not None and change.to_status is not None:
        text += f" ({change.from_status} -> {change.to_status})"
    elif change.to_status is not None:
        text += f" ({change.to_status})"
    elif change.from_status is not None:
        text += f" (was {change.from_status})"
    return text + (f": {output.shorten(change.message, 160)}" if change.message else "")


def _change_pct(change: float | None) -> str:
    return "" if change is None else f" ({change:+g}%)"


def _skips(counts: Any) -> str:
    skips = [f"{n} {label}" for n, label in ((counts.now_skipped, "now skipped"),
                                           (counts.no_longer_skipped, "no longer skipped"))
             if n]
    return (", " + ", ".join(skips)) if skips else ""
