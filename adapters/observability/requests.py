"""Every HTTP request observed: its id (``X-Request-ID``), its context for the logs, its latency.

``ObservedRequests`` wraps the whole ASGI application (routing included), so that a 404 from the
router, an error turned into a 500 and a response whose client went away are observed too:

- the request id is the one a client or proxy sent in ``X-Request-ID`` when it is a sane
  token, else a new one; it is returned in the response's ``X-Request-ID`` and is in the
  context of every log record of the request (uvicorn's access line included);
- when the response starts, the context learns the route template and who is acting (the
  token the guard accepted), for the access line;
- when the response ends (its last part is handed to the server), its duration goes to
  ``attune_http_request_duration_seconds``.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from attune_registry.adapters.observability import context
from attune_registry.adapters.observability.metrics import observe_request

REQUEST_ID_HEADER = "X-Request-ID"
# Requests that matched no route share one label: paths a client makes up are not labels.
UNMATCHED = "unmatched"


class ObservedRequests:
    """ASGI middleware around the application (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        sent = [value.decode("latin-1") for name, value in scope["headers"]
                if name.lower() == b"x-request-id"]
        request_id = context.accepted_request_id(sent)
        started = time.perf_counter()
        request_token, started_token = (context.request_id.set(request_id),
                                        context.started.set(started))
        route_token, actor_token = context.route.set(None), context.actor.set(None)
        status = 500  # unless a response starts: the server answers 500 to an escaped error
        observed = False

        def observe() -> None:
            nonlocal observed
            if not observed:
                observed = True
                observe_request(method, route_of(scope), status, time.perf_counter() - started)

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
                context.route.set(route_of(scope))
                context.actor.set(actor_of(scope))
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before its last bytes leave: a client that has the whole answer
                # finds the request in any scrape that follows.
                observe()
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            observe()  # no response, or an error before its end
            context.request_id.reset(request_token)
            context.started.reset(started_token)
            context.route.reset(route_token)
            context.actor.reset(actor_token)


def route_of(scope: Scope) -> str:
    """The route template the router matched (``/api/v1/packs/{ref}``), or ``unmatched``."""
    template = scope.get("path_template")  # set by Litestar's router on the scope it routes
    return template if isinstance(template, str) else UNMATCHED


def actor_of(scope: Scope) -> str | None:
    """Who the request acts as, once a token guard accepted it (``adapters.http.auth``)."""
    state: Any = scope.get("state") or {}
    found = state.get("actor") if isinstance(state, dict) else None
    return found if isinstance(found, str) else None
