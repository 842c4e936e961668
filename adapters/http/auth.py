"""Bearer-token guards: ``read`` for queries, ``write`` for commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException
from litestar.handlers.base import BaseRouteHandler

from attune_registry.adapters.contract import ServedRegistry


def requires(scope: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard admitting requests whose bearer token allows ``scope``; it records who acts."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], __: BaseRouteHandler) -> None:
        sent = connection.headers.getall("authorization", [])
        if len(sent) > 1:  # a proxy may have checked one and we would read another
            raise ClientException(f"Send one Authorization header, not {len(sent)}")
        scheme, _, token = (sent[0] if sent else "").partition(" ")
        registry: ServedRegistry = connection.app.state.registry
        actor = registry.authenticate(token.strip() if scheme.lower() == "bearer" else None, scope)
        connection.state.actor = actor

    return guard
