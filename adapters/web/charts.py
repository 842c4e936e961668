"""Small SVG charts of a pack's test history, drawn on the server.

The pages inline them under a Content-Security-Policy without inline styles or scripts, so
they carry only presentation attributes (``fill``, ``stroke``…) and ``class`` names that a
stylesheet may override. Every text is XML-escaped; the output is one ``<svg>`` element.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = ["SVG_NS", "RunPoint", "duration_chart", "pass_rate_chart", "sparkline"]

SVG_NS = "http://www.w3.org/2000/svg"

# What XML 1.0 cannot carry, even escaped (as in ``adapters.reports.junit_xml``): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A status becomes part of a class name only when it is a plain word.
_CLASS_WORD = re.compile(r"[a-z][a-z0-9_-]{0,31}")

_STATUS_ORDER = ("passed", "failed", "error", "skipped")
_FILL = {"passed": "#16a34a", "failed": "#dc2626", "error": "#ea580c", "skipped": "#9ca3af"}
_OTHER_FILL = "#6b7280"
_MUTED = "#6b7280"
_GRID = "#e5e7eb"


@dataclass(frozen=True)
class RunPoint:
    """One test execution of a pack, as the charts show it."""

    id: int
    when: str
    passed: int
    failed: int
    skipped: int
    duration_ms: int
    status: str

    @property
    def rate(self) -> float | None:
        """passed / (passed + failed), or None for a run with neither (skipped ones aside)."""
        total = self.passed + self.failed
        return self.passed / total if total > 0 else None


@dataclass(frozen=True)
class _Plot:
    """The drawing area inside the axis labels: one slot per run, oldest at the left."""

    width: int
    height: int
    runs: int
    left: float
    top: float = 8.0
    right: float = 8.0
    bottom: float = 8.0

    @property
    def inner_height(self) -> float:
        return max(self.height - self.top - self.bottom, 1.0)

    @property
    def base(self) -> float:
        return self.top + self.inner_height

    @property
    def slot(self) -> float:
        return max(self.width - self.left - self.right, 1.0) / self.runs

    def x(self, index: int) -> float:
        return self.left + (index + 0.5) * self.slot

    def y(self, fraction: float) -> float:
        """The height of ``fraction`` of the axis (0 at the base line, 1 at the top line)."""
        return self.top + (1.0 - fraction) * self.inner_height

    def gridline(self, fraction: float, label: str) -> str:
        y = _num(self.y(fraction))
        return (f'<line class="grid" x1="{_num(self.left)}" x2="{_num(self.width - self.right)}"'
                f' y1="{y}" y2="{y}" stroke="{_GRID}" stroke-width="1"/>'
                f'<text class="tick" x="{_num(self.left - 4)}" y="{y}" text-anchor="end"'
                f' dominant-baseline="middle" font-size="10" fill="{_MUTED}">{_esc(label)}</text>')


def pass_rate_chart(points: Sequence[RunPoint], *, width: int = 640, height: int = 160,
                    href: Callable[[RunPoint], str] | None = None) -> str:
    """The pass rate of each run (oldest first) on a 0 to 100 % axis, a marker per run.

    A run without passed or failed cases has no rate: it is a shaded band across the whole
    axis and a gap in the line, never a point at 0 %.

    Args:
        points: the runs, oldest first.
        width: the width of the SVG in pixels.
        height: the height of the SVG in pixels.
        href: the link of a run's marker; no links without it.

    Returns:
        One ``<svg>`` element.
    """
    if not points:
        return _no_runs("pass-rate", "Pass rate", width, height)
    plot = _Plot(width, height, len(points), left=36.0)
    label = f"Pass rate of {_the_last(points)}: {_status_counts(points)}"
    if (latest := points[-1].rate) is not None:
        label += f"; latest {_percent(latest)}"
    parts = [_open("pass-rate", width, height, label, f"Pass rate per run, oldest first, "
                   f"{_span(points)}. Runs without passed or failed cases are shaded bands.")]
    parts += [plot.gridline(pct / 100, f"{pct}%") for pct in (0, 25, 50, 75, 100)]
    parts += _polylines(((plot.x(i), plot.y(point.rate)) if point.rate is not None else None
                         for i, point in enumerate(points)), "line")
    radius = _num(min(4.0, max(1.0, plot.slot * 0.4)))
    band = _num(max(plot.slot * 0.6, 0.1))
    for i, point in enumerate(points):
        x = plot.x(i)
        if point.rate is None:
            shape = (f'rect x="{_num(x - plot.slot * 0.3)}" y="{_num(plot.top)}" width="{band}"'
                     f' height="{_num(plot.inner_height)}" fill-opacity="0.25"')
        else:
            shape = f'circle cx="{_num(x)}" cy="{_num(plot.y(point.rate))}" r="{radius}"'
        parts.append(_run_mark(point, shape, href))
    parts.append("</svg>")
    return "".join(parts)


def duration_chart(points: Sequence[RunPoint], *, width: int = 640, height: int = 160,
                   href: Callable[[RunPoint], str] | None = None) -> str:
    """The duration of each run (oldest first) as bars, in seconds on round ticks up to the
    longest run.

    Args:
        points: the runs, oldest first.
        width: the width of the SVG in pixels.
        height: the height of the SVG in pixels.
        href: the link of a run's bar; no links without it.

    Returns:
        One ``<svg>`` element.
    """
    if not points:
        return _no_runs("duration", "Duration", width, height)
    longest = max(point.duration_ms for point in points)
    ticks = _duration_ticks(longest)
    top = ticks[-1]
    plot = _Plot(width, height, len(points), left=44.0)
    label = (f"Duration of {_the_last(points)}: latest {_duration(points[-1].duration_ms)}, "
             f"longest {_duration(longest)}")
    parts = [_open("duration", width, height, label, f"Duration in seconds per run, oldest "
                   f"first, {_span(points)}. The axis runs from 0 to {_seconds(top)}.")]
    parts += [plot.gridline(tick / top, _seconds(tick)) for tick in ticks]
    bar = max(plot.slot * 0.7, 0.1)
    for i, point in enumerate(points):
        # At least a pixel tall, so that a run of 0 ms can still be pointed at.
        y = min(plot.y(max(point.duration_ms, 0) / top), plot.base - 1.0)
        shape = (f'rect x="{_num(plot.x(i) - bar / 2)}" y="{_num(y)}" width="{_num(bar)}"'
                 f' height="{_num(plot.base - y)}"')
        parts.append(_run_mark(point, shape, href))
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float], *, width: int = 100, height: int = 20,
              label: str = "", scale: tuple[float, float] | None = None) -> str:
    """A tiny trend line of ``values`` (oldest first), scaled from their minimum to their
    maximum (or over ``scale``), with a dot on the last one. NaN and infinite values are gaps.

    Args:
        values: the values, oldest first.
        width: the width of the SVG in pixels.
        height: the height of the SVG in pixels.
        label: what the trend shows, for screen readers.
        scale: the range the height spans, e.g. ``(0, 100)`` for percentages, so that a
            small dip looks small; default: the values' own minimum and maximum.

    Returns:
        One ``<svg>`` element, with no content when there are no values.
    """
    if not label:
        label = f"Trend of {len(values)} values" if values else "No data"
    parts = [_root("sparkline", width, height, label)]
    finite = [value for value in values if math.isfinite(value)]
    if finite:
        pad = 2.0
        low, high = scale or (min(finite), max(finite))
        step = (width - 2 * pad) / (len(values) - 1) if len(values) > 1 else 0.0

        def at(index: int, value: float) -> tuple[float, float]:
            x = pad + index * step if len(values) > 1 else width / 2
            if high == low:
                return x, height / 2
            return x, pad + (high - value) / (high - low) * (height - 2 * pad)

        coords = [at(i, v) if math.isfinite(v) else None for i, v in enumerate(values)]
        parts += _polylines(coords, "spark-line")
        x, y = next(coord for coord in reversed(coords) if coord is not None)
        parts.append(f'<circle class="spark-last" cx="{_num(x)}" cy="{_num(y)}" r="1.5"'
                     f' fill="{_MUTED}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _root(kind: str, width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="{SVG_NS}" class="{kind}" role="img" aria-label="{_esc(label)}"'
            f' viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}"'
            f' height="{_num(height)}">')


def _open(kind: str, width: int, height: int, label: str, desc: str) -> str:
    return _root(f"chart chart-{kind}", width, height, label) + f"<desc>{_esc(desc)}</desc>"


def _no_runs(kind: str, what: str, width: int, height: int) -> str:
    return (_open(kind, width, height, f"{what}: no runs yet", "No runs yet.")
            + f'<text class="empty" x="{_num(width / 2)}" y="{_num(height / 2)}"'
            f' text-anchor="middle" dominant-baseline="middle" font-size="12"'
            f' fill="{_MUTED}">No runs yet</text></svg>')


def _run_mark(point: RunPoint, shape: str, href: Callable[[RunPoint], str] | None) -> str:
    """A run's marker (``shape``: tag and geometry) with its status class and tooltip."""
    status = point.status if _CLASS_WORD.fullmatch(point.status) else "other"
    tag = shape.partition(" ")[0]
    mark = (f'<{shape} class="run run-{status}" fill="{_FILL.get(status, _OTHER_FILL)}">'
            f"<title>{_esc(_tooltip(point))}</title></{tag}>")
    return mark if href is None else f'<a href="{_esc(href(point))}">{mark}</a>'


