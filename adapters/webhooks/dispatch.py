"""The dispatcher: follows the event log after the fact and fills the outbox.

It reads the log from its own position (kept in ``webhook_position``), in order: a
``WebhookAdded`` or ``WebhookRemoved`` changes the ``webhook`` table, and each event a webhook
type covers becomes one pending delivery per webhook that was live *at that point of the
log* and wants it. Rows and position commit together, one batch per transaction under the
dispatch lock, so each event is dispatched once, whichever process catches up and however
late. Nothing here touches the network: registrations never wait for a receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from attune_registry.domain.registration import Registration
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.webhook import Webhook

from attune_registry.application.registry import PackRegistry

from attune_registry.projections.sql import Writer, from_json

from attune_registry.adapters.webhooks.outbox import Outbox
from attune_registry.adapters.webhooks.payloads import message_of

TOPICS = (Webhook.WebhookAdded.TOPIC, Webhook.WebhookRemoved.TOPIC,
          Registration.RegistrationCommitted.TOPIC, Registration.RegistrationRejected.TOPIC,
          TestRun.TestRunCompleted.TOPIC)
# Events per transaction: a dispatch pass over a long log never holds the lock for long.
BATCH = 100


def delivery_id(webhook_id: str, source: str) -> str:
    """The message id of an event for a webhook: the same however often it is dispatched."""
    return str(uuid5(NAMESPACE_URL, f"attune:webhook/{webhook_id}/{source}"))


def dispatch(app: PackRegistry, outbox: Outbox, *, public_url: str = "") -> int:
    """Dispatch the events recorded since the position; returns how many deliveries it made.

    Two cheap reads when there is nothing new (the common case); else one transaction per
    batch of at most ``BATCH`` events of the topics above.
    """
    head = app.recorder.max_notification_id() or 0
    if outbox.position() >= head:
        return 0
    made = 0
    while True:
        with outbox.dispatching() as w:
            start = outbox.position(w)
            if start >= head:
                return made
            notifications = app.recorder.select_notifications(
                start=start, limit=BATCH, stop=head, topics=TOPICS, inclusive_of_start=False)
            for notification in notifications:
                made += _apply(app, outbox, w, app.mapper.to_domain_event(notification),
                               public_url)
            done = len(notifications) < BATCH
            outbox.set_position(w, head if done else notifications[-1].id)
        if done:
            return made


def _apply(app: PackRegistry, outbox: Outbox, w: Writer, event: Any, public_url: str) -> int:
    if isinstance(event, Webhook.WebhookAdded):
        w.execute("INSERT INTO {t}webhook (id, url, event_types, added_by, added_at) VALUES"
                  " (:id, :url, :types, :by, :at) ON CONFLICT DO NOTHING",
                  {"id": str(event.originator_id), "url": event.url,
                   "types": w.json(event.event_types), "by": event.actor,
                   "at": outbox.ts(event.timestamp)})
        return 0
    if isinstance(event, Webhook.WebhookRemoved):
        w.execute("UPDATE {t}webhook SET removed_at = :at, removed_by = :by WHERE id = :id",
                  {"id": str(event.originator_id), "at": outbox.ts(event.timestamp),
                   "by": event.actor})
        w.execute("UPDATE {t}webhook_delivery SET status = 'cancelled', next_attempt_at = NULL"
                  " WHERE webhook_id = :id AND status = 'pending'",
                  {"id": str(event.originator_id)})
        return 0
    message = message_of(event, lambda aggregate_id, version: _history(app, aggregate_id,
                                                                       version), public_url)
    if message is None:
        return 0
    w.execute("SELECT id, event_types FROM {t}webhook WHERE removed_at IS NULL")
    wanted = [row["id"] for row in (dict(found) for found in w.cursor.fetchall())
              if message.event_type in from_json(row["event_types"])]
    source = f"{event.originator_id}/{event.originator_version}"
    now = datetime.now(UTC)
    for webhook_id in wanted:
        outbox.insert_delivery(w, delivery_id=delivery_id(webhook_id, source),
                               webhook_id=webhook_id, event_type=message.event_type,
                               source=source, body=message.body, now=now, message=message)
    return len(wanted)


def _history(app: PackRegistry, aggregate_id: UUID, version: int) -> list[Any]:
    return [app.mapper.to_domain_event(stored)
            for stored in app.recorder.select_events(aggregate_id, lte=version)]
