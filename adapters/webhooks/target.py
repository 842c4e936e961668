"""Which URLs a webhook may point at, judged like install sources.

A URL is checked when the webhook is added (its form, its scheme, the addresses its host has
then) and its host's addresses again at every delivery: the sender connects only to addresses
looked up and judged for that attempt (``adapters.webhooks.send``), so DNS that changes after
``webhook add`` cannot turn a public target into an internal one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from attune_registry.domain.text import has_control, quoted_end
from attune_registry.domain.webhook import MAX_URL_CHARS, InvalidWebhookError

from attune_registry.adapters.install.network import refusal, system_resolver
from attune_registry.adapters.webhooks.config import WebhookConfig

Resolver = Callable[[str, int], list[str]]


class TargetNotAllowedError(InvalidWebhookError):
    """Raised when a webhook would send to an address the registry does not allow (403)."""

    code = "FORBIDDEN"


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart."""

    url: str
    scheme: str
    host: str  # lower-cased, IPv6 without brackets
    port: int


def parse_target(url: str, config: WebhookConfig) -> Target:
    """``url`` if its form and scheme may be a webhook's (no lookup here).

    Raises:
        InvalidWebhookError: not an http(s) URL, credentials in it, no host, a bad port.
    """
    shown = quoted_end(url)
    if not url or len(url) > MAX_URL_CHARS or has_control(url) or " " in url:
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: it must be 1 to "
                                  f"{MAX_URL_CHARS} characters, without spaces or control "
                                  "characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: use an https:// URL")
    if scheme == "http" and not config.allow_http:
        raise TargetNotAllowedError(
            f"Refused webhook URL {shown}: plain http:// is not allowed; use https:// (the "
            "operator may allow http with ATTUNE_WEBHOOK_ALLOW_HTTP=1)")
    if "@" in parts.netloc:
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: it must not hold credentials "
                                  "(user@); receivers check the signature instead")
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: its port is not a number "
                                  "from 1 to 65535") from None
    if not host:
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: it names no host")
    if parts.fragment:
        raise InvalidWebhookError(f"Invalid webhook URL {shown}: it must not have a #fragment")
    return Target(url=url, scheme=scheme, host=host,
                  port=port or (443 if scheme == "https" else 80))


def target_addresses(target_host: str, port: int, config: WebhookConfig,
                     resolver: Resolver = system_resolver) -> list[str]:
    """The addresses to connect to for ``target_host``: looked up once (an address literal is
    not), each judged; every one must be allowed, or none is used.

    Raises:
        InvalidWebhookError: the host cannot be looked up.
        TargetNotAllowedError: an address is not public and the setting allows only those.
    """
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = (
            ipaddress.ip_address(target_host))
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = resolver(target_host, port)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InvalidWebhookError(f"Cannot look up webhook host {quoted_end(target_host)}: "
                                      f"{reason}") from None
        if not found:
            raise InvalidWebhookError(f"Cannot look up webhook host {quoted_end(target_host)}: "
                                      "no address")
    if not config.allow_private:
        for text in found:
            reason = refusal(ipaddress.ip_address(text.partition("%")[0]))
            if reason is not None:
                where = "is" if literal is not None else f"resolves to {text},"
                raise TargetNotAllowedError(
                    f"Refused webhook host {quoted_end(target_host)}: it {where} {reason}; "
                    "webhooks go to public addresses only (the operator may allow others "
                    "with ATTUNE_WEBHOOK_ALLOW_PRIVATE=1)")
    return found


def judge_target(url: str, config: WebhookConfig,
                 resolver: Resolver = system_resolver) -> Target:
    """``url`` taken apart, if a webhook may send to it now (form, scheme and addresses).

    Raises:
        InvalidWebhookError, TargetNotAllowedError.
    """
    target = parse_target(url, config)
    target_addresses(target.host, target.port, config, resolver)
    return target
