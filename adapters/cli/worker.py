"""``attune worker``: run queued suites (PostgreSQL)."""

from __future__ import annotations

import click

from attune_registry.adapters.cli.context import json_option, refuse_remote, user_errors


@click.command()
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=1, show_default=True,
              help="How many suites this worker runs at once.")
@json_option
def worker(concurrency: int, as_json: bool) -> None:
    """Run the suites of queued registrations (`register --no-wait`, the API's "wait": false).

    Workers may run on any machine that reaches the store's PostgreSQL; they share no files
    with the API host or each other (each takes a release from the database into its own
    $ATTUNE_HOME/work). A worker that stops sending heartbeats for
    ATTUNE_WORKER_STALL_SECONDS (default 30) has its running suites queued again, and the
    registry records each suite once. SIGTERM or Ctrl-C: running suites finish, queued ones
    stay for other workers.

    Logs go to stderr: the registrations it decides and each suite it runs, as text or, with
    ATTUNE_LOG_FORMAT=json, one JSON object per line.

    \b
    Exit status: 0 stopped by a signal, 1 error (no PostgreSQL, store unreachable).
    """
    from attune_registry.adapters.observability.logs import configure_logging
    from attune_registry.adapters.queue.worker import run_worker
    from attune_registry.adapters.settings import Settings

    refuse_remote("worker", as_json)
    with user_errors(as_json):
        configure_logging(Settings.from_env().log_format)  # ATTUNE_LOG_FORMAT, on stderr
        run_worker(Settings.from_env(), concurrency=concurrency)
