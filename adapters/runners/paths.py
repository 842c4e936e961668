"""Resolving a suite's paths inside the pack snapshot, never outside it."""

from __future__ import annotations

import os
from pathlib import Path


class SuitePathError(Exception):
    """Raised when a suite's directory is missing or leaves the pack."""


def suite_directory(pack_dir: str, working_dir: str) -> Path:
    """The suite's working directory, after resolving symlinks, which must stay in the pack."""
    root = Path(pack_dir).resolve()
    directory = (root / working_dir).resolve()
    if not directory.is_relative_to(root):
        raise SuitePathError(f"working_dir {working_dir!r} resolves outside the pack")
    if not directory.is_dir():
        raise SuitePathError(f"working_dir {working_dir!r} is not a directory in the pack")
    return directory


def matching_paths(directory: Path, pattern: str, root: Path, *, directories: bool = False,
                   recursive: bool = True) -> list[Path]:
    """Files under ``directory`` matching ``pattern``: a bare name glob matches at any depth
    (only in ``directory`` itself unless ``recursive``), a pattern with a ``/`` relative to
    ``directory``. Only paths that stay in the pack count."""
    deep = recursive and "/" not in pattern
    candidates = directory.rglob(pattern) if deep else directory.glob(pattern)
    return sorted(p for p in candidates
                  if (p.is_file() or (directories and p.is_dir()))
                  and p.resolve().is_relative_to(root))


def discoverable_files(directory: Path, pattern: str, root: Path) -> list[Path]:
    """What ``unittest discover`` would import for a name pattern: files in ``directory`` and in
    sub-folders that are packages (have ``__init__.py``). A path pattern globs from the folder."""
    if "/" in pattern:
        return matching_paths(directory, pattern, root)
    found: list[Path] = []
    for folder, subfolders, _ in os.walk(directory):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if (here / d / "__init__.py").is_file())
        found += [p for p in sorted(here.glob(pattern))
                  if p.is_file() and p.resolve().is_relative_to(root)]
    return found


def top_level_dir(root: Path, start: Path) -> Path:
    """The import root for a start directory, as ``unittest discover`` needs it.

    A package is imported from above its outermost enclosing package (so ``tests/`` with an
    ``__init__.py`` yields names like ``tests.test_x``); a plain folder is its own top level.
    """
    top = start
    while (top / "__init__.py").is_file() and top != root:
        top = top.parent
    return top
