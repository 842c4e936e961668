"""``attune pack …``: register packs and read what the registry knows about them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from adapters.cli import output

if TYPE_CHECKING:
    from collections.abc import Iterator

    from adapters.service import RegistryService

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as JSON (the API's body) instead of text.")
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
                           help="Run up to N suites at once (default: $ATTUNE_TEST_JOBS or 1). "
                                "Results keep the declared order.")


@click.group()
def pack() -> None:
    """Register packs and inspect the registry."""


@contextmanager
def _registry(as_json: bool) -> Iterator[RegistryService]:
    from domain.errors import RegistryError

    from adapters.bootstrap import build_registry
    from adapters.settings import ConfigError

    try:
        with build_registry() as registry:
            yield registry
    except RegistryError as exc:
        output.abort(str(exc), code=exc.code, as_json=as_json)
    except ConfigError as exc:
        output.abort(str(exc), code="CONFIGURATION", as_json=as_json)


@pack.command()
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=str))
@click.option("--force", is_flag=True,
              help="Replace an active pack of the same ref, and register even if tests fail.")
@click.option("--replace", is_flag=True,
              help="Replace an active pack of the same ref, but only if the tests pass "
                   "(an upgrade that keeps the test gate, unlike --force).")
@click.option("--skip-tests", is_flag=True,
              help="Do not run the pack's tests (nothing is stored as a test result).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@jobs_option
@json_option
def register(path: str, force: bool, replace: bool, skip_tests: bool, quiet: bool,
             jobs: int | None, as_json: bool) -> None:
    """Register the pack in directory PATH.

    Reads PATH/pack.yaml, validates it, runs the pack's test suites on a private copy and makes
    the pack active only if they pass. Every attempt that passes validation is recorded in the
    event log, rejected ones included.

    \b
    Exit status: 0 registered, 1 refused or tests failed, 2 usage error.
    """
    from adapters.cli.progress import SuiteProgress

    with _registry(as_json) as registry:
        progress = None if quiet else SuiteProgress()
        registered = registry.register(path, force=force, replace=replace,
                                       skip_tests=skip_tests, progress=progress, jobs=jobs)
    outcome, row = registered.outcome, registered.pack
    if as_json:
        import msgspec

        result = outcome.test_result.to_dict() if outcome.test_result else None
        output.print_json({
            "data": {"pack": msgspec.to_builtins(row), "test_result": result,
                     "tests_skipped": outcome.tests_skipped},
            "message": "Pack registered successfully",
        })
        return
    symbol = output.OK if outcome.tests_skipped or outcome.all_passed else output.WARN
    output.line(f"{symbol} Pack '{row.ref}' registered successfully")
    output.line(f"Version: {row.version}")
    output.line(f"ID: {row.id}")
    result = outcome.test_result
    if result is None:
        output.line("Tests were skipped")
        return
    output.line(f"{output.OK} All tests passed" if outcome.all_passed
                else f"{output.FAIL} Some tests failed")
    output.line(f"Tests: {result.passed}/{result.total_tests} passed")


@pack.command()
@click.argument("target")
@click.option("-v", "--verbose", is_flag=True, help="One line per test case (✓ ✗ ○).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@jobs_option
@json_option
def test(target: str, verbose: bool, quiet: bool, jobs: int | None, as_json: bool) -> None:
    """Run the test suites of a registered pack REF, or of a pack directory PATH.

    A REF runs the active registration's suites on its source directory and adds the run to
    the pack's test history (trigger "manual"). A PATH (anything containing a slash, or an
    existing directory) is tested without registering or recording anything.

    \b
    Exit status: 0 all tests passed, 1 tests failed or could not run, 2 usage error.
    """
    import os

    from adapters.cli.progress import SuiteProgress, suite_summary

    is_path = "/" in target or os.path.isdir(target)
    with _registry(as_json) as registry:
        progress = None if quiet or as_json else SuiteProgress()
        outcome = (registry.test_directory(target, progress=progress, jobs=jobs) if is_path
                   else registry.test_registered(target, progress=progress, jobs=jobs))
    result = outcome.result
    if as_json:
        output.print_json({"data": result.to_dict(),
                           "message": "Pack tests executed successfully"})
        if result.status != "passed":
            raise SystemExit(1)
        return
    where = "directory, not recorded" if outcome.test_run_id is None else "recorded as manual run"
    output.line(f"Testing pack '{outcome.pack_ref}' {outcome.pack_version} ({where})")
    if outcome.source_changed:
        output.note(f"{output.WARN} The pack's files changed since it was registered; "
                    "these results are for the files as they are now.")
    for suite in result.test_suites:
        for text in suite_summary(suite, verbose=verbose):
            output.line(text)
    output.line(f"Total: {result.total_tests} tests, {result.passed} passed, "
                f"{result.failed} failed, {result.skipped} skipped")
    output.line(f"Pass rate: {output.percent(result.pass_rate)}")
    output.line(f"Duration: {output.duration(result.duration_ms)}")
    if result.status == "passed":
        output.line(f"{output.OK} All tests passed: {result.passed}/{result.total_tests}")
        return
    output.line(f"{output.FAIL} Tests failed: {result.failed}/{result.total_tests}"
                + (" (a suite could not run)" if result.status == "error" else ""))
    raise SystemExit(1)


@pack.command("list")
@json_option
def list_packs(as_json: bool) -> None:
    """List the active packs."""
    with _registry(as_json) as registry:
        packs = registry.list_packs()
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(packs)})
        return
    if not packs:
        output.line("No packs registered.")
        return
    output.table(["ID", "REF", "VERSION", "LABEL", "UPDATED"],
                 [[str(p.id), p.ref, p.version, p.label, output.timestamp(p.updated)]
                  for p in packs])


@pack.command("test-history")
@click.argument("ref")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many runs to show, newest first.")
@json_option
def test_history(ref: str, limit: int, as_json: bool) -> None:
    """Show the test runs of pack REF, newest first, rejected attempts included."""
    with _registry(as_json) as registry:
        runs = registry.test_history(ref, limit=limit)
        known = bool(runs) or registry.knows(ref)
    if not known:
        output.abort(f"Pack '{ref}' not found", code="NOT_FOUND", as_json=as_json)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(runs)})
        return
    if not runs:
        output.line(f"No test runs recorded for pack '{ref}'.")
        return
    output.table(
        ["TIME", "VERSION", "TRIGGER", "TESTS", "PASS RATE", "DURATION", "STATUS", "OUTCOME"],
        [_history_cells(run) for run in runs],
    )


def _history_cells(run: Any) -> list[str]:
    return [
        output.timestamp(run.execution_time), run.pack_version, run.trigger_reason,
        f"{run.passed}/{run.total_tests}", output.percent(run.pass_rate),
        output.duration(run.duration_ms), run.status, run.outcome or "in progress",
    ]
