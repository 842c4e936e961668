"""``attune token create|list|revoke``: bearer tokens for the HTTP API."""

from __future__ import annotations

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import actor, json_option, registry_session


@click.group()
def token() -> None:
    """Manage API bearer tokens (scope read: GET requests; write: everything)."""


@token.command()
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), required=True,
              help="read: queries only; write: also register, test, unregister.")
@json_option
def create(name: str, scope: str, as_json: bool) -> None:
    """Create a token called NAME and print it. It is shown once: only its hash is stored."""
    with registry_session(as_json, local_only="token create", create=True) as registry:
        text, row = registry.create_token(name, scope, actor=actor())
    if as_json:
        import msgspec

        output.print_json({"data": {**msgspec.to_builtins(row), "token": text},
                           "message": "Token created; it will not be shown again"})
        return
    output.line(text)
    output.note(f"{output.OK} Token '{name}' ({scope}) created; copy it now, it will not be "
                "shown again")


@token.command("list")
@json_option
def list_tokens(as_json: bool) -> None:
    """List tokens (names, scopes, who issued them; never the secrets)."""
    with registry_session(as_json, local_only="token list") as registry:
        rows = registry.list_tokens()
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows)})
        return
    if not rows:
        output.line("No tokens.")
        return
    output.table(["NAME", "SCOPE", "ISSUED", "BY", "REVOKED", "ID"],
                 [[t.name, t.scope, output.timestamp(t.issued_at), t.issued_by,
                   output.timestamp(t.revoked_at) if t.revoked_at else "-", t.id] for t in rows])


@token.command()
@click.argument("name_or_id")
@json_option
def revoke(name_or_id: str, as_json: bool) -> None:
    """Revoke a token by NAME (if unambiguous) or ID; it stops working at once."""
    with registry_session(as_json, local_only="token revoke") as registry:
        row = registry.revoke_token(name_or_id, actor=actor())
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(row), "message": "Token revoked"})
        return
    output.line(f"{output.OK} Token '{row.name}' revoked")
