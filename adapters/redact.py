"""Credentials out of everything shown or stored: the one place that masks them.

A URL's user part may be a secret (``https://TOKEN@host/``) or just an account name
(``ssh://git@host/``, ``postgresql://attune@db/``); a password always is.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
# scheme://userinfo@ : the user (or token) and the password, each up to the "@".
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s@:]*)(:[^/?#\s@]*)?@")
# A password given as a query parameter (libpq accepts ?password=...).
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&#\s]*")
# Schemes whose user names an account, which is no secret and helps to read a message.
_ACCOUNT_SCHEMES = ("postgresql://", "postgres://")


def redact_url(text: str) -> str:
    """``text`` with the credentials of every URL in it masked as ``***``: passwords always,
    users unless they name an account (ssh, PostgreSQL)."""
    return _PASSWORD_PARAM.sub(rf"\1{MASK}", _USERINFO.sub(_masked, text))


def _masked(match: re.Match[str]) -> str:
    scheme, user, password = match.group(1), match.group(2), match.group(3)
    lowered = scheme.lower()
    if lowered in _ACCOUNT_SCHEMES or (lowered.startswith("ssh") and user):
        return f"{scheme}{user}{':' + MASK if password else ''}@"
    return f"{scheme}{MASK}@"


def url_secrets(url: str) -> list[str]:
    """What of ``url``'s credentials a program could print elsewhere than in the URL (git
    does, percent-decoded): the password, and a user before an ``@`` (a token given as the
    user) unless it names an ssh account. Never a bare user name: masking every "git" in a
    message would make it unreadable."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    if parts.username and not parts.scheme.lower().startswith("ssh"):
        found.append(f"{parts.username}@")
    return [*found, *(unquote(value) for value in found)]


def mask_secrets(text: str, secrets: list[str]) -> str:
    """``redact_url(text)``, and every one of ``secrets`` (from ``url_secrets``) masked."""
    text = redact_url(text)
    for secret in secrets:
        text = text.replace(secret, f"{MASK}@" if secret.endswith("@") else MASK)
    return text
