"""The ApiToken aggregate: a bearer token's name, scope and hash (never the token itself)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.errors import RegistryError, TokenNotFoundError
from attune_registry.domain.vocabulary import TOKEN_SCOPES, TokenScope

MAX_NAME_CHARS = 100


class InvalidScopeError(RegistryError):
    """Raised when a token scope is not one we know."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"Unknown token scope '{scope}' (use read or write)")


class InvalidTokenNameError(RegistryError):
    """Raised when a token name is empty or too long."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Token name {name!r} must be 1 to {MAX_NAME_CHARS} characters")


class TokenNameTakenError(RegistryError):
    """Raised when a live token already has the name: names are how people revoke tokens."""

    code = "CONFLICT"

    def __init__(self, name: str) -> None:
        super().__init__(f"A live token is already called '{name}'; revoke it or pick another "
                         "name")


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

    class TokenIssued(Aggregate.Created):
        """A token was issued: its name, scope and the hash of its secret."""

        TOPIC = "attune:ApiToken.TokenIssued"

        name: str
        scope: TokenScope
        secret_hash: str
        issued_by: str

    class TokenRevoked(Aggregate.Event):
        TOPIC = "attune:ApiToken.TokenRevoked"

        actor: str

    @classmethod
    def issue(cls, *, name: str, scope: str, secret_hash: str, issued_by: str,
              live_names: Collection[str] = ()) -> ApiToken:
        """A new token, unless its name is unusable or taken by one of ``live_names``.

        Raises:
            InvalidTokenNameError, TokenNameTakenError, InvalidScopeError.
        """
        if not name.strip() or len(name) > MAX_NAME_CHARS:
            raise InvalidTokenNameError(name)
        if name in live_names:
            raise TokenNameTakenError(name)
        if scope not in TOKEN_SCOPES:
            raise InvalidScopeError(scope)
        return cls(name=name, scope=scope, secret_hash=secret_hash, issued_by=issued_by)

    @event(TokenIssued)
    def __init__(self, *, name: str, scope: TokenScope, secret_hash: str,
                 issued_by: str) -> None:
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

    @event(TokenRevoked)
    def _revoke(self, *, actor: str) -> None:
        self.revoked = True


def token_meant(name_or_id: str, tokens: Iterable[tuple[str, str, bool]]) -> str:
    """The id of the token ``name_or_id`` means: the token with that id, or the one live token
    with that name.

    Args:
        name_or_id: what the user typed.
        tokens: (id, name, revoked) of every token.

    Raises:
        TokenRevokedError: it names only revoked tokens.
        TokenNotFoundError: it names no token, or several live ones.
    """
    named = [(token_id, name, revoked) for token_id, name, revoked in tokens
             if name_or_id in (token_id, name)]
    live = [token_id for token_id, _, revoked in named if not revoked]
    if not live and named:
        raise TokenRevokedError(named[0][1])
    if len(live) != 1:
        raise TokenNotFoundError(name_or_id)
    return live[0]
