"""``attune pack versions`` and ``attune pack activate``: a ref's committed releases side by
side, and one of them made active again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import actor, json_option, reads_session, registry_session
from attune_registry.adapters.cli.junit import junit_option, report_rejection, write_report
from attune_registry.adapters.cli.register import skip_dependents_option

if TYPE_CHECKING:
    from pathlib import Path

    from attune_registry.application.activate import ReleaseWanted

    from attune_registry.adapters.activation import Activation
    from attune_registry.adapters.reads.versions import PackVersion


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@json_option
def versions(ref: str, as_json: bool) -> None:
    """List every release of REF that was committed, newest first, side by side.

    One row per registration that committed (rolled back ones included): its version and
    content digest, when it committed, who asked and how (register, install, activate...),
    its tests (its own run, or the passing run it reused), its state (active, or what ended
    it: replaced by a newer version, rolled back, unregistered) and whether its release is
    still kept. A kept release can be made active again with `attune pack activate`; a
    pruned one (`attune pack prune`) cannot.

    \b
    Exit status: 0, 1 when REF was never submitted.
    """
    import msgspec

    with reads_session(as_json) as registry:
        found = registry.versions(ref)
    if as_json:
        output.print_json({"data": msgspec.to_builtins(found)})
        return
    count = len(found.versions)
    active = (f"active: {found.active_version}" if found.active_version is not None
              else "not active")
    output.line(f"Pack '{found.ref}': {count} committed release{'' if count == 1 else 's'} "
                f"({active})")
    if not found.versions:
        return
    output.table(["VERSION", "DIGEST", "COMMITTED", "BY", "HOW", "TESTS", "STATE", "RELEASE",
                  "REGISTRATION"],
                 [[v.version, f"sha256:{v.content_digest[:12]}",
                   output.timestamp(v.committed_at), v.requested_by, v.trigger, _tests(v),
                   _state(v), "kept" if v.kept else "pruned", v.registration_id]
                  for v in found.versions],
                 below=[_lines(v) for v in found.versions])


def _tests(version: PackVersion) -> str:
    tests = version.tests
    if tests is None:
        return "skipped" if version.tests_skipped else "-"
    text = (f"{tests.status} {tests.passed}/{tests.total}"
            + (f", {tests.flaky} flaky" if tests.flaky else ""))
    return f"reused: {text}" if tests.reused else text


def _state(version: PackVersion) -> str:
    ended = version.ended
    if version.active:
        return "active"
    if ended is None:
        return "-"
    if ended.how == "replaced":
        return f"replaced by {ended.version}"
    if ended.how == "rolled_back":
        return f"rolled back to {ended.version}" if ended.version else "rolled back"
    return "unregistered"


def _lines(version: PackVersion) -> list[str]:
    """Where its files came from, whether it was forced, who ended it and why."""
    lines = [f"  from {output.origin(version.origin)}"] if version.origin is not None else []
    if version.forced:
        lines.append("  forced: committed although its tests did not pass")
    if version.tests is not None and version.tests.reused:
        lines.append(f"  tests reused from run {version.tests.run_id}")
    ended = version.ended
    if ended is not None and ended.how != "replaced":
        lines.append(f"  {ended.how.replace('_', ' ')} by {ended.by} at "
                     f"{output.timestamp(ended.at)}"
                     + (f"; reason given: {ended.note}" if ended.note else ""))
    return lines


def _release(ctx: click.Context, param: click.Parameter, value: str) -> ReleaseWanted:
    """A usage error (exit 2, before the store is opened) unless it names a release."""
    from attune_registry.domain.errors import InvalidReleaseError

    from attune_registry.application.activate import parse_release

    try:
        return parse_release(value)
    except InvalidReleaseError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@click.argument("release", metavar="VERSION|DIGEST", callback=_release)
@click.option("--force", is_flag=True,
              help="Activate it even if its tests fail now (recorded as forced).")
@click.option("--no-reuse", is_flag=True,
              help="Run its suites even if a passing run of the same content in the same "
                   "environment exists.")
@skip_dependents_option
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@junit_option
@json_option
def activate(ref: str, release: ReleaseWanted, force: bool, no_reuse: bool,
             skip_dependents: bool, quiet: bool, junit_xml: Path | None,
             as_json: bool) -> None:
    """Make a kept release of REF active again, as a new registration of it.

    VERSION picks the newest committed registration of that version (when one version was
    committed with several contents, the newest, and the others are named); DIGEST picks by
    content: sha256:<hex> or bare hex, whole or at least its first 12 digits, as `attune
    pack versions` prints them.

    The release's files are registered again exactly as kept (pinned to their digest), with
    trigger `activate`: the dependencies, the active dependents' ranges and suites and the
    tests gate it like any registration, and the replaced version can be brought back with
    `attune pack rollback`. Its tests run again unless a passing run of the same content in
    the same environment exists, which is reused (--no-reuse runs them anyway).

    Refused, recording nothing, when no committed release matches, when it is the active
    one already, or when its release was pruned.

    \b
    Exit status: 0 activated, 1 refused or tests failed, 2 usage error.
    """
    from attune_registry.application.activate import ActivateCommand

    from attune_registry.adapters.cli.progress import SuiteProgress

    command = ActivateCommand(ref=ref, wanted=release, force=force, reuse=not no_reuse,
                              skip_dependents=skip_dependents, requested_by=actor())
    with registry_session(as_json) as registry, report_rejection(junit_xml, registry):
        done = registry.activate(command, None if quiet else SuiteProgress())
    write_report(junit_xml, done.registered.outcome.test_result)
    _report(done, as_json)


def _report(done: Activation, as_json: bool) -> None:
    """What ``pack register`` prints, and the release that was activated."""
    from attune_registry.adapters.cli.register import report, reused_json

    release, outcome = done.release, done.registered.outcome
    message = f"Pack '{outcome.pack_ref}' {release.version} activated"
    if as_json:
        import msgspec

        output.print_json({"data": {
            "pack": msgspec.to_builtins(done.registered.pack),
            "test_result": msgspec.to_builtins(outcome.test_result),
            "tests_skipped": outcome.tests_skipped, **reused_json(outcome.reused),
            "release": msgspec.to_builtins(release)}, "message": message})
        return
    report(done.registered, False, "activated")
    if release.other_digests:
        others = ", ".join(f"sha256:{digest[:12]}" for digest in release.other_digests)
        output.line(f"{output.WARN} Version {release.version} was also committed with other "
                    f"content ({others}); the newest, sha256:{release.digest[:12]}, was "
                    "activated: name a digest to choose another")
