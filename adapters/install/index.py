"""The pack index (``ATTUNE_PACK_INDEX``): where ``--install-deps`` finds the versions of packs.

A YAML (or JSON) file, local or at an ``https://`` URL::

    packs:
      core:
        "1.2.0": {source: "https://example.org/core-1.2.0.tar.gz", digest: "sha256:<hex>"}
        "1.3.0": {source: "https://git.example.org/core.git", git_ref: v1.3.0}

Each version (semantic, e.g. ``1.3.0``) names what ``attune pack install SOURCE [--ref
GIT_REF] [--digest DIGEST]`` would install: ``source`` (required), ``git_ref`` (git sources
only) and ``digest`` (the content's ``sha256:``, refusing any other). Sources follow install's
rules; a relative path in a local index is relative to the index's folder, and an index read
from a URL may name remote sources only. Any problem refuses the whole index with a message
naming the entry.

Through the HTTP API, each source to fetch is judged as the API judges install sources (pack
roots, ``ATTUNE_INSTALL_SOURCES``; see ``judged_sources``), and downloads connect only where
the install address policy allows (``adapters.install.network``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from semantic_version import Version

from attune_registry.domain.errors import ManifestError, RegistryError
from attune_registry.domain.refs import REF_PATTERN
from attune_registry.domain.resolution import IndexEntry, PackIndexEntries
from attune_registry.domain.text import path_part, quoted, quoted_end

from attune_registry.adapters.install.download import download
from attune_registry.adapters.install.location import InstallSourceError, parse_location
from attune_registry.adapters.install.sources import ARCHIVE_SUFFIXES
from attune_registry.adapters.packs.yamlfile import MAX_FILE_BYTES, read_yaml
from attune_registry.adapters.redact import redact_url

ENTRY_KEYS = ("source", "git_ref", "digest")
MAX_ENTRIES = 10_000

# How the current caller may fetch an entry's source (the API's rules), if it has any.
_judge: ContextVar[Callable[[str], str] | None] = ContextVar("index_source_judge", default=None)


class PackIndexError(RegistryError):
    """Raised when the pack index is not configured, cannot be read or is invalid; the
    message names the index (credentials masked) and the entry."""


class IndexNotConfiguredError(PackIndexError):
    def __init__(self) -> None:
        super().__init__("--install-deps needs a pack index: set ATTUNE_PACK_INDEX to the "
                         "path or https:// URL of a YAML file mapping pack refs and versions "
                         "to sources (see docs/install.md)")


@contextmanager
def judged_sources(judge: Callable[[str], str]) -> Iterator[None]:
    """While the block runs, every index source to fetch goes through ``judge`` (which
    returns the text to fetch, or raises RegistryError)."""
    token = _judge.set(judge)
    try:
        yield
    finally:
        _judge.reset(token)


class ConfiguredIndex:
    """Implements ``application.ports.PackIndex`` for the setting ``ATTUNE_PACK_INDEX``."""

    def __init__(self, setting: str, work_dir: Path, timeout: Callable[[], float]) -> None:
        self.setting = setting.strip()
        self.work_dir = work_dir
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        return bool(self.setting)

    def entries(self) -> PackIndexEntries:
        """Read the index now (it may have changed since the last time).

        Raises:
            PackIndexError, and the download's errors for an index at a URL.
        """
        if not self.setting:
            raise IndexNotConfiguredError()
        return load_index(self.setting, self.work_dir, self.timeout())

    def source_of(self, entry: IndexEntry) -> str:
        judge = _judge.get()
        return entry.source if judge is None else judge(entry.source)


def load_index(location: str, work_dir: Path, timeout: float) -> PackIndexEntries:
    """The index at ``location`` (a path or an https:// URL), validated.

    Raises:
        PackIndexError, DownloadError.
    """
    from attune_registry.adapters.packs.workspace import private_dir

    shown = f"Pack index {quoted_end(redact_url(location))}"
    if "://" not in location:
        path = Path(location).expanduser().absolute()
        return parse_index(_read(path, shown), shown, base=path.parent)
    try:
        where = parse_location(location)
    except InstallSourceError as exc:
        raise PackIndexError(f"ATTUNE_PACK_INDEX: {exc}") from None
    if where.scheme == "file":
        path = Path(os.path.normpath(where.path or "/"))
        return parse_index(_read(path, shown), shown, base=path.parent)
    if where.scheme != "https":
        raise PackIndexError(f"ATTUNE_PACK_INDEX must be a path or an https:// URL, got "
                             f"{quoted(redact_url(location))}")
    with private_dir(work_dir, "index") as staging:
        target = staging / "index.yaml"
        download(where.text, target, max_bytes=MAX_FILE_BYTES, timeout=timeout)
        return parse_index(_read(target, shown), shown, base=None)


def _read(path: Path, shown: str) -> Any:
    """The decoded file; a link to an index elsewhere is followed (the operator's choice)."""
    try:
        return read_yaml(path, shown, path.resolve().parent)
    except ManifestError as exc:
        raise PackIndexError(f"{shown}: {exc.problem}") from None


def parse_index(data: Any, shown: str, base: Path | None) -> dict[str, dict[str, IndexEntry]]:
    """The entries of a decoded index; ``base``: the folder relative paths start from (None:
    the index came from a URL, and local sources are refused).

    Raises:
        PackIndexError: naming the entry and what is wrong with it.
    """
    if not isinstance(data, dict) or set(data) != {"packs"}:
        raise PackIndexError(f"{shown}: expected a mapping with one key, 'packs' (ref -> "
                             "version -> {source, git_ref, digest})")
    packs = data["packs"]
    if not isinstance(packs, dict):
        raise PackIndexError(f"{shown}: packs: expected a mapping of pack refs to versions")
    index: dict[str, dict[str, IndexEntry]] = {}
    count = 0
    for ref, versions in packs.items():
        where = f"packs.{path_part(ref)}"
        if not REF_PATTERN.fullmatch(ref):
            raise PackIndexError(f"{shown}: {where}: {quoted(ref)} is not a pack ref (lowercase "
                                 "letters, digits, '-' and '_', starting with a letter)")
        if not isinstance(versions, dict) or not versions:
            raise PackIndexError(f"{shown}: {where}: expected a mapping of versions to "
                                 "{source, git_ref, digest}")
        count += len(versions)
        if count > MAX_ENTRIES:
            raise PackIndexError(f"{shown}: more than {MAX_ENTRIES} entries")
        index[ref] = {}
        for version, entry in versions.items():
            index[ref][version] = _entry(ref, version, entry, f"{shown}: {where}."
                                         f"{path_part(version)}", base)
    return index


def _entry(ref: str, version: str, entry: Any, where: str, base: Path | None) -> IndexEntry:
    try:
        if str(Version(version)) != version:
            raise ValueError
    except ValueError:
        raise PackIndexError(f"{where}: {quoted(version)} is not a semantic version "
                             "(MAJOR.MINOR.PATCH, e.g. '1.2.0'; quote it in YAML)") from None
    if not isinstance(entry, dict):
        raise PackIndexError(f"{where}: expected a mapping such as {{source: URL}}")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise PackIndexError(f"{where}: unknown key {quoted(unknown[0])} (an entry has "
                             f"{', '.join(ENTRY_KEYS)})")
    source, git_ref, digest = (entry.get(key) for key in ENTRY_KEYS)
    if not isinstance(source, str) or not source.strip():
        raise PackIndexError(f"{where}: source: required, the text of a pack source as "
                             "`attune pack install SOURCE` takes it")
    if git_ref is not None and (not isinstance(git_ref, str) or not git_ref.strip()
                                or git_ref.startswith("-") or len(git_ref) > 255):
        raise PackIndexError(f"{where}: git_ref: expected a git tag, branch or commit")
    return IndexEntry(ref=ref, version=version, source=_source(source, git_ref, where, base),
                      git_ref=git_ref, digest=_digest(digest, where))


def _source(source: str, git_ref: str | None, where: str, base: Path | None) -> str:
    """The source as install would take it (a relative path made absolute from ``base``).

    Raises:
        PackIndexError: what install would refuse from its text alone.
    """
    text = source
    is_path = "://" not in source and not _scp_like(source)
    if is_path and base is not None and not os.path.isabs(os.path.expanduser(source)):
        text = str(base / source)
    try:
        location = parse_location(text)
    except InstallSourceError as exc:
        raise PackIndexError(f"{where}: source: {exc}") from None
    if base is None and (location.kind == "path" or location.scheme == "file"):
        raise PackIndexError(f"{where}: source: a pack index read from a URL may name remote "
                             "sources only (https://, ssh://, user@host:path)")
    if location.kind == "url" and location.scheme not in ("https", "ssh", "file"):
        raise PackIndexError(f"{where}: source: {location.scheme}:// is not an install source "
                             "(use https://, ssh://, file://, user@host:path or a path)")
    if (git_ref is not None and location.scheme == "https"
            and location.path.lower().endswith(ARCHIVE_SUFFIXES)):
        raise PackIndexError(f"{where}: git_ref applies to git sources only, and this source "
                             "is an archive")
    return location.text


def _scp_like(source: str) -> bool:
    colon, slash = source.find(":"), source.find("/")
    return colon != -1 and (slash == -1 or colon < slash)


def _digest(digest: Any, where: str) -> str | None:
    from attune_registry.application.commands import InvalidDigestError, parse_digest

    if digest is None:
        return None
    if not isinstance(digest, str):
        raise PackIndexError(f"{where}: digest: expected sha256:<64 hex digits>")
    try:
        return parse_digest(digest)
    except InvalidDigestError:
        raise PackIndexError(f"{where}: digest: expected sha256:<64 hex digits>, got "
                             f"{quoted(digest)}") from None
