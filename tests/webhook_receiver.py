"""A real webhook receiver on 127.0.0.1 for tests, and an independent check of Standard
Webhooks signatures (written from the specification, sharing no code with the registry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of ``statuses`` (the last one repeats); while
    ``hold`` is clear, requests wait for it before answering."""

    url: str
    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """The first ``count`` requests, once they have arrived (fails after ``timeout``)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} requests arrived")
            return list(self.received[:count])


@contextmanager
def receiver(statuses: list[int] | None = None, *, held: bool = False) -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1, stopped at the end."""
    found = Receiver(url="", statuses=list(statuses or [204]))
    if not held:
        found.hold.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with found.arrived:
                found.received.append(Received(self.path, {k.lower(): v for k, v in
                                                           self.headers.items()}, body))
                index = len(found.received) - 1
                found.arrived.notify_all()
            found.hold.wait()
            status = found.statuses[min(index, len(found.statuses) - 1)]
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a timeout under test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/attune"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.hold.set()
        server.shutdown()
        server.server_close()


def verify(secret: str, request: Received) -> bool:
    """Standard Webhooks: the key is the base64 after ``whsec_``; the signed content is
    ``{webhook-id}.{webhook-timestamp}.{body}``; ``webhook-signature`` holds space-separated
    ``v1,<base64 HMAC-SHA256>`` entries, one of which must match."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = (request.headers["webhook-id"] + "." + request.headers["webhook-timestamp"]
               + ".").encode() + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(version == "v1" and hmac.compare_digest(value, expected)
               for version, _, value in (entry.partition(",") for entry in
                                         request.headers["webhook-signature"].split()))
