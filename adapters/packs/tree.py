"""A pack's files as a tree: copied, hashed into one content digest, within size limits."""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import nullcontext
from pathlib import Path

from attune_registry.domain.errors import ManifestError

# A snapshot is a full copy: refuse packs that would fill the disk or take minutes to copy.
MAX_PACK_BYTES = 512 * 1024 * 1024
MAX_PACK_FILES = 50_000
# Not pack content: version-control metadata and interpreter caches.
SKIPPED_NAMES = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache"})


class PackTooLargeError(ManifestError):
    """Raised when a pack exceeds the snapshot limits."""


def copy_tree(source: Path, target: Path) -> str:
    """Copy a pack (regular files, directories and links as links) and return its digest.

    The digest is sha256 over the sorted relative paths with, for each, its kind, executable
    bit and content hash (or link target). Sockets, FIFOs and devices are not pack content and
    are skipped, so copying can never block on them.
    """
    return digest_of(copy_entries(source, target))


def copy_entries(source: Path, target: Path) -> list[bytes]:
    """``copy_tree``, returning the digest's entries (see ``tree_entries``) of what it copied."""
    target.mkdir(parents=True)
    return _walk_tree(source, target)


def tree_entries(source: Path) -> list[bytes]:
    """The digest's entries for the files at ``source`` as they are now (nothing is copied):
    ``path NUL kind NUL hash-or-link-target LF``, kind ``f``, ``x`` (executable) or ``l``."""
    return _walk_tree(source, None)


def digest_of(entries: list[bytes]) -> str:
    digest = hashlib.sha256()
    for entry in sorted(entries):
        digest.update(entry)
    return digest.hexdigest()


def _walk_tree(source: Path, target: Path | None) -> list[bytes]:
    """Each pack file's digest entry, copying it under ``target`` unless that is None."""
    entries: list[bytes] = []
    total_bytes = 0
    # The copy's own folder, when the store's data directory is inside the pack: never copy
    # the copy into itself.
    staging = target.resolve().parent if target is not None else None
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIPPED_NAMES and here / d != staging)
        relative_dir = here.relative_to(source)
        into = target / relative_dir if target is not None else None
        for name in dirnames:
            src = here / name
            if src.is_symlink():  # os.walk lists links to directories as directories
                entries.append(_copy_link(src, into and into / name, relative_dir / name))
            elif into is not None:
                (into / name).mkdir()
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            src, rel = here / name, relative_dir / name
            info = src.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries.append(_copy_link(src, into and into / name, rel))
            elif stat.S_ISREG(info.st_mode):
                total_bytes += info.st_size
                check_limits(len(entries) + 1, total_bytes)
                entries.append(_copy_file(src, into and into / name, rel, info.st_mode))
    return entries


def check_limits(files: int, total_bytes: int) -> None:
    if files > MAX_PACK_FILES:
        raise PackTooLargeError(f"the pack has more than {MAX_PACK_FILES} files",
                                source="pack directory")
    if total_bytes > MAX_PACK_BYTES:
        raise PackTooLargeError(f"the pack is larger than {MAX_PACK_BYTES // 2**20} MiB",
                                source="pack directory")


def _copy_file(src: Path, dst: Path | None, rel: Path, mode: int) -> bytes:
    content_hash = hashlib.sha256()
    with open(src, "rb") as reader, (open(dst, "wb") if dst else nullcontext()) as writer:
        while chunk := reader.read(1 << 20):
            content_hash.update(chunk)
            if writer is not None:
                writer.write(chunk)
    executable = bool(mode & stat.S_IXUSR)
    if dst is not None:
        os.chmod(dst, 0o755 if executable else 0o644)
    kind = "x" if executable else "f"
    return f"{rel.as_posix()}\0{kind}\0{content_hash.hexdigest()}\n".encode()


def _copy_link(src: Path, dst: Path | None, rel: Path) -> bytes:
    link_target = os.readlink(src)
    if dst is not None:
        os.symlink(link_target, dst)
    return f"{rel.as_posix()}\0l\0{link_target}\n".encode()
