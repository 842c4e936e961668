"""The processes that deliver: ``attune webhook deliver [--follow]`` in the foreground, and
``attune serve`` in a background thread of each server process.

- SQLite: a loop that dispatches the log and attempts the due deliveries, then waits a second.
- PostgreSQL: a procrastinate worker on the ``webhooks`` queue (see ``adapters.webhooks.jobs``).

However many processes deliver, each attempt is made once: claims (SQLite) and the queue's
jobs (PostgreSQL) see to it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable

from attune_registry.adapters.observability.logs import quiet_side_task_failures
from attune_registry.adapters.settings import ConfigError
from attune_registry.adapters.store.config import StoreConfig
from attune_registry.adapters.webhooks.deliver import SENDERS
from attune_registry.adapters.webhooks.service import Webhooks

log = logging.getLogger("attune.webhooks")

WORKER_NAME = "attune-webhooks"

IDLE_SECONDS = 1.0
# After a failure of the store, wait this long before trying again (then every time).
RETRY_SECONDS = 5.0


def deliver_once(webhooks: Webhooks, config: StoreConfig) -> int:
    """Dispatch the log and make the attempts due now; returns how many were made (on
    PostgreSQL: how many jobs ran)."""
    if not config.is_postgres:
        webhooks.dispatch()
        return webhooks.deliver_due()
    return asyncio.run(_postgres(webhooks, config, wait=False, signals=False))


def follow(webhooks: Webhooks, config: StoreConfig, stop: threading.Event, *,
           signals: bool = False) -> None:
    """Deliver until ``stop`` is set (SQLite), or until SIGINT/SIGTERM with ``signals``
    (PostgreSQL, in the foreground)."""
    if not config.is_postgres:
        _follow_sqlite(webhooks, stop)
        return
    asyncio.run(_postgres(webhooks, config, wait=True, signals=signals))


def _follow_sqlite(webhooks: Webhooks, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            webhooks.dispatch()
            made = webhooks.deliver_due()
        except ConfigError as exc:  # the store is unavailable: say so, try again later
            log.warning("webhook delivery paused: %s", exc)
            stop.wait(RETRY_SECONDS)
            continue
        if not made:
            stop.wait(IDLE_SECONDS)


async def _postgres(webhooks: Webhooks, config: StoreConfig, *, wait: bool,
                    signals: bool) -> int:
    from attune_registry.adapters.webhooks.jobs import QUEUE, queue_new, webhook_jobs

    app = webhook_jobs(config, webhooks)
    quiet_side_task_failures(WORKER_NAME)
    async with app.open_async():
        made = await queue_new(app, webhooks)
        await app.run_worker_async(queues=[QUEUE], concurrency=SENDERS, wait=wait,
                                   install_signal_handlers=signals, delete_jobs="successful",
                                   name=WORKER_NAME)
    return made


def ensure_queue(config: StoreConfig) -> None:
    """PostgreSQL: the queue's tables, created once under the store's set-up lock."""
    if not config.is_postgres:
        return
    from attune_registry.adapters.queue.jobs import ensure_queue_schema
    from attune_registry.adapters.store.setup import ensure_schema, setup_lock

    with setup_lock(config):
        ensure_schema(config)
        ensure_queue_schema(config)


class BackgroundDelivery:
    """Delivery in a daemon thread of a server process, stopped with the server."""

    def __init__(self, webhooks: Webhooks, config: StoreConfig) -> None:
        self.webhooks = webhooks
        self.config = config
        self.stopped = threading.Event()
        self._cancel: Callable[[], object] = lambda: None
        self.thread = threading.Thread(target=self._run, name="attune-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self._cancel()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        if not self.config.is_postgres:
            _follow_sqlite(self.webhooks, self.stopped)
            return
        while not self.stopped.is_set():
            loop = asyncio.new_event_loop()
            task = loop.create_task(_postgres(self.webhooks, self.config, wait=True,
                                              signals=False))
            self._cancel = functools.partial(loop.call_soon_threadsafe, task.cancel)
            if self.stopped.is_set():  # stopped before the line above: cancel it here
                task.cancel()
            try:
                loop.run_until_complete(task)
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # the store went away: the worker starts again later
                log.warning("webhook delivery paused: %s", type(exc).__name__)
            finally:
                self._cancel = lambda: None
                loop.close()
            self.stopped.wait(RETRY_SECONDS)
