"""The packs shipped inside the package (``attune examples``): where they are, what each one
demonstrates, and copying them out, so that a user without a clone can try them.

They are the folder ``packs`` of the ``attune_registry`` package: in a checkout a link to the
repository's ``packs/``, installed from a wheel a copy. ``core`` is ``packs/core``; the
examples are the directories of ``packs/examples`` that hold a pack.yaml. Reading a manifest
costs the YAML parser, so only the commands that show ref, version or description do it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

CORE = "core"
EXAMPLES = "examples"


class ExamplesError(Exception):
    """The packs cannot be copied where asked; nothing was written."""


@dataclass(frozen=True)
class Example:
    """One shipped pack: its name (``core`` or the example's directory), where it is installed,
    and what its pack.yaml says it is."""

    name: str
    path: Path
    ref: str
    version: str
    description: str


@dataclass(frozen=True)
class Copied:
    """One pack written by ``copy_examples``: its name, new directory and files (relative)."""

    name: str
    path: Path
    files: list[str]


def shipped_root() -> Path:
    """The installed folder of the shipped packs, links resolved (a registration records
    the resolved path of a pack directory, so this is the path it will show)."""
    import attune_registry

    return (Path(attune_registry.__file__).parent / "packs").resolve()


def directories(root: Path | None = None) -> dict[str, Path]:
    """Name -> directory of each shipped pack: ``core`` first, then the examples by name."""
    root = shipped_root() if root is None else root
    found = {CORE: root / CORE} if (root / CORE / "pack.yaml").is_file() else {}
    folder = root / EXAMPLES
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            if entry.name != CORE and (entry / "pack.yaml").is_file():
                found[entry.name] = entry
    return found


def names(root: Path | None = None) -> list[str]:
    return list(directories(root))


def examples(root: Path | None = None) -> list[Example]:
    """Every shipped pack with the ref, version and description of its pack.yaml."""
    from attune_registry.adapters.packs.yamlfile import read_yaml

    listed = []
    for name, path in directories(root).items():
        data = read_yaml(path / "pack.yaml", "pack.yaml", path.resolve())
        data = data if isinstance(data, dict) else {}
        listed.append(Example(name=name, path=path, ref=str(data.get("ref", "")),
                              version=str(data.get("version", "")),
                              description=" ".join(str(data.get("description", "")).split())))
    return listed


def copy_examples(chosen: list[str], target: Path, root: Path | None = None) -> list[Copied]:
    """Copy the shipped packs ``chosen`` (names, in that order) to ``target/NAME`` each and
    return what was written. ``target`` must be absent or an empty directory.

    Like ``pack init``, everything is written into a hidden directory beside ``target`` that
    is renamed into place at the end: an error on the way leaves nothing behind. Interpreter
    caches (``__pycache__``, ``*.pyc``) and version-control folders are not copied.

    Raises:
        ExamplesError: ``target`` exists and is not an empty directory, its parent is missing,
            or writing failed.
        KeyError: a name in ``chosen`` is not a shipped pack (the CLI checks them first).
    """
    from attune_registry.adapters.packs.tree import copy_entries

    shipped = directories(root)
    sources = {name: shipped[name] for name in dict.fromkeys(chosen)}
    if target.is_symlink() or (target.exists()
                               and (not target.is_dir() or any(target.iterdir()))):
        raise ExamplesError(f"{target} already exists and is not an empty directory; "
                            "choose another --path or remove it")
    parent = target.parent
    if not parent.is_dir():
        raise ExamplesError(f"the parent directory {parent} does not exist")
    staging = parent / f".{target.name}.examples-{uuid.uuid4().hex[:8]}"
    copied = []
    try:
        staging.mkdir()
        for name, source in sources.items():
            entries = copy_entries(source, staging / name)
            files = sorted(entry.split(b"\0", 1)[0].decode() for entry in entries)
            copied.append(Copied(name=name, path=target / name, files=files))
        os.rename(staging, target)  # replaces an empty directory, refuses anything else
    except BaseException as exc:
        import shutil  # only on failure

        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExamplesError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise
    return copied
