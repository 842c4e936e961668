"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.activity import ActivityController, RefController
from attune_registry.adapters.http.compare import CompareController
from attune_registry.adapters.http.errors import (
    config_error,
    http_error,
    internal_error,
    registry_error,
    validation_error,
)
from attune_registry.adapters.http.flaky import FlakyController
from attune_registry.adapters.http.headers import add_safe_headers
from attune_registry.adapters.http.index import index
from attune_registry.adapters.http.metrics import stop_store_reads
from attune_registry.adapters.http.observe import observe
from attune_registry.adapters.http.packs import PackController
from attune_registry.adapters.http.registrations import RegistrationController, health
from attune_registry.adapters.http.schema_page import SwaggerPage
from attune_registry.adapters.http.versions import VersionsController
from attune_registry.adapters.http.webhooks import WebhookController, webhook_lifespan
from attune_registry.adapters.http.workers import WorkerController
from attune_registry.adapters.observability.logs import litestar_logging_config
from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.web.routes import dashboard_router, template_config
from attune_registry.adapters.web.session import session_key

# Request bodies are small JSON documents; anything larger is refused with 413.
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None,
               registry: ServedRegistry | None = None, *,
               deliver_webhooks: bool = False) -> Litestar:
    """The API. With no ``registry`` given, one is built from ``settings`` at startup.
    ``deliver_webhooks``: deliver in a background thread too (``attune serve``)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if registry is not None:
            app.state.registry = registry
            yield
            stop_store_reads(app.state)
            return
        from attune_registry.adapters.bootstrap import build_registry

        with build_registry(settings) as built:
            app.state.registry = built
            yield
            stop_store_reads(app.state)  # before the store closes under them

    def provide_registry(state: State) -> ServedRegistry:
        registry: ServedRegistry = state.registry
        return registry

    api = Router(path="/api/v1", route_handlers=[PackController, RegistrationController,
                                                 WorkerController, health])
    api.register(ActivityController)
    api.register(RefController)
    api.register(WebhookController)
    api.register(VersionsController)
    api.register(CompareController)
    api.register(FlakyController)
    app = Litestar(
        route_handlers=[index, api, dashboard_router()],
        lifespan=[lifespan, webhook_lifespan(settings, deliver=deliver_webhooks)],
        state=State({"pack_roots": settings.pack_roots,
                     "install_sources": settings.install_sources,
                     "install_allow_private": settings.install_allow_private_setting,
                     "session_key": session_key(settings)}),
        template_config=template_config(),
        dependencies={"registry": Provide(provide_registry, sync_to_thread=False)},
        exception_handlers={
            RegistryError: registry_error,
            ConfigError: config_error,
            ValidationException: validation_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
        request_max_body_size=MAX_BODY_BYTES,
        before_send=[add_safe_headers],
        openapi_config=OpenAPIConfig(
            title="Attune pack registry", version="1.0.0", path="/schema",
            render_plugins=[SwaggerPage()],
            components=Components(security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=False,
        logging_config=litestar_logging_config(settings.log_format),
    )
    return observe(app, settings)  # /metrics, request ids, latency


def app_from_env() -> Any:
    """ASGI entry point for servers: ``adapters.http.app:app_from_env`` (a factory), called in
    every worker process, which it first makes non-dumpable (see ``adapters.hardening``)."""
    from attune_registry.adapters.hardening import undumpable

    undumpable()
    return create_app(deliver_webhooks=True)
