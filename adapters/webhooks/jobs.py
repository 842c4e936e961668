"""On PostgreSQL, attempts are jobs of the registry's procrastinate queue (queue ``webhooks``).

The outbox stays the record (status, attempts, next retry); the queue decides which process
makes each attempt and when. A ``attune.deliver_webhook`` job makes one attempt and, when it
failed, queues the next for the time the retry schedule says. A periodic tick (every few
seconds, in every process that serves the queue) dispatches the log, queues the deliveries
that have no job yet, and queues again any delivery left overdue (its job was lost with a
crashed process): so outbox and queue cannot drift apart for long.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

from attune_registry.adapters.store.config import StoreConfig, StoreUnavailableError
from attune_registry.adapters.store.setup import conninfo
from attune_registry.adapters.webhooks.service import Webhooks

log = logging.getLogger(__name__)
# A store that went away for a moment: one line in the log, and the next tick tries again.
STORE_DOWN = (StoreUnavailableError, ConnectorException)

QUEUE = "webhooks"
DELIVER = "attune.deliver_webhook"
TICK = "attune.webhook_tick"
TICK_SECONDS = 2
# A pending delivery due this long ago that nobody holds has lost its job: it is queued again.
OVERDUE = timedelta(seconds=60)


def webhook_jobs(config: StoreConfig, webhooks: Webhooks) -> procrastinate.App:
    """The queue app whose worker makes ``webhooks``' attempts."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(config, search_path=True), min_size=1, max_size=2)
    app = procrastinate.App(connector=connector)

    @app.task(name=DELIVER, queue=QUEUE)
    async def deliver(delivery_id: str) -> None:
        try:
            outcome = await asyncio.to_thread(webhooks.attempt, delivery_id)
            if outcome is not None and outcome.status == "pending":
                await queue_attempt(app, delivery_id, outcome.next_attempt_at)
        except STORE_DOWN as exc:  # the delivery stays pending: the tick queues it again
            log.warning("webhook delivery %s put off: %s", delivery_id, exc)

    @app.periodic(cron=f"* * * * * */{TICK_SECONDS}")
    @app.task(name=TICK, queue=QUEUE, queueing_lock=TICK)
    async def tick(timestamp: int) -> None:
        try:
            await queue_new(app, webhooks)
        except STORE_DOWN as exc:  # the next tick, seconds later, tries again
            log.warning("webhook dispatch put off: %s", exc)

    del deliver, tick  # registered with the app by the decorators
    return app


async def queue_new(app: procrastinate.App, webhooks: Webhooks) -> int:
    """Dispatch the log, then queue the deliveries without a job and the overdue ones."""
    outbox = webhooks.outbox
    await asyncio.to_thread(webhooks.dispatch)
    queued = 0
    for delivery_id in await asyncio.to_thread(outbox.unqueued, limit=500):
        at = await asyncio.to_thread(outbox.next_attempt, delivery_id)
        await queue_attempt(app, delivery_id, at)
        await asyncio.to_thread(outbox.mark_queued, delivery_id)
        queued += 1
    overdue = await asyncio.to_thread(outbox.due, datetime.now(UTC), limit=100, late_by=OVERDUE)
    for delivery_id in overdue:
        await queue_attempt(app, delivery_id, None)
    return queued + len(overdue)


async def queue_attempt(app: procrastinate.App, delivery_id: str, at: datetime | None) -> None:
    """A job for the next attempt of ``delivery_id`` at ``at`` (now if None or past); nothing
    if one is waiting already."""
    when = at if at is not None and at > datetime.now(UTC) else None
    try:
        await app.configure_task(DELIVER, queueing_lock=f"webhook:{delivery_id}",
                                 schedule_at=when).defer_async(delivery_id=delivery_id)
    except AlreadyEnqueued:
        pass
