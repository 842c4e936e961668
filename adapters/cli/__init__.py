"""The ``attune`` command line. Heavy imports stay inside commands so that reads start fast."""

from __future__ import annotations

import click

from attune_registry.adapters.cli.lazy import LazyGroup

# Each command family's module is imported when one of its commands runs (see lazy.py).
COMMANDS = {
    "pack": "pack:pack",
    "registration": "registration:registration",
    "audit": "audit:audit",
    "projections": "projections:projections",
    "projector": "projections:projector",
    "token": "tokens:token",
    "serve": "serve:serve",
    "worker": "worker:worker",
    "workers": "workers:workers",
    "info": "info:info",
    "activity": "activity:activity",
    "webhook": "webhook:webhook",
    "examples": "examples:examples",
}


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="attune-registry", prog_name="attune")
@click.option("--api-url", envvar="ATTUNE_API_URL", metavar="URL",
              help="Work through the HTTP API at URL instead of the local store "
                   "(e.g. http://registry:8080). Env: ATTUNE_API_URL.")
@click.option("--token", envvar="ATTUNE_TOKEN", metavar="TOKEN",
              help="Bearer token for --api-url. Env: ATTUNE_TOKEN (preferred: keeps it out "
                   "of the process list).")
def main(api_url: str | None, token: str | None) -> None:
    """Attune pack registry: register automation packs, gated on their own tests.

    \b
    Local mode: the store is a SQLite file under $ATTUNE_HOME (default
    ~/.local/share/attune); set ATTUNE_DATABASE_URL=postgresql://user@host/db for PostgreSQL.
    Remote mode: --api-url/ATTUNE_API_URL and ATTUNE_TOKEN send pack commands to a server.
    """


def run() -> None:
    """The ``attune`` entry point: ``main`` in a process of its own, stopping cleanly on
    SIGTERM and SIGHUP (``main`` alone also runs inside other programs, such as tests)."""
    stop_cleanly_on_signals()
    main()


class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C (a registration records its rejection,
    releases its lease and removes its snapshot), then exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __repr__(self) -> str:
        import signal

        return f"stopped by {signal.Signals(self.signum).name}"


def stop_cleanly_on_signals() -> None:
    """A CI cancel, ``timeout``, ``docker stop`` or systemd stop sends SIGTERM; a closed
    terminal SIGHUP. Their default action ends the process at once, with a registration
    left holding its ref until the lease expires. The first one raises ``Terminated`` in
    the main thread; later ones are ignored, so that the clean-up it starts can finish."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        for other in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(other, signal.SIG_IGN)
        raise Terminated(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:  # not ignored by whoever started us
            signal.signal(signum, terminate)


__all__ = ["main", "run"]
