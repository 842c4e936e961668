#!/usr/bin/env python3
"""core.http_request - send one HTTP or HTTPS request and print the response as JSON."""
# Parameter contract: every action parameter is passed as an environment
# variable ATTUNE_ACTION_<NAME_UPPERCASE>. Unset and empty mean "use the default":
#   ATTUNE_ACTION_URL              required, an http:// or https:// URL with a host
#   ATTUNE_ACTION_METHOD           GET, POST, PUT, PATCH, DELETE or HEAD; default GET
#   ATTUNE_ACTION_HEADERS          a JSON object of header name -> string value; default {}
#   ATTUNE_ACTION_BODY             request body, sent as UTF-8; default: no body
#   ATTUNE_ACTION_TIMEOUT          seconds, a decimal number from 1 to 300; default 30
#   ATTUNE_ACTION_EXPECTED_STATUS  optional integer from 100 to 599
#
# Output: one JSON object on stdout, {"status", "headers", "body", "elapsed_ms"}.
# Any HTTP response counts as success (4xx and 5xx included) unless expected_status
# is set and differs from the response status.
#
# Exit status:
#   0  a response was received (and matched expected_status, if set)
#   1  network error, timeout, oversized body, or a status other than expected_status
#      (the JSON is still printed in that last case); one line on stderr
#   2  invalid input; one line on stderr naming the parameter, nothing on stdout
#
# Standard library only. Nothing is contacted before all parameters are valid.

import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
DEFAULT_METHOD = "GET"
MIN_TIMEOUT = 1
MAX_TIMEOUT = 300
DEFAULT_TIMEOUT = 30
MIN_STATUS = 100
MAX_STATUS = 599
MAX_BODY_BYTES = 10 * 1024 * 1024
USER_AGENT = "attune-core.http_request"

DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
STATUS_CODE = re.compile(r"[0-9]{3}")
# RFC 9110 token characters, the only ones allowed in a header name.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class InvalidParameter(Exception):
    """Invalid input: the message names the parameter; the action exits with 2."""

    def __init__(self, name, problem):
        super().__init__(f"parameter '{name}' {problem}")


class RequestFailed(Exception):
    """The request could not be completed; the action exits with 1."""


def read_param(value):
    """None for an unset or empty variable, else its text."""
    return value if value else None


def parse_url(raw):
    if raw is None:
        raise InvalidParameter("url", "is required (an http:// or https:// URL)")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise InvalidParameter("url", f"must not contain spaces or control characters, got {raw!r}")
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidParameter("url", f"must be an http:// or https:// URL, got {raw!r}")
    if "@" in parts.netloc:
        raise InvalidParameter(
            "url", "must not contain credentials (user:password@); send an Authorization header instead")
    if not parts.hostname:
        raise InvalidParameter("url", f"must include a host, got {raw!r}")
    try:
        port = parts.port
    except ValueError:
        raise InvalidParameter("url", f"has an invalid port, got {raw!r}") from None
    if raw.isascii():
        return raw
    # Non-ASCII: IDNA for the host, percent-encoding (UTF-8) for everything after it.
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidParameter("url", f"has a host that is not a valid domain name, got {raw!r}") from None
    if ":" in host:  # IPv6 literals keep their brackets
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    safe = "/?#[]@!$&'()*+,;=:%~-._"
    return urllib.parse.urlunsplit((
        parts.scheme, netloc, urllib.parse.quote(parts.path, safe=safe),
        urllib.parse.quote(parts.query, safe=safe), urllib.parse.quote(parts.fragment, safe=safe)))


def parse_method(raw):
    if raw is None:
        return DEFAULT_METHOD
    if raw not in METHODS:
        raise InvalidParameter("method", f"must be one of {', '.join(METHODS)}, got {raw!r}")
    return raw


