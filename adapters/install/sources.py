"""What ``attune pack install SOURCE`` can install from, fetched into a private directory.

A SOURCE is, in this order:

- an ``https://`` URL whose path ends in an archive suffix (``.tar.gz``, ``.zip``...): an
  archive, downloaded;
- any other ``https://``, ``ssh://`` or ``file://`` URL, or ``[user@]host:path``: a git
  repository (a ``file://`` URL of a regular file is an archive);
- a local file: an archive (its kind is read from its first bytes);
- a local directory with ``--ref``, or one without a ``pack.yaml`` that is a git repository:
  a git repository, fetched at the ref;
- a local directory with a ``pack.yaml``: the directory as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.origin import ArchiveOrigin, DirectoryOrigin, GitOrigin, Origin
from attune_registry.domain.text import quoted, quoted_end

from attune_registry.adapters.install.archives import DEFAULT_LIMITS, ArchiveLimits, extract_archive
from attune_registry.adapters.install.download import download
from attune_registry.adapters.install.git import fetch_git
from attune_registry.adapters.install.location import (
    InstallSourceError,
    Location,
    file_url_path,
    parse_location,
)
from attune_registry.adapters.packs.tree import SKIPPED_NAMES
from attune_registry.adapters.packs.workspace import private_dir
from attune_registry.adapters.redact import redact_url
from attune_registry.adapters.settings import ConfigError

__all__ = ["InstallSourceError", "SourceFetcher", "SourceNotAllowedError", "check_allowed_source",
           "classify", "local_path", "shown_source"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")


@dataclass(frozen=True)
class Fetched:
    """Implements ``application.ports.FetchedPack``."""

    path: str
    origin: Origin


@dataclass(frozen=True)
class Classified:
    kind: str  # git | archive_url | archive_file | directory
    location: str  # what to fetch: the normalised URL, or the resolved local path


def classify(source: str, ref: str | None) -> Classified:
    """What kind of source ``source`` is (see the module's docstring), without fetching it.
    Its text is classified and normalised by ``parse_location``, as the API's checks do;
    ``location`` is that normalised text (a local path also resolved), and is what is fetched.

    Raises:
        InstallSourceError: the source is malformed, ambiguous, refused or not found.
    """
    location = parse_location(source)
    shown = shown_source(source)  # messages quote the source as given
    if location.kind == "scp":
        return Classified("git", location.text)
    if location.kind == "path":
        return _classify_path(Path(location.text), ref, shown)
    scheme = location.scheme
    if scheme == "http":
        raise InstallSourceError(f"Refused install source {shown}: plain http:// is not "
                                 "accepted, use https://")
    if scheme == "https" and location.path.lower().endswith(ARCHIVE_SUFFIXES):
        _no_ref(ref, "an archive")
        return Classified("archive_url", location.text)
    local = file_url_path(location)
    if local is not None and _is_file(Path(local), shown):
        _no_ref(ref, "an archive")
        return Classified("archive_file", str(Path(local).resolve()))
    if scheme in ("https", "ssh", "file"):
        return Classified("git", location.text)
    raise InstallSourceError(f"Unsupported install source {shown}: use an https://, ssh:// "
                             "or file:// URL, user@host:path, an archive or a directory")


def _classify_path(path: Path, ref: str | None, shown: str) -> Classified:
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError as exc:  # a name too long for the file system
        raise InstallSourceError(f"Install source {shown} cannot be used: {exc.strerror}") \
            from None
    if is_file:
        _no_ref(ref, "an archive")
        return Classified("archive_file", str(path.resolve()))
    if is_dir:
        resolved = path.resolve()
        if ref is not None or (not (resolved / "pack.yaml").exists() and _is_git_repo(resolved)):
            return Classified("git", str(resolved))
        return Classified("directory", str(resolved))
    raise InstallSourceError(f"Install source {shown} not found: give a git URL, an archive "
                             "(a path or an https:// URL) or a pack directory")


def _is_file(path: Path, shown: str) -> bool:
    try:
        return path.is_file()
    except OSError as exc:  # a name too long for the file system
        raise InstallSourceError(f"Install source {shown} cannot be used: {exc.strerror}") \
            from None


class SourceNotAllowedError(RegistryError):
    """Raised when the API is asked to fetch from a source its operator did not allow (403)."""

    code = "FORBIDDEN"


def check_allowed_source(source: str, allowed: tuple[str, ...]) -> str:
    """Refuse a remote ``source`` that starts with none of the ``allowed`` prefixes (none
    configured: any), and return its normalised text, the one to fetch.

    Source and prefixes are both normalised by ``parse_location`` (a source with a dot
    segment or an ambiguous escape is refused before any comparison) and compared without
    credentials, so ``https://good.example@evil.example/`` is judged by its real host; a
    prefix ends at a ``/`` boundary (``…/acme`` does not allow ``…/acme-evil``). Redirects of
    an archive download are not judged: release archives commonly redirect to another host
    (they are https only, and their addresses are judged like the first one's).

    Raises:
        InstallSourceError, SourceNotAllowedError.
    """
    location = parse_location(source)
    if not allowed:
        return location.text
    bare = _without_credentials(location)
    for prefix in map(_allowed_prefix, allowed):
        if bare == prefix or bare.startswith(prefix if prefix.endswith(("/", ":"))
                                             else f"{prefix}/"):
            return location.text
    raise SourceNotAllowedError(f"Install source {shown_source(source)} is not under the "
                                f"server's allowed install sources: {', '.join(allowed)}")


def _allowed_prefix(prefix: str) -> str:
    try:
        return _without_credentials(parse_location(prefix))
    except InstallSourceError as exc:
        raise ConfigError(f"ATTUNE_INSTALL_SOURCES: {exc}") from None


def _without_credentials(location: Location) -> str:
    """A location's text with the password of a URL removed, and its user unless it is ssh's
    account name (so that ``ssh://git@host/`` prefixes still match)."""
    if location.kind != "url":
        return location.text
    parts = urlsplit(location.text)
    host = f"[{location.host}]" if ":" in location.host else location.host
    port = f":{location.port}" if location.port is not None else ""
    user = f"{parts.username}@" if parts.username and location.scheme == "ssh" else ""
    return urlunsplit((location.scheme, f"{user}{host}{port}", location.path, parts.query, ""))


def _no_ref(ref: str | None, what: str) -> None:
    if ref is not None:
        raise InstallSourceError(f"A ref (--ref, ref_spec) applies to git sources only, and "
                                 f"this source is {what}")


def shown_source(source: str) -> str:
    """A source as messages quote it: credentials masked, on one line, and when long cut at
    the start, not the end (the end of a path or URL is what tells which one it is)."""
    return quoted_end(redact_url(source))


def refuse_escaping_links(root: Path, shown: str) -> None:
    """Refuse symbolic links that are absolute or lead out of ``root``: installed files are
    kept by their digest, which covers a link's target text, not what it points to, so such a
    link would make the same digest mean different files on different machines. (Archives
    refuse every link.)"""
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_NAMES]
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            try:  # resolved for real: a link may go through other links, and `..` after them
                inside = not os.path.isabs(target) and path.resolve().is_relative_to(base)
            except (RuntimeError, OSError):  # a loop leads nowhere inside either
                inside = False
            if not inside:
                where = path.relative_to(root).as_posix()
                raise InstallSourceError(
                    f"Refused install source {shown_source(shown)}: {quoted(where)} is a symbolic "
                    f"link to {quoted(target)}, outside the pack")


def _is_git_repo(path: Path) -> bool:
    """A working tree (``.git``) or a bare repository (``HEAD`` and ``objects/``)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


class SourceFetcher:
    """Implements ``application.ports.PackFetcher``: fetched files go into a private directory
    under ``work_dir``, removed when the install is over (or swept after a crash)."""

    def __init__(self, work_dir: Path, timeout: Callable[[], float],
                 limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
        self.work_dir = work_dir
        # A callable, so that a bad setting fails the installs, not start-up.
        self.timeout = timeout
        self.limits = limits

    @contextmanager
    def fetch(self, source: str, ref: str | None) -> Iterator[Fetched]:
        found = classify(source, ref)
        if found.kind == "directory":
            refuse_escaping_links(Path(found.location), found.location)
            yield Fetched(found.location, DirectoryOrigin(source=found.location))
            return
        timeout = self.timeout()
        with private_dir(self.work_dir, "install") as staging:
            pack = staging / "pack"
            if found.kind == "git":
                fetched = fetch_git(found.location, pack, ref, timeout=timeout)
                _require_top_manifest(pack, found.location, ref)
                refuse_escaping_links(pack, redact_url(found.location))
                yield Fetched(str(pack), GitOrigin(source=redact_url(found.location), ref=ref,
                                                   commit=fetched.commit))
                return
            archive = Path(found.location)
            if found.kind == "archive_url":
                # The normalised URL, as judged: never the text as given.
                name = Path(unquote(urlsplit(found.location).path)).name
                archive = staging / "download"
                archive_digest = download(found.location, archive,
                                          max_bytes=self.limits.max_total_bytes, timeout=timeout)
            else:
                name = archive.name
            extract_archive(archive, pack, self.limits, name=name)
            if found.kind == "archive_file":
                archive_digest = _sha256(archive)
            yield Fetched(str(pack), ArchiveOrigin(source=redact_url(found.location),
                                                   archive_sha256=archive_digest))


def _require_top_manifest(pack: Path, location: str, ref: str | None) -> None:
    """Refuse a fetched git tree without a top-level ``pack.yaml``, naming the source and
    ref (the loader would name the private directory it was fetched into)."""
    manifest = pack / "pack.yaml"
    if manifest.exists() or manifest.is_symlink():  # a link is judged by the loader
        return
    at = f"at ref {quoted(ref)}" if ref is not None else "at its default branch"
    raise InstallSourceError(f"Install source {shown_source(location)} {at} has no pack.yaml "
                             "at the top of the repository: pack.yaml must be in the "
                             "repository's root directory")


def local_path(source: str) -> str | None:
    """The local path ``source`` names (absolute, lexically normalised), None for a remote
    source, judged from its text alone by ``parse_location``, as the fetcher judges it: the
    API checks local sources against its pack roots before it looks anything up, so that its
    answers cannot tell which paths exist outside them.

    Raises:
        InstallSourceError: the text is malformed or ambiguous.
    """
    location = parse_location(source)
    if location.kind == "path":
        return location.text
    return file_url_path(location)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
