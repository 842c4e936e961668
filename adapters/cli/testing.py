"""``attune pack test``: run a pack's suites outside registration."""

from __future__ import annotations

from pathlib import Path

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs_or_dirs
from attune_registry.adapters.cli.context import actor, jobs_option, json_option, registry_session
from attune_registry.adapters.cli.examples import example_option, path_or_example
from attune_registry.adapters.cli.junit import junit_option, write_report
from attune_registry.adapters.cli.paths import directory_hint, not_empty


@click.command()
@click.argument("target", required=False, metavar="TARGET", callback=not_empty,
                shell_complete=pack_refs_or_dirs)
@example_option
@click.option("-v", "--verbose", is_flag=True, help="One line per test case (✓ ✗ ○).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@jobs_option
@junit_option
@json_option
def test(target: str | None, example: str | None, verbose: bool, quiet: bool, jobs: int | None,
         junit_xml: Path | None, as_json: bool) -> None:
    """Run the test suites of a registered pack REF, or of a pack directory PATH.

    A REF runs the active registration's suites on its source directory and adds the run to
    the pack's test history (trigger "manual"). A PATH (anything containing a slash, such as
    ./core or packs/core, or . and ..) is tested without registering or recording anything;
    so is a pack shipped with the registry, given as --example NAME (`attune examples list`)
    instead of TARGET.

    \b
    Exit status: 0 all tests passed, 1 tests failed or could not run, 2 usage error.
    """
    from attune_registry.adapters.cli.progress import SuiteProgress, flaky_line, suite_summary

    target = path_or_example(target, example, "TARGET")
    is_path = "/" in target or target in (".", "..")
    with registry_session(as_json, create=True) as registry, directory_hint(target, as_json):
        # The results go to stdout right after; progress only shows what is happening.
        progress = None if quiet or as_json else SuiteProgress(end_lines=False)
        outcome = (registry.test_directory(target, progress=progress, jobs=jobs) if is_path
                   else registry.test_registered(target, progress=progress, jobs=jobs,
                                                 requested_by=actor()))
    result = outcome.result
    write_report(junit_xml, result)
    if as_json:
        output.print_json({"data": result.to_dict(),
                           "message": "Pack tests executed successfully"})
        if result.status != "passed":
            raise SystemExit(1)
        return
    where = "directory, not recorded" if outcome.test_run_id is None else "recorded as manual run"
    output.line(f"Testing pack '{outcome.pack_ref}' {outcome.pack_version} ({where})")
    if outcome.source_changed:
        output.note(f"{output.WARN} The release's files changed since it was registered "
                    f"(`attune pack verify {outcome.pack_ref}` names them); these results "
                    "are for the files as they are now.")
    for suite in result.test_suites:
        for text in suite_summary(suite, verbose=verbose):
            output.line(text)
    output.line(f"Total: {result.total_tests} tests, {result.passed} passed, "
                f"{result.failed} failed, {result.skipped} skipped")
    flaky = flaky_line(result.test_suites)
    if flaky is not None:
        output.line(flaky)
    output.line(f"Pass rate: {output.percent(result.pass_rate)}")
    output.line(f"Duration: {output.duration(result.duration_ms)}")
    # The fraction is passed/total, as everywhere ("passed" spelled out when some failed).
    if result.status == "passed":
        output.line(output.verdict("passed", 0, f"{result.passed}/{result.total_tests}"))
        return
    output.line(output.verdict(result.status, result.failed,
                               f"{result.passed}/{result.total_tests} passed"))
    raise SystemExit(1)