def parse_headers(raw):
    if raw is None:
        return {}
    try:
        headers = json.loads(raw)
    except ValueError:
        raise InvalidParameter("headers", f"must be a JSON object of strings, got {raw!r}") from None
    if not isinstance(headers, dict):
        raise InvalidParameter("headers", f"must be a JSON object of strings, got {raw!r}")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise InvalidParameter("headers", f"has an invalid header name {name!r}")
        if not isinstance(value, str):
            raise InvalidParameter("headers", f"value of {name!r} must be a string, got {json.dumps(value)}")
        if any(ch in value for ch in "\r\n\0"):
            raise InvalidParameter("headers", f"value of {name!r} must not contain CR, LF or NUL")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidParameter("headers", f"value of {name!r} must be Latin-1 text") from None
    return headers


def parse_timeout(raw):
    if raw is None:
        return DEFAULT_TIMEOUT
    problem = f"must be a number between {MIN_TIMEOUT} and {MAX_TIMEOUT}, got {raw!r}"
    if not DECIMAL.fullmatch(raw):
        raise InvalidParameter("timeout", problem)
    timeout = float(raw)
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise InvalidParameter("timeout", problem)
    return timeout


def parse_expected_status(raw):
    if raw is None:
        return None
    if not STATUS_CODE.fullmatch(raw) or not MIN_STATUS <= int(raw) <= MAX_STATUS:
        raise InvalidParameter(
            "expected_status", f"must be an integer between {MIN_STATUS} and {MAX_STATUS}, got {raw!r}")
    return int(raw)


class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https URLs (urllib alone would also follow ftp)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            return None  # urllib then returns the redirect response itself
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def one_line(text):
    return " ".join(str(text).split())


def read_body(response, started, timeout):
    """The whole body, refusing more than MAX_BODY_BYTES or reading past the timeout."""
    chunks, size = [], 0
    while True:
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestFailed(f"the response body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if time.monotonic() - started > timeout:
            raise TimeoutError


def decode(body, headers):
    charset = headers.get_content_charset() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def collect_headers(headers):
    """Header names in lower case; repeated headers joined with ', '."""
    collected = {}
    for name, value in headers.items():
        key = name.lower()
        collected[key] = f"{collected[key]}, {value}" if key in collected else value
    return collected


def send(url, method, headers, body, timeout):
    request = urllib.request.Request(url, data=body, method=method)
    for name, value in headers.items():
        request.add_header(name, value)
    if not request.has_header("User-agent"):
        request.add_header("User-Agent", USER_AGENT)
    opener = urllib.request.build_opener(HttpOnlyRedirects)
    started = time.monotonic()
    label = f"{method} {url}"
    try:
        try:
            response = opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:  # 4xx and 5xx are responses, not failures
            response = error
        with response:
            status = response.getcode()
            received = response.headers
            payload = b"" if method == "HEAD" else read_body(response, started, timeout)
    except TimeoutError:
        raise RequestFailed(f"{label} timed out after {timeout:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise RequestFailed(f"{label} timed out after {timeout:g} s") from None
        raise RequestFailed(f"{label} failed: {one_line(error.reason)}") from None
    except (http.client.HTTPException, OSError, ValueError) as error:
        raise RequestFailed(f"{label} failed: {one_line(error) or type(error).__name__}") from None
    return {
        "status": status,
        "headers": collect_headers(received),
        "body": decode(payload, received),
        "elapsed_ms": round((time.monotonic() - started) * 1000),
    }


def main(environ):
    try:
        url = parse_url(read_param(environ.get("ATTUNE_ACTION_URL")))
        method = parse_method(read_param(environ.get("ATTUNE_ACTION_METHOD")))
        headers = parse_headers(read_param(environ.get("ATTUNE_ACTION_HEADERS")))
        body = read_param(environ.get("ATTUNE_ACTION_BODY"))
        timeout = parse_timeout(read_param(environ.get("ATTUNE_ACTION_TIMEOUT")))
        expected = parse_expected_status(read_param(environ.get("ATTUNE_ACTION_EXPECTED_STATUS")))
    except InvalidParameter as error:
        print(f"http_request: {error}", file=sys.stderr)
        return 2
    data = None if body is None else body.encode("utf-8", errors="surrogateescape")
    try:
        result = send(url, method, headers, data, timeout)
    except RequestFailed as error:
        print(f"http_request: {error}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.flush()
    if expected is not None and result["status"] != expected:
        print(f"http_request: expected status {expected}, got {result['status']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
