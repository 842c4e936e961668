"""``attune audit REGISTRATION_ID``: a registration's events, in order, as stored."""

from __future__ import annotations

import json
from uuid import UUID

import click

from adapters.cli import output
from adapters.cli.context import json_option, registry_session


@click.command()
@click.argument("registration_id", type=click.UUID)
@json_option
def audit(registration_id: UUID, as_json: bool) -> None:
    """Print the events of registration REGISTRATION_ID in order, as the log stores them.

    Registration ids are shown by `attune pack history REF`.
    """
    import msgspec

    with registry_session(as_json) as registry:
        events = registry.audit(registration_id)
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
