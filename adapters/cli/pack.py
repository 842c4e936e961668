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


@click.group()
def pack() -> None:
    """Register packs and inspect the registry."""


@contextmanager
def _registry(as_json: bool) -> Iterator[RegistryService]:
    from domain.errors import RegistryError

    from adapters.bootstrap import build_registry
    from adapters.store import StoreConfigError

    try:
        with build_registry() as registry:
            yield registry
    except RegistryError as exc:
        output.abort(str(exc), code=exc.code, as_json=as_json)
    except StoreConfigError as exc:
        output.abort(str(exc), code="STORE_UNAVAILABLE", as_json=as_json)


@pack.command()
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=str))
@click.option("--force", is_flag=True,
              help="Replace an active pack of the same ref, and register even if tests fail.")
@click.option("--skip-tests", is_flag=True,
              help="Do not run the pack's tests (nothing is stored as a test result).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
def register(path: str, force: bool, skip_tests: bool, quiet: bool, as_json: bool) -> None:
    """Register the pack in directory PATH.

    Reads PATH/pack.yaml, validates it, runs the pack's test suites on a private copy and makes
    the pack active only if they pass. Every attempt, rejected ones included, is recorded.

    \b
    Exit status: 0 registered, 1 refused or tests failed, 2 usage error.
    """
    from adapters.cli.progress import SuiteProgress

    with _registry(as_json) as registry:
        progress = None if quiet else SuiteProgress()
        registered = registry.register(path, force=force, skip_tests=skip_tests,
                                       progress=progress)
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
