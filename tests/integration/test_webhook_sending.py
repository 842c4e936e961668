"""One delivery attempt over a real socket: connected only to the addresses judged for it,
no redirect followed, bounded in time, and the receiver's answer is all it reports."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from attune_registry.adapters.webhooks.config import WebhookConfig
from attune_registry.adapters.webhooks.send import send
from attune_registry.adapters.webhooks.signing import signed_headers

from tests.webhook_receiver import receiver, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OPEN = WebhookConfig(allow_private=True, allow_http=True, timeout=5)


def post(url: str, config: WebhookConfig = OPEN, **kwargs):
    body = b'{"type":"webhook.test"}'
    return send(url, body, signed_headers(SECRET, "msg_1", 1700000000, body), config, **kwargs)


def test_the_receiver_gets_the_signed_body_and_a_2xx_is_a_success():
    with receiver([204]) as rcv:
        result = post(rcv.url)
        [request] = rcv.wait_for(1)

    assert (result.ok, result.status_code, result.error) == (True, 204, None)
    assert request.body == b'{"type":"webhook.test"}'
    assert verify(SECRET, request)


def test_the_connection_goes_to_the_address_the_lookup_gave_and_was_judged():
    # The name exists only in the resolver handed to the attempt: the connection is made to
    # the address that lookup answered, and the request still names the host of the URL.
    with receiver([200]) as rcv:
        port = rcv.url.split(":")[2].split("/")[0]
        result = post(f"http://hooks.example.test:{port}/in",
                      resolver=lambda host, port: ["127.0.0.1"])
        [request] = rcv.wait_for(1)

    assert result.ok
    assert request.headers["host"] == f"hooks.example.test:{port}"


def test_an_address_the_settings_refuse_is_never_connected_to():
    with receiver([200]) as rcv:
        port = rcv.url.split(":")[2].split("/")[0]
        result = post(f"http://hooks.example.test:{port}/in",
                      WebhookConfig(allow_http=True, timeout=5),
                      resolver=lambda host, port: ["127.0.0.1"])

    assert not result.ok and result.status_code is None
    assert result.error is not None and "it resolves to 127.0.0.1, a loopback address" in (
        result.error)
    assert rcv.received == []


def test_a_redirect_is_a_failure_and_is_not_followed():
    with receiver([200]) as target:
        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.send_response(307)
                self.send_header("location", target.url)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            result = post(f"http://127.0.0.1:{server.server_address[1]}/")
        finally:
            server.shutdown()
            server.server_close()

    assert (result.ok, result.status_code) == (False, 307)
    assert result.error == "HTTP 307: redirects are not followed"
    assert target.received == []


def test_a_receiver_that_does_not_answer_in_time_is_a_failure():
    with receiver(held=True) as rcv:
        result = post(rcv.url, WebhookConfig(allow_private=True, allow_http=True, timeout=1))
        rcv.wait_for(1)

    assert (result.ok, result.status_code) == (False, None)
    assert result.error == "no answer within 1 s"


def test_a_closed_port_is_a_failure_with_the_reason():
    result = post("http://127.0.0.1:9/")

    assert not result.ok and result.status_code is None
    assert result.error and "refused" in result.error.lower()
