"""A registration's progress as Server-Sent Events (``GET /registrations/{id}/events``)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
import msgspec
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from attune_registry.application.registry import STORE_FAILURES

from attune_registry.adapters.contract import DecidedUpdate, RegistrationUpdate
from attune_registry.adapters.reads.progress import POLL_SECONDS
from attune_registry.adapters.settings import ConfigError

KEEP_ALIVE_SECONDS = 15.0
"""A comment line after this long without an event, so that proxies keep the stream open."""
STREAM_SECONDS = 30.0
"""A stream ends after this long without the decision, and its client resumes with
``Last-Event-ID`` (an ``EventSource`` does so by itself, ``attune registration watch`` too).
Long enough to cost little; short because a stopping server waits for its open requests,
and because a client that vanished without closing its connection is never heard of."""
RETRY_MS = 1000
"""How soon an ``EventSource`` reconnects when a stream ends (its default is a few seconds)."""

log = logging.getLogger("attune.http")

Read = Callable[[int], list[RegistrationUpdate]]


def progress_stream(read: Read, first: list[RegistrationUpdate], *, after: int,
                    ) -> ServerSentEvent:
    """The response: ``first`` (already read, so an unknown id was a 404 before any byte was
    sent), then what ``read(after)`` finds every ``POLL_SECONDS``, until the decision."""
    return ServerSentEvent(messages(read, first, after=after))


async def messages(read: Read, found: list[RegistrationUpdate], *, after: int,
                   limit: float = STREAM_SECONDS, keep_alive: float = KEEP_ALIVE_SECONDS,
                   clock: Callable[[], float] = time.monotonic,
                   ) -> AsyncIterator[ServerSentEventMessage]:
    """One message per update; the store is read in a thread and the wait in between is the
    event loop's, so a client that disconnects ends this at its next pause."""
    started = last_sent = clock()
    yield ServerSentEventMessage(data=None, retry=RETRY_MS)
    while True:
        for update in found:
            yield message(update)
            if isinstance(update, DecidedUpdate):
                return
            after = update.originator_version
        now = clock()
        if found:
            last_sent = now
        if now - started >= limit:
            return
        if now - last_sent >= keep_alive:
            yield ServerSentEventMessage(data=None, comment="waiting")
            last_sent = now
        await anyio.sleep(POLL_SECONDS)
        try:
            found = await anyio.to_thread.run_sync(read, after)
        except (ConfigError, *STORE_FAILURES) as exc:
            # Too late for an error status: end the stream; the client resumes from its last id.
            log.error("registration stream ended, store unavailable: %s", exc)
            return


def message(update: RegistrationUpdate) -> ServerSentEventMessage:
    """``event:`` the update's kind, ``id:`` its event version, ``data:`` its JSON."""
    return ServerSentEventMessage(data=msgspec.json.encode(update).decode(),
                                  event=str(type(update).__struct_config__.tag),
                                  id=update.originator_version)
