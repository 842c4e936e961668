"""Webhooks on the local store, as the CLI and the API use them."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Concatenate, ParamSpec, TypeVar
from uuid import UUID, uuid4

from attune_registry.domain.webhook import (
    InvalidWebhookError,
    WebhookNotFoundError,
    WebhookRemovedError,
    parse_event_types,
)

from attune_registry.application.registry import STORE_FAILURES, PackRegistry
from attune_registry.application.webhooks import add_webhook, remove_webhook

from attune_registry.adapters.install.network import system_resolver
from attune_registry.adapters.webhooks.config import WebhookConfig
from attune_registry.adapters.webhooks.deliver import Outcome, attempt, deliver_due
from attune_registry.adapters.webhooks.dispatch import dispatch
from attune_registry.adapters.webhooks.outbox import Outbox
from attune_registry.adapters.webhooks.payloads import test_message
from attune_registry.adapters.webhooks.rows import DeliveryRow, WebhookCreated, WebhookRow
from attune_registry.adapters.webhooks.signing import new_secret
from attune_registry.adapters.webhooks.target import Resolver, judge_target

P = ParamSpec("P")
T = TypeVar("T")
MAX_LISTED_DELIVERIES = 500


def _store_errors(method: Callable[Concatenate[Webhooks, P], T]
                  ) -> Callable[Concatenate[Webhooks, P], T]:
    """A store that cannot be reached is one clear error (exit 1, or 503), as elsewhere."""

    @functools.wraps(method)
    def call(self: Webhooks, /, *args: P.args, **kwargs: P.kwargs) -> T:
        import psycopg

        try:
            return method(self, *args, **kwargs)
        except (sqlite3.OperationalError, psycopg.OperationalError, *STORE_FAILURES) as exc:
            raise self.unavailable(exc) from None

    return call


class Webhooks:
    """Add, list, remove and test webhooks; dispatch the log and attempt due deliveries."""

    def __init__(self, app: PackRegistry, outbox: Outbox, config: WebhookConfig, *,
                 store_kind: str = "sqlite", resolver: Resolver = system_resolver,
                 unavailable: Callable[[Exception], Exception] = lambda exc: exc) -> None:
        self.app = app
        self.outbox = outbox
        self.config = config
        self.store_kind = store_kind
        self.resolver = resolver
        self.unavailable = unavailable

    @_store_errors
    def add(self, url: str, event_types: list[str], *, actor: str) -> WebhookCreated:
        """Record a webhook for ``url`` (judged now) and make its secret, shown only here.

        Raises:
            InvalidWebhookError, TargetNotAllowedError: nothing is recorded.
        """
        types = parse_event_types(event_types)
        target = judge_target(url.strip(), self.config, self.resolver)
        secret = new_secret()
        kept: list[str] = []

        def keep(webhook_id: UUID) -> None:
            self.outbox.keep_secret(str(webhook_id), secret)
            kept.append(str(webhook_id))

        try:
            hook = add_webhook(self.app, url=target.url, event_types=types, added_by=actor,
                               keep_secret=keep)
        except BaseException:
            for webhook_id in kept:  # the event was not saved: its secret has no use
                self.outbox.forget_secret(webhook_id)
            raise
        self.dispatch()
        row = self.outbox.hook(str(hook.id))
        assert row is not None, "a webhook just added is dispatched"
        return WebhookCreated(webhook=row, secret=secret)

    @_store_errors
    def hooks(self, *, include_removed: bool = False) -> list[WebhookRow]:
        self.dispatch()
        return self.outbox.hooks(include_removed=include_removed)

    @_store_errors
    def get(self, hook: str) -> WebhookRow:
        """The webhook ``hook`` names: its id, or the URL of exactly one live webhook.

        Raises: WebhookNotFoundError.
        """
        self.dispatch()
        found = self.outbox.hook(hook.strip())
        if found is not None:
            return found
        same_url = [row for row in self.outbox.hooks() if row.url == hook.strip()]
        if len(same_url) == 1:
            return same_url[0]
        if same_url:
            raise InvalidWebhookError(f"{len(same_url)} webhooks have this URL; name one by "
                                      "its id (attune webhook list)")
        raise WebhookNotFoundError(hook)

    @_store_errors
    def remove(self, hook: str, *, actor: str) -> WebhookRow:
        """Stop sending to a webhook: its pending deliveries are cancelled, its secret deleted.

        Raises: WebhookNotFoundError, WebhookRemovedError.
        """
        row = self.get(hook)
        remove_webhook(self.app, UUID(row.id), actor=actor)
        self.dispatch()
        self.outbox.forget_secret(row.id)
        removed = self.outbox.hook(row.id)
        assert removed is not None
        return removed

    @_store_errors
    def test(self, hook: str) -> DeliveryRow:
        """Send a ``webhook.test`` message now, once (no retries), and return its delivery.

        Raises: WebhookNotFoundError, WebhookRemovedError.
        """
        row = self.get(hook)
        if row.removed_at is not None:
            raise WebhookRemovedError(row.id)
        delivery_id = str(uuid4())
        message = test_message(UUID(row.id), datetime.now(UTC))
        with self.outbox.writing() as w:
            self.outbox.insert_delivery(w, delivery_id=delivery_id, webhook_id=row.id,
                                        event_type=message.event_type,
                                        source=f"test/{delivery_id}", body=message.body,
                                        now=datetime.now(UTC), message=message)
        attempt(self.outbox, self.config, delivery_id, due_only=False, retries=False,
                resolver=self.resolver)
        delivery = self.outbox.delivery(delivery_id)
        assert delivery is not None
        return delivery

    @_store_errors
    def deliveries(self, hook: str | None = None, *, limit: int = 50) -> list[DeliveryRow]:
        """The newest deliveries with their attempts, of one webhook or of all."""
        webhook_id = self.get(hook).id if hook else None
        if not hook:
            self.dispatch()
        return self.outbox.deliveries(webhook_id, limit=min(limit, MAX_LISTED_DELIVERIES))

    @_store_errors
    def dispatch(self) -> int:
        """Turn the events recorded since the last pass into deliveries (no sending)."""
        return dispatch(self.app, self.outbox, public_url=self.config.public_url)

    @_store_errors
    def deliver_due(self) -> int:
        """Attempt the deliveries that are due now; returns how many attempts were made."""
        return deliver_due(self.outbox, self.config, resolver=self.resolver)

    @_store_errors
    def attempt(self, delivery_id: str) -> Outcome | None:
        """The next attempt of one delivery, due or not (a job of the queue asks for it)."""
        return attempt(self.outbox, self.config, delivery_id, due_only=False,
                       resolver=self.resolver)

    def close(self) -> None:
        self.outbox.close()

    def __enter__(self) -> Webhooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
