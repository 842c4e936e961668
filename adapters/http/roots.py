"""What the API may read and fetch: local paths under its pack roots, remote sources it allows."""

from __future__ import annotations

from pathlib import Path

from domain.errors import RegistryError


class OutsidePackRootsError(RegistryError):
    """Raised when a path to register is not under the server's pack roots (HTTP 403)."""

    code = "FORBIDDEN"


class InvalidPackPathError(RegistryError):
    """Raised when a path to register cannot name a directory at all (NUL, name too long...)."""


def check_pack_root(path: str, roots: tuple[Path, ...]) -> None:
    """The server only reads packs under its configured roots (symlinks resolved).

    Raises:
        InvalidPackPathError, OutsidePackRootsError.
    """
    if "\x00" in path:
        raise InvalidPackPathError("Path must not contain NUL characters")
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, ~user without a home
        raise InvalidPackPathError(f"Path {path} cannot be resolved: {exc}") from None
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        listed = ", ".join(str(root) for root in roots)
        raise OutsidePackRootsError(
            f"Path {path} is outside the server's pack roots: {listed}")
    try:
        resolved.exists()
    except OSError as exc:  # a name too long for the filesystem: say so before loading
        raise InvalidPackPathError(f"Path {path} cannot be used: {exc.strerror}") from None


def check_install_source(source: str, roots: tuple[Path, ...], allowed: tuple[str, ...]) -> None:
    """A local source must be under the pack roots, judged from its text before anything is
    looked up (so answers cannot tell which paths exist outside them); a remote one must be
    under the allowed install sources.

    Raises:
        InvalidPackPathError, OutsidePackRootsError, SourceNotAllowedError.
    """
    from adapters.install.sources import check_allowed_source, local_path

    local = local_path(source)
    if local is not None:
        check_pack_root(local, roots)
    else:
        check_allowed_source(source, allowed)
