"""``attune pack unregister|rollback``: compensating events; nothing is ever deleted."""

from __future__ import annotations

import click

from adapters.cli import output
from adapters.cli.context import actor, json_option, registry_session


@click.command()
@click.argument("ref")
@json_option
def unregister(ref: str, as_json: bool) -> None:
    """Deactivate pack REF.

    Records a RegistrationRolledBack event for the active registration; the pack disappears
    from `pack list`, and its registrations and test history stay for auditors.
    """
    with registry_session(as_json) as registry:
        registration_id = registry.unregister(ref, actor=actor())
    if as_json:
        output.print_json({"data": {"ref": ref, "registration_id": str(registration_id)},
                           "message": f"Pack '{ref}' unregistered"})
        return
    output.line(f"{output.OK} Pack '{ref}' unregistered")
    output.line(f"Registration {registration_id} rolled back; its history is kept")


@click.command()
@click.argument("ref")
@json_option
def rollback(ref: str, as_json: bool) -> None:
    """Re-activate the registration of REF that the active one replaced.

    The active registration gets a RegistrationRolledBack event and the earlier version is
    active again; repeat to go further back.
    """
    with registry_session(as_json) as registry:
        pack = registry.roll_back(ref, actor=actor())
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(pack),
                           "message": f"Pack '{ref}' rolled back to {pack.version}"})
        return
    output.line(f"{output.OK} Pack '{pack.ref}' rolled back to version {pack.version}")
    output.line(f"ID: {pack.id}")
    output.line(f"Registration: {pack.registration_id}")
