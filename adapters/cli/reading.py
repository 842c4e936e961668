"""``attune pack list|show|history|test-history``: what the registry knows, from its read models."""

from __future__ import annotations

from typing import Any, get_args

import click

from attune_registry.domain.origin import ReleaseOrigin
from attune_registry.domain.vocabulary import RunStatus, TriggerReason

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import json_option, reads_session


@click.command("list")
@click.option("--all", "every_ref", is_flag=True,
              help="Every ref ever submitted, rejected and unregistered ones too, with its "
                   "state, since when, by whom, and its latest event.")
@json_option
def list_packs(every_ref: bool, as_json: bool) -> None:
    """List the active packs (--all: every ref ever submitted)."""
    if every_ref:
        from attune_registry.adapters.cli.refs import print_ref_states

        with reads_session(as_json) as registry:
            print_ref_states(registry, as_json)
        return
    with reads_session(as_json) as registry:
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


@click.command("test-history")
@click.argument("ref", shell_complete=pack_refs)
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many runs to show, newest first.")
@click.option("--status", type=click.Choice(get_args(RunStatus)),
              help="Only the runs with this status.")
@click.option("--trigger", "trigger_reason", type=click.Choice(get_args(TriggerReason)),
              help="Only the runs this started.")
@click.option("-v", "--verbose", is_flag=True,
              help="Under each run, its failing cases (suite, case and one line of message) "
                   "and its flaky ones.")
@json_option
def test_history(ref: str, limit: int, status: RunStatus | None,
                 trigger_reason: TriggerReason | None, verbose: bool, as_json: bool) -> None:
    """Show the test runs of pack REF, newest first, rejected attempts included."""
    with reads_session(as_json) as registry:
        runs = registry.test_history(ref, limit=limit, status=status,
                                     trigger_reason=trigger_reason)
        known = bool(runs) or registry.knows(ref)
    if not known:
        output.abort(f"Pack '{ref}' not found", code="NOT_FOUND", as_json=as_json)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(runs)})
        return
    if not runs:
        filters = ", ".join(f"{name} {value}" for name, value in
                            (("status", status), ("trigger", trigger_reason)) if value)
        output.line(f"No test runs recorded for pack '{ref}'"
                    + (f" with {filters}." if filters else "."))
        return
    output.table(
        ["TIME", "VERSION", "TRIGGER", "TESTS", "PASS RATE", "DURATION", "STATUS", "OUTCOME",
         "SANDBOX"],
        [_history_cells(run) for run in runs],
        below=[_failing_lines(run.result) for run in runs] if verbose else None,
    )


def _history_cells(run: Any) -> list[str]:
    return [
        output.timestamp(run.execution_time), run.pack_version, run.trigger_reason,
        f"{run.passed}/{run.total_tests}" + (f" ({run.flaky} flaky)" if run.flaky else ""),
        output.percent(run.pass_rate),
        output.duration(run.duration_ms), run.status, run.outcome or "in progress",
        output.sandbox(run.result),
    ]


