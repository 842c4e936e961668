"""Safe extraction of pack archives (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz and .zip)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import has_control, quoted

from attune_registry.adapters.packs.workspace import claim_empty_dir, clear_dir

# Below this many bytes written, a high compression ratio is normal (a small file of blanks).
RATIO_FLOOR = 1024 * 1024
# Bytes a tar stream may spend on headers and padding per member, on top of the contents.
TAR_OVERHEAD_PER_MEMBER = 4096
_CHUNK = 1 << 16


class ArchiveError(RegistryError):
    """Raised when an archive is unreadable or unsafe; nothing of it is left in the target."""

    def __init__(self, archive: str, problem: str, member: str | None = None) -> None:
        self.archive = archive
        self.member = member
        self.problem = problem
        where = f"member {quoted(member)} " if member is not None else ""
        super().__init__(f"Refused archive {quoted(archive)}: {where}{problem}")


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may expand to; sizes are checked on the bytes written, not the headers."""

    max_total_bytes: int = 100 * 2**20
    max_members: int = 10_000
    max_file_bytes: int = 50 * 2**20
    max_ratio: int = 200
    """Bytes written per byte of archive, checked once more than ``RATIO_FLOOR`` is written."""
    max_path_chars: int = 1024
    max_depth: int = 64


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class ExtractedArchive:
    """Where the pack is (the target) and the single top-level folder stripped, if any."""

    root: Path
    stripped_folder: str | None


def extract_archive(archive: Path, target: Path, limits: ArchiveLimits = DEFAULT_LIMITS, *,
                    name: str | None = None) -> ExtractedArchive:
    """Extract ``archive`` into ``target`` and return where its pack.yaml is.

    The kind is read from the file's first bytes, not its name. Regular files and folders are
    the only members accepted: symbolic links and hard links are refused outright (no link to
    check means no link that escapes), as are devices, FIFOs, absolute paths, ``..``
    components, backslashes and control characters in names, and members that would land
    outside ``target``. Files get the archive's user bits only (at least rw: never setuid,
    never shared). A single top-level folder (as in GitHub's archives) is stripped;
    ``pack.yaml`` must then be at the top.

    Args:
        archive: the archive file.
        target: a directory that does not exist yet or is empty.
        limits: size, count, ratio and path limits.
        name: what messages call the archive (default: its file name).

    Raises:
        ArchiveError: on any refusal; ``target`` is then removed (if this call created it) or
            left empty.
    """
    name = name or archive.name
    created = _prepare_target(target, name)
    try:
        budget = _Budget(name, limits, archive.stat().st_size)
        with archive.open("rb") as raw:
            if raw.read(4) in (b"PK\x03\x04", b"PK\x05\x06"):
                _extract_zip(archive, target, budget)
            else:
                _extract_tar(archive, target, budget)
        stripped = _strip_single_folder(target)
        if not (target / "pack.yaml").is_file():
            raise ArchiveError(name, "has no pack.yaml at its top level or in its single "
                                     "top-level folder")
        return ExtractedArchive(root=target, stripped_folder=stripped)
    except BaseException as exc:
        clear_dir(target, created)
        if isinstance(exc, OSError):
            raise ArchiveError(name, f"cannot be extracted: {exc.strerror or exc}") from exc
        raise


def _prepare_target(target: Path, name: str) -> bool:
    """Whether ``target`` was created here (and so is to be removed on failure)."""
    created = claim_empty_dir(target)
    if created is None:
        raise ArchiveError(name, f"target {str(target)!r} is not an empty directory")
    return created


