"""The ApiToken aggregate: a bearer token's name, scope and hash (never the token itself)."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from domain.errors import RegistryError

SCOPES = ("read", "write")


class InvalidScopeError(RegistryError):
    """Raised when a token scope is not one we know."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"Unknown token scope '{scope}' (use read or write)")


class TokenRevokedError(RegistryError):
    """Raised when revoking a token that is already revoked."""

    code = "CONFLICT"

    def __init__(self, name: str) -> None:
        super().__init__(f"Token '{name}' is already revoked")


class ApiToken(Aggregate):
    """An API token. ``write`` includes ``read``. Topics are pinned: they are persisted."""

    TOPIC = "attune:ApiToken"

    class Created(Aggregate.Created):
        # Redefined by the library on every aggregate; pinned like all our topics.
        TOPIC = "attune:ApiToken.Created"

    @classmethod
    def issue(cls, *, name: str, scope: str, secret_hash: str, issued_by: str) -> ApiToken:
        """Raises: InvalidScopeError."""
        if scope not in SCOPES:
            raise InvalidScopeError(scope)
        return cls(name=name, scope=scope, secret_hash=secret_hash, issued_by=issued_by)

    @event("TokenIssued", topic="attune:ApiToken.TokenIssued")
    def __init__(self, *, name: str, scope: str, secret_hash: str, issued_by: str) -> None:
        self.name = name
        self.scope = scope
        self.secret_hash = secret_hash  # sha256 of the secret part; the secret is never stored
        self.issued_by = issued_by
        self.revoked = False

    def allows(self, scope: str) -> bool:
        return not self.revoked and (self.scope == scope or self.scope == "write")

    def revoke(self, *, actor: str) -> None:
        if self.revoked:
            raise TokenRevokedError(self.name)
        self._revoke(actor=actor)

    @event("TokenRevoked", topic="attune:ApiToken.TokenRevoked")
    def _revoke(self, *, actor: str) -> None:
        self.revoked = True
