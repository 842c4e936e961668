"""``attune pack register``: validate, test and activate a pack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import actor, jobs_option, json_option, registry_session
from attune_registry.adapters.cli.examples import example_option, path_or_example
from attune_registry.adapters.cli.install_deps import (
    install_deps_option,
    installed_json,
    no_wait_with_install_deps,
    report_installed,
)
from attune_registry.adapters.cli.junit import junit_option, report_rejection, write_report
from attune_registry.adapters.cli.paths import not_empty

if TYPE_CHECKING:
    from pathlib import Path

    from attune_registry.application.commands import Queued
    from attune_registry.application.ports import ReusableRun

    from attune_registry.adapters.contract import Registered


skip_dependents_option = click.option(
    "--skip-dependents", is_flag=True,
    help="Replace an active pack without first running the suites of the active packs that "
         "depend on it against the new version (recorded in the registration).")

reuse_option = click.option(
    "--reuse", is_flag=True,
    help="If a passing run of the same content (digest) exists, run in the same environment "
         "(interpreter, the pack's Python environment, the registry's version, pytest, the "
         "sandbox), decide on it instead of running the suites again; the registration records "
         "which run it reused. The pack's `testing: {reuse: true}` asks the same. Not with "
         "--no-wait.")


@click.command()
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=str),
                required=False, metavar="PATH", callback=not_empty)
@example_option
@click.option("--force", is_flag=True,
              help="Replace an active pack of the same ref, and register even if tests fail.")
@click.option("--replace", is_flag=True,
              help="Replace an active pack of the same ref, but only if the tests pass "
                   "(an upgrade that keeps the test gate, unlike --force).")
@click.option("--skip-tests", is_flag=True,
              help="Do not run the pack's tests (nothing is stored as a test result).")
@skip_dependents_option
@reuse_option
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option("--no-wait", is_flag=True,
              help="Queue the suites for `attune worker` processes and return at once with "
                   "the registration's id (PostgreSQL only).")
@install_deps_option
@jobs_option
@junit_option
@json_option
def register(path: str | None, example: str | None, force: bool, replace: bool,
             skip_tests: bool, skip_dependents: bool, reuse: bool, quiet: bool, no_wait: bool,
             install_deps: bool, jobs: int | None, junit_xml: Path | None, as_json: bool) -> None:
    """Register the pack in directory PATH (or the shipped pack --example NAME).

    Reads PATH/pack.yaml, validates it, runs the pack's test suites on a private copy and makes
    the pack active only if they pass. Every attempt that passes validation is recorded in the
    event log, rejected ones included.

    --example NAME registers a pack shipped with the registry (`attune examples list`) as if
    its installed directory were PATH; give one of PATH and --example.

    \b
    Exit status: 0 registered, 1 refused or tests failed, 2 usage error.
    """
    from attune_registry.application.commands import RegisterCommand

    from attune_registry.adapters.cli.progress import SuiteProgress

    path = path_or_example(path, example)

    command = RegisterCommand(path=path, force=force, replace=replace, skip_tests=skip_tests,
                              skip_dependents=skip_dependents, reuse=reuse, jobs=jobs,
                              requested_by=actor(), install_deps=install_deps)
    with registry_session(as_json, create=True) as registry:
        if install_deps and no_wait:
            no_wait_with_install_deps()
        if no_wait and not skip_tests:  # with nothing to test, it is decided at once anyway
            queued(registry.queue(command), as_json)
            return
        with report_rejection(junit_xml, registry):
            registered = registry.register(command, None if quiet else SuiteProgress())
    write_report(junit_xml, registered.outcome.test_result)
    report(registered, as_json, "registered")


def queued(done: Queued, as_json: bool) -> None:
    """What ``--no-wait`` prints: the registration to follow."""
    message = (f"Pack '{done.pack_ref}' {done.pack_version} queued: {done.suites} "
               f"suite{'' if done.suites == 1 else 's'} wait for workers")
    if as_json:
        output.print_json({"data": {"registration_id": str(done.registration_id),
                                    "ref": done.pack_ref, "version": done.pack_version,
                                    "suites": done.suites, "status": "queued"},
                           "message": message})
        return
    output.line(f"{output.OK} {message}")
    output.line(f"Registration: {done.registration_id}")
    output.line(f"Follow it with `attune registration watch {done.registration_id}`")


def report(registered: Registered, as_json: bool, verb: str) -> None:
    """What register and install print once the pack is active (``verb``: what happened)."""
    outcome, row = registered.outcome, registered.pack
    if as_json:
        import msgspec

        output.print_json({
            "data": {"pack": msgspec.to_builtins(row),
                     "test_result": msgspec.to_builtins(outcome.test_result),
                     "tests_skipped": outcome.tests_skipped,
                     **reused_json(outcome.reused),
                     **installed_json(registered.installed_dependencies)},
            "message": f"Pack {verb} successfully",
        })
        return
    report_installed(registered.installed_dependencies)
    symbol = output.OK if outcome.tests_skipped or outcome.all_passed else output.WARN
    output.line(f"{symbol} Pack '{row.ref}' {verb} successfully")
    output.line(f"Version: {row.version}")
    output.line(f"ID: {row.id}")
    if row.origin is not None:
        output.line(f"Source: {output.origin(row.origin)}")
    result = outcome.test_result
    if result is None:
        output.line("Tests were skipped")
        return
    if outcome.reused is not None:
        output.line(reused_line(outcome.reused))
    else:
        output.line(output.verdict(result.status, result.failed))
        output.line(f"Tests: {result.passed}/{result.total_tests} passed")
    from attune_registry.adapters.cli.progress import (
        flaky_line,  # only once there is a result to show
    )

    flaky = flaky_line(result.test_suites)
    if flaky is not None:
        output.line(flaky)


def reused_json(run: ReusableRun | None) -> dict[str, Any]:
    """``tests_reused``, and the run a registration reused (``reused_run``; None if none)."""
    return {"tests_reused": run is not None, "reused_run": None if run is None else {
        "run_id": run.run_id, "registration_id": run.registration_id,
        "pack_version": run.pack_version, "fingerprint": run.fingerprint}}


def reused_line(run: ReusableRun) -> str:
    """What a registration that reused a run says instead of its own tests' verdict."""
    from attune_registry.adapters.reads.timeline import of_registration

    result = run.result
    return (f"Tests reused from run {run.run_id} of {run.pack_version}"
            f"{of_registration(run.run_id, run.registration_id)}, same content and "
            f"environment: {result.passed}/{result.total_tests} passed")
