"""Resolving a suite's paths inside the pack snapshot, never outside it, within a work budget."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from attune_registry.adapters.runners.budget import (
    GlobBudget,
    GlobLimitError,
    GlobLimits,
    SuitePathError,
    check_pattern,
    pattern_parts,
)

__all__ = ["GlobBudget", "GlobLimitError", "GlobLimits", "Listing", "SuitePathError",
           "check_pattern", "discoverable_files", "inside", "matching_paths",
           "suite_directory", "top_level_dir", "unmatched_pattern"]


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


class _Entry(NamedTuple):
    name: str
    path: Path
    depth: int
    real_dir: bool  # a folder, not a link to one
    link: bool
    file: bool  # a regular file, not a link to one


class Listing:
    """Every path below a directory, read in one walk, for matching many patterns.

    Folders reached through a symlink are listed but not entered: pathlib's glob follows them
    for ``*`` and literal parts, and a few links to ``.`` then turn one pattern into billions
    of paths. (``**`` never followed them.) Since no folder in between is a link, only a path
    that is a link itself can resolve to somewhere else than where it is listed.

    A pattern is matched by walking the listing from the top, carrying the pattern's states
    from a folder to its children and leaving folders no state reaches; every name looked at
    counts against the :class:`GlobBudget`, which all listings of one validation share.
    """

    def __init__(self, directory: Path, budget: GlobBudget | None = None) -> None:
        self.directory = directory
        self.budget = budget or GlobBudget()
        self._real = directory.resolve()
        self._found: dict[tuple[str, bool], list[int]] = {}
        self._files: dict[tuple[str, Path, bool, bool], list[Path]] = {}
        self._escapes: dict[tuple[str, Path], Path | None] = {}
        self.entries: list[_Entry] = [_Entry("", directory, 0, True, False, False)]
        # The entries of each folder's children (they are listed together).
        self._children: list[range] = [range(0)]
        pending = [0]
        while pending:
            index = pending.pop()
            folder = self.entries[index]
            try:
                children = list(os.scandir(folder.path))
            except OSError:
                continue
            self.budget.visit(len(children))
            self._children[index] = range(len(self.entries), len(self.entries) + len(children))
            for child in children:
                real_dir = child.is_dir(follow_symlinks=False)
                if real_dir:
                    pending.append(len(self.entries))
                self.entries.append(_Entry(
                    child.name, folder.path / child.name, folder.depth + 1, real_dir,
                    child.is_symlink(), child.is_file(follow_symlinks=False)))
                self._children.append(range(0))

    def glob(self, pattern: str, *, recursive: bool = True) -> list[Path]:
        """What ``directory.glob(pattern)`` finds (``rglob`` for a bare name if ``recursive``)."""
        return [self.entries[index].path for index in self._matches(pattern, recursive)]

    def files(self, pattern: str, root: Path, *, directories: bool = False,
              recursive: bool = True) -> list[Path]:
        """:meth:`glob`, keeping files (and folders if ``directories``) that stay in ``root``."""
        key = (pattern, root, directories, recursive)
        if key not in self._files:
            try:
                matches = self._matches(pattern, recursive)
                self.budget.step(len(matches))
                self._files[key] = sorted(
                    self.entries[index].path for index in matches
                    if self._kept(self.entries[index], root, directories))
            except GlobLimitError as exc:
                exc.pattern = pattern
                raise
        return list(self._files[key])

    def leading_outside(self, pattern: str, root: Path) -> Path | None:
        """The first path matching ``pattern`` that resolves to a place outside ``root`` (a
        symlink loop leads nowhere, so not outside), else None."""
        key = (pattern, root)
        if key not in self._escapes:
            try:
                matches = self._matches(pattern, recursive=True)
                self.budget.step(len(matches))
                self._escapes[key] = next(
                    (self.entries[index].path for index in matches
                     if self._outside(self.entries[index], root)), None)
            except GlobLimitError as exc:
                exc.pattern = pattern
                raise
        return self._escapes[key]

    def _outside(self, entry: _Entry, root: Path) -> bool:
        if not entry.link:
            return not self._listed_inside(entry, root)
        self.budget.step(entry.depth)  # resolving looks at every part of the path
        try:
            return not entry.path.resolve().is_relative_to(root)
        except (OSError, RuntimeError):  # a loop, or a path too long to follow
            return False

    def discoverable(self, pattern: str, root: Path) -> list[Path]:
        """Files matching the name ``pattern`` in the directory or in sub-folders that are
        packages (have an ``__init__.py``), as ``unittest discover`` imports them."""
        if pattern == "**":  # pathlib's glob("**") yields folders only
            return []
        match = re.compile(fnmatch.translate(pattern)).match
        found: list[Path] = []
        pending = [0]
        try:
            while pending:
                span = self._children[pending.pop()]
                self.budget.step(len(span))
                for index in span:
                    entry = self.entries[index]
                    if entry.real_dir:
                        if self._is_package(index):
                            pending.append(index)
                    elif match(entry.name) and self._kept(entry, root, directories=False):
                        found.append(entry.path)
        except GlobLimitError as exc:
            exc.pattern = pattern
            raise
        return sorted(found)

    def _is_package(self, index: int) -> bool:
        for child in self._children[index]:
            entry = self.entries[child]
            if entry.name == "__init__.py":
                return entry.file or (entry.link and entry.path.is_file())
        return False

    def _matches(self, pattern: str, recursive: bool) -> list[int]:
        key = (pattern, recursive)
        if key not in self._found:
            try:
                self._found[key] = self._walk(pattern, recursive)
            except GlobLimitError as exc:
                exc.pattern = pattern
                raise
        return self._found[key]

    def _walk(self, pattern: str, recursive: bool) -> list[int]:
        parts = pattern_parts(pattern)
        if not parts:  # "." is the directory itself
            return [0]
        if recursive and "/" not in pattern:
            parts.insert(0, "**")
        parts = [part for index, part in enumerate(parts)  # "**/**" means "**"
                 if not (part == "**" and index and parts[index - 1] == "**")]
        matchers: list[Callable[[str], object] | None] = [
            None if part == "**" else re.compile(fnmatch.translate(part)).match for part in parts]
        final, folders_only = len(matchers), parts[-1] == "**"  # like pathlib's trailing "**"
        start = _closure({0}, matchers)
        found = [0] if final in start else []
        # (folder, the states its path reaches: how far into the pattern it can be)
        pending = [(0, start)]
        while pending:
            folder, states = pending.pop()
            span = self._children[folder]
            self.budget.step(len(span))
            for index in span:
                entry = self.entries[index]
                reached = _advance(states, matchers, entry.name, self.budget)
                if final in reached and (entry.real_dir or not folders_only):
                    found.append(index)
                if entry.real_dir and reached:
                    pending.append((index, reached))
        return sorted(found)

    def _listed_inside(self, entry: _Entry, root: Path) -> bool:
        if self._real.is_relative_to(root):  # then so is everything listed in it
            return True
        return (self._real / entry.path.relative_to(self.directory)).is_relative_to(root)

    def _kept(self, entry: _Entry, root: Path, directories: bool) -> bool:
        if not entry.link:  # where it is listed is where it is
            if not (entry.file or (directories and entry.real_dir)):
                return False
            return self._listed_inside(entry, root)
        self.budget.step(entry.depth)  # resolving looks at every part of the path
        path = entry.path
        return (path.is_file() or (directories and path.is_dir())) and inside(path, root)


def _advance(states: frozenset[int], matchers: list[Callable[[str], object] | None], name: str,
             budget: GlobBudget) -> frozenset[int]:
    """The states after one more path part ``name``; ``None`` stands for ``**``, any number of
    folders (none included)."""
    advanced = set()
    for index in states:
        if index == len(matchers):
            continue
        matcher = matchers[index]
        if matcher is None:
            advanced.add(index)  # "**" takes this folder too
        else:
            budget.step()
            if matcher(name):
                advanced.add(index + 1)
    return _closure(advanced, matchers)


def _closure(states: set[int], matchers: list[Callable[[str], object] | None]) -> frozenset[int]:
    # "**" may also match no folder at all: skipping it is always allowed.
    result = set(states)
    for index in sorted(states):
        while index < len(matchers) and matchers[index] is None:
            index += 1
            result.add(index)
    return frozenset(result)


def matching_paths(directory: Path, pattern: str, root: Path, *, directories: bool = False,
                   recursive: bool = True, listing: Listing | None = None) -> list[Path]:
    """Files under ``directory`` matching ``pattern``: a bare name glob matches at any depth
    (only in ``directory`` itself unless ``recursive``), a pattern with a ``/`` relative to
    ``directory``. Only paths that stay in the pack count."""
    listing = listing or Listing(directory)
    return listing.files(pattern, root, directories=directories, recursive=recursive)


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
            found = discoverable_files(directory, pattern, root, listing)
        elif runner == "shell":
            found = listing.files(pattern, root, recursive=False)
        elif runner == "pytest":
            found = listing.files(pattern, root, directories=not name_globs)
        else:  # a runner without a rule here: anything that exists will do
            found = listing.files(pattern, root, directories=True)
        if not found:
            return pattern
    return None


def discoverable_files(directory: Path, pattern: str, root: Path,
                       listing: Listing | None = None) -> list[Path]:
    """What ``unittest discover`` would import for a name pattern: files in ``directory`` and in
    sub-folders that are packages (have ``__init__.py``). A path pattern globs from the folder."""
    listing = listing or Listing(directory)
    if "/" in pattern:
        return listing.files(pattern, root)
    return listing.discoverable(pattern, root)


def top_level_dir(root: Path, start: Path) -> Path:
    """The import root for a start directory, as ``unittest discover`` needs it.

    A package is imported from above its outermost enclosing package (so ``tests/`` with an
    ``__init__.py`` yields names like ``tests.test_x``); a plain folder is its own top level.
    """
    top = start
    while (top / "__init__.py").is_file() and top != root:
        top = top.parent
    return top
