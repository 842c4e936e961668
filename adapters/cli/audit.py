"""``attune audit REGISTRATION_ID``: a registration's events, in order, as stored; or, with
``--summary``, its timeline for people."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from uuid import UUID

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import json_option, registry_session

if TYPE_CHECKING:
    from attune_registry.adapters.contract import StoredEvent
    from attune_registry.adapters.reads.timeline import AuditSummary

MARKS = {"good": output.OK, "bad": output.FAIL, "": " "}


@click.command()
@click.argument("registration_id", type=click.UUID)
@click.option("--summary", is_flag=True,
              help="A timeline for people instead of the raw events: who asked and how, each "
                   "suite's result, the decision, and a later rollback or unregister, by whom "
                   "and why.")
@json_option
def audit(registration_id: UUID, summary: bool, as_json: bool) -> None:
    """Print the events of registration REGISTRATION_ID in order, as the log stores them.

    With --summary, print its timeline instead, one line per step: requested (by whom, with
    which flags, from which source), each suite's counts, duration and worker, the decision,
    and a later rollback or unregister with the reason given.

    Registration ids are shown by `attune pack history REF`.
    """
    with registry_session(as_json) as registry:
        events = registry.audit(registration_id)
    if summary:
        from attune_registry.adapters.reads.timeline import summarize

        _print_summary(summarize(registration_id, events), as_json)
        return
    _print_events(registration_id, events, as_json)


def _print_events(registration_id: UUID, events: list[StoredEvent], as_json: bool) -> None:
    import msgspec

    if as_json:
        # Shallow: the decoded state keeps its values, printed as the log's JSON has them.
        output.print_json({"data": {"registration_id": str(registration_id),
                                    "events": [msgspec.structs.asdict(e) for e in events]}})
        return
    output.line(f"Registration {registration_id}: {len(events)} events")
    for event in events:
        state = dict(event.state)
        when = state.pop("timestamp", "")
        output.line(f"{event.originator_version:>3}  {event.topic}  {when}")
        for line in json.dumps(state, indent=2, default=str, sort_keys=True).splitlines():
            output.line(f"     {line}")


def _print_summary(found: AuditSummary, as_json: bool) -> None:
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(found)})
        return
    output.line(f"Registration {found.registration_id}: {found.pack_ref} "
                f"{found.pack_version}, {found.status}")
    for step in found.timeline:  # one line each: text from packs and people included
        click.echo(output.safe(f"{output.timestamp(step.at)}  {MARKS[step.tone]} {step.text}",
                               one_line=True))
        for detail in step.details:
            click.echo(output.safe(f"{'':24}{detail}", one_line=True))