def _tooltip(point: RunPoint) -> str:
    if point.rate is None:
        counts = "no passed or failed cases"
    else:
        counts = f"{point.passed}/{point.passed + point.failed} passed ({_percent(point.rate)})"
    if point.skipped:
        counts += f", {point.skipped} skipped"
    return " · ".join((f"#{point.id}", _when(point.when), point.status, counts,
                       _duration(point.duration_ms)))


def _polylines(coords: Iterable[tuple[float, float] | None], kind: str) -> Iterator[str]:
    """A polyline per stretch of consecutive points; ``None`` breaks the line."""
    stretch: list[str] = []
    for coord in (*coords, None):
        if coord is not None:
            stretch.append(f"{_num(coord[0])},{_num(coord[1])}")
            continue
        if len(stretch) > 1:
            yield (f'<polyline class="{kind}" points="{" ".join(stretch)}" fill="none"'
                   f' stroke="{_MUTED}" stroke-width="1.5" stroke-linejoin="round"/>')
        stretch = []


def _duration_ticks(longest_ms: int) -> list[float]:
    """Round tick values in ms from 0 to at least ``longest_ms``: 3 to 5 steps of 1, 2, 2.5
    or 5 times a power of ten, never below a millisecond."""
    longest = max(longest_ms, 1)
    rough = longest / 4
    magnitude = 10.0 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)
    step = max(step, 1.0)
    return [step * i for i in range(math.ceil(longest / step - 1e-9) + 1)]


