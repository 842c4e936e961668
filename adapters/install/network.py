"""Which network addresses an API install may reach, judged on the addresses it connects to.

An ``AddressPolicy`` is in force while the HTTP API installs (``address_policy``). Under it, a
host name is looked up once (``judged_addresses``), every address it gives is judged, and the
fetchers connect to those very addresses: the downloader through a network backend that does
the lookup itself, git through ``http.curloptResolve`` (https) or ssh's ``HostName`` (ssh).
No second lookup happens that DNS could answer differently (rebinding). With no policy in
force (the CLI installing for its own user), the fetchers resolve and connect as usual.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import quoted

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# 64:ff9b::/96 (NAT64) and ::/96 (IPv4-compatible) carry an IPv4 address in their last bits.
_EMBEDDING = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))


class AddressNotAllowedError(RegistryError):
    """Raised when an install would connect to an address the server does not allow (403)."""

    code = "FORBIDDEN"


class HostLookupError(RegistryError):
    """Raised when the host of an install source cannot be looked up."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` has for TCP, as the system's resolver answers."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """What an API install may connect to."""

    allow_private: bool = False
    """``ATTUNE_INSTALL_ALLOW_PRIVATE``: also loopback, private, link-local... addresses."""
    resolver: Callable[[str, int], list[str]] = field(default=system_resolver)


_POLICY: ContextVar[AddressPolicy | None] = ContextVar("attune_install_address_policy",
                                                       default=None)


@contextmanager
def address_policy(policy: AddressPolicy) -> Iterator[None]:
    """Put ``policy`` in force for the fetches made inside the block (this thread only)."""
    token = _POLICY.set(policy)
    try:
        yield
    finally:
        _POLICY.reset(token)


def current_policy() -> AddressPolicy | None:
    """The policy in force, None when fetches connect as usual."""
    return _POLICY.get()


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is no public unicast address (None when it is one). An IPv6 address
    that embeds an IPv4 one (mapped, NAT64, 6to4, IPv4-compatible) is judged by both."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (reason := refusal(embedded)) is not None:
            return f"{reason} (embedded in {address})"
    for test, reason in (("is_unspecified", "an unspecified address"),
                         ("is_loopback", "a loopback address"),
                         ("is_link_local", "a link-local address"),
                         ("is_multicast", "a multicast address")):
        if getattr(address, test):
            return reason
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved or shared address"
    return None


_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _EMBEDDING) and int(address) > 1:  # not ::, ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def judged_addresses(policy: AddressPolicy, host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``: looked up once (an address literal is not
    looked up), each judged by ``policy``; every one must pass, or none is used.

    Raises:
        HostLookupError: the name cannot be looked up.
        AddressNotAllowedError: an address is not public and ``policy`` allows only those.
    """
    bare = host.strip("[]")
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = policy.resolver(bare, port)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise HostLookupError(f"Cannot look up host {quoted(bare)}: {reason}") from None
        if not found:
            raise HostLookupError(f"Cannot look up host {quoted(bare)}: no address")
    if not policy.allow_private:
        for text in found:
            reason = refusal(ipaddress.ip_address(text.partition("%")[0]))
            if reason is not None:
                where = "is" if literal is not None else f"resolves to {text},"
                raise AddressNotAllowedError(
                    f"Refused install source host {quoted(bare)}: it {where} {reason}; the "
                    "server installs only from public addresses (its operator may allow "
                    "others with ATTUNE_INSTALL_ALLOW_PRIVATE=1)")
    return found
