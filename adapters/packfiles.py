"""Pack directories: locating and validating pack.yaml, components, snapshots and digests."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import ManifestError, ManifestNotFoundError, PackDirectoryNotFoundError
from domain.manifest import PackManifest, parse_manifest

from adapters.yamlfile import read_yaml

COMPONENT_KINDS = ("actions", "triggers", "sensors", "rules", "workflows")
MAX_COMPONENT_FILES = 1000
# A snapshot is a full copy: refuse packs that would fill the disk or take minutes to copy.
MAX_PACK_BYTES = 512 * 1024 * 1024
MAX_PACK_FILES = 50_000
# Not pack content: version-control metadata and interpreter caches.
SKIPPED_NAMES = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache"})


class PackTooLargeError(ManifestError):
    """Raised when a pack exceeds the snapshot limits."""


@dataclass(frozen=True)
class Snapshot:
    """A private copy of the pack; ``content_digest`` covers exactly the copied files."""

    path: str
    content_digest: str


@contextmanager
def snapshot_of(source: Path, name: str) -> Iterator[Snapshot]:
    """A private copy of ``source`` in a fresh temporary directory, removed on exit."""
    staging = tempfile.mkdtemp(prefix=f"attune-{name}-")
    try:
        target = Path(staging) / "pack"
        digest = copy_tree(source, target)
        yield Snapshot(path=str(target), content_digest=digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class LoadedPack:
    """A pack directory whose manifest and component files were read and validated."""

    manifest: PackManifest
    source_path: str
    components: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        return snapshot_of(Path(self.source_path), self.manifest.ref)


class FilesystemPackLoader:
    """Loads packs from local directories."""

    def load(self, path: str) -> LoadedPack:
        directory = Path(path).expanduser()
        if not directory.is_dir():
            raise PackDirectoryNotFoundError(path)
        root = directory.resolve()
        manifest_path = root / "pack.yaml"
        if not manifest_path.exists() and not manifest_path.is_symlink():
            raise ManifestNotFoundError(path)
        manifest = parse_manifest(read_yaml(manifest_path, "pack.yaml", root))
        check_suite_paths(root, manifest)
        return LoadedPack(manifest=manifest, source_path=str(root),
                          components=read_components(root, manifest.ref))

    def snapshot(self, path: str) -> AbstractContextManager[Snapshot]:
        directory = Path(path)
        if not directory.is_dir():
            raise PackDirectoryNotFoundError(path)
        return snapshot_of(directory.resolve(), directory.name)


def check_suite_paths(root: Path, manifest: PackManifest) -> None:
    """Suite paths must stay in the pack once symlinks are resolved (the manifest model only
    checks them lexically). Paths that do not exist are the suite's problem at run time."""
    if manifest.testing is None:
        return
    for index, suite in enumerate(manifest.testing.test_suites):
        where = f"testing.test_suites[{index}]"
        directory = (root / suite.working_dir).resolve()
        if not directory.is_relative_to(root):
            raise ManifestError(f"{suite.working_dir!r} leads outside the pack", f"{where}.working_dir")
        if not directory.is_dir():
            continue
        for position, pattern in enumerate(suite.test_files):
            candidates = directory.glob(pattern) if "/" in pattern else directory.rglob(pattern)
            for path in candidates:
                if not path.resolve().is_relative_to(root):
                    raise ManifestError(
                        f"{pattern!r} matches {path.relative_to(root).as_posix()!r}, which leads "
                        "outside the pack", f"{where}.test_files[{position}]")


def read_components(root: Path, pack_ref: str) -> list[dict[str, Any]]:
    """Component definitions (actions, triggers, sensors, rules, workflows), in a stable order."""
    components: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], str] = {}
    for kind in COMPONENT_KINDS:
        folder = root / kind
        if not folder.is_dir() or not folder.resolve().is_relative_to(root):
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        if len(components) + len(files) > MAX_COMPONENT_FILES:
            raise ManifestError(f"more than {MAX_COMPONENT_FILES} component files", source=kind)
        for file in files:
            name = f"{kind}/{file.name}"
            definition = read_yaml(file, name, root)
            if not isinstance(definition, dict):
                raise ManifestError("a component definition must be a mapping", source=name)
            component = _component(kind, file.stem, definition, pack_ref, name)
            key = (component["kind"], component["ref"])
            if key in seen:
                raise ManifestError(f"{component['kind']} ref {component['ref']!r} is also "
                                    f"defined in {seen[key]}", field="ref", source=name)
            seen[key] = name
            components.append(component)
    return components


def _component(kind: str, stem: str, definition: dict[str, Any], pack_ref: str,
               source: str) -> dict[str, Any]:
    ref = definition.get("ref", f"{pack_ref}.{stem}")
    for key in ("ref", "label", "name", "description", "entry_point"):
        if key in definition and not isinstance(definition[key], str):
            raise ManifestError(f"expected a string, got {type(definition[key]).__name__}",
                                field=key, source=source)
    return {
        "kind": kind.rstrip("s"),
        "ref": ref,
        "label": definition.get("label") or definition.get("name") or stem,
        "description": definition.get("description", ""),
        "entry_point": definition.get("entry_point"),
        "definition": definition,
    }


def copy_tree(source: Path, target: Path) -> str:
    """Copy a pack (regular files, directories and links as links) and return its digest.

    The digest is sha256 over the sorted relative paths with, for each, its kind, executable
    bit and content hash (or link target). Sockets, FIFOs and devices are not pack content and
    are skipped, so copying can never block on them.
    """
    entries: list[bytes] = []
    total_bytes = 0
    target.mkdir(parents=True)
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        here = Path(dirpath)
        relative_dir = here.relative_to(source)
        for name in dirnames:
            src = here / name
            if src.is_symlink():  # os.walk lists links to directories as directories
                entries.append(_copy_link(src, target / relative_dir / name, relative_dir / name))
            else:
                (target / relative_dir / name).mkdir()
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            src, dst, rel = here / name, target / relative_dir / name, relative_dir / name
            info = src.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries.append(_copy_link(src, dst, rel))
            elif stat.S_ISREG(info.st_mode):
                total_bytes += info.st_size
                _check_limits(len(entries) + 1, total_bytes)
                entries.append(_copy_file(src, dst, rel, info.st_mode))
    entries.sort()
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(entry)
    return digest.hexdigest()


def _check_limits(files: int, total_bytes: int) -> None:
    if files > MAX_PACK_FILES:
        raise PackTooLargeError(f"the pack has more than {MAX_PACK_FILES} files",
                                source="pack directory")
    if total_bytes > MAX_PACK_BYTES:
        raise PackTooLargeError(f"the pack is larger than {MAX_PACK_BYTES // 2**20} MiB",
                                source="pack directory")


def _copy_file(src: Path, dst: Path, rel: Path, mode: int) -> bytes:
    content_hash = hashlib.sha256()
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while chunk := reader.read(1 << 20):
            content_hash.update(chunk)
            writer.write(chunk)
    executable = bool(mode & stat.S_IXUSR)
    os.chmod(dst, 0o755 if executable else 0o644)
    kind = "x" if executable else "f"
    return f"{rel.as_posix()}\0{kind}\0{content_hash.hexdigest()}\n".encode()


def _copy_link(src: Path, dst: Path, rel: Path) -> bytes:
    link_target = os.readlink(src)
    os.symlink(link_target, dst)
    return f"{rel.as_posix()}\0l\0{link_target}\n".encode()
