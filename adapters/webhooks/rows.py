"""What the CLI and the API show of webhooks and their deliveries (never a secret)."""

from __future__ import annotations

from typing import Literal

import msgspec

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]
"""``pending``: waiting for its first or next attempt; ``delivered``: a receiver answered 2xx;
``failed``: every attempt failed; ``cancelled``: its webhook was removed before it went out."""


class WebhookRow(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook: where deliveries go and what they carry."""

    id: str
    url: str
    event_types: list[str]
    added_by: str
    added_at: str
    removed_at: str | None = None
    removed_by: str | None = None


class AttemptRow(msgspec.Struct, frozen=True, kw_only=True):
    """One try to deliver: what the receiver answered, or why there was no answer."""

    number: int
    at: str
    status_code: int | None
    """The receiver's HTTP status; None when none came (refused address, timeout...)."""
    error: str | None
    """Why the attempt failed; None when it succeeded."""
    duration_ms: int


class DeliveryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One message for one webhook, with every attempt made to deliver it."""

    id: str
    """The message id, sent as ``webhook-id``: the same on every attempt."""
    webhook_id: str
    event_type: str
    status: DeliveryStatus
    created_at: str
    attempts: list[AttemptRow]
    next_attempt_at: str | None
    """When it is tried next (pending only)."""
    delivered_at: str | None = None
    registration_id: str | None = None
    test_run_id: str | None = None
    ref: str | None = None


class WebhookCreated(msgspec.Struct, frozen=True, kw_only=True):
    """A new webhook and its signing secret: the only time the secret is shown."""

    webhook: WebhookRow
    secret: str
