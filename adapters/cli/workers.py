"""``attune workers``: the worker processes of queued registrations, and what they run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import json_option, registry_session

if TYPE_CHECKING:
    from attune_registry.adapters.contract import WorkerRow


@click.command()
@json_option
def workers(as_json: bool) -> None:
    """List the `attune worker` processes (PostgreSQL), the longest running first.

    A worker is `alive` while it reports itself (every third of its
    ATTUNE_WORKER_STALL_SECONDS), and `lost` once it has been silent longer than that:
    killed, or cut off from the store. A worker stopped with SIGTERM or Ctrl-C leaves the
    list; a lost one is dropped by the next worker to start, once silent for ten times its
    stall time. RUNNING shows each suite it runs: the registration's id (first 8
    characters) and the suite's name.
    """
    with registry_session(as_json) as registry:
        rows = registry.workers()
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows), "queue": "postgres"})
        return
    if not rows:
        output.line("No workers.")
        return
    output.table(["NAME", "STATE", "CONCURRENCY", "LAST SEEN", "RUNNING"],
                 [_cells(row) for row in rows])


def _cells(row: WorkerRow) -> list[str]:
    running = ", ".join(f"{suite.registration_id[:8]} {suite.suite}" for suite in row.running)
    return [row.name, row.state, str(row.concurrency), _ago(row.seen_seconds_ago),
            running or "-"]


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s ago"
    if seconds < 7200:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"
