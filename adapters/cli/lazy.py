"""Command groups that import a command's module only when that command runs.

Every ``attune`` call would otherwise import every command family (their options, their
output helpers, what their defaults come from) before doing anything: tens of milliseconds a
read does not need. ``--help`` and shell completion still see every command: listing a
group's help loads them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

PACKAGE = "attune_registry.adapters.cli"


class LazyGroup(click.Group):
    """A group whose subcommands are ``{name: "module:attribute"}`` under this package."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)


def load(where: str) -> click.Command:
    """The command at ``module:attribute`` (the module relative to this package)."""
    module, attribute = where.split(":")
    command = getattr(importlib.import_module(f"{PACKAGE}.{module}"), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{where} is not a click command")
    return command
