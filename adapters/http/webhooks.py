"""``/api/v1/webhooks``: add, list, remove and test webhooks, and see their deliveries; and the
server's background delivery (``attune serve``)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Litestar, Request, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from attune_registry.domain.webhook import WEBHOOK_EVENT_TYPES

from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.body import json_body
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.webhooks import Webhooks
from attune_registry.adapters.webhooks.rows import DeliveryRow, WebhookCreated, WebhookRow

ERRORS = documented_errors(*COMMON_ERRORS, 409)
BODY_ERRORS = documented_errors(*COMMON_ERRORS, 409, 415)
Limit = Annotated[int, QueryParameter(ge=1, le=500, description="How many (at most 500).")]


class WebhookAdd(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Send the events ``event_types`` to ``url`` (https; a public address unless the server
    allows others)."""

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    event_types: list[str] = msgspec.field(default_factory=lambda: list(WEBHOOK_EVENT_TYPES))
    """Any of ``registration.committed``, ``registration.rejected``, ``test_run.completed``
    (default: all)."""


class WebhookCreatedEnvelope(msgspec.Struct):
    data: WebhookCreated
    """The webhook, and its signing secret: shown this once."""
    message: str


class WebhookEnvelope(msgspec.Struct, omit_defaults=True):
    data: WebhookRow
    message: str | None = None


class WebhookList(msgspec.Struct):
    data: list[WebhookRow]


class DeliveryEnvelope(msgspec.Struct):
    data: DeliveryRow


class DeliveryList(msgspec.Struct):
    data: list[DeliveryRow]


class LazyWebhooks:
    """The server's ``Webhooks``, built on first use (on the registry's own event log)."""

    def __init__(self, settings: Settings, registry: Callable[[], Any]) -> None:
        self.settings = settings
        self.registry = registry
        self.lock = threading.Lock()
        self.built: Webhooks | None = None

    def get(self) -> Webhooks:
        with self.lock:
            if self.built is None:
                from attune_registry.adapters.webhooks import build_webhooks

                app = getattr(self.registry(), "app", None)
                if app is None:
                    raise ConfigError("Webhooks need the registry's local store")
                self.built = build_webhooks(app, self.settings)
            return self.built

    def close(self) -> None:
        if self.built is not None:
            self.built.close()


def webhook_lifespan(settings: Settings, *, deliver: bool
                     ) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Puts the webhooks in ``app.state``; with ``deliver`` (``attune serve``), also delivers
    in a background thread until the server stops."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        lazy = LazyWebhooks(settings, lambda: app.state.registry)
        app.state.webhooks = lazy
        background = None
        if deliver:
            from attune_registry.adapters.store.config import store_config
            from attune_registry.adapters.webhooks.runner import BackgroundDelivery, ensure_queue

            config = store_config(settings)
            ensure_queue(config)
            background = BackgroundDelivery(lazy.get(), config)
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            lazy.close()

    return lifespan


def provide_webhooks(state: State) -> Webhooks:
    lazy: LazyWebhooks = state.webhooks
    return lazy.get()


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    security = [{"BearerToken": []}]
    dependencies = {"webhooks": Provide(provide_webhooks, sync_to_thread=True)}

    @post("/", responses=BODY_ERRORS, status_code=201, guards=[requires("write")],
          before_request=json_body(WebhookAdd), sync_to_thread=True,
          operation_id="addWebhook", summary="Add a webhook; its signing secret is shown once")
    def add(self, data: JSONBody[WebhookAdd], request: Request[Any, Any, Any],
            webhooks: NamedDependency[Webhooks]) -> WebhookCreatedEnvelope:
        created = webhooks.add(data.url, data.event_types, actor=request.state.actor)
        return WebhookCreatedEnvelope(data=created, message="Webhook added; its secret will "
                                                            "not be shown again")

    @get("/", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="listWebhooks", summary="The webhooks (never their secrets)")
    def list_webhooks(self, webhooks: NamedDependency[Webhooks],
                      include_removed: Annotated[bool, QueryParameter(
                          name="all", description="Removed webhooks too.")] = False,
                      ) -> WebhookList:
        return WebhookList(data=webhooks.hooks(include_removed=include_removed))

    @get("/deliveries", responses=ERRORS, guards=[requires("read")], sync_to_thread=True,
         operation_id="listWebhookDeliveries",
         summary="The newest deliveries, each with every attempt")
    def deliveries(self, webhooks: NamedDependency[Webhooks],
                   webhook: FromQuery[UUID | None] = None, limit: Limit = 50) -> DeliveryList:
        hook = str(webhook) if webhook is not None else None
        return DeliveryList(data=webhooks.deliveries(hook, limit=limit))

    @get("/{webhook_id:uuid}", responses=ERRORS, guards=[requires("read")],
         sync_to_thread=True, operation_id="getWebhook", summary="One webhook")
    def get_webhook(self, webhook_id: FromPath[UUID],
                    webhooks: NamedDependency[Webhooks]) -> WebhookEnvelope:
        return WebhookEnvelope(data=webhooks.get(str(webhook_id)))

    @delete("/{webhook_id:uuid}", responses=ERRORS, status_code=200,
            guards=[requires("write")], sync_to_thread=True, operation_id="removeWebhook",
            summary="Remove a webhook: nothing more is sent to it")
    def remove(self, webhook_id: FromPath[UUID], request: Request[Any, Any, Any],
               webhooks: NamedDependency[Webhooks]) -> WebhookEnvelope:
        row = webhooks.remove(str(webhook_id), actor=request.state.actor)
        return WebhookEnvelope(data=row, message="Webhook removed")

    @post("/{webhook_id:uuid}/test", responses=ERRORS, status_code=200,
          guards=[requires("write")], sync_to_thread=True, operation_id="testWebhook",
          summary="Send a signed webhook.test message now, once; the delivery says how it went")
    def test(self, webhook_id: FromPath[UUID],
             webhooks: NamedDependency[Webhooks]) -> DeliveryEnvelope:
        return DeliveryEnvelope(data=webhooks.test(str(webhook_id)))
