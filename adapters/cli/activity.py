"""``attune activity``: what happened in the registry, across every ref, one line per event."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.complete import pack_refs
from attune_registry.adapters.cli.context import json_option, reads_session

if TYPE_CHECKING:
    from attune_registry.projections.activity_queries import ActivityRow

INT64_MAX = 2**63 - 1
_AGE = re.compile(r"^(\d{1,9})([smhdw])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SinceTime(click.ParamType[datetime]):
    """A moment: ISO 8601 (without an offset: UTC), or an age such as ``30m`` or ``7d``."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        age = _AGE.fullmatch(text)
        if age:
            try:
                return datetime.now(UTC) - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
            except OverflowError:
                return datetime.min.replace(tzinfo=UTC)  # before anything was recorded
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a time: give one such as 2026-11-25, "
                      "2026-11-25T12:00Z or 2026-11-25 12:00:00+01:00, or an age such as "
                      "30m, 2h or 7d", param, ctx)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # past the calendar's ends once in UTC
            return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


@click.command(short_help="Every event across refs, one line each")
@click.option("--since", type=SinceTime(),
              help="Only events recorded at or after TIME: ISO 8601 (2026-11-25, "
                   "2026-11-25T12:00Z; without an offset, UTC), or an age (30m, 2h, 7d, 1w).")
@click.option("--ref", metavar="REF", shell_complete=pack_refs,
              help="Only the events of pack REF.")
@click.option("--actor", metavar="ACTOR",
              help="Only the events of ACTOR, as shown in the ACTOR column (cli:alice, "
                   "token:ci).")
@click.option("--after", type=click.IntRange(0, INT64_MAX), metavar="POSITION",
              help="Only events after log position POSITION (the # column): where the "
                   "previous output stopped.")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="How many events to show.")
@json_option
def activity(since: datetime | None, ref: str | None, actor: str | None, after: int | None,
             limit: int, as_json: bool) -> None:
    """Show what happened in the registry across every ref, oldest first: registrations
    requested, suites, commits and rejections, rollbacks and unregisters, the pack's lease
    and activation, tokens issued and revoked, and manual test runs.

    Each line has the event's position in the log (#), its time, who acted, the ref, the
    registration and what happened; --json adds the event as stored.

    \b
    Without --since or --after: the LIMIT most recent events.
    With --since or --after: the first LIMIT events from there; when more follow, the
    command to read on is printed on stderr.
    """
    from attune_registry.projections.activity_queries import ActivityFilter

    newest = since is None and after is None
    query = ActivityFilter(limit=limit, after=after, since=since, ref=ref, actor=actor,
                           newest_first=newest)
    with reads_session(as_json) as registry:
        found = registry.activity(query)
    rows = list(reversed(found.rows)) if newest else found.rows
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows)})
        return
    if not rows:
        output.line(_nothing(query))
        return
    output.table(["#", "TIME", "ACTOR", "REF", "REGISTRATION", "WHAT"], [_cells(r) for r in rows])
    if found.more and newest:
        output.note(f"The {limit} most recent events; --since TIME or --after POSITION reads "
                    "from an earlier point.")
    elif found.more:
        output.note(f"More events follow: run again with --after {rows[-1].position}.")


def _cells(row: ActivityRow) -> list[str]:
    return [str(row.position), output.timestamp(row.at), row.actor or "-", row.ref or "-",
            row.registration_id or "-", row.summary]


def _nothing(query: Any) -> str:
    filters = [f"{name} {value}" for name, value in (
        ("ref", query.ref), ("actor", query.actor),
        ("since", query.since and output.timestamp(query.since.astimezone(UTC).isoformat())),
        ("after position", query.after)) if value is not None]
    return "No events" + (f" with {', '.join(filters)}." if filters else " recorded.")
