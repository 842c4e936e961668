"""Terminal output: success and error lines, tables, JSON. Plain text, no markup surprises.

Everything printed goes through here, and text that packs supply (labels, descriptions, test
names and messages, versions) reaches the terminal only as visible characters: see ``safe``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from attune_registry.domain.origin import Origin, describe

OK, WARN, FAIL = "✓", "⚠", "✗"

# Characters a terminal acts on instead of showing them: C0 controls (ESC starts the sequences
# that set the window title, write the clipboard (OSC 52) or clear the screen; CR overwrites
# the line), DEL, C1 controls (0x9b is a one-byte CSI) and the bidirectional marks, overrides
# and isolates that reorder what is shown. Newline and tab are kept in lines of text.
_TERMINAL_CONTROLS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_TERMINAL_CONTROLS}]")
_UNSAFE_IN_TEXT = re.compile(r"(?![\n\t])" + _UNSAFE.pattern)


def safe(text: str, *, one_line: bool = False) -> str:
    """``text`` with every terminal control shown as an escape (``\\x1b``, ``\\u202e``);
    newlines and tabs are kept unless ``one_line``."""
    return (_UNSAFE if one_line else _UNSAFE_IN_TEXT).sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def line(text: str = "") -> None:
    click.echo(safe(text))


def note(text: str) -> None:
    """Progress and hints: stderr, so stdout stays the command's result."""
    click.echo(safe(text), err=True)


def abort(message: str, *, code: str = "BAD_REQUEST", as_json: bool = False,
          details: list[dict[str, Any]] | None = None) -> NoReturn:
    """Report a user-facing error and exit 1: the API's error body with ``--json``, else the
    message, then the evidence of a rejection (see ``rejection_lines``) when ``details``
    holds one."""
    if as_json:
        print_json({"error": message, "code": code}
                   | ({"details": details} if details is not None else {}))
    else:
        click.echo(f"{FAIL} Error: {safe(message)}", err=True)
        for text in rejection_lines(details):
            click.echo(safe(text, one_line=True), err=True)
    sys.exit(1)


MAX_LISTED_CASES = 10
REJECTION_HINT = ("Fix the failing tests and try again (add --replace to upgrade an active "
                  "version only if they pass); --force registers the pack despite them.")


DEPENDENTS_HINT = ("Keep what they use, or change them first; --skip-dependents replaces the "
                   "active version without running them, --force despite their failures.")


def rejection_lines(details: list[dict[str, Any]] | None) -> list[str]:
    """What follows the error line of a registration rejected by its tests: its failing
    cases (at most ten), its id and what to do next; for an upgrade rejected by the tests of
    its dependents, the failing cases of each. Nothing for other errors' details."""
    if details and all(isinstance(item, dict) and item.get("dependent")
                       and isinstance(item.get("failing_cases"), list) for item in details):
        lines = [line for item in details
                 for line in _failing_lines(item, f"{item['dependent']}/")]
        return [*lines, f"Registration: {details[0].get('registration_id')}", DEPENDENTS_HINT]
    evidence = details[0] if details and len(details) == 1 else None
    if not isinstance(evidence, dict) or not isinstance(evidence.get("failing_cases"), list):
        return []
    lines = _failing_lines(evidence)
    if evidence.get("registration_id"):
        lines.append(f"Registration: {evidence['registration_id']}")
    return [*lines, REJECTION_HINT]


def _failing_lines(evidence: dict[str, Any], prefix: str = "") -> list[str]:
    """The failing cases of one run's evidence, at most ten; each suite named after
    ``prefix``."""
    cases = evidence["failing_cases"]
    lines = [f"  {FAIL} " + ": ".join(str(part) for part in (
                f"{prefix}{case['suite']}" if case.get("suite") else None, case.get("case"),
                case.get("message")) if part)
             for case in cases[:MAX_LISTED_CASES] if isinstance(case, dict)]
    more = len(cases) - MAX_LISTED_CASES + int(evidence.get("more_failing_cases") or 0)
    if more > 0:
        lines.append(f"  … and {more} more")
    return lines


def print_json(document: Any) -> None:
    """``document`` as JSON: the data exactly, with terminal controls as ``\\uXXXX`` escapes
    (JSON escapes C0 controls itself; the others can only occur inside strings, where an
    escape means the same character)."""
    text = json.dumps(document, indent=2, ensure_ascii=False, default=_json_default)
    click.echo(_UNSAFE_IN_TEXT.sub(lambda found: f"\\u{ord(found.group()):04x}", text))


def _json_default(value: Any) -> str:
    # Timestamps as ISO 8601 like everywhere else in our JSON; UUIDs and the rest as text.
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def verdict(status: str, failed: int, counts: str = "") -> str:
    """The verdict line of a run: "All tests passed" only when every suite passed (nothing
    failed or errored, each ran a test); ``counts`` (passed/total) follows a colon."""
    if status == "passed":
        head = f"{OK} All tests passed"
    elif failed:
        head = f"{FAIL} Some tests failed"
    else:  # no failing case, but no pass either: nothing ran, or a runner exited non-zero
        head = f"{FAIL} Tests did not pass"
    return (head + (f": {counts}" if counts else "")
            + (" (a suite could not run)" if status == "error" else ""))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]],
          below: Sequence[Sequence[str]] | None = None) -> None:
    """Aligned columns; ``below[i]``, when given, are lines printed under row ``i`` (they do
    not count for the widths)."""
    rows = [[safe(cell, one_line=True) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def echo(cells: Sequence[str]) -> None:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip())

    echo(headers)
    for index, row in enumerate(rows):
        echo(row)
        for text in below[index] if below else ():
            click.echo(safe(text, one_line=True))


def duration(ms: int) -> str:
    if ms < 59_995:  # below what would round up to 60.00 s
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


def percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def timestamp(iso: str) -> str:
    """``2026-11-25T12:01:02.345+00:00`` -> ``2026-11-25 12:01:02Z``."""
    return iso[:19].replace("T", " ") + ("Z" if iso.endswith(("+00:00", "Z")) else "")


def shorten(text: str, width: int) -> str:
    """The first line of ``text``, cut to ``width`` characters with an ellipsis."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: width - 1].rstrip(" .,;:") + "…"


def origin(found: Origin) -> str:
    """One line: where an installed pack's files came from (a registration's ``origin``)."""
    return describe(found)


def sandbox(result: dict[str, Any] | None) -> str:
    """How a stored run's suites were isolated, in a word or two: the mechanism (``OFF`` when
    the sandbox was off), ``+net`` when a suite had the network, ``-`` before the sandbox."""
    suites = (result or {}).get("test_suites") or []
    found = [s.get("isolation") for s in suites if isinstance(s, dict)]
    isolations = [i for i in found if isinstance(i, dict)]
    if not isolations or len(isolations) < len(found):
        return "-"
    mechanisms = sorted({"OFF" if i["mechanism"] == "off" else i["mechanism"]
                         for i in isolations})
    network = any(i["network"] for i in isolations if i["mechanism"] != "off")
    return "/".join(mechanisms) + ("+net" if network else "")


def sandbox_lines(result: dict[str, Any] | None) -> list[str]:
    """Each distinct isolation of a stored run's suites, described in full."""
    import msgspec

    from attune_registry.domain.results import Isolation

    described: list[str] = []
    for suite in (result or {}).get("test_suites") or []:
        record = suite.get("isolation") if isinstance(suite, dict) else None
        if record is None:
            continue
        text = msgspec.convert(record, Isolation).describe()
        if text not in described:
            described.append(text)
    return described
