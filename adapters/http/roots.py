"""What the API may read and fetch: local paths under its pack roots, remote sources it allows."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.install.network import AddressPolicy
from attune_registry.adapters.settings import allow_private_addresses


class OutsidePackRootsError(RegistryError):
    """Raised when a path to register is not under the server's pack roots (HTTP 403)."""

    code = "FORBIDDEN"


class InvalidPackPathError(RegistryError):
    """Raised when a path to register cannot name a directory at all (NUL, name too long...)."""


def check_pack_root(path: str, roots: tuple[Path, ...], shown: str | None = None) -> str:
    """The server only reads packs under its configured roots; returns the resolved path,
    the one to read.

    The path is first made absolute and normalised without touching the file system
    (``..`` removed as text) and compared with the roots: a path outside them is refused
    before any file system call on it, so answers cannot tell what exists there. Only a path
    inside is resolved (symlinks followed), and the result is compared with the resolved
    roots once more: a symlink inside a root cannot lead out of it. Messages name ``shown``
    (default: ``path``).

    Raises:
        InvalidPackPathError, OutsidePackRootsError.
    """
    shown = path if shown is None else shown
    if "\x00" in path:
        raise InvalidPackPathError("Path must not contain NUL characters")
    lexical = Path(os.path.normpath(os.path.abspath(os.path.expanduser(path))))
    if not any(lexical.is_relative_to(_lexical(root)) for root in roots):
        raise _outside(shown, roots)
    try:
        resolved = lexical.resolve()
        inside = any(resolved.is_relative_to(root.resolve()) for root in roots)
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        reason = getattr(exc, "strerror", None) or exc
        raise InvalidPackPathError(f"Path {shown} cannot be used: {reason}") from None
    if not inside:
        raise _outside(shown, roots)
    try:
        resolved.exists()
    except OSError as exc:  # a name too long for the filesystem: say so before loading
        raise InvalidPackPathError(f"Path {shown} cannot be used: {exc.strerror}") from None
    return str(resolved)


def _lexical(root: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(root)))


def _outside(path: str, roots: tuple[Path, ...]) -> OutsidePackRootsError:
    listed = ", ".join(str(root) for root in roots)
    return OutsidePackRootsError(f"Path {path} is outside the server's pack roots: {listed}")


def check_install_source(source: str, roots: tuple[Path, ...], allowed: tuple[str, ...]) -> str:
    """A local source must be under the pack roots, judged from its text before anything is
    looked up (so answers cannot tell which paths exist outside them); a remote one must be
    under the allowed install sources. Both are judged on the text ``parse_location``
    classifies and normalises, the fetcher's own.

    Returns:
        What to fetch: the normalised URL, or the resolved path (as a ``file://`` URL when it
        was given as one).

    Raises:
        InstallSourceError, InvalidPackPathError, OutsidePackRootsError,
        SourceNotAllowedError.
    """
    from attune_registry.adapters.install.sources import check_allowed_source, local_path

    if "\x00" in source:
        raise InvalidPackPathError("Path must not contain NUL characters")
    local = local_path(source)
    if local is None:
        return check_allowed_source(source, allowed)
    is_url = "://" in source
    resolved = check_pack_root(local, roots, shown=local if is_url else source)
    return Path(resolved).as_uri() if is_url else resolved


def install_address_policy(state: Any) -> AddressPolicy:
    """The addresses API installs may connect to: public ones only, unless the operator set
    ``ATTUNE_INSTALL_ALLOW_PRIVATE`` (read when an install runs: a bad value fails installs
    with 503, not start-up)."""
    return AddressPolicy(allow_private=allow_private_addresses(
        getattr(state, "install_allow_private", "")))
