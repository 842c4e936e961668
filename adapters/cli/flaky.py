"""``attune pack flaky``: the cases whose outcome changed while their inputs did not."""

from __future__ import annotations

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import json_option, reads_session


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@json_option
def flaky(ref: str, as_json: bool) -> None:
    """List the flaky test cases of pack REF, most recently seen first.

    A case is flaky when it both passed and failed with the same content (digest) in the
    same environment (fingerprint: interpreter, the pack's Python environment, the registry's
    runners, the sandbox), or when it passed only on a retry (`retries` in pack.yaml). Every
    run counts (registrations, installs, `attune pack test`, activations) except the runs of
    a dependent against an upgrade candidate. A case that always fails is not flaky; a pass in
    one version and a failure in another is a change, not flakiness.

    \b
    Columns: PASSED and FAILED count runs (a pass on a retry is a pass, also counted in
    ON RETRY); VERSIONS is how many versions it was flaky in, and the newest of them; under
    each row, the line of its last failure.

    With --json the API's body is printed (GET /api/v1/packs/REF/flaky).

    \b
    Exit status: 0 (flaky cases are reported, not errors), 1 when REF was never submitted.
    """
    import msgspec

    with reads_session(as_json) as registry:
        cases = registry.flaky_cases(ref)
    if as_json:
        output.print_json({"data": msgspec.to_builtins(cases)})
        return
    if not cases:
        output.line(f"No flaky cases recorded for '{ref}'.")
        return
    output.table(
        ["SUITE", "CASE", "PASSED", "FAILED", "ON RETRY", "VERSIONS", "LAST SEEN"],
        [[case.suite, case.case, str(case.passed), str(case.failed), str(case.passed_on_retry),
          f"{case.versions} ({case.latest_version})", output.timestamp(case.last_seen)]
         for case in cases],
        below=[[f"  {output.FAIL} {output.shorten(case.last_failure, 160)}"]
               if case.last_failure else [] for case in cases])
