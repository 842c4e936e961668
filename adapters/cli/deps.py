"""``attune pack deps``: what a pack declares it needs, and which active packs need it."""

from __future__ import annotations

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import json_option, reads_session


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@click.option("--reverse", is_flag=True,
              help="List the active packs that depend on REF instead, with their ranges.")
@json_option
def deps(ref: str, reverse: bool, as_json: bool) -> None:
    """Show the dependencies active pack REF declares: each one's version range, the version
    active now and whether it satisfies the range. With --reverse: the active packs that
    depend on REF, the range each declares and whether REF's active version is in it.

    With --json the API's body is printed (GET /api/v1/packs/REF/dependencies), which holds
    both directions whichever is asked.

    \b
    Exit status: 0 (unsatisfied ranges are reported, not errors), 1 when REF was never
    submitted and nothing depends on it.
    """
    import msgspec

    with reads_session(as_json) as registry:
        found = registry.dependencies(ref)
    if as_json:
        output.print_json({"data": msgspec.to_builtins(found)})
        return
    active = f"{found.version}" if found.version is not None else "not active"
    if reverse:
        if not found.dependents:
            output.line(f"No active pack depends on '{ref}' ({active}).")
            return
        output.line(f"Active packs that depend on '{ref}' ({active}):")
        output.table(["PACK", "VERSION", "NEEDS", "SATISFIED"],
                     [[d.ref, d.version, f"{ref} {d.wanted}", _yes_no(d.satisfied)]
                      for d in found.dependents])
        return
    if found.version is None:
        output.line(f"Pack '{ref}' is not active: it declares no dependencies here "
                    f"(`attune pack deps {ref} --reverse` lists the packs that need it).")
        return
    if not found.dependencies:
        output.line(f"Pack '{ref}' {found.version} declares no dependencies.")
        return
    output.line(f"Pack '{ref}' {found.version} depends on:")
    output.table(["PACK", "RANGE", "ACTIVE", "SATISFIED"],
                 [[d.ref, d.wanted, d.active_version or "-", _yes_no(d.satisfied)]
                  for d in found.dependencies])


def _yes_no(satisfied: bool) -> str:
    return "yes" if satisfied else "no"
