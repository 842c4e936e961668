"""``attune pack …``: the pack commands, one module per family."""

from __future__ import annotations

import click

from attune_registry.adapters.cli.compare import test_diff
from attune_registry.adapters.cli.deps import deps
from attune_registry.adapters.cli.flaky import flaky
from attune_registry.adapters.cli.init import init
from attune_registry.adapters.cli.install import install, prune, verify
from attune_registry.adapters.cli.lifecycle import cancel, rollback, unregister
from attune_registry.adapters.cli.reading import history, list_packs, show, test_history
from attune_registry.adapters.cli.register import register
from attune_registry.adapters.cli.testing import test
from attune_registry.adapters.cli.versions import activate, versions


@click.group()
def pack() -> None:
    """Register or install packs, test them, and inspect the registry."""


for command in (register, install, test, list_packs, show, history, test_history, verify,
                unregister, rollback, cancel, prune):
    pack.add_command(command)
pack.add_command(deps)
pack.add_command(versions)
pack.add_command(activate)
pack.add_command(test_diff)
pack.add_command(flaky)
pack.add_command(init)
