"""``attune pack …``: the pack commands, one module per family."""

from __future__ import annotations

import click

from adapters.cli.compare import test_diff
from adapters.cli.deps import deps
from adapters.cli.flaky import flaky
from adapters.cli.init import init
from adapters.cli.install import install, prune, verify
from adapters.cli.lifecycle import cancel, rollback, unregister
from adapters.cli.reading import history, list_packs, show, test_history
from adapters.cli.register import register
from adapters.cli.testing import test
from adapters.cli.versions import activate, versions


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
