"""``attune info``: the effective configuration, and whether the store it names is there."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import actor, json_option, user_errors

if TYPE_CHECKING:
    from attune_registry.adapters.contract import Health
    from attune_registry.adapters.info import Info, ReadModelsInfo, WorkersInfo
    from attune_registry.adapters.settings import Settings

LABEL_WIDTH = 14


@click.command(short_help="Show the effective configuration and whether the store exists.")
@json_option
def info(as_json: bool) -> None:
    """Show the effective configuration: version, store (password masked), ATTUNE_HOME, pack
    roots, the sandbox available, workers, the read models' position, and the settings that
    differ from their defaults.

    Creates nothing: a store that does not exist is reported, naming the file or the
    database and schema looked for. With --api-url, shows the server's health instead.

    \b
    Exit status: 0 all is well, 1 no store there, store unreachable, or a setting that
    cannot be used (each named).
    """
    options = click.get_current_context().find_root().params
    if options.get("api_url"):
        _remote(options["api_url"], bool(options.get("token")), as_json)
        return
    from attune_registry.adapters.info import gather
    from attune_registry.adapters.settings import Settings

    with user_errors(as_json):
        settings = Settings.from_env()
        found = gather(settings)
    import msgspec

    found = msgspec.structs.replace(found, actor=actor())
    error = _error(found, settings)
    if as_json:
        output.print_json({"data": msgspec.to_builtins(found)}
                          | ({"error": error[0], "code": error[1]} if error else {}))
        if error:
            sys.exit(1)
        return
    _show(found)
    if error:
        output.abort(error[0], code=error[1])


def _error(found: Info, settings: Settings) -> tuple[str, str] | None:
    """The message and code that make ``info`` exit 1, if any."""
    from attune_registry.adapters.store.config import store_location
    from attune_registry.adapters.store.probe import not_found

    store = found.store
    if store.status == "not_found":
        setting = "ATTUNE_DATABASE_URL" if settings.database_url else "ATTUNE_HOME"
        error = not_found(store_location(settings), setting)
        return str(error), error.code
    if store.status == "unreachable":
        return store.error or "the store cannot be reached", "STORE_UNAVAILABLE"
    if found.problems:
        count = len(found.problems)
        return (f"{count} setting{'s' if count > 1 else ''} cannot be used (see Problems)",
                "CONFIGURATION")
    return None


def _show(found: Info) -> None:
    from attune_registry.adapters.info import mechanism_text

    output.line(f"attune {found.version} (local mode)")
    store = found.store
    rows = [
        ("Acting as", f"{found.actor} (the operating-system account of this process)"),
        ("Store", store.url + {"found": "", "not_found": " (not found)",
                               "unreachable": " (unreachable)"}[store.status]),
        ("Schema", store.schema),
        ("Home", found.home),
        ("Pack roots", ", ".join(found.pack_roots)),
        ("Environments", found.environments),
        ("Sandbox", f"{mechanism_text(found.sandbox)} (ATTUNE_SANDBOX={found.sandbox.setting})"),
        ("Tests run", found.run_tests),
        ("Workers", _workers(found.workers, store.kind, store.status)),
        ("Read models", _read_models(found.read_models, store.status)),
    ]
    for label, value in rows:
        if value is not None:
            output.line(f"{label + ':':<{LABEL_WIDTH}}{value}")
    if found.settings:
        output.line("Settings not at their defaults:")
        for name, value in found.settings.items():
            output.line(f"  {name}={value}")
    if found.problems:
        output.line("Problems:")
        for problem in found.problems:
            output.line(f"  {output.FAIL} {problem}")


def _workers(workers: WorkersInfo | None, kind: str, status: str) -> str:
    if kind != "postgres":
        return "none: the embedded store has no queue (tests run where registrations run)"
    if workers is None:
        return "-" if status != "found" else "unknown (the queue could not be read)"
    lost = f", {workers.lost} lost" if workers.lost else ""
    queued = _queued(workers.queue_depth, workers.oldest_queued_seconds)
    return f"{workers.alive} alive{lost}; {queued}"


def _queued(depth: int, oldest: float | None) -> str:
    if not depth:
        return "no suite waiting"
    waiting = f"{depth} suite{'s' if depth > 1 else ''} waiting"
    return waiting + (f", the oldest for {int(oldest)} s" if oldest is not None else "")


def _read_models(models: ReadModelsInfo | None, status: str) -> str:
    if models is None:
        return "none yet: nothing recorded" if status == "found" else "-"
    if models.state == "other_version":
        return (f"version {models.version}, this attune uses {models.expected_version}: the "
                "next command that opens the store rebuilds them from the log")
    if models.state == "behind":
        return (f"behind by {models.lag} events: position {models.position} of "
                f"{models.log_head} (the next command catches up)")
    return f"current: position {models.position} of {models.log_head}"


def _remote(api_url: str, has_token: bool, as_json: bool) -> None:
    """What the client knows, and the server's health (which needs no token)."""
    from attune_registry.adapters.cli.remote import RemoteRegistry
    from attune_registry.adapters.info import attune_version
    from attune_registry.adapters.redact import redact_url

    with user_errors(as_json), RemoteRegistry(api_url, None) as remote:
        health = remote.health()
    url = redact_url(api_url)
    if as_json:
        import msgspec

        output.print_json({"data": {"version": attune_version(), "mode": "remote",
                                    "api_url": url, "token": has_token,
                                    "server": msgspec.to_builtins(health)}})
        return
    output.line(f"attune {attune_version()} (remote mode)")
    for label, value in (
            ("API", url),
            ("Token", "given (ATTUNE_TOKEN or --token)" if has_token else "none"),
            ("Acting as", "the token, as the server records it (token:NAME)"),
            ("Server store", f"{health.store}, {health.status}"),
            ("Read models", _lag(health)),
            ("Workers", None if health.workers_alive is None else
             f"{health.workers_alive} alive; "
             f"{_queued(health.queue_depth or 0, health.oldest_queued_seconds)}")):
        if value is not None:
            output.line(f"{label + ':':<{LABEL_WIDTH}}{value}")
    output.line("The server's home, pack roots and sandbox are in its start-up log; run "
                "`attune info` on its host for everything.")


def _lag(health: Health) -> str:
    if health.projection_lag:
        return (f"behind by {health.projection_lag} events: position "
                f"{health.projection_position} of {health.log_head}")
    return f"current: position {health.projection_position} of {health.log_head}"
