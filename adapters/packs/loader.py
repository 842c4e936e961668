"""Pack directories: locating and validating pack.yaml, components and suite paths; snapshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from attune_registry.domain.component import Component
from attune_registry.domain.errors import (
    ManifestError,
    ManifestNotFoundError,
    PackDirectoryNotFoundError,
)
from attune_registry.domain.manifest import PackManifest, TestSuite, parse_manifest
from attune_registry.domain.text import has_control, quoted
from attune_registry.domain.vocabulary import ComponentKind

from attune_registry.adapters.environments.requirements import check_requirements
from attune_registry.adapters.packs.tree import (
    MAX_PACK_FILES,
    SKIPPED_NAMES,
    PackTooLargeError,
    check_limits,
    copy_tree,
)
from attune_registry.adapters.packs.workspace import private_dir
from attune_registry.adapters.packs.yamlfile import read_yaml
from attune_registry.adapters.runners.paths import (
    GlobBudget,
    GlobLimitError,
    GlobLimits,
    Listing,
    check_pattern,
    unmatched_pattern,
)

# The folder of each kind of component.
COMPONENT_KINDS: dict[str, ComponentKind] = {
    "actions": "action", "triggers": "trigger", "sensors": "sensor", "rules": "rule",
    "workflows": "workflow"}
MAX_COMPONENT_FILES = 1000
MAX_COMPONENT_BYTES = 16 * 1024 * 1024
MAX_TREE_DEPTH = 100


@dataclass(frozen=True)
class Snapshot:
    """A private copy of the pack; ``content_digest`` covers exactly the copied files."""

    path: str
    content_digest: str


@contextmanager
def snapshot_of(source: Path, name: str, work_dir: Path | None = None) -> Iterator[Snapshot]:
    """A private copy of ``source`` in a fresh directory under ``work_dir`` (default: the
    system's temporary directory), removed on exit (see :func:`private_dir`)."""
    with private_dir(work_dir, name) as staging:
        target = staging / "pack"
        digest = copy_tree(source, target)
        yield Snapshot(path=str(target), content_digest=digest)


@dataclass(frozen=True)
class LoadedPack:
    """A pack directory whose manifest and component files were read and validated."""

    manifest: PackManifest
    source_path: str
    components: list[Component] = field(default_factory=list)
    work_dir: Path | None = None

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        return snapshot_of(Path(self.source_path), self.manifest.ref, self.work_dir)


class FilesystemPackLoader:
    """Loads packs from local directories; snapshots go under ``work_dir`` (default: $TMPDIR).
    Matching a manifest's patterns may cost at most ``glob_limits`` (see :func:`check_suite_paths`).
    """

    def __init__(self, work_dir: Path | None = None,
                 glob_limits: GlobLimits | None = None) -> None:
        self.work_dir = work_dir
        self.glob_limits = glob_limits or GlobLimits()

    def load(self, path: str) -> LoadedPack:
        directory = Path(path).expanduser()
        if not _is_dir(directory):
            raise PackDirectoryNotFoundError(path)
        root = directory.resolve()
        manifest_path = root / "pack.yaml"
        if not manifest_path.exists() and not manifest_path.is_symlink():
            raise ManifestNotFoundError(path)
        manifest = parse_manifest(read_yaml(manifest_path, "pack.yaml", root))
        scan_tree(root)
        check_suite_paths(root, manifest, GlobBudget(self.glob_limits))
        if manifest.testing is not None:
            check_requirements(root, manifest.testing)
        return LoadedPack(manifest=manifest, source_path=str(root),
                          components=read_components(root, manifest.ref),
                          work_dir=self.work_dir)

    def snapshot(self, path: str) -> AbstractContextManager[Snapshot]:
        directory = Path(path)
        if not _is_dir(directory):
            raise PackDirectoryNotFoundError(path)
        return snapshot_of(directory.resolve(), directory.name, self.work_dir)


def _is_dir(path: Path) -> bool:
    """``Path.is_dir`` that also says no for paths the OS cannot even look up (too long)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def scan_tree(root: Path) -> None:
    """Refuse a pack that its snapshot would refuse, and folders nested absurdly deep, before
    anything walks the tree (globs, the copy)."""
    entries = total_bytes = 0
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        if depth > MAX_TREE_DEPTH:
            raise PackTooLargeError(f"folders are nested more than {MAX_TREE_DEPTH} levels deep",
                                    source="pack directory")
        try:
            children = list(os.scandir(folder))
        except OSError:
            continue  # the copy skips what it cannot list, and so does the scan
        for child in children:
            if child.name in SKIPPED_NAMES or child.name.endswith((".pyc", ".pyo")):
                continue
            entries += 1
            if entries > MAX_PACK_FILES:
                raise PackTooLargeError(f"the pack has more than {MAX_PACK_FILES} files and "
                                        "folders", source="pack directory")
            if child.is_dir(follow_symlinks=False):
                pending.append((Path(child.path), depth + 1))
            elif child.is_file(follow_symlinks=False):
                total_bytes += child.stat(follow_symlinks=False).st_size
                check_limits(0, total_bytes)


def check_suite_paths(root: Path, manifest: PackManifest, budget: GlobBudget | None = None) -> None:
    """Each suite's paths, against the real directory: the working_dir must be a folder in the
    pack, no pattern may match a path that leads outside it (the manifest model only checks
    them lexically), and each pattern must match what the suite's runner would run.

    The work is bounded whatever the manifest says: each pattern's size and wildcards (checked
    before any folder is listed), then the entries listed, the names matched and a deadline,
    over all suites together (``budget``). Going past one is a manifest error naming the
    pattern (or working_dir) and the limit.
    """
    if manifest.testing is None:
        return
    budget = budget or GlobBudget()
    suites = list(enumerate(manifest.testing.test_suites))
    for index, suite in suites:
        for position, pattern in enumerate(suite.test_files):
            try:
                check_pattern(pattern)
            except GlobLimitError as exc:
                field = f"testing.test_suites[{index}].test_files[{position}]"
                raise ManifestError(f"{quoted(pattern)}: {exc.problem}", field) from None
    listings: dict[Path, Listing] = {}  # suites sharing a folder share its listing
    for index, suite in suites:
        where = f"testing.test_suites[{index}]"
        directory = _suite_directory(root, suite.working_dir, f"{where}.working_dir")
        try:
            if directory not in listings:
                listings[directory] = Listing(directory, budget)
            _check_suite_patterns(root, directory, suite, where, listings[directory])
        except GlobLimitError as exc:
            if exc.pattern is None:
                raise ManifestError(f"{quoted(suite.working_dir)}: {exc.problem}",
                                    f"{where}.working_dir") from None
            raise ManifestError(f"{quoted(exc.pattern)}: {exc.problem}",
                                f"{where}.test_files[{suite.test_files.index(exc.pattern)}]"
                                ) from None


def _check_suite_patterns(root: Path, directory: Path, suite: TestSuite, where: str,
                          listing: Listing) -> None:
    for position, pattern in enumerate(suite.test_files):
        path = listing.leading_outside(pattern, root)
        if path is not None:
            raise ManifestError(
                f"{quoted(pattern)} matches {quoted(path.relative_to(root).as_posix())}, "
                "which leads outside the pack", f"{where}.test_files[{position}]")
    unmatched = unmatched_pattern(suite.runner, directory, suite.test_files, root, listing)
    if unmatched is not None:
        shown = directory.relative_to(root).as_posix() or "."
        raise ManifestError(f"{quoted(unmatched)} matches no file in {quoted(shown)}",
                            f"{where}.test_files[{suite.test_files.index(unmatched)}]")


def _suite_directory(root: Path, working_dir: str, field: str) -> Path:
    try:
        directory = (root / working_dir).resolve()
    except RuntimeError:  # Python 3.11's report of a symlink loop
        raise ManifestError(f"{quoted(working_dir)} is a symbolic link loop", field) from None
    if not directory.is_relative_to(root):
        raise ManifestError(f"{quoted(working_dir)} leads outside the pack", field)
    if not directory.is_dir():
        raise ManifestError(f"{quoted(working_dir)} is not a directory in the pack", field)
    return directory


def _leads_outside(path: Path, root: Path) -> bool:
    try:
        return not path.resolve().is_relative_to(root)
    except RuntimeError:  # a symlink loop leads nowhere, and is no file to run either
        return False


def read_components(root: Path, pack_ref: str) -> list[Component]:
    """Component definitions (actions, triggers, sensors, rules, workflows), in a stable order."""
    components: list[Component] = []
    seen: dict[tuple[str, str], str] = {}
    for kind, folder, file in _component_files(root):
        name = f"{kind}/{file.name}"
        definition = read_yaml(file, name, root)
        if not isinstance(definition, dict):
            raise ManifestError("a component definition must be a mapping", source=name)
        component = _component(kind, file.stem, definition, pack_ref, name)
        _check_entry_point(root, folder, component.entry_point, name)
        key = (component.kind, component.ref)
        if key in seen:
            raise ManifestError(f"{component.kind} ref {quoted(component.ref)} is also "
                                f"defined in {seen[key]}", field="ref", source=name)
        seen[key] = name
        components.append(component)
    return components


def _component_files(root: Path) -> list[tuple[str, Path, Path]]:
    """(kind, folder, file) for every component file, within the count and size limits (their
    definitions all go into the registration's event)."""
    found: list[tuple[str, Path, Path]] = []
    total_bytes = 0
    for kind in COMPONENT_KINDS:
        folder = root / kind
        if not folder.is_dir():
            continue
        if not folder.resolve().is_relative_to(root):
            raise ManifestError("a link to a folder outside the pack", source=kind)
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        except OSError as exc:
            raise ManifestError(f"cannot be read: {exc.strerror}", source=kind) from None
        if len(found) + len(files) > MAX_COMPONENT_FILES:
            raise ManifestError(f"more than {MAX_COMPONENT_FILES} component files", source=kind)
        for file in files:
            if has_control(file.name):  # the name becomes part of a ref and of messages
                raise ManifestError(f"the file name {file.name!r} has a control character",
                                    source=kind)
            total_bytes += _size(file)
            if total_bytes > MAX_COMPONENT_BYTES:
                raise ManifestError(f"component files larger than {MAX_COMPONENT_BYTES // 2**20} "
                                    "MiB together", source=kind)
            found.append((kind, folder, file))
    return found


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:  # reading it will say what is wrong
        return 0


def _component(folder: str, stem: str, definition: dict[str, Any], pack_ref: str,
               source: str) -> Component:
    for key in ("ref", "label", "name", "description", "entry_point"):
        if key in definition and not isinstance(definition[key], str):
            raise ManifestError(f"expected a string, got {type(definition[key]).__name__}",
                                field=key, source=source)
    return Component(
        kind=COMPONENT_KINDS[folder],
        ref=definition.get("ref", f"{pack_ref}.{stem}"),
        label=definition.get("label") or definition.get("name") or stem,
        description=definition.get("description", ""),
        entry_point=definition.get("entry_point"),
        # As the manifest's free-form fields are stored: YAML timestamps as ISO 8601 text.
        definition=msgspec.to_builtins(definition),
    )


def _check_entry_point(root: Path, folder: Path, entry_point: str | None, source: str) -> None:
    """An entry point is a path from the component's folder; it need not exist (yet), but it
    must not lead out of the pack."""
    if entry_point is None:
        return
    if not entry_point.strip():
        raise ManifestError("must not be empty", field="entry_point", source=source)
    if _leads_outside(folder / entry_point, root):
        raise ManifestError(f"{quoted(entry_point)} leads outside the pack", field="entry_point",
                            source=source)
