"""What a log record knows about the request it belongs to: its id and who is acting.

Context variables: set by the HTTP layer in the request's task and copied by anyio into the
thread that runs a synchronous handler, so every record of a request carries them, the
application events recorded on its behalf included.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("attune_request_id", default=None)
actor: ContextVar[str | None] = ContextVar("attune_actor", default=None)
# The route template the request matched, once known, and when it started (perf_counter).
route: ContextVar[str | None] = ContextVar("attune_route", default=None)
started: ContextVar[float | None] = ContextVar("attune_started", default=None)

# An incoming X-Request-ID is kept when it is a plain token (what proxies and tracing systems
# send: UUIDs, hex, base64url); anything else could forge or break log lines, and is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")


def accepted_request_id(sent: list[str]) -> str:
    """The id of a request: the one client or proxy sent, if exactly one sane one; else new."""
    if len(sent) == 1 and _SANE_REQUEST_ID.fullmatch(sent[0]):
        return sent[0]
    return uuid.uuid4().hex


def current() -> dict[str, str]:
    """The context's fields that are set, for a log record."""
    found = {"request_id": request_id.get(), "actor": actor.get()}
    return {name: value for name, value in found.items() if value is not None}
