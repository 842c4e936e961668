"""``attune pack install``, ``verify`` and ``prune``: packs from sources, and their releases."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import (
    actor,
    jobs_option,
    json_option,
    reads_session,
    registry_session,
)
from attune_registry.adapters.cli.install_deps import install_deps_option, no_wait_with_install_deps
from attune_registry.adapters.cli.junit import junit_option, report_rejection, write_report
from attune_registry.adapters.cli.paths import not_empty
from attune_registry.adapters.cli.register import (
    queued,
    report,
    reuse_option,
    skip_dependents_option,
)

if TYPE_CHECKING:
    from pathlib import Path


@click.command()
@click.argument("source", callback=not_empty)
@click.option("--ref", "ref", metavar="REF",
              help="Git tag, branch or commit to install (default: the remote's HEAD). "
                   "Git sources only.")
@click.option("--digest", metavar="sha256:HEX",
              help="Install only if the pack's content has this digest (as `attune pack "
                   "show` prints it): pins the exact files, whatever the source serves.")
@click.option("--force", is_flag=True,
              help="Replace an active pack of the same ref, and install even if tests fail.")
@click.option("--replace", is_flag=True,
              help="Replace an active pack of the same ref, but only if the tests pass.")
@click.option("--skip-tests", is_flag=True,
              help="Do not run the pack's tests (nothing is stored as a test result).")
@skip_dependents_option
@reuse_option
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.option("--no-wait", is_flag=True,
              help="Fetch, then queue the suites for `attune worker` processes and return "
                   "with the registration's id (PostgreSQL only).")
@install_deps_option
@jobs_option
@junit_option
@json_option
def install(source: str, ref: str | None, digest: str | None, force: bool, replace: bool,
            skip_tests: bool, skip_dependents: bool, reuse: bool, quiet: bool, no_wait: bool,
            install_deps: bool, jobs: int | None, junit_xml: Path | None, as_json: bool) -> None:
    """Install a pack from SOURCE: a git repository, an archive or a directory.

    \b
    SOURCE is one of:
      https://host/org/pack.git, ssh://host/pack.git, user@host:pack.git,
      file:///srv/git/pack.git or a local repository    git (with --ref)
      https://host/pack-1.0.0.tar.gz, ./pack.zip         an archive (.tar.gz,
                                                          .tgz, .tar.bz2, .tar.xz, .zip)
      ./pack                                             a pack directory

    The files are fetched, validated, kept as a release ($ATTUNE_HOME/releases/DIGEST) and
    tested like `attune pack register`. The pack becomes active only if its tests pass; a
    refused install leaves no files behind. The registration records where the files came
    from (the source, with any password masked, the git ref and commit, or the archive's
    sha256) and their digest: `attune pack show` prints them and `attune pack verify` checks
    the release against them.

    \b
    Exit status: 0 installed, 1 refused or tests failed, 2 usage error.
    """
    from attune_registry.application.commands import InstallCommand, parse_digest

    from attune_registry.adapters.cli.progress import SuiteProgress
    from attune_registry.adapters.redact import redact_url

    with registry_session(as_json, create=True) as registry:
        command = InstallCommand(
            source=source, git_ref=ref, force=force, replace=replace, skip_tests=skip_tests,
            skip_dependents=skip_dependents, reuse=reuse, jobs=jobs, requested_by=actor(),
            install_deps=install_deps,
            expected_digest=parse_digest(digest) if digest is not None else None)
        if install_deps and no_wait:
            no_wait_with_install_deps()
        progress = None
        if not quiet:
            progress = SuiteProgress()
            if not as_json:
                output.note(f"Fetching {redact_url(source)}" + (f" at {ref}" if ref else ""))
        if no_wait and not skip_tests:
            queued(registry.queue_install(command), as_json)
            return
        with report_rejection(junit_xml, registry):
            installed = registry.install(command, progress)
    write_report(junit_xml, installed.outcome.test_result)
    report(installed, as_json, "installed")


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@json_option
def verify(ref: str, as_json: bool) -> None:
    """Check that active pack REF's release still has the digest recorded when it was
    registered or installed.

    The release is the copy of exactly what the registration tested, kept under
    $ATTUNE_HOME/releases; the files that were added, removed or modified since are listed.
    A pack registered before releases existed gets its release here if the directory it was
    registered from is unchanged.

    \b
    Exit status: 0 unchanged, 1 drifted, missing or not found.
    """
    import msgspec

    with reads_session(as_json) as registry:
        found = registry.verify(ref)
    if as_json:
        output.print_json({"data": msgspec.to_builtins(found)})
        sys.exit(0 if found.status == "ok" else 1)
    title = f"Pack '{found.ref}' {found.version}"
    release = found.release_path or found.source_path
    if found.status == "ok":
        output.line(f"{output.OK} {title} matches its recorded content "
                    f"(sha256:{found.expected_digest})")
        if found.origin is not None:
            output.line(f"Source: {output.origin(found.origin)}")
        output.line(f"Release: {release}")
        return
    if found.status == "missing":
        output.line(f"{output.FAIL} {title}: its release is missing from {release}")
        if found.source_path != release:
            output.line(f"(and the files at {found.source_path} no longer have its digest: "
                        "register that content again to restore it)")
        sys.exit(1)
    output.line(f"{output.FAIL} {title} has drifted from its recorded content")
    output.line(f"Release: {release}")
    output.line(f"Recorded: sha256:{found.expected_digest}")
    output.line(f"Found:    sha256:{found.actual_digest}")
    for label, paths in (("modified", found.modified), ("added", found.added),
                         ("removed", found.removed)):
        for path in paths:
            output.line(f"  {label + ':':<9} {path}")
    if not found.files_listed:
        output.line("(no file list was kept for this content: only the digest is compared)")
    sys.exit(1)


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@json_option
def prune(dry_run: bool, as_json: bool) -> None:
    """Remove the releases that nothing can bring back.

    Every registration keeps what it tested as a release in $ATTUNE_HOME/releases. Kept are
    the releases of each active pack, of the registrations a rollback can restore, of
    registrations still testing, and of each ref's ATTUNE_KEEP_RELEASES (default 3) most
    recent committed registrations. Directories in $ATTUNE_HOME/installed, from versions
    before releases, go once no committed registration uses them. Local store only.

    \b
    Exit status: 0 done (also when nothing was removed), 1 error.
    """
    with registry_session(as_json, local_only="pack prune") as registry:
        removed = registry.prune(dry_run=dry_run)
    if as_json:
        output.print_json({"data": {"removed": removed, "dry_run": dry_run}})
        return
    verb = "Would remove" if dry_run else "Removed"
    output.line(f"{output.OK} {verb} {len(removed)} unneeded "
                f"release{'' if len(removed) == 1 else 's'}")
    for path in removed:
        output.line(f"  {path}")
