"""The managed pack store: the files of installed packs, and checking them for drift.

Layout: ``<root>/<ref>/<version>-<digest16>/`` holds one content of a pack, read-only, and
``<version>-<digest16>.files`` beside it lists that content's files (for ``attune pack verify``
to name what changed). Directories are named by content, so they never change once written:
a reinstall writes a new one, and the registration that commits (an event) is what switches
the active pack from one to the other, atomically. Older ones stay for rollbacks.
"""

from __future__ import annotations

import json
import os
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from domain.errors import RegistryError

from adapters.packs.tree import copy_entries, digest_of, tree_entries
from adapters.packs.workspace import private_dir, remove_tree

if TYPE_CHECKING:
    from application.ports import PackSnapshot, PackSource

# Digest characters in a directory name: enough to tell contents apart, short enough to read.
NAME_DIGEST_CHARS = 16


class InstalledFilesError(RegistryError):
    """Raised when installed files cannot be written where the store keeps them."""


class InstalledPackStore:
    """Implements ``application.ports.InstalledPacks`` on a directory."""

    def __init__(self, root: Path, work_dir: Path) -> None:
        self.root = root
        # Incoming copies are written here first (same file system: the move is a rename).
        self.work_dir = work_dir

    def path_for(self, source: PackSource, snapshot: PackSnapshot) -> str:
        manifest, digest = source.manifest, snapshot.content_digest
        return str(self.root / manifest.ref / f"{manifest.version}-{digest[:NAME_DIGEST_CHARS]}")

    def keep(self, snapshot: PackSnapshot, path: str) -> bool:
        try:
            return self._keep(snapshot, Path(path))
        except OSError as exc:  # a full disk, a store folder that is a file...
            raise InstalledFilesError(f"Cannot install the files at {path}: "
                                      f"{exc.strerror or exc}") from None

    def _keep(self, snapshot: PackSnapshot, final: Path) -> bool:
        path = str(final)
        if final.is_dir() and digest_of(tree_entries(final)) == snapshot.content_digest:
            return False  # this content is installed already (an earlier registration's)
        with private_dir(self.work_dir, "incoming") as incoming:
            copy = incoming / "pack"
            entries = copy_entries(Path(snapshot.path), copy)
            digest = digest_of(entries)
            if digest != snapshot.content_digest:
                raise InstalledFilesError(f"The copy for {path} does not match the tested "
                                          "snapshot; nothing was installed")
            _make_read_only(copy)
            drifted = final.exists()
            if drifted:  # this content, but its files were changed: replace them whole
                os.chmod(final, 0o755)  # moving a folder rewrites its ".." entry
                os.rename(final, incoming / "drifted")
            _move_into_place(copy, final)
            os.chmod(final, 0o555)
            # Beside the folder, once it is in place: a crash before leaves a folder without a
            # list (verify then compares digests only), never a list without its folder.
            _write_listing(Path(f"{path}.files"), entries, digest)
        # A repaired directory belongs to an earlier registration: never ours to remove.
        return not drifted

    def contents(self) -> list[str]:
        """Every content directory in the store (``<root>/<ref>/<version>-<digest>``)."""
        if not self.root.is_dir():
            return []
        return sorted(str(content) for ref in self.root.iterdir() if ref.is_dir()
                      for content in ref.iterdir()
                      if content.is_dir() and not content.is_symlink())

    def discard(self, path: str) -> None:
        remove_tree(Path(path))
        Path(f"{path}.files").unlink(missing_ok=True)
        with suppress(OSError):
            Path(path).parent.rmdir()  # the ref's folder, when this was its only content


@dataclass(frozen=True)
class Drift:
    """How the files at a registration's source differ from what was registered."""

    status: str  # ok | drifted | missing
    actual_digest: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    listed: bool = False
    """Whether a file list was kept (installed packs), so that the lists above are known."""


def check_drift(path: str, expected_digest: str) -> Drift:
    """Recompute the digest of the files at ``path`` and compare with ``expected_digest``,
    naming the files that differ when the store kept a list of them."""
    root = Path(path)
    if not root.is_dir():
        return Drift(status="missing", actual_digest=None)
    entries = tree_entries(root)
    actual = digest_of(entries)
    listing = _read_listing(Path(f"{path}.files"), expected_digest)
    if actual == expected_digest:
        return Drift(status="ok", actual_digest=actual, listed=listing is not None)
    if listing is None:
        return Drift(status="drifted", actual_digest=actual)
    now = _by_path(entries)
    return Drift(status="drifted", actual_digest=actual, listed=True,
                 added=sorted(now.keys() - listing.keys()),
                 removed=sorted(listing.keys() - now.keys()),
                 modified=sorted(p for p in now.keys() & listing.keys() if now[p] != listing[p]))


def _by_path(entries: list[bytes]) -> dict[str, str]:
    """path -> "kind hash" from digest entries."""
    found = {}
    for entry in entries:
        rel, kind, value = entry.decode(errors="surrogateescape").rstrip("\n").split("\0")
        found[rel] = f"{kind} {value}"
    return found


def _write_listing(listing: Path, entries: list[bytes], digest: str) -> None:
    listing.write_text(json.dumps({"digest": digest, "files": _by_path(entries)},
                                  sort_keys=True, ensure_ascii=True))


def _read_listing(listing: Path, digest: str) -> dict[str, str] | None:
    """The file list of ``digest``, or None if there is none (or it is for other content)."""
    try:
        data = json.loads(listing.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("digest") != digest:
        return None
    files = data.get("files")
    return files if isinstance(files, dict) else None


def _move_into_place(copy: Path, final: Path) -> None:
    """Rename ``copy`` to ``final``, creating the ref's folder, also when ``prune`` removes
    it in between (it removes a ref's folder once its last content is gone)."""
    for attempt in range(2):
        final.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            os.rename(copy, final)
            return
        except FileNotFoundError:
            if attempt:
                raise


def _make_read_only(root: Path) -> None:
    """Installed files are not edited in place: drop the write bits below ``root`` (a reinstall
    writes a new directory; ``remove_tree`` restores them to remove one). ``root`` itself
    stays writable until it has been moved into place."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):
                mode = os.lstat(child).st_mode
                os.chmod(child, stat.S_IMODE(mode) & ~0o222)
        for name in dirnames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):
                os.chmod(child, 0o555)

