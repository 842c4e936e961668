"""Checks on JSON request bodies before Litestar decodes them.

Litestar decodes any body as JSON whatever its Content-Type, coerces ``1`` and ``"true"`` to
booleans, lets invalid UTF-8 escape as ``UnicodeDecodeError`` and lets msgspec recurse until a
``RecursionError``. ``json_body`` turns each into one clear 4xx before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, HTTPException, ValidationException

# Our request bodies are flat objects; this leaves room for any future nesting.
MAX_DEPTH = 32
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENERS, _CLOSERS = frozenset(b"[{"), frozenset(b"]}")
_AT_FIELD = re.compile(r"^(?P<message>.*) - at `\$\.(?P<key>[^`]+)`$")

BeforeRequest = Callable[[Request[Any, Any, Any]], Awaitable[None]]


class UnsupportedMediaTypeError(HTTPException):
    status_code = 415


def json_body(schema: type[msgspec.Struct]) -> BeforeRequest:
    """A ``before_request`` hook for a handler whose body is a ``schema`` (after its guards).

    The hook raises:
        UnsupportedMediaTypeError: the Content-Type is not ``application/json`` in UTF-8.
        ClientException: the body is empty, not UTF-8, nested too deep, or not JSON.
        ValidationException: JSON of the wrong shape, in msgspec's strict mode.
    """
    strict = msgspec.json.Decoder(schema)  # `1` is not `true` and `"1"` is not `1`

    async def check(request: Request[Any, Any, Any]) -> None:
        _check_content_type(request)
        body = await request.body()  # over the size limit: 413 here
        _check_text(body)
        try:
            strict.decode(body)
        except msgspec.ValidationError as exc:
            raise ValidationException(str(exc), extra=[_field_problem(str(exc))]) from None
        except msgspec.DecodeError as exc:
            raise ClientException(str(exc)) from None

    return check


def _check_content_type(request: Request[Any, Any, Any]) -> None:
    media_type, options = request.content_type  # Litestar lowercases the media type
    if media_type != "application/json":
        sent = f"not {media_type}" if media_type else "none was sent"
        raise UnsupportedMediaTypeError(f"Content-Type must be application/json ({sent})")
    if options.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeError(
            f"JSON bodies must be UTF-8, not charset={options['charset']}")


def _check_text(body: bytes) -> None:
    if not body.strip():
        raise ClientException("Request body is empty: send a JSON object")
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        raise ClientException(f"Request body is not valid UTF-8 (byte {exc.start})") from None
    if too_deep(body):
        raise ClientException(f"Request body nests deeper than {MAX_DEPTH} levels")


def _field_problem(message: str) -> dict[str, str]:
    """msgspec's message as Litestar's detail: ``key`` is the field, or ``data`` (the body)."""
    if found := _AT_FIELD.match(message):
        return {"message": found["message"], "key": found["key"], "source": "body"}
    return {"message": message, "key": "data", "source": "body"}


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (brackets in strings do not
    count)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # skips the scan for every ordinary body
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSERS:
            depth -= 1
    return False
