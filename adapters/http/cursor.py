"""Opaque cursors of the list endpoints: where the previous page ended (keyset pagination).

A cursor is the URL-safe base64 of the JSON ``[time, id, page]``: the sort key of the previous
page's last row, and the number of the page it leads to (so that ``pagination.page`` still
counts pages). Clients pass ``next_cursor`` back unchanged and never build one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request

from attune_registry.domain.errors import RegistryError

from attune_registry.projections.queries import SortKey

from attune_registry.adapters.contract import Page

# Far longer than any cursor we issue; anything longer is refused before decoding it.
MAX_CURSOR_LENGTH = 512
INT64 = msgspec.Meta(ge=0, le=2**63 - 1)
NextPage = Annotated[int, msgspec.Meta(ge=2, le=2**63 - 1)]
UUID_TEXT = msgspec.Meta(pattern="^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
# The cursors of each list, by the ids of its rows: bounded, so that only values the stores can
# compare get to them (SQLite refuses integers past 64 bits, PostgreSQL NUL in text).
RUN_CURSOR = msgspec.json.Decoder(tuple[str, Annotated[int, INT64], NextPage])
REGISTRATION_CURSOR = msgspec.json.Decoder(tuple[str, Annotated[str, UUID_TEXT], NextPage])
Row = TypeVar("Row")


class InvalidCursorError(RegistryError):
    """Raised when a cursor is not one we issued, or comes with ``page`` (HTTP 400)."""


def encode_cursor(key: SortKey, page: int) -> str:
    text = msgspec.json.encode([key.time, key.id, page])
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


def decode_cursor(cursor: str, decoder: msgspec.json.Decoder[Any]) -> tuple[SortKey, int]:
    """The sort key and page number a cursor carries.

    Raises:
        InvalidCursorError: when it is not a cursor we issued (for ``decoder``'s list).
    """
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError(cursor)
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                                validate=True)
        time, row_id, page = decoder.decode(text)
        at = datetime.fromisoformat(time)
        if at.tzinfo is None:
            raise ValueError(time)
    except (ValueError, msgspec.DecodeError):  # binascii.Error, ValidationError too
        raise InvalidCursorError(
            "Invalid cursor: pass the next_cursor of a previous page back unchanged") from None
    return SortKey(at.isoformat(), row_id), page


def page_start(request: Request[Any, Any, Any], cursor: str | None, page: int,
               decoder: msgspec.json.Decoder[Any]) -> tuple[SortKey | None, int]:
    """Where the requested page starts (after a sort key, or at an offset) and its number.

    Raises:
        InvalidCursorError: a malformed cursor, or both ``page`` and ``cursor``.
    """
    if cursor is None:
        return None, page
    if "page" in request.query_params:
        raise InvalidCursorError("Pass either page or cursor, not both")
    return decode_cursor(cursor, decoder)


def next_cursor(found: Page[Row], page: int, key: Callable[[Row], SortKey]) -> str | None:
    """The cursor of the page after ``found`` (page number ``page``); None on the last page."""
    return encode_cursor(key(found.rows[-1]), page + 1) if found.more and found.rows else None
