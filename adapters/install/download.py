"""Downloading a pack archive over HTTPS, with a size cap and one deadline for the whole of it.

Under an ``AddressPolicy`` (API installs), every connection, redirects included, goes to
addresses looked up and judged once by that policy (``adapters.install.network``); proxies
from the environment are then not used, since a proxy would look the name up itself.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import quoted

from attune_registry.adapters.install.network import (
    AddressNotAllowedError,
    HostLookupError,
    current_policy,
    judged_addresses,
)
from attune_registry.adapters.redact import redact_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import httpcore
    import httpx

    from attune_registry.adapters.install.network import AddressPolicy

MAX_REDIRECTS = 5


class DownloadError(RegistryError):
    """Raised when an archive cannot be downloaded; the message never holds URL credentials."""


def download(url: str, target: Path, *, max_bytes: int, timeout: float) -> str:
    """Download ``url`` to the file ``target`` and return the sha256 of its bytes.

    Only ``https`` is followed, redirects included (at most ``MAX_REDIRECTS``). A download
    larger than ``max_bytes`` is stopped as soon as it says so (Content-Length) or grows past
    it; ``timeout`` seconds cover the whole download, not each read.

    Raises:
        DownloadError: on any failure; ``target`` is then removed.
    """
    import httpx

    shown = quoted(redact_url(url))
    deadline = time.monotonic() + timeout
    digest = hashlib.sha256()
    try:
        # Credentials go in a header, never in the URL: httpx logs each request's URL.
        bare, auth = _split_credentials(httpx.URL(url))
        policy = current_policy()
        with httpx.Client(follow_redirects=True, max_redirects=MAX_REDIRECTS,
                          timeout=httpx.Timeout(min(timeout, 30.0)),
                          transport=_pinned_transport(policy) if policy else None,
                          event_hooks={"request": [_https_only(shown)]}) as client, \
                client.stream("GET", bare, auth=auth,
                              headers={"Accept": "application/octet-stream, */*"}) as response:
            if response.status_code != 200:
                raise DownloadError(f"Download of {shown} failed: HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"Download of {shown} refused: {int(declared)} bytes is more "
                                    f"than the limit of {max_bytes // 2**20} MiB")
            received = 0
            with target.open("wb") as file:
                for chunk in response.iter_raw(1 << 16):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(f"Download of {shown} stopped: more than the limit "
                                            f"of {max_bytes // 2**20} MiB")
                    if time.monotonic() > deadline:
                        raise DownloadError(f"Download of {shown} timed out after "
                                            f"{timeout:g} seconds")
                    digest.update(chunk)
                    file.write(chunk)
    except (DownloadError, AddressNotAllowedError, HostLookupError):
        target.unlink(missing_ok=True)
        raise
    except httpx.TooManyRedirects:
        target.unlink(missing_ok=True)
        raise DownloadError(f"Download of {shown} failed: more than {MAX_REDIRECTS} "
                            "redirects") from None
    except httpx.TimeoutException:
        target.unlink(missing_ok=True)
        raise DownloadError(f"Download of {shown} timed out") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        target.unlink(missing_ok=True)
        reason = redact_url(str(exc)) or type(exc).__name__
        raise DownloadError(f"Download of {shown} failed: {reason}") from None
    return digest.hexdigest()


def _split_credentials(url: httpx.URL) -> tuple[httpx.URL, httpx.BasicAuth | None]:
    """The URL without its user and password, and those as Basic auth (sent to this origin
    only: httpx drops the header on a redirect to another one)."""
    import httpx

    if not url.userinfo:
        return url, None
    return url.copy_with(username=None, password=None), httpx.BasicAuth(url.username,
                                                                       url.password)


def _https_only(shown: str) -> Callable[[httpx.Request], None]:
    """The first request is https (the caller checked): any other is a redirect elsewhere."""

    def check(request: httpx.Request) -> None:
        if request.url.scheme != "https":
            raise DownloadError(f"Download of {shown} refused: redirected to a "
                                f"{request.url.scheme}:// address; only https is accepted")
    return check


def _pinned_transport(policy: AddressPolicy) -> httpx.HTTPTransport:
    """httpx's transport, connecting through ``_PinnedBackend`` (TLS still checks the
    certificate against the URL's host name)."""
    import httpcore
    import httpx

    transport = httpx.HTTPTransport()
    # httpx offers no parameter for httpcore's network backend: its pool is replaced by one
    # made the same way (tests check that downloads really connect through the backend).
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(),
                                              network_backend=_pinned_backend(policy))
    return transport


def _pinned_backend(policy: AddressPolicy) -> httpcore.NetworkBackend:
    import httpcore

    class PinnedBackend(httpcore.SyncBackend):
        """Looks the host up once, judges every address, connects to those addresses only."""

        def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                        local_address: str | None = None,
                        socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
            failure: Exception | None = None
            for address in judged_addresses(policy, host, port):
                try:
                    return super().connect_tcp(address, port, timeout, local_address,
                                               socket_options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    failure = exc
            assert failure is not None  # judged_addresses returns at least one address
            raise failure

    return PinnedBackend()
