"""``attune examples``: the packs shipped with the registry, for users without a clone."""

from __future__ import annotations

import os
from pathlib import Path

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import json_option

DEFAULT_PATH = "attune-examples"
# The width the text table wraps descriptions to (the first columns are short).
TABLE_WIDTH = 100


def known_example(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a NAME that is not a shipped pack (usage error, exit 2), naming those that are;
    None (the option not given) passes."""
    if value is not None:
        check_names(ctx, param, (value,))
    return value


def path_or_example(path: str | None, example: str | None, argument: str = "PATH") -> str:
    """The pack directory of a command taking PATH (named ``argument``) or ``--example NAME``:
    exactly one of them (else a usage error, exit 2); NAME stands for its installed
    directory."""
    if path is not None and example is not None:
        raise click.UsageError(f"give {argument} or --example NAME, not both")
    if example is not None:
        from attune_registry.adapters.packs.examples import directories

        return str(directories()[example])
    if path is None:
        raise click.UsageError(f"missing {argument} (or --example NAME)")
    return path


def check_names(ctx: click.Context, param: click.Parameter,
                value: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse NAMEs that are not shipped packs (usage error, exit 2), naming those that are."""
    from attune_registry.adapters.packs.examples import names

    known = names()
    unknown = [name for name in value if name not in known]
    if unknown:
        listed = ", ".join(known) or "none: the package was installed without its packs"
        raise click.BadParameter(f"no shipped pack {', '.join(map(repr, unknown))}; "
                                 f"the shipped packs are {listed}", ctx=ctx, param=param)
    return value


def complete_names(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[click.shell_completion.CompletionItem]:
    from click.shell_completion import CompletionItem

    from attune_registry.adapters.packs.examples import names

    return [CompletionItem(name) for name in names() if name.startswith(incomplete)]


example_option = click.option(
    "--example", metavar="NAME", callback=known_example, shell_complete=complete_names,
    help="Instead of a directory, the shipped pack NAME (`core` or an example; `attune examples "
         "list` names them) where it is installed.")


@click.group()
def examples() -> None:
    """The packs shipped with the registry: `core` and the examples.

    They are installed with the `attune` command itself, so they are there without a clone
    of the repository. List them, copy them out to read and change them, or register one as
    it is installed with `attune pack register --example NAME`.
    """


@examples.command("list", short_help="List the shipped packs and what each demonstrates.")
@json_option
def list_examples(as_json: bool) -> None:
    """List the shipped packs: name, ref, version and what each demonstrates.

    NAME is what `attune examples copy` and `--example` take; REF is the ref the pack
    registers as. The last line says where they are installed.

    With --json: {"path", "examples": [{"name", "ref", "version", "description", "path"}]}.

    \b
    Exit status: 0.
    """
    from attune_registry.adapters.packs.examples import examples as shipped
    from attune_registry.adapters.packs.examples import shipped_root

    root, found = shipped_root(), shipped()
    if as_json:
        output.print_json({"path": str(root), "examples": [
            {"name": item.name, "ref": item.ref, "version": item.version,
             "description": item.description, "path": str(item.path)} for item in found]})
        return
    _table(["NAME", "REF", "VERSION", "DEMONSTRATES"],
           [[item.name, item.ref, item.version, item.description] for item in found])
    output.line("")
    output.line(f"Installed in {root}")
    output.line("Copy them out with `attune examples copy [NAME...]`; register one as it is "
                "with `attune pack register --example NAME`.")


@examples.command("copy", short_help="Copy shipped packs into a new directory.")
@click.argument("names", nargs=-1, metavar="[NAME]...", callback=check_names,
                shell_complete=complete_names)
@click.option("--path", "path", type=click.Path(path_type=Path), metavar="DIR",
              help=f"The directory to create (absent or empty). Default: ./{DEFAULT_PATH}.")
@json_option
def copy(names: tuple[str, ...], path: Path | None, as_json: bool) -> None:
    """Copy the shipped packs NAME... (default: all of them) into a new directory.

    Each pack is written to DIR/NAME, with its pack.yaml, README.md, components and tests;
    interpreter caches are left out. `attune examples list` names them. Then test or register
    the copies like any pack directory, or change them first.

    Nothing is written when the directory exists and is not empty: the packs are copied
    beside it first and moved into place at the end.

    With --json: {"path", "examples": [{"name", "path", "files"}]}.

    \b
    Exit status: 0 copied, 1 the directory is in the way (nothing written), 2 usage error
    (such as an unknown NAME).
    """
    from attune_registry.adapters.packs.examples import ExamplesError, copy_examples
    from attune_registry.adapters.packs.examples import names as shipped_names

    chosen = list(names) or shipped_names()
    shown = path if path is not None else Path(DEFAULT_PATH)
    target = Path(os.path.abspath(shown))
    try:
        copied = copy_examples(chosen, target)
    except ExamplesError as exc:
        output.abort(str(exc), code="CONFLICT", as_json=as_json)
    if as_json:
        output.print_json({"path": str(target), "examples": [
            {"name": item.name, "path": str(item.path), "files": item.files} for item in copied]})
        return
    count = f"{len(copied)} pack{'' if len(copied) == 1 else 's'}"
    output.line(f"{output.OK} Copied {count} to {target}:")
    width = max(len(item.name) for item in copied) + 1
    for item in copied:
        output.line(f"  {item.name + '/':<{width}}  {len(item.files)} files")
    output.line("")
    output.line("Next (each pack's README.md says what it shows and what to expect):")
    for item in copied:
        output.line(f"  attune pack register {shown / item.name}")


def _table(headers: list[str], rows: list[list[str]]) -> None:
    """``output.table``, with the last column wrapped under itself to ``TABLE_WIDTH``."""
    import textwrap

    rows = [[output.safe(cell, one_line=True) for cell in row] for row in rows]
    widths = [max(len(row[index]) for row in [headers, *rows]) for index in range(len(headers))]
    indent = sum(width + 2 for width in widths[:-1])
    last = max(TABLE_WIDTH - indent, 30)

    def first(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    click.echo(first(headers).rstrip())
    for row in rows:
        wrapped = textwrap.wrap(row[-1], last) or [""]
        click.echo(first([*row[:-1], wrapped[0]]).rstrip())
        for more in wrapped[1:]:
            click.echo(" " * indent + more)
