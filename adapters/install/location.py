"""What an install source's text names, decided once and normalised once.

The API's checks (pack roots, allowed sources) and the fetchers (git, the downloader) all take
the ``Location`` that ``parse_location`` returns, so that what is judged is what is fetched:

- ``url``: ``scheme://...``. The scheme and host are lower-cased, percent-escapes of
  unreserved characters decoded and the others upper-cased, the fragment dropped. A path
  with a dot segment (``.`` or ``..``, percent-encoded or not), an encoded ``/`` or ``\\``,
  a double encoding (``%25``) or a malformed escape is refused: clients and servers resolve
  those differently, so no prefix check on the text could hold.
- ``scp``: git's ``[user@]host:path``, recognised by git's own rule (a ``:`` before any
  ``/``). It must be well formed (host name, no dot segment in the path); anything else that
  git would read as a host is refused, never taken for a local path.
- ``path``: a local path, made absolute and lexically normalised (``..`` removed without
  looking at the file system: symlinks are resolved later, by whoever reads it).

This module reads no file and makes no connection.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import quoted_end

from attune_registry.adapters.redact import redact_url

# git's scp-like form as we accept it: an optional user, a host name or [IPv6], a path.
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?"
                  r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                  r":(?P<path>[^\s]*)$")
_ESCAPE = re.compile(r"%(?P<hex>[0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class InstallSourceError(RegistryError):
    """Raised when SOURCE names nothing installable; the message never holds credentials."""


@dataclass(frozen=True)
class Location:
    """A source's text, classified and normalised; ``text`` is what is checked and fetched."""

    kind: str  # url | scp | path
    text: str
    scheme: str = ""  # url: https, ssh, file...; scp: ssh; path: file
    host: str = ""  # url and scp: lower-cased, IPv6 without brackets
    port: int | None = None
    path: str = ""  # url: the normalised (still encoded) path; scp: the path; path: the path


def parse_location(source: str) -> Location:
    """Classify and normalise ``source``; normalising the result again changes nothing.

    Raises:
        InstallSourceError: the text is empty, holds control characters, or is an
            ambiguous URL or scp-like address (see the module's docstring).
    """
    if not source.strip() or "\x00" in source or source.startswith("-"):
        raise _invalid(source, "")
    if "://" in source:
        return _url(source)
    colon, slash = source.find(":"), source.find("/")
    if colon != -1 and (slash == -1 or colon < slash):
        return _scp(source)
    path = os.path.normpath(os.path.abspath(os.path.expanduser(source)))
    return Location("path", path, scheme="file", path=path)


def file_url_path(location: Location) -> str | None:
    """The local path a ``file://`` URL names (None for any other location).

    Raises:
        InstallSourceError: the URL names a host other than this one.
    """
    if location.kind != "url" or location.scheme != "file":
        return None
    if location.host not in ("", "localhost"):
        raise _invalid(location.text, ": a file:// URL must name no host (or localhost)")
    return os.path.normpath(unquote(location.path) or "/")


def _url(source: str) -> Location:
    if _CONTROL.search(source) or "\\" in source:
        raise _invalid(source, ": a URL must not hold spaces, control characters or "
                               "backslashes")
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    try:
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:  # a port that is no number, or out of range
        raise _invalid(source, ": its port is not a number from 1 to 65535") from None
    if scheme != "file" and not host:
        raise _invalid(source, ": the URL names no host")
    path = _normal_path(parts.path, source)
    netloc = parts.netloc.rpartition("@")
    userinfo = f"{netloc[0]}@" if netloc[1] else ""
    shown_host = f"[{host}]" if ":" in host else host
    authority = f"{userinfo}{shown_host}{f':{port}' if port is not None else ''}"
    # The query is left as it is: signed download URLs depend on its exact text.
    text = urlunsplit((scheme, authority, path, parts.query, ""))
    if scheme == "file" and not authority:
        text = f"file://{path}"  # urlunsplit drops the empty authority: keep file:///path
    return Location("url", text, scheme=scheme, host=host, port=port, path=path)


def _scp(source: str) -> Location:
    match = _SCP.match(source)
    if match is None:
        raise _invalid(source, ": it reads as git's host:path form (a ':' before any '/') "
                               "but is not user@host:path; write ./ before a local path "
                               "with a ':'")
    user, host, path = match.group("user"), match.group("host").lower(), match.group("path")
    if not path or path.startswith("-"):
        raise _invalid(source, ": the path after ':' is missing or starts with '-'")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise _invalid(source, ": its path has a '.' or '..' segment")
    text = f"{user}@{host}:{path}" if user else f"{host}:{path}"
    return Location("scp", text, scheme="ssh", host=host.strip("[]"), path=path)


def _normal_path(path: str, source: str) -> str:
    segments = []
    for segment in path.split("/"):
        normal = _normal_escapes(segment, source)
        decoded = unquote(normal)
        if decoded in (".", ".."):
            raise _invalid(source, ": its path has a '.' or '..' segment (percent-encoded or "
                                   "not); give the path without it")
        if "/" in decoded or "\\" in decoded:
            raise _invalid(source, ": its path has an encoded '/' or '\\' (%2F, %5C)")
        segments.append(normal)
    return "/".join(segments)


def _normal_escapes(text: str, source: str) -> str:
    """Escapes of unreserved characters decoded, the others upper-cased; a malformed or
    double escape refused."""
    if text.count("%") != len(_ESCAPE.findall(text)):
        raise _invalid(source, ": it has a '%' that starts no valid percent-escape")

    def normal(match: re.Match[str]) -> str:
        char = chr(int(match.group("hex"), 16))
        if char == "%":
            raise _invalid(source, ": it is percent-encoded twice (%25)")
        return char if char in _UNRESERVED else f"%{match.group('hex').upper()}"

    return _ESCAPE.sub(normal, text)


def _invalid(source: str, problem: str) -> InstallSourceError:
    return InstallSourceError(f"Invalid install source {quoted_end(redact_url(source))}"
                                f"{problem}")
