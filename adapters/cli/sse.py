"""Reading a Server-Sent Events stream, line by line, as the HTML standard's parser does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One dispatched event: its type (``message`` when none was named), data and last id."""

    type: str
    data: str
    id: str | None


def events(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a stream given as lines without their line breaks. Comments (``:``) and
    ``retry:`` are skipped; an event without data is not dispatched; the last id carries over
    to later events, as ``EventSource`` keeps it."""
    kind, data = "", list[str]()
    last_id: str | None = None
    for line in lines:
        if not line:
            if data:
                yield Event(kind or "message", "\n".join(data), last_id)
            kind, data = "", []
            continue
        field, colon, value = line.partition(":")
        if not field and colon:
            continue  # a comment: keep-alives
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            kind = value
        elif field == "id" and "\0" not in value:
            last_id = value