def _failing_lines(result: dict[str, Any]) -> list[str]:
    """A run's failing cases, one line each (``✗ SUITE: CASE: MESSAGE``, as under a rejected
    registration's error); a suite that failed without a failing case (it could not run) gets
    ``✗ SUITE: MESSAGE``; then its flaky cases (``⚠ SUITE: CASE: flaky, ...``)."""
    from attune_registry.domain.results import summary_line

    lines = []
    for suite in result.get("test_suites") or []:
        failing = [case for case in suite.get("test_cases") or []
                   if case.get("status") in ("failed", "error")]
        for case in failing:
            message = summary_line(case.get("error_message") or "")
            lines.append(f"  {output.FAIL} {suite.get('name')}: {case.get('name')}"
                         + (f": {output.shorten(message, 160)}" if message else ""))
        if not failing and suite.get("status") in ("failed", "error"):
            message = summary_line(suite.get("message") or "")
            lines.append(f"  {output.FAIL} {suite.get('name')}"
                         + (f": {output.shorten(message, 160)}" if message else ""))
        for case in suite.get("test_cases") or []:
            if case.get("flaky"):
                message = summary_line(case.get("error_message") or "")
                lines.append(f"  {output.WARN} {suite.get('name')}: {case.get('name')}: flaky, "
                             f"passed on attempt {case.get('attempts')}"
                             + (f" (first failure: {output.shorten(message, 120)})"
                                if message else ""))
    return lines


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@json_option
def show(ref: str, as_json: bool) -> None:
    """Show active pack REF: its manifest fields, components and latest test run."""
    with reads_session(as_json) as registry:
        details = registry.show(ref)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(details)})
        return
    pack = details.pack
    output.line(f"Pack '{pack.ref}' {pack.version} (ID {pack.id})")
    for label, value in (("Label", pack.label), ("Description", pack.description),
                         ("Author", pack.author), ("Email", pack.email),
                         ("Tags", ", ".join(pack.tags)),
                         ("Depends on", ", ".join(f"{dep} {wanted}" for dep, wanted
                                                  in pack.dependencies.items())),
                         ("Activated from" if isinstance(pack.origin, ReleaseOrigin)
                          else "Installed from", pack.origin and output.origin(pack.origin)),
                         ("Source" if pack.origin is None else "Files", pack.source_path),
                         ("Release", details.release_path
                          if details.release_path != pack.source_path else None),
                         ("Digest", f"sha256:{pack.content_digest}"),
                         ("Registration", pack.registration_id),
                         ("Registered", output.timestamp(pack.created)),
                         ("Updated", output.timestamp(pack.updated))):
        if value:
            output.line(f"{label}: {value}")
    output.line(f"Components ({len(details.components)}):")
    for component in details.components:
        output.line(f"  {component.kind:<9} {component.ref:<28} "
                    f"{output.shorten(component.description, 60)}".rstrip())
    latest = details.latest_test
    if latest is None:
        output.line("Latest test run: none")
        return
    output.line(f"Latest test run: {output.timestamp(latest.execution_time)} "
                f"{latest.trigger_reason}, {latest.passed}/{latest.total_tests} passed "
                f"({output.percent(latest.pass_rate)}), {latest.status}, "
                f"{latest.outcome or 'in progress'}")
    for text in output.sandbox_lines(latest.result):
        output.line(f"  {text[0].upper()}{text[1:]}")


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many registrations to show, newest first.")
@json_option
def history(ref: str, limit: int, as_json: bool) -> None:
    """Show every registration attempt of REF, newest first: status, who asked and who ended
    it, when, where it came from, flags.

    Under a row: the source of an install, the run whose result it reused (`--reuse`, flag
    `reused`), and the reason given to a rollback, unregister or cancel (`--reason`).
    """
    with reads_session(as_json) as registry:
        rows = registry.registrations(ref, limit=limit)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows)})
        return
    output.table(["REQUESTED", "VERSION", "STATUS", "REASON", "REQUESTED BY", "ENDED BY",
                  "ORIGIN", "FLAGS", "REGISTRATION"],
                 [[output.timestamp(r.requested_at), r.pack_version, r.status, r.reason or "-",
                   r.requested_by, r.rolled_back_by or r.cancelled_by or "-", r.trigger_reason,
                   _flags(r), r.id] for r in rows],
                 below=[_history_lines(r) for r in rows])


def _history_lines(row: Any) -> list[str]:
    """Where an install came from, and why the registration was ended, if someone said."""
    lines = [f"  from {output.origin(row.origin)}"] if row.origin is not None else []
    if row.reused_run_id:
        lines.append(f"  tests reused from run {row.reused_run_id} (same content and "
                     "environment)")
    if row.note:
        lines.append(f"  reason given: {row.note}")
    if row.overridden_dependents:
        lines.append("  forced although active packs depended on it: " + ", ".join(
            f"{dep['ref']} (needs {row.pack_ref} {dep['wanted']})"
            for dep in row.overridden_dependents))
    return lines


def _flags(row: Any) -> str:
    flags = [name for name, on in (("force", row.force),
                                   ("replace", row.replace_active and not row.force),
                                   ("skip-tests", row.skip_tests), ("forced", row.forced),
                                   ("reused", row.reused_run_id)) if on]
    return ",".join(flags) or "-"
