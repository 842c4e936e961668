"""Releases in PostgreSQL: a release's files as one gzipped tar, kept by content digest.

Workers that run queued registrations share no file system with the API host: they get the
exact files a registration tests from the database (``unpack``), never from a path. The blob
is untrusted on the way out: it is extracted with our own checks (regular files, directories
and symlinks only, nothing outside the target or through a link) and must have its digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.packs.tree import (
    MAX_PACK_BYTES,
    MAX_PACK_FILES,
    PackTooLargeError,
    digest_of,
    tree_entries,
)
from attune_registry.adapters.packs.workspace import claim_empty_dir, clear_dir

_DIGEST = re.compile(r"[0-9a-f]{64}")
# The tar around the files: a header (and at most a PAX header) and padding per entry.
_MAX_TAR_BYTES = MAX_PACK_BYTES + MAX_PACK_FILES * 4096


class ReleaseBlobError(RegistryError):
    """Raised when a release cannot be stored in, or safely taken from, the database."""


class ReleaseBlobs:
    """Release contents in ``<schema>.attune_release_blob``, one row per digest."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], schema: str,
                 max_bytes: int = 64 * 2**20) -> None:
        self._connect = connect  # a new autocommit connection per call: workers are long-lived
        self._table = sql.SQL("{}.attune_release_blob").format(sql.Identifier(schema))
        self.max_bytes = max_bytes

    def ensure_table(self) -> None:
        try:
            with self._connect() as conn:
                conn.execute(sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (digest TEXT PRIMARY KEY,"
                    " size BIGINT NOT NULL, files INTEGER NOT NULL, content BYTEA NOT NULL,"
                    " stored_at TIMESTAMPTZ NOT NULL DEFAULT now())").format(self._table))
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            pass  # another process created it at the same moment

    def put(self, digest: str, directory: Path) -> bool:
        """Store the files at ``directory``, which must have ``digest``; False if the release
        was stored already."""
        _check_digest(digest)
        entries = tree_entries(directory)
        if digest_of(entries) != digest:
            raise ReleaseBlobError(f"the files at {directory} are not the release sha256:{digest}")
        size, content = _pack(directory, entries, self.max_bytes)
        if content is None:
            raise ReleaseBlobError(
                f"the release of sha256:{digest} is {_mib(size)} MiB compressed, more than the "
                f"{_mib(self.max_bytes)} MiB a queued registration may carry "
                "(ATTUNE_RELEASE_BLOB_MAX_MB)")
        with self._connect() as conn:
            stored = conn.execute(sql.SQL(
                "INSERT INTO {} (digest, size, files, content) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (digest) DO NOTHING").format(self._table),
                (digest, size, len(entries), content))
            return stored.rowcount == 1

    def has(self, digest: str) -> bool:
        _check_digest(digest)
        with self._connect() as conn:
            return conn.execute(sql.SQL("SELECT 1 FROM {} WHERE digest = %s").format(
                self._table), (digest,)).fetchone() is not None

    def unpack(self, digest: str, target: Path) -> None:
        """Write the release of ``digest`` into ``target`` (created; or an empty directory).
        On any failure ``target`` is left empty (or absent, if it did not exist)."""
        _check_digest(digest)
        with self._connect() as conn:
            # The server withholds a blob over our cap: never hold more than that in memory.
            row = conn.execute(sql.SQL(
                "SELECT octet_length(content), CASE WHEN octet_length(content) <= %s"
                " THEN content END FROM {} WHERE digest = %s").format(self._table),
                (self.max_bytes, digest)).fetchone()
        if row is None:
            raise ReleaseBlobError(f"no release sha256:{digest} in the database")
        size, content = row
        if content is None:
            raise ReleaseBlobError(
                f"the release sha256:{digest} in the database is {_mib(size)} MiB compressed, "
                f"more than the {_mib(self.max_bytes)} MiB this worker accepts "
                "(ATTUNE_RELEASE_BLOB_MAX_MB)")
        target.parent.mkdir(parents=True, exist_ok=True)
        created = claim_empty_dir(target)
        if created is None:
            raise ReleaseBlobError(f"cannot unpack a release into {target}: not an empty directory")
        try:
            _extract(content, target)
            actual = digest_of(tree_entries(target))
        except (ReleaseBlobError, PackTooLargeError, tarfile.TarError, OSError, EOFError,
                zlib.error) as exc:
            clear_dir(target, created)
            # A damaged blob shows as a tar or gzip error, a full disk as an OSError.
            problem = exc if isinstance(exc, ReleaseBlobError) else f"{type(exc).__name__}: {exc}"
            raise ReleaseBlobError(f"the release sha256:{digest} from the database was not "
                                   f"unpacked: {problem}") from None
        if actual != digest:
            clear_dir(target, created)
            raise ReleaseBlobError(f"the release sha256:{digest} from the database does not "
                                   f"match its digest; its files have sha256:{actual}")

    def delete(self, digest: str) -> None:
        _check_digest(digest)
        with self._connect() as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE digest = %s").format(self._table),
                         (digest,))

    def digests(self) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute(sql.SQL("SELECT digest FROM {} ORDER BY digest").format(
                self._table)).fetchall()
        return [digest for (digest,) in rows]


