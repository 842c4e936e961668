"""``attune projections …`` and ``attune projector``: the read side's position and upkeep."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import (
    json_option,
    refuse_remote,
    registry_session,
    user_errors,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from attune_registry.adapters.settings import Settings

batch_option = click.option("--batch-size", type=click.IntRange(1, 100_000), default=500,
                            show_default=True, help="Events applied per transaction.")


@click.group()
def projections() -> None:
    """Inspect and rebuild the read models (projections of the event log)."""


@projections.command()
@json_option
def status(as_json: bool) -> None:
    """Show the log head, the read models' position, and how far behind they are."""
    with registry_session(as_json, local_only="projections status") as registry:
        state = registry.projection_status()
    if as_json:
        output.print_json({"data": [{"name": state.name, "position": state.position,
                                     "log_head": state.log_head, "lag": state.lag}]})
        return
    output.table(["PROJECTION", "POSITION", "LOG HEAD", "LAG"],
                 [[state.name, str(state.position), str(state.log_head), str(state.lag)]])


@projections.command()
@batch_option
@json_option
def rebuild(batch_size: int, as_json: bool) -> None:
    """Rebuild every read model from the whole event log.

    Runs in one transaction: readers see the old rows until the rebuilt ones commit, and
    projectors wait meanwhile, so it is safe while the service runs.
    """
    with registry_session(as_json, local_only="projections rebuild") as registry:
        started = time.monotonic()
        replayed = registry.rebuild(batch_size=batch_size)
        seconds = time.monotonic() - started
        state = registry.projection_status()
    if as_json:
        output.print_json({"data": {"events": replayed, "seconds": round(seconds, 3),
                                    "position": state.position}})
        return
    output.line(f"{output.OK} Rebuilt the read models from {replayed} events in {seconds:.2f} s "
                f"(position {state.position})")


@click.command()
@batch_option
@click.option("--idle", type=click.FloatRange(0.05, 60), default=1.0, show_default=True,
              help="Seconds between checks for new events when idle (PostgreSQL is woken "
                   "at once by notifications).")
def projector(batch_size: int, idle: float) -> None:
    """Follow the event log and keep the read models current, until interrupted.

    One projector is active per store; start more as hot standbys: they take over when the
    active one stops. Commands keep projecting their own events either way. When the store
    cannot be reached, it says so on stderr and tries again (1, 2, 4 … 30 s apart).
    With ATTUNE_LOG_FORMAT=json each of these lines is a JSON object (`projector.*` events).
    """
    import signal
    import threading

    from eventsourcing.persistence import PersistenceError

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.settings import ConfigError, Settings
    from attune_registry.adapters.store.config import store_config
    from attune_registry.adapters.store.projector import run_projector

    refuse_remote("projector", False)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    settings = Settings.from_env()
    report = projector_report(settings)  # stderr: text, or JSON (ATTUNE_LOG_FORMAT)
    try:
        # Store outages are retried inside; a setting that cannot work ends the command.
        run_projector(store_config(settings), lambda: build_registry(settings), stop,
                      report=report,
                      batch_size=batch_size, idle_seconds=idle)
    except (ConfigError, PersistenceError, OSError) as exc:
        output.abort(f"projector stopped: {exc}", code=getattr(exc, "code", "STORE_UNAVAILABLE"))


def projector_report(settings: Settings) -> Callable[[str], None]:
    """Where the projector's lines go: notes on stderr, or JSON log records."""
    from attune_registry.adapters.observability.logs import configure_logging, projector_record

    with user_errors(as_json=False):
        log_format = settings.log_format
    configure_logging(log_format)
    if log_format == "json":
        return projector_record
    return lambda message: output.note(f"projector: {message}")
