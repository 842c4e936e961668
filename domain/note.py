"""The note a person gives when they end a registration (``--reason`` of rollback, unregister
and cancel): one line of visible text, kept with the event for auditors."""

from __future__ import annotations

import re

from attune_registry.domain.errors import RegistryError

MAX_NOTE_CHARS = 500
# What would not show as one line of text: C0 and C1 controls and DEL (newline, tab, escape),
# the line and paragraph separators, and the bidirectional marks and overrides that reorder
# what a reader sees.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                        "\u2066-\u2069]")


class InvalidNoteError(RegistryError):
    """Raised when a reason given for rollback, unregister or cancel is empty, too long, or
    not one line of visible text (nothing is recorded)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"Invalid reason: {problem}")


def checked_note(text: str | None) -> str | None:
    """``text`` without its surrounding spaces, if it is a note that may be recorded; None
    stays None (no reason given).

    Raises:
        InvalidNoteError: it is blank, longer than ``MAX_NOTE_CHARS``, or has a control
            character.
    """
    if text is None:
        return None
    note = text.strip(" ")
    if not note:
        raise InvalidNoteError("it is empty; give a few words, or no reason")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidNoteError(f"{len(note)} characters, at most {MAX_NOTE_CHARS}")
    found = _INVISIBLE.search(note)
    if found is not None:
        raise InvalidNoteError(
            f"control character U+{ord(found.group()):04X} at position {found.start() + 1}; "
            "a reason is one line of visible text")
    return note
