"""Webhook commands on the registry's event log: add, remove, and read one back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from attune_registry.domain.webhook import Webhook, WebhookNotFoundError

from attune_registry.application.registry import PackRegistry


def add_webhook(app: PackRegistry, *, url: str, event_types: Iterable[str], added_by: str,
                keep_secret: Callable[[UUID], None]) -> Webhook:
    """Record a new webhook. ``keep_secret`` stores its signing secret under its id first,
    so that no delivery can exist before the secret that signs it.

    Raises:
        InvalidWebhookError: no URL, a URL too long, no event type or an unknown one.
    """
    hook = Webhook.add(url=url, event_types=event_types, added_by=added_by)
    keep_secret(hook.id)
    app.save(hook)
    return hook


def remove_webhook(app: PackRegistry, webhook_id: UUID, *, actor: str) -> Webhook:
    """Raises: WebhookNotFoundError, WebhookRemovedError."""
    hook = get_webhook(app, webhook_id)
    hook.remove(actor=actor)
    app.save(hook)
    return hook


def get_webhook(app: PackRegistry, webhook_id: UUID) -> Webhook:
    """Raises: WebhookNotFoundError."""
    try:
        hook: object = app.repository.get(webhook_id)
    except AggregateNotFoundError:
        raise WebhookNotFoundError(str(webhook_id)) from None
    if not isinstance(hook, Webhook):
        raise WebhookNotFoundError(str(webhook_id))
    return hook
