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


Origin = GitOrigin | ArchiveOrigin | DirectoryOrigin


def origin_to_dict(origin: Origin | None) -> dict[str, Any] | None:
    """As events and read models keep it: ``type`` first, then the fields of its kind."""
    if origin is None:
        return None
    data: dict[str, Any] = msgspec.to_builtins(origin)
    return data


def origin_from_dict(data: dict[str, Any] | None) -> Origin | None:
    """The inverse of ``origin_to_dict``."""
    return None if data is None else msgspec.convert(data, type=Origin)
