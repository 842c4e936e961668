"""The ``attune`` command line. Heavy imports stay inside commands so that reads start fast."""

from __future__ import annotations

import click

from adapters.cli.audit import audit
from adapters.cli.pack import pack
from adapters.cli.projections import projections, projector
from adapters.cli.serve import serve
from adapters.cli.tokens import token


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (pack, audit, projections, projector, token, serve):
    main.add_command(command)

__all__ = ["main"]
