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
def main() -> None:
    """Attune pack registry: register automation packs, gated on their own tests.

    \b
    The store is a SQLite file under $ATTUNE_HOME (default ~/.local/share/attune);
    set ATTUNE_DATABASE_URL=postgresql://user@host/db to use PostgreSQL.
    """


for command in (pack, audit, projections, projector, token, serve):
    main.add_command(command)

__all__ = ["main"]
