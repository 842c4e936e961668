"""Where an installed pack's files came from, as its registration records it."""

from __future__ import annotations

from typing import Any

import msgspec


class GitOrigin(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="git"):
    """A git repository at a ref (None: the remote's HEAD), and the commit it resolved to."""

    source: str
    """The repository URL or path, credentials masked."""
    ref: str | None
    commit: str


class ArchiveOrigin(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="archive"):
    """An archive file or download, and the sha256 of its bytes."""

    source: str
    archive_sha256: str


class DirectoryOrigin(msgspec.Struct, frozen=True, kw_only=True, tag_field="type",
                      tag="directory"):
    """A pack directory, copied as it was."""

    source: str


class ReleaseOrigin(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="release"):
    """A release the registry kept, made active again (``attune pack activate``)."""

    registration_id: str
    """The earlier registration that committed it."""
    version: str
    digest: str


Origin = GitOrigin | ArchiveOrigin | DirectoryOrigin | ReleaseOrigin


def origin_to_dict(origin: Origin | None) -> dict[str, Any] | None:
    """As events and read models keep it: ``type`` first, then the fields of its kind."""
    if origin is None:
        return None
    data: dict[str, Any] = msgspec.to_builtins(origin)
    return data


def origin_from_dict(data: dict[str, Any] | None) -> Origin | None:
    """The inverse of ``origin_to_dict``."""
    return None if data is None else msgspec.convert(data, type=Origin)


def describe(origin: Origin | None) -> str:
    """Where a registration's files came from, in one line for people ("-": a registered
    directory, which records no origin)."""
    match origin:
        case GitOrigin():
            at = f" at {origin.ref}" if origin.ref else ""
            return f"git {origin.source}{at} (commit {origin.commit})"
        case ArchiveOrigin():
            return f"archive {origin.source} (sha256:{origin.archive_sha256})"
        case DirectoryOrigin():
            return f"directory {origin.source}"
        case ReleaseOrigin():
            return (f"kept release {origin.version} (sha256:{origin.digest}, first committed by "
                    f"registration {origin.registration_id})")
    return "-"
