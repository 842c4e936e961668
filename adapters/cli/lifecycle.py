"""``attune pack unregister|rollback|cancel``: compensating events; nothing is ever deleted."""

from __future__ import annotations

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import actor, json_option, registry_session


def _checked_reason(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A usage error (exit 2, before the store is opened) unless the reason may be recorded."""
    from attune_registry.domain.note import InvalidNoteError, checked_note

    try:
        return checked_note(value)
    except InvalidNoteError as exc:
        raise click.BadParameter(exc.problem) from None


reason_option = click.option(
    "--reason", metavar="TEXT", callback=_checked_reason,
    help="Why, in your words: one line, at most 500 characters, kept with the event and shown "
         "by `pack history` and `audit --summary`.")


dependents_force_option = click.option(
    "--force", is_flag=True,
    help="Do it although active packs depend on REF (`attune pack deps REF --reverse`); "
         "they are recorded with the event.")


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@reason_option
@dependents_force_option
@json_option
def unregister(ref: str, reason: str | None, force: bool, as_json: bool) -> None:
    """Deactivate pack REF.

    Records a RegistrationRolledBack event for the active registration; the pack disappears
    from `pack list`, and its registrations and test history stay for auditors. Refused
    while active packs depend on REF, unless --force.
    """
    with registry_session(as_json) as registry:
        registration_id = registry.unregister(ref, actor=actor(), note=reason, force=force)
    if as_json:
        output.print_json({"data": {"ref": ref, "registration_id": str(registration_id)},
                           "message": f"Pack '{ref}' unregistered"})
        return
    output.line(f"{output.OK} Pack '{ref}' unregistered")
    output.line(f"Registration {registration_id} rolled back; its history is kept")


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@reason_option
@dependents_force_option
@json_option
def rollback(ref: str, reason: str | None, force: bool, as_json: bool) -> None:
    """Re-activate the registration of REF that the active one replaced.

    The active registration gets a RegistrationRolledBack event and the earlier version is
    active again, with the exact files its registration tested (its release): whatever
    happened to the directory it was registered from. Repeat to go further back. Refused,
    changing nothing, when that release is gone, or when an active pack that depends on REF
    declares a range the earlier version is not in (unless --force).
    """
    with registry_session(as_json) as registry:
        pack = registry.roll_back(ref, actor=actor(), note=reason, force=force)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(pack),
                           "message": f"Pack '{ref}' rolled back to {pack.version}"})
        return
    output.line(f"{output.OK} Pack '{pack.ref}' rolled back to version {pack.version}")
    output.line(f"ID: {pack.id}")
    output.line(f"Registration: {pack.registration_id}")


@click.command()
@click.argument("ref", shell_complete=pack_refs)
@click.option("--force", is_flag=True,
              help="Cancel even if the registering process may still be running (on another "
                   "machine, or alive): it records nothing more once cancelled.")
@reason_option
@json_option
def cancel(ref: str, force: bool, reason: str | None, as_json: bool) -> None:
    """End the registration of REF in progress, when the process running it is gone.

    A registration killed without a chance to clean up (SIGKILL, a lost machine) holds REF
    until its lease expires; this ends it now, recorded as rejected (reason abandoned) by
    you. Without --force, only a registration whose process certainly ended on this host
    (or whose lease expired) is cancelled.

    \b
    Exit status: 0 cancelled, 1 nothing to cancel, or its process may still run.
    """
    with registry_session(as_json) as registry:
        ended = registry.cancel(ref, actor=actor(), force=force, note=reason)
    message = f"Registration {ended} of pack '{ref}' cancelled"
    if as_json:
        output.print_json({"data": {"ref": ref, "registration_id": str(ended)},
                           "message": message})
        return
    output.line(f"{output.OK} {message}")
    output.line("Recorded as rejected (abandoned); the pack can be registered again")
