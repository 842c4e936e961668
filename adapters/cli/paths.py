"""PATH and TARGET arguments: what click's types do not check about them."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from attune_registry.adapters.cli import output

if TYPE_CHECKING:
    from collections.abc import Iterator


def not_empty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse an empty argument (usage error, exit 2): ``''`` as a path would mean the current
    directory, which nobody types on purpose (an unset shell variable does)."""
    if value == "":
        name = (param.human_readable_name or "argument").lower()
        raise click.BadParameter(f"an empty {name} (for the current directory, give .)",
                                 ctx=ctx, param=param)
    return value


@contextmanager
def directory_hint(target: str, as_json: bool) -> Iterator[None]:
    """Around the lookup of ``target`` as a pack ref: when no pack has that ref but a
    directory of that name is here, the error line is followed by a hint to test it as
    ``./NAME`` (a bare name is always a ref). JSON output stays the API's error body."""
    from attune_registry.domain.errors import RegistryError

    try:
        yield
    except RegistryError as exc:
        if (as_json or exc.code != "NOT_FOUND" or str(exc) != f"Pack '{target}' not found"
                or not os.path.isdir(target)):
            raise
        click.echo(f"{output.FAIL} Error: {output.safe(str(exc))}", err=True)
        output.note(f"(a directory ./{target} exists: to test it, run "
                    f"attune pack test ./{target})")
        raise SystemExit(1) from None