class _Budget:
    """Counts members and bytes written against the limits, as extraction goes."""

    def __init__(self, archive: str, limits: ArchiveLimits, archive_bytes: int) -> None:
        self.archive = archive
        self.limits = limits
        self.archive_bytes = max(archive_bytes, 1)
        self.members = 0
        self.written = 0

    def refuse(self, problem: str, member: str | None = None) -> ArchiveError:
        return ArchiveError(self.archive, problem, member)

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise self.refuse(f"has more than {self.limits.max_members} members")

    def declared(self, member: str, size: int) -> None:
        """Refuse early what the header already admits to; the writes are checked anyway."""
        if size > self.limits.max_file_bytes:
            raise self.refuse(f"is larger than {_mib(self.limits.max_file_bytes)}", member)
        if self.written + size > self.limits.max_total_bytes:
            raise self.refuse(f"expands to more than {_mib(self.limits.max_total_bytes)}")

    def add(self, member: str, file_bytes: int, chunk: int) -> None:
        self.written += chunk
        if file_bytes > self.limits.max_file_bytes:
            raise self.refuse(f"is larger than {_mib(self.limits.max_file_bytes)}", member)
        if self.written > self.limits.max_total_bytes:
            raise self.refuse(f"expands to more than {_mib(self.limits.max_total_bytes)}")
        self.check_ratio(self.written)

    def check_ratio(self, expanded: int) -> None:
        if expanded > RATIO_FLOOR and expanded > self.archive_bytes * self.limits.max_ratio:
            raise self.refuse(f"expands more than {self.limits.max_ratio} times its size "
                              "(a compression bomb?)")


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _destination(target: Path, name: str, budget: _Budget) -> Path | None:
    """The path a member lands on (None for the target itself, as in ``./``), or an error
    naming why it may not land anywhere."""
    if has_control(name):
        raise budget.refuse("has a control character in its name", name)
    if "\\" in name:
        raise budget.refuse("has a backslash in its name (a Windows path?)", name)
    if name.startswith("/"):
        raise budget.refuse("has an absolute path", name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise budget.refuse("has a '..' component", name)
    if len(name) > budget.limits.max_path_chars:
        raise budget.refuse(f"has a path longer than {budget.limits.max_path_chars} characters",
                            name)
    if len(parts) > budget.limits.max_depth:
        raise budget.refuse(f"is nested more than {budget.limits.max_depth} folders deep", name)
    if any(len(part.encode()) > 255 for part in parts):
        raise budget.refuse("has a name longer than 255 bytes", name)
    if not parts:
        return None
    destination = target.joinpath(*parts)
    # Defence in depth: nothing extracted is a link, so this holds unless the checks above miss.
    if not os.path.realpath(destination).startswith(os.path.realpath(target) + os.sep):
        raise budget.refuse("would land outside the target directory", name)
    return destination


def _make_folder(path: Path, target: Path, name: str, budget: _Budget) -> None:
    for folder in reversed([path, *path.parents]):
        if not folder.is_relative_to(target) or folder == target:
            continue
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise budget.refuse("is both a file and a folder in the archive", name)
        if not folder.exists():
            folder.mkdir(mode=0o700)


def _write_file(source: IO[bytes], destination: Path, mode: int, name: str,
                budget: _Budget) -> None:
    # Only the user bits, at least rw: no setuid/setgid/sticky, nothing for group or others.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        descriptor = os.open(destination, flags, (mode & 0o700) | 0o600)
    except FileExistsError:
        raise budget.refuse("appears more than once in the archive", name) from None
    size = 0
    with os.fdopen(descriptor, "wb") as writer:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            budget.add(name, size, len(chunk))
            writer.write(chunk)


def _extract_zip(archive: Path, target: Path, budget: _Budget) -> None:
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise budget.refuse(f"is not a valid zip file: {exc}") from None
    with bundle:
        infos = bundle.infolist()
        if len(infos) > budget.limits.max_members:
            raise budget.refuse(f"has more than {budget.limits.max_members} members")
        for info in infos:
            budget.count_member()
            destination = _destination(target, info.filename, budget)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.flag_bits & 0x1:
                raise budget.refuse("is encrypted", info.filename)
            if info.is_dir():
                if kind not in (0, stat.S_IFDIR):
                    raise budget.refuse(_kind_problem(kind), info.filename)
                if destination is not None:
                    _make_folder(destination, target, info.filename, budget)
                continue
            if kind not in (0, stat.S_IFREG):
                raise budget.refuse(_kind_problem(kind), info.filename)
            if destination is None:
                raise budget.refuse("is a file without a name", info.filename)
            budget.declared(info.filename, info.file_size)
            if info.file_size > RATIO_FLOOR and \
                    info.file_size > max(info.compress_size, 1) * budget.limits.max_ratio:
                raise budget.refuse(f"expands more than {budget.limits.max_ratio} times "
                                    "its size (a compression bomb?)", info.filename)
            _make_folder(destination.parent, target, info.filename, budget)
            try:
                with bundle.open(info) as source:
                    _write_file(source, destination, info.external_attr >> 16 or 0o600,
                                info.filename, budget)
            except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                raise budget.refuse(f"cannot be read: {exc}", info.filename) from None


def _kind_problem(kind: int) -> str:
    if kind == stat.S_IFLNK:
        return "is a symbolic link (links are not accepted)"
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        return "is a device file"
    if kind == stat.S_IFIFO:
        return "is a FIFO"
    return "is not a regular file or folder"


def _extract_tar(archive: Path, target: Path, budget: _Budget) -> None:
    with ExitStack() as stack:
        stream = stack.enter_context(_decompressed(archive, budget))
        try:
            # Stream mode only ever reads, which is all the counting reader offers.
            bundle = stack.enter_context(tarfile.open(fileobj=cast("IO[bytes]", stream),
                                                      mode="r|"))
            # Stream order: each member is checked and written before the next is read.
            for member in bundle:
                budget.count_member()
                _extract_tar_member(bundle, member, target, budget)
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
            raise budget.refuse(f"is not a valid .tar, .tar.gz or .zip archive, or is "
                                f"truncated ({exc})") from None


def _extract_tar_member(bundle: tarfile.TarFile, member: tarfile.TarInfo, target: Path,
                        budget: _Budget) -> None:
    destination = _destination(target, member.name, budget)
    if member.issym():
        raise budget.refuse(f"is a symbolic link to {quoted(member.linkname)} (links are not "
                            "accepted)", member.name)
    if member.islnk():
        raise budget.refuse(f"is a hard link to {quoted(member.linkname)} (links are not "
                            "accepted)", member.name)
    if member.ischr() or member.isblk():
        raise budget.refuse("is a device file", member.name)
    if member.isfifo():
        raise budget.refuse("is a FIFO", member.name)
    if member.isdir():
        if destination is not None:
            _make_folder(destination, target, member.name, budget)
        return
    if not member.isreg():
        raise budget.refuse("is not a regular file or folder", member.name)
    if destination is None:
        raise budget.refuse("is a file without a name", member.name)
    budget.declared(member.name, member.size)
    _make_folder(destination.parent, target, member.name, budget)
    source = bundle.extractfile(member)
    assert source is not None  # a regular file always has a reader
    with source:
        _write_file(source, destination, member.mode, member.name, budget)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader:
    """The decompressed tar stream, stopped as soon as it expands past what the limits allow:
    tarfile reads header payloads (pax, long names) into memory before any check could run."""

    def __init__(self, stream: _Readable, budget: _Budget) -> None:
        self.stream = stream
        self.budget = budget
        self.read_bytes = 0
        limits = budget.limits
        self.allowed = limits.max_total_bytes + limits.max_members * TAR_OVERHEAD_PER_MEMBER

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.read_bytes += len(chunk)
        if self.read_bytes > self.allowed:
            raise self.budget.refuse(f"expands to more than {_mib(self.allowed)} of tar data")
        self.budget.check_ratio(self.read_bytes)
        return chunk


@contextmanager
def _decompressed(archive: Path, budget: _Budget) -> Iterator[_CountingReader]:
    """The tar data of ``archive``: gzip, bzip2 and xz are recognised by their first bytes."""
    with ExitStack() as stack:
        raw = stack.enter_context(archive.open("rb"))
        magic = raw.read(6)
        raw.seek(0)
        stream: _Readable = raw
        if magic.startswith(b"\x1f\x8b"):
            stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif magic.startswith(b"BZh"):
            stream = stack.enter_context(bz2.BZ2File(raw, mode="rb"))
        elif magic.startswith(b"\xfd7zXZ\x00"):
            stream = stack.enter_context(lzma.LZMAFile(raw, mode="rb"))
        yield _CountingReader(stream, budget)


def _strip_single_folder(target: Path) -> str | None:
    """Move the contents of a single top-level folder up into ``target``; its name, or None."""
    entries = list(target.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return None
    folder = entries[0]
    # Park the folder under a fresh name first: it may hold an entry with its own name.
    parking = Path(tempfile.mkdtemp(prefix=".attune-strip-", dir=target))
    parked = parking / folder.name
    folder.rename(parked)
    for child in parked.iterdir():
        child.rename(target / child.name)
    shutil.rmtree(parking)
    return folder.name
