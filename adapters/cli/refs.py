"""``attune pack list --all``: every ref ever submitted, active or not, with its state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune_registry.adapters.cli import output

if TYPE_CHECKING:
    from attune_registry.projections.activity_queries import RefState

    from attune_registry.adapters.contract import RegistryReads


def print_ref_states(registry: RegistryReads, as_json: bool) -> None:
    """One row per ref: its state (active, in_progress, rejected or unregistered), the
    version and since when, who brought it there, and the latest of its events."""
    refs = registry.ref_states()
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(refs)})
        return
    if not refs:
        output.line("No packs submitted.")
        return
    output.table(["REF", "STATE", "VERSION", "SINCE", "BY", "LAST EVENT"],
                 [[r.ref, r.state, r.version, output.timestamp(r.since), r.by or "-",
                   _last(r)] for r in refs])


def _last(ref: RefState) -> str:
    """The latest event of the ref, with its time when it is not what set the state."""
    when = "" if ref.last_at == ref.since else f" ({output.timestamp(ref.last_at)})"
    return ref.last_summary + when
