"""Observability of the HTTP application: ``/metrics``, request ids, latency, log context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune_registry.adapters.http.metrics import metrics_route, warm_up
from attune_registry.adapters.observability.requests import ObservedRequests

if TYPE_CHECKING:
    from litestar import Litestar

    from attune_registry.adapters.settings import Settings


def observe(app: Litestar, settings: Settings) -> Litestar:
    """``app`` with ``/metrics`` (public if the settings say so, its figures folded from the
    log from start-up on) and every request observed: the wrapper goes around the router, so
    that requests no route matched count too."""
    app.register(metrics_route(public=settings.metrics_public))
    app.on_startup.append(warm_up)
    app.asgi_handler = ObservedRequests(app.asgi_handler)
    return app