def _status_counts(points: Sequence[RunPoint]) -> str:
    counts = Counter(point.status for point in points)
    rank = {status: i for i, status in enumerate(_STATUS_ORDER)}
    order = sorted(counts, key=lambda status: (rank.get(status, len(rank)), status))
    return ", ".join(f"{counts[status]} {status}" for status in order)


def _the_last(points: Sequence[RunPoint]) -> str:
    return "the last run" if len(points) == 1 else f"the last {len(points)} runs"


def _span(points: Sequence[RunPoint]) -> str:
    first, last = _when(points[0].when), _when(points[-1].when)
    return f"on {first}" if len(points) == 1 else f"from {first} to {last}"


def _when(text: str) -> str:
    """An ISO 8601 time to the minute (its offset kept unless UTC); other text as given."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{moment:%Y-%m-%d %H:%M}" + (f" {moment:%z}" if moment.utcoffset() else "")


def _percent(rate: float) -> str:
    text = _num(rate * 100)
    # Rounding must not make a failing run look perfect, nor a passing case vanish.
    if text == "100" and rate < 1:
        text = "99.9"
    elif text == "0" and rate > 0:
        text = "0.1"
    return f"{text}%"


def _duration(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{_num(ms / 1000)} s"


def _seconds(ms: float) -> str:
    return f"{f'{ms / 1000:.4f}'.rstrip('0').rstrip('.')} s"


def _num(value: float) -> str:
    """A number with at most one decimal: ``12``, ``12.3``."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _esc(text: str) -> str:
    return escape(_NOT_XML.sub("", text), quote=True)
