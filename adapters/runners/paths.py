"""Resolving a suite's paths inside the pack snapshot, never outside it."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath


class SuitePathError(Exception):
    """Raised when a suite's directory is missing or leaves the pack."""


def suite_directory(pack_dir: str, working_dir: str) -> Path:
    """The suite's working directory, after resolving symlinks, which must stay in the pack."""
    root = Path(pack_dir).resolve()
    try:
        directory = (root / working_dir).resolve()
    except RuntimeError:  # Python 3.11's report of a symlink loop
        raise SuitePathError(f"working_dir {working_dir!r} is a symbolic link loop") from None
    if not directory.is_relative_to(root):
        raise SuitePathError(f"working_dir {working_dir!r} resolves outside the pack")
    if not directory.is_dir():
        raise SuitePathError(f"working_dir {working_dir!r} is not a directory in the pack")
    return directory


class Listing:
    """Every path below a directory, read in one walk, for matching many patterns.

    Folders reached through a symlink are listed but not entered: pathlib's glob follows them
    for ``*`` and literal parts, and a few links to ``.`` then turn one pattern into billions
    of paths. (``**`` never followed them.)
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # (names from the directory, path, whether it is a folder and not a link to one)
        self.entries: list[tuple[tuple[str, ...], Path, bool]] = [((), directory, True)]
        pending: list[tuple[tuple[str, ...], Path]] = [((), directory)]
        while pending:
            names, folder = pending.pop()
            try:
                children = list(os.scandir(folder))
            except OSError:
                continue
            for child in children:
                real_dir = child.is_dir(follow_symlinks=False)
                path, child_names = folder / child.name, (*names, child.name)
                self.entries.append((child_names, path, real_dir))
                if real_dir:
                    pending.append((child_names, path))

    def glob(self, pattern: str, *, recursive: bool = True) -> list[Path]:
        """What ``directory.glob(pattern)`` finds (``rglob`` for a bare name if ``recursive``)."""
        parts = [part for part in PurePosixPath(pattern).parts if part != "/"]
        if not parts:  # "." is the directory itself
            return [self.directory]
        if recursive and "/" not in pattern:
            parts.insert(0, "**")
        parts = [part for index, part in enumerate(parts)  # "**/**" means "**"
                 if not (part == "**" and index and parts[index - 1] == "**")]
        matchers: list[Callable[[str], object] | None] = [
            None if part == "**" else re.compile(fnmatch.translate(part)).match for part in parts]
        # Like pathlib, a trailing "**" selects folders only.
        return [path for names, path, real_dir in self.entries
                if (parts[-1] != "**" or real_dir) and _matches(matchers, names)]


def _matches(matchers: list[Callable[[str], object] | None], names: tuple[str, ...]) -> bool:
    """Whether the path ``names`` matches the pattern; ``None`` stands for ``**``, any number
    of folders (none included)."""
    states = _closure({0}, matchers)
    for name in names:
        advanced = set()
        for index in states - {len(matchers)}:
            matcher = matchers[index]
            if matcher is None:
                advanced.add(index)  # "**" takes this folder too
            elif matcher(name):
                advanced.add(index + 1)
        states = _closure(advanced, matchers)
        if not states:
            return False
    return len(matchers) in states


def _closure(states: set[int], matchers: list[Callable[[str], object] | None]) -> set[int]:
    # "**" may also match no folder at all: skipping it is always allowed.
    result = set(states)
    for index in sorted(states):
        while index < len(matchers) and matchers[index] is None:
            index += 1
            result.add(index)
    return result


def matching_paths(directory: Path, pattern: str, root: Path, *, directories: bool = False,
                   recursive: bool = True, listing: Listing | None = None) -> list[Path]:
    """Files under ``directory`` matching ``pattern``: a bare name glob matches at any depth
    (only in ``directory`` itself unless ``recursive``), a pattern with a ``/`` relative to
    ``directory``. Only paths that stay in the pack count."""
    listing = listing or Listing(directory)
    return sorted(p for p in listing.glob(pattern, recursive=recursive)
                  if (p.is_file() or (directories and p.is_dir()))
                  and inside(p, root))


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to a place in ``root``."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # Python 3.11 reports a symlink loop as RuntimeError
        return False


def unmatched_pattern(runner: str, directory: Path, patterns: list[str], root: Path,
                      listing: Listing | None = None) -> str | None:
    """The first pattern for which ``runner`` would find nothing to run (each runner's own
    pre-check, so that a pack can be refused before its tests are due), else None."""
    listing = listing or Listing(directory)
    # pytest collects a folder itself unless every pattern is a bare name glob (see
    # pytest_runner._targets); shell scripts are named, not searched for at any depth.
    name_globs = all("/" not in p and any(c in p for c in "*?[") for p in patterns)
    for pattern in patterns:
        if runner == "python_unittest":
            found = discoverable_files(directory, pattern, root)
        elif runner == "shell":
            found = matching_paths(directory, pattern, root, recursive=False, listing=listing)
        elif runner == "pytest":
            found = matching_paths(directory, pattern, root, directories=not name_globs,
                                   listing=listing)
        else:  # a runner without a rule here: anything that exists will do
            found = matching_paths(directory, pattern, root, directories=True, listing=listing)
        if not found:
            return pattern
    return None


def discoverable_files(directory: Path, pattern: str, root: Path) -> list[Path]:
    """What ``unittest discover`` would import for a name pattern: files in ``directory`` and in
    sub-folders that are packages (have ``__init__.py``). A path pattern globs from the folder."""
    if "/" in pattern:
        return matching_paths(directory, pattern, root)
    found: list[Path] = []
    for folder, subfolders, _ in os.walk(directory):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if (here / d / "__init__.py").is_file())
        found += [p for p in sorted(here.glob(pattern)) if p.is_file() and inside(p, root)]
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
