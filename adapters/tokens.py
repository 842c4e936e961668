"""Bearer tokens: minting, parsing and checking them against the event log.

A token reads ``attn_<token id>_<secret>``. Only sha256(secret) is stored (the secret is 256
random bits, so a slow hash would add nothing); checks compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import UUID

from attune_registry.domain.errors import RegistryError, TokenNotFoundError

from attune_registry.application.registry import PackRegistry

PREFIX = "attn"


class AuthenticationError(RegistryError):
    """Raised when a request carries no valid token (HTTP 401)."""

    code = "UNAUTHORIZED"


class PermissionDeniedError(RegistryError):
    """Raised when a valid token lacks the scope a request needs (HTTP 403)."""

    code = "FORBIDDEN"


def mint() -> tuple[str, str]:
    """A new secret and its hash."""
    secret = secrets.token_urlsafe(32)
    return secret, digest(secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_token(token_id: UUID, secret: str) -> str:
    return f"{PREFIX}_{token_id.hex}_{secret}"


def parse_token(text: str) -> tuple[UUID, str] | None:
    prefix, _, rest = text.partition("_")
    token_hex, _, secret = rest.partition("_")
    if prefix != PREFIX or not secret:
        return None
    try:
        return UUID(hex=token_hex), secret
    except ValueError:
        return None


def authenticate(app: PackRegistry, text: str | None, scope: str) -> str:
    """Check a bearer token for ``scope``; returns the token's name (who is acting).

    Raises:
        AuthenticationError: missing, malformed, unknown, wrong or revoked token.
        PermissionDeniedError: a valid token without the scope.
    """
    parsed = parse_token(text or "")
    if parsed is None:
        raise AuthenticationError("Missing or invalid bearer token")
    token_id, secret = parsed
    try:
        token = app.get_token(token_id)
    except TokenNotFoundError:
        raise AuthenticationError("Missing or invalid bearer token") from None
    if not hmac.compare_digest(token.secret_hash, digest(secret)) or token.revoked:
        raise AuthenticationError("Missing or invalid bearer token")
    if not token.allows(scope):
        raise PermissionDeniedError(f"Token '{token.name}' has scope '{token.scope}'; "
                                    f"this request needs '{scope}'")
    return f"token:{token.name}"


def authenticate_id(app: PackRegistry, token_id: UUID, scope: str) -> str:
    """Check a token already proven by its secret (a dashboard session names it by id) for
    ``scope``, from the event log: revoking the token ends its sessions too.

    Raises:
        AuthenticationError: unknown or revoked token.
        PermissionDeniedError: a valid token without the scope.
    """
    try:
        token = app.get_token(token_id)
    except TokenNotFoundError:
        raise AuthenticationError("Missing or invalid bearer token") from None
    if token.revoked:
        raise AuthenticationError("Missing or invalid bearer token")
    if not token.allows(scope):
        raise PermissionDeniedError(f"Token '{token.name}' has scope '{token.scope}'; "
                                    f"this request needs '{scope}'")
    return f"token:{token.name}"
