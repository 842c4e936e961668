"""``GET /metrics``: Prometheus metrics (see ``adapters.observability.metrics``).

Guarded by a ``read`` token like the API's reads, unless ``ATTUNE_METRICS_PUBLIC=1`` opens it
(for a scraper inside a trusted network). Not in the OpenAPI document: it is no API resource.
"""

from __future__ import annotations

import threading
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler

from attune_registry.application.registry import PackRegistry

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.observability.figures import LogFigures
from attune_registry.adapters.observability.metrics import StoreReads, exposition

PATH = "/metrics"
_building = threading.Lock()


def metrics_route(*, public: bool) -> HTTPRouteHandler:
    """The ``/metrics`` handler; ``public`` drops its token guard."""

    @get(PATH, include_in_schema=False, sync_to_thread=True,
         guards=[] if public else [requires("read")])
    def metrics(request: Request[Any, Any, Any],
                registry: NamedDependency[ServedRegistry]) -> Response[bytes]:
        reads = store_reads(request.app.state, registry)
        health = reads.read()
        body, content_type = exposition(health, reads.figures, request.headers.get("accept", ""))
        # Litestar adds the charset of a text type itself.
        return Response(body, media_type=content_type.replace("; charset=utf-8", ""))

    return metrics


def warm_up(app: Litestar) -> None:
    """A start-up hook: fold the event log in the background, so that the first scrape (which
    would otherwise read the whole log: about 25,000 events a second, see
    ``bench/metrics_scrape.py``) finds the figures current."""
    store_reads(app.state, app.state.registry).warm_up()


def stop_store_reads(state: State) -> None:
    """Stop this process's reads for scrapes (the fold started at start-up), as the server
    stops and before its store is closed."""
    with _building:
        reads: StoreReads | None = state.get("store_reads")
    if reads is not None:
        reads.close()


def store_reads(state: State, registry: ServedRegistry) -> StoreReads:
    """This process's reads for scrapes, made on first use: its fold of the event log (none
    for a registry that has no event log here) and the health figures."""
    with _building:
        if state.get("store_reads") is None:
            app = getattr(registry, "app", None)
            figures = LogFigures(app.recorder) if isinstance(app, PackRegistry) else None
            state["store_reads"] = StoreReads(figures, registry.health)
        reads: StoreReads = state["store_reads"]
        return reads
