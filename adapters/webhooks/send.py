"""One attempt to deliver: a signed POST to a judged address, with no redirect followed, one
deadline for the whole of it, and at most a few bytes of the answer read."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.redact import redact_url
from attune_registry.adapters.webhooks.config import WebhookConfig
from attune_registry.adapters.webhooks.target import Resolver, parse_target, target_addresses

if TYPE_CHECKING:
    import httpcore

# The answer is not ours to keep: enough to end the exchange politely, then the connection is
# closed.
MAX_ANSWER_BYTES = 1024
USER_AGENT = "attune-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


def send(url: str, body: bytes, headers: dict[str, str], config: WebhookConfig, *,
         resolver: Resolver | None = None) -> Attempt:
    """POST ``body`` to ``url``; a 2xx answer is a success, anything else a failure.

    Never raises for what the receiver or the network do: the failure is in the result.
    """
    import httpx

    started = time.monotonic()

    def failed(error: str, status: int | None = None) -> Attempt:
        return Attempt(status, error, round((time.monotonic() - started) * 1000))

    try:
        # The settings may have changed since the webhook was added.
        target = parse_target(url, config)
        client = httpx.Client(follow_redirects=False, trust_env=False,
                              timeout=httpx.Timeout(config.timeout),
                              transport=_pinned_transport(config, resolver,
                                                          tls=target.scheme == "https"))
        started = time.monotonic()  # the exchange, not the set-up, is the receiver's time
        deadline = started + config.timeout
        with client, client.stream("POST", url, content=body,
                                   headers={**headers, "user-agent": USER_AGENT}) as response:
            received = 0
            for chunk in response.iter_raw(256):
                received += len(chunk)
                if received >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                    break
            status = response.status_code
    except RegistryError as exc:  # the target is not allowed, or its host is unknown
        return failed(str(exc))
    except httpx.TimeoutException:
        return failed(f"no answer within {config.timeout:g} s")
    except (httpx.HTTPError, OSError) as exc:
        return failed(redact_url(str(exc)) or type(exc).__name__)
    if 200 <= status < 300:
        return Attempt(status, None, round((time.monotonic() - started) * 1000))
    if 300 <= status < 400:
        return failed(f"HTTP {status}: redirects are not followed", status)
    return failed(f"HTTP {status}", status)


def _pinned_transport(config: WebhookConfig, resolver: Resolver | None, *, tls: bool) -> Any:
    """httpx's transport, connecting only to the addresses judged for this attempt (TLS still
    checks the certificate against the URL's host name). Without ``tls`` (an http URL, and
    redirects are not followed) the trusted certificates are not even loaded."""
    import httpcore
    import httpx

    context = _ssl_context() if tls else None
    transport = httpx.HTTPTransport(verify=context if context is not None else False)
    # httpx offers no parameter for httpcore's network backend: its pool is replaced by one
    # made the same way (as ``adapters.install.download`` does).
    transport._pool = httpcore.ConnectionPool(ssl_context=context,
                                              network_backend=_pinned_backend(config, resolver))
    return transport


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once per process (loading takes a while)."""
    import httpx

    return httpx.create_ssl_context()


def _pinned_backend(config: WebhookConfig, resolver: Resolver | None) -> httpcore.NetworkBackend:
    import httpcore

    from attune_registry.adapters.install.network import system_resolver

    class PinnedBackend(httpcore.SyncBackend):
        """Looks the host up once, judges every address, connects to those addresses only."""

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None,
                        socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
            failure: Exception | None = None
            for address in target_addresses(host.strip("[]"), port, config,
                                            resolver or system_resolver):
                try:
                    return super().connect_tcp(address, port, timeout, local_address,
                                               socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    failure = exc
            assert failure is not None  # target_addresses returns at least one address
            raise failure

    return PinnedBackend()