def _check_digest(digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise ReleaseBlobError(f"not a content digest: {digest!r}")


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0")


class _CappedBuffer(io.RawIOBase):
    """Keeps what is written up to ``cap`` bytes, then only counts (to say how big it got)."""

    def __init__(self, cap: int) -> None:
        self.cap, self.size, self.buffer = cap, 0, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        if self.size <= self.cap:
            self.buffer += data
        return len(data)


def _pack(directory: Path, entries: list[bytes], cap: int) -> tuple[int, bytes | None]:
    """The tar.gz of the digest ``entries`` of ``directory`` (the same bytes for the same files),
    as (compressed size, content); content is None when it is over ``cap``."""
    out = _CappedBuffer(cap)
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        folders: set[str] = set()
        for entry in sorted(entries):
            rel, kind, value = entry.decode().rstrip("\n").split("\0")
            parts = rel.split("/")
            for depth in range(1, len(parts)):  # a folder before what is in it
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders.add(folder)
                    tar.addfile(_member(folder, tarfile.DIRTYPE, 0o755))
            if kind == "l":
                tar.addfile(_member(rel, tarfile.SYMTYPE, 0o777, linkname=value))
            else:
                _add_file(tar, directory / rel, _member(rel, tarfile.REGTYPE,
                                                        0o755 if kind == "x" else 0o644), value)
    return out.size, bytes(out.buffer) if out.size <= cap else None


def _member(name: str, kind: bytes, mode: int, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def _add_file(tar: tarfile.TarFile, path: Path, info: tarfile.TarInfo, expected: str) -> None:
    """Add the file, checking it still has the content hashed into the digest."""
    with open(path, "rb") as reader:
        info.size = os.fstat(reader.fileno()).st_size
        hashing = _Hashing(reader)
        tar.addfile(info, hashing)
    if hashing.hash.hexdigest() != expected:
        raise ReleaseBlobError(f"{path} changed while its release was being stored")


class _Hashing:
    def __init__(self, reader: IO[bytes]) -> None:
        self.reader, self.hash = reader, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.reader.read(size)
        self.hash.update(data)
        return data


class _CappedReader:
    """Stops a decompression bomb: no more than ``cap`` bytes are read from ``reader``."""

    def __init__(self, read: Callable[[int], bytes], cap: int) -> None:
        self._read, self.left = read, cap

    def read(self, size: int = -1) -> bytes:
        data = self._read(self.left + 1 if size < 0 else min(size, self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise ReleaseBlobError(f"it is larger than {_mib(_MAX_TAR_BYTES)} MiB unpacked")
        return data


def _extract(content: bytes, target: Path) -> None:
    """Extract a blob member by member, refusing anything a release cannot hold."""
    reader = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(content)).read, _MAX_TAR_BYTES)
    folders, seen = {""}, set[str]()
    files = total = 0
    with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            _check_name(member.name, seen, folders)
            path = target / member.name
            if member.type == tarfile.DIRTYPE:
                folders.add(member.name)
                path.mkdir()
            elif member.type == tarfile.SYMTYPE:
                os.symlink(member.linkname, path)  # content, like a file's bytes: never followed
            elif member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                files, total = files + 1, total + member.size
                if files > MAX_PACK_FILES:
                    raise ReleaseBlobError(f"it has more than {MAX_PACK_FILES} files")
                if total > MAX_PACK_BYTES:
                    raise ReleaseBlobError(
                        f"its files add up to more than {_mib(MAX_PACK_BYTES)} MiB")
                _write_file(tar, member, path)
            else:
                raise ReleaseBlobError(f"its entry {member.name!r} is not a file, folder or "
                                       "symlink")


def _check_name(name: str, seen: set[str], folders: set[str]) -> None:
    """A relative name, new, whose parent is a folder of the blob: never a path out of the
    target, nor one through a symlink (or a file) that an earlier entry created."""
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ReleaseBlobError(f"it has an entry outside its folder: {name!r}")
    if name in seen:
        raise ReleaseBlobError(f"it has the entry {name!r} twice")
    if "/".join(parts[:-1]) not in folders:
        raise ReleaseBlobError(f"its entry {name!r} is not inside a folder it holds")
    seen.add(name)


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
    mode = 0o755 if member.mode & stat.S_IXUSR else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as writer:
        os.fchmod(fd, mode)  # whatever the umask: the executable bit is part of the digest
        source = tar.extractfile(member)
        assert source is not None  # a regular file always has content
        while chunk := source.read(1 << 20):
            writer.write(chunk)


