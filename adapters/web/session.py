"""Dashboard sessions: a signed, expiring cookie that names the API token which signed in.

The cookie holds the token's id and an expiry, signed with HMAC-SHA256 under the server's
session key, never the token's secret: a copied cookie dies with its expiry, and every request
checks the token again (``ServedRegistry.session_actor``), so revoking the token ends its
sessions at once. The key comes from ``ATTUNE_WEB_SECRET`` or, by default, from a random key
file in the data directory, which every server process on that directory shares.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.store.files import PRIVATE_FILE_MODE, make_private_dir

COOKIE = "attune_session"
LIFETIME_SECONDS = 8 * 3600
KEY_FILE = "web-session.key"
MIN_SECRET_CHARS = 32


class SessionKey:
    """Seals a token id with an expiry into a cookie value, and opens it again. The key may be
    given as a function, called on first use: a server nobody signs in to writes no key file."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._load = key if callable(key) else lambda: key

    @functools.cached_property
    def _key(self) -> bytes:
        return self._load()

    def seal(self, token_id: UUID, *, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
        payload = f"{token_id.hex}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def open(self, value: str | None, *, now: float | None = None) -> UUID | None:
        """The token id of a valid, unexpired cookie value; None for anything else."""
        if not value:
            return None
        token_hex, _, rest = value.partition(".")
        expires, _, signature = rest.partition(".")
        payload = f"{token_hex}.{expires}"
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        if not expires.isdigit() or int(expires) <= (now if now is not None else time.time()):
            return None
        try:
            return UUID(hex=token_hex)
        except ValueError:
            return None

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_key(settings: Settings) -> SessionKey:
    """The key of ``ATTUNE_WEB_SECRET``, or of the data directory's key file (made on first use).

    Raises: ConfigError for a secret shorter than 32 characters.
    """
    secret = settings.web_secret_setting
    if secret:
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"ATTUNE_WEB_SECRET must be at least {MIN_SECRET_CHARS} "
                              f"characters long (got {len(secret)})")
        return SessionKey(hashlib.sha256(secret.encode()).digest())
    return SessionKey(lambda: _key_file(settings.home / KEY_FILE))


def _key_file(path: Path) -> bytes:
    """Read the key file, or create it: written whole under a temporary name, then linked into
    place, so that server processes starting together all end up with the first one's key."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    make_private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(32).hex().encode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        draft.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ConfigError(f"{path} does not hold a session key; remove it to make a new one")
    return key
