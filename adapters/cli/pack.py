"""``attune pack …``: the pack commands, one module per family, each imported when used."""

from __future__ import annotations

import click

from attune_registry.adapters.cli.lazy import LazyGroup

COMMANDS = {
    "register": "register:register",
    "install": "install:install",
    "test": "testing:test",
    "list": "reading:list_packs",
    "show": "reading:show",
    "history": "reading:history",
    "test-history": "reading:test_history",
    "verify": "install:verify",
    "unregister": "lifecycle:unregister",
    "rollback": "lifecycle:rollback",
    "cancel": "lifecycle:cancel",
    "prune": "install:prune",
    "deps": "deps:deps",
    "versions": "versions:versions",
    "activate": "versions:activate",
    "test-diff": "compare:test_diff",
    "flaky": "flaky:flaky",
    "init": "init:init",
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
def pack() -> None:
    """Register or install packs, test them, and inspect the registry."""
