"""Attempts: claim a delivery, sign it, send it, record what happened and when to try again."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from attune_registry.adapters.webhooks.config import WebhookConfig
from attune_registry.adapters.webhooks.outbox import Outbox
from attune_registry.adapters.webhooks.send import Attempt, send
from attune_registry.adapters.webhooks.signing import signed_headers
from attune_registry.adapters.webhooks.target import Resolver

log = logging.getLogger("attune.webhooks")

# A claim outlasts the longest attempt by this much: a process that died mid-attempt holds
# its delivery no longer than that.
CLAIM_MARGIN = timedelta(seconds=30)
# How many receivers one process sends to at once: a slow one does not hold up the others.
SENDERS = 4


@dataclass(frozen=True)
class Outcome:
    """What an attempt left: the delivery's status, and when it is tried next."""

    status: str
    next_attempt_at: datetime | None


def attempt(outbox: Outbox, config: WebhookConfig, delivery_id: str, *,
            due_only: bool = True, retries: bool = True,
            resolver: Resolver | None = None) -> Outcome | None:
    """Make the next attempt of a pending delivery, if it is due (with ``due_only``) and no
    other process holds it; None when it was not ours to make."""
    now = datetime.now(UTC)
    claimed = outbox.claim(delivery_id, now=now, due_only=due_only,
                           until=now + timedelta(seconds=config.timeout) + CLAIM_MARGIN)
    if claimed is None:
        return None
    number = claimed.attempts + 1
    if claimed.secret is None:  # removed meanwhile (its secret went with it), or lost
        result = Attempt(None, "the webhook has no signing secret (it was removed, or its "
                               "secret was lost)", 0)
    else:
        body = claimed.body.encode()
        headers = signed_headers(claimed.secret, claimed.id, int(time.time()), body)
        result = send(claimed.url, body, headers, config, resolver=resolver)
    finished = datetime.now(UTC)
    next_at = None
    if not result.ok and retries and claimed.secret is not None \
            and number <= len(config.retry_seconds):
        next_at = finished + timedelta(seconds=config.retry_seconds[number - 1])
    status = outbox.record(claimed.id, number, result, now=finished, next_at=next_at)
    # The URL (without credentials: refused when added) is logged; never the secret, the
    # signature or the body.
    # Giving up on a message is a warning; a test message is tried once, and said so anyway.
    log.log(logging.WARNING if status == "failed" and retries else logging.INFO,
            "Webhook delivery %s, attempt %d to %s: %s%s", claimed.id, number, claimed.url,
            "delivered" if result.ok else result.error,
            f"; next attempt at {next_at.isoformat()}" if next_at else
            ("" if result.ok else "; no more attempts"),
            extra={"event": "webhook.attempt", "delivery_id": claimed.id, "attempt": number,
                   "url": claimed.url, "status_code": result.status_code,
                   "outcome": status, "duration_ms": result.duration_ms})
    return Outcome(status, next_at)


def deliver_due(outbox: Outbox, config: WebhookConfig, *, limit: int = 100,
                resolver: Resolver | None = None) -> int:
    """Attempt every delivery that is due now, a few receivers at a time; returns how many
    attempts were made."""
    due = outbox.due(datetime.now(UTC), limit=limit)
    if not due:
        return 0
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(due)),
                            thread_name_prefix="attune-webhook") as senders:
        made = list(senders.map(lambda found: attempt(outbox, config, found,
                                                       resolver=resolver), due))
    return sum(outcome is not None for outcome in made)
