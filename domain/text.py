"""How messages show values that users and pack authors control: quoted, on one line, short."""

from __future__ import annotations

import re

# How much of an offending value a message quotes.
SHOWN_CHARS = 60
# ASCII control characters: never part of a name that is shown on one line or used in a path.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quoted(value: str) -> str:
    """A value as messages quote it: on one line and cut short."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…")


def quoted_end(value: str) -> str:
    """``quoted``, but a long value keeps its end: what tells one path or URL from another."""
    return repr(value if len(value) <= SHOWN_CHARS else "…" + value[-SHOWN_CHARS:])


def has_control(text: str) -> bool:
    """Whether ``text`` has a control character (a newline, a NUL, an escape...)."""
    return CONTROL.search(text) is not None


def path_part(name: str) -> str:
    """A mapping key inside a field path: as is when plain, quoted when not."""
    return name if name and name.isprintable() and len(name) <= SHOWN_CHARS else quoted(name)
