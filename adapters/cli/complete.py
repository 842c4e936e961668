"""Shell completion of pack refs (``_ATTUNE_COMPLETE=bash_source attune`` and friends).

The shell runs ``attune`` on every Tab, so this must be fast and silent: it reads the refs
ever submitted (``pack_ref_state``) with one plain query, never building the registry. On
SQLite the quick read path is used (read models current with the log; otherwise nothing is
offered rather than catching up). On PostgreSQL, one short connection with a 2-second
connect timeout. In remote mode (``--api-url``/``ATTUNE_API_URL``) nothing is offered: a
network round trip per Tab, with a token, is not worth it. Any problem offers nothing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from attune_registry.adapters.settings import Settings

# Bounded so that a Tab never hangs on an unreachable server.
CONNECT_TIMEOUT_SECONDS = 2


def pack_refs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The refs ever submitted that start with ``incomplete``, in order."""
    from click.shell_completion import CompletionItem  # only when completing

    try:
        if ctx.find_root().params.get("api_url") or os.environ.get("ATTUNE_API_URL"):
            return []
        refs = _submitted_refs()
    except Exception:  # a completion never shows a traceback in the shell
        return []
    return [CompletionItem(ref) for ref in refs if ref.startswith(incomplete)]


def _submitted_refs() -> list[str]:
    from attune_registry.adapters.settings import Settings

    settings = Settings.from_env()
    if settings.database_url:
        return _postgres_refs(settings)
    from attune_registry.adapters.reads.quick import quick_reads

    with quick_reads(settings) as reads:
        return [] if reads is None else [state.ref for state in reads.ref_states()]


def _postgres_refs(settings: Settings) -> list[str]:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from attune_registry.adapters.store.config import libpq_parameters, store_location

    config = store_location(settings)
    if not config.is_postgres:  # a sqlite:// URL: not worth a second code path here
        return []
    env = config.env
    query = sql.SQL("SELECT ref FROM {}.pack_ref_state ORDER BY ref").format(
        sql.Identifier(env["POSTGRES_SCHEMA"]))
    params = {**libpq_parameters(env), "dbname": env["POSTGRES_DBNAME"],
              "host": env["POSTGRES_HOST"], "port": env["POSTGRES_PORT"],
              "user": env["POSTGRES_USER"], "connect_timeout": str(CONNECT_TIMEOUT_SECONDS)}
    if env["POSTGRES_PASSWORD"]:
        params["password"] = env["POSTGRES_PASSWORD"]
    with psycopg.connect(make_conninfo(**params)) as connection:
        return [str(row[0]) for row in connection.execute(query)]


def pack_refs_or_dirs(ctx: click.Context, param: click.Parameter,
                      incomplete: str) -> list[CompletionItem]:
    """For an argument that is a ref or a directory (``attune pack test``): what looks like a
    path (a slash, or a leading dot) completes as a directory, anything else as a ref."""
    if "/" in incomplete or incomplete.startswith("."):
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="dir")]
    return pack_refs(ctx, param, incomplete)
