"""The release store: exactly the bytes a registration tested, kept by content digest.

Layout: ``<root>/<digest>/`` holds one content, read-only and private to the registry's user,
and ``<digest>.files`` beside it lists its files (for ``attune pack verify`` to name what
changed). A release is written once, before the tests run, from the snapshot they run on;
the source directory may then change or disappear without consequence. Registrations of
the same content share one release. The active pack's files, manual test runs and rollbacks
all use the release of the registration's digest.

Stores from before releases recorded only a path (the user's directory, or
``installed/<ref>/<version>-<digest16>`` for an install): the first use of such a
registration whose files still have its digest adopts them as its release (``restore``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.packs.tree import (
    PackTooLargeError,
    copy_entries,
    digest_of,
    tree_entries,
)
from attune_registry.adapters.packs.workspace import private_dir, remove_tree

if TYPE_CHECKING:
    from attune_registry.application.ports import PackSnapshot

    from attune_registry.adapters.settings import Settings

_DIGEST_NAME = re.compile(r"[0-9a-f]{64}")


class ReleaseFilesError(RegistryError):
    """Raised when a release cannot be written where the store keeps it."""


class ReleaseStore:
    """Implements ``application.ports.Releases`` on a directory."""

    def __init__(self, root: Path, work_dir: Path, legacy_root: Path | None = None) -> None:
        self.root = root
        # Incoming copies are written here first (same file system: the move is a rename).
        self.work_dir = work_dir
        # ``installed/`` of stores from before releases: listed for pruning, never written.
        self.legacy_root = legacy_root

    @classmethod
    def of(cls, settings: Settings) -> ReleaseStore:
        """The release store under the data directory (cheap: reading commands build it)."""
        return cls(settings.releases_dir, settings.work_dir, settings.installed_dir)

    def path_of(self, digest: str) -> str:
        if not _DIGEST_NAME.fullmatch(digest):  # a name from the log: never a path of its own
            raise ValueError(f"not a content digest: {digest!r}")
        return str(self.root / digest)

    def keep(self, snapshot: PackSnapshot) -> bool:
        return self._copy_in(Path(snapshot.path), snapshot.content_digest)

    def restore(self, digest: str, recorded_path: str) -> str | None:
        path = Path(self.path_of(digest))
        if path.is_dir():
            return str(path)
        recorded = Path(recorded_path)
        try:
            if not recorded.is_dir() or digest_of(tree_entries(recorded)) != digest:
                return None
            self._copy_in(recorded, digest)
        except (OSError, PackTooLargeError, ReleaseFilesError):
            return None  # changed while being copied, or unreadable: there is nothing to adopt
        return str(path)

    def digests(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir()
                      if _DIGEST_NAME.fullmatch(entry.name) and entry.is_dir()
                      and not entry.is_symlink())

    def discard(self, digest: str) -> None:
        path = self.path_of(digest)
        remove_tree(Path(path))
        Path(f"{path}.files").unlink(missing_ok=True)

    def legacy_contents(self) -> list[str]:
        """Every directory of the pre-release managed store (``<ref>/<version>-<digest>``)."""
        root = self.legacy_root
        if root is None or not root.is_dir():
            return []
        return sorted(str(content) for ref in root.iterdir() if ref.is_dir()
                      for content in ref.iterdir()
                      if content.is_dir() and not content.is_symlink())

    def discard_legacy(self, path: str) -> None:
        remove_tree(Path(path))
        Path(f"{path}.files").unlink(missing_ok=True)
        with suppress(OSError):
            Path(path).parent.rmdir()  # the ref's folder, when this was its only content

    def _copy_in(self, source: Path, digest: str) -> bool:
        """Write the release of ``digest`` from ``source``; False if it was there already.

        Raises: ReleaseFilesError (a full disk, or ``source`` does not have that digest).
        """
        final = Path(self.path_of(digest))
        try:
            return self._write(source, digest, final)
        except OSError as exc:  # a full disk, a store folder that is a file...
            raise ReleaseFilesError(f"Cannot keep the release at {final}: "
                                    f"{exc.strerror or exc}") from None

    def _write(self, source: Path, digest: str, final: Path) -> bool:
        if final.is_dir() and digest_of(tree_entries(final)) == digest:
            return False  # this content is kept already (an earlier registration's)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with private_dir(self.work_dir, "release") as incoming:
            copy = incoming / "release"
            entries = copy_entries(source, copy)
            if digest_of(entries) != digest:
                raise ReleaseFilesError(f"The copy for {final} does not match the tested "
                                        "snapshot; no release was kept")
            _make_read_only(copy)
            damaged = final.exists()
            if damaged:  # this content, but its files were changed: replace them whole
                os.chmod(final, 0o700)  # moving a folder rewrites its ".." entry
                os.rename(final, incoming / "damaged")
            os.rename(copy, final)
            os.chmod(final, 0o500)
            # Beside the folder, once it is in place: a crash before leaves a folder without a
            # list (verify then compares digests only), never a list without its folder.
            _write_listing(Path(f"{final}.files"), entries, digest)
        # A repaired release belongs to an earlier registration: never ours to remove.
        return not damaged


@dataclass(frozen=True)
class Drift:
    """How the files of a release (or a recorded directory) differ from what was registered."""

    status: str  # ok | drifted | missing
    actual_digest: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    listed: bool = False
    """Whether a file list was kept (releases), so that the lists above are known."""


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
    fd = os.open(listing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"digest": digest, "files": _by_path(entries)}, out, sort_keys=True,
                  ensure_ascii=True)


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


def _make_read_only(root: Path) -> None:
    """Releases are never edited: files keep only the owner's read bit (and execute bit, which
    the digest records), folders the owner's read and search bits. ``remove_tree`` restores
    the write bits to remove one. ``root`` itself stays writable until it is in place."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):
                mode = stat.S_IMODE(os.lstat(child).st_mode)
                os.chmod(child, 0o500 if mode & stat.S_IXUSR else 0o400)
        for name in dirnames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):
                os.chmod(child, 0o500)
