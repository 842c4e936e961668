"""``attune pack init``: start a new pack from a working skeleton."""

from __future__ import annotations

import os
from pathlib import Path

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import json_option
from attune_registry.adapters.packs.scaffold import (
    DEFAULT_RUNNER,
    RUNNERS,
    ScaffoldError,
    problem_with_ref,
    write_pack,
)


def _valid_ref(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = problem_with_ref(value)
    if problem:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


@click.command()
@click.argument("name", callback=_valid_ref)
@click.option("--runner", type=click.Choice(RUNNERS), default=DEFAULT_RUNNER, show_default=True,
              help="The runner of the test suite: python_unittest and pytest test a Python "
                   "action, shell a shell action with a script printing TAP.")
@click.option("--path", "path", type=click.Path(path_type=Path),
              help="The directory to create (absent or empty). Default: ./NAME.")
@json_option
def init(name: str, runner: str, path: Path | None, as_json: bool) -> None:
    """Write a new pack NAME that registers as it is.

    The pack has a pack.yaml (ref NAME, version 0.1.0, placeholders for label, description,
    author and email), one action `hello` (actions/hello.yaml and a Python or shell entry
    point), a test suite of the chosen runner that runs the action, and a README saying what
    to edit next. NAME must be a valid pack ref: a lowercase letter, then at least one of
    a-z, 0-9, '_' or '-'.

    Nothing is written when the directory exists and is not empty: the files are written
    beside it first and moved into place at the end.

    With --json: {"path", "ref", "runner", "files"}.

    \b
    Exit status: 0 written, 1 the directory is in the way (nothing written), 2 usage error
    (such as an invalid NAME).
    """
    target = Path(os.path.abspath(path if path is not None else Path(name)))
    try:
        files = write_pack(target, name, runner)
    except ScaffoldError as exc:
        output.abort(str(exc), code="CONFLICT", as_json=as_json)
    if as_json:
        output.print_json({"path": str(target), "ref": name, "runner": runner, "files": files})
        return
    output.line(f"{output.OK} Pack '{name}' written to {target} (runner {runner}):")
    for line in _tree(files):
        output.line(f"  {line}")
    shown = path if path is not None else Path(name)
    shown_text = str(shown) if "/" in str(shown) else f"./{shown}"
    output.line("")
    output.line("Next:")
    output.line(f"  attune pack test {shown_text}        # run its tests")
    output.line(f"  attune pack register {shown_text}    # test and register it")


def _tree(files: list[str]) -> list[str]:
    """The files as an indented tree, directories first at each level."""
    lines: list[str] = []

    def walk(paths: list[str], depth: int) -> None:
        folders: dict[str, list[str]] = {}
        leaves = []
        for path in paths:
            head, _, rest = path.partition("/")
            if rest:
                folders.setdefault(head, []).append(rest)
            else:
                leaves.append(head)
        for folder in sorted(folders):
            lines.append("  " * depth + folder + "/")
            walk(folders[folder], depth + 1)
        lines.extend("  " * depth + leaf for leaf in sorted(leaves))

    walk(files, 0)
    return lines
