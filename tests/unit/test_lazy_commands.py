"""The ``attune`` command groups import a command's module only when it runs: every name they
list loads a command of that name, and a read loads no other command family."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from attune_registry.adapters.cli import COMMANDS, main
from attune_registry.adapters.cli.lazy import LazyGroup, load
from attune_registry.adapters.cli.pack import COMMANDS as PACK_COMMANDS


@pytest.mark.parametrize(("name", "where"), sorted({**COMMANDS, **{
    f"pack {name}": where for name, where in PACK_COMMANDS.items()}}.items()))
def test_each_listed_name_loads_the_command_of_that_name(name, where):
    command = load(where)

    assert command.name == name.split()[-1]


def test_the_groups_list_every_command_and_find_each():
    ctx = click.Context(main)
    assert isinstance(main, LazyGroup)
    assert main.list_commands(ctx) == sorted(COMMANDS)
    pack = main.get_command(ctx, "pack")
    assert isinstance(pack, click.Group)
    assert pack.list_commands(ctx) == sorted(PACK_COMMANDS)
    assert main.get_command(ctx, "no-such-command") is None


def test_a_read_imports_no_other_command_family(tmp_path):
    probe = ("import sys\n"
             "from attune_registry.adapters.cli import main\n"
             "try:\n    main(['pack', 'list'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('attune_registry.adapters.cli.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, env={"ATTUNE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})

    loaded = {name.rsplit(".", 1)[1] for name in eval(done.stdout.strip().splitlines()[-1])}
    assert {"pack", "reading", "lazy"} <= loaded, done.stderr
    assert loaded.isdisjoint({"compare", "versions", "install", "register", "serve", "worker",
                              "webhook", "activity", "examples", "init", "tokens"}), loaded
