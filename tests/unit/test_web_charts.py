"""The dashboard's SVG charts, read back as XML: geometry, tooltips, links, escaping."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from attune_registry.adapters.web.charts import RunPoint, duration_chart, pass_rate_chart, sparkline

NS = "http://www.w3.org/2000/svg"
SVG = f"{{{NS}}}"
HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def run(id: int = 1, passed: int = 10, failed: int = 0, *, skipped: int = 0,
        duration_ms: int = 1200, status: str | None = None,
        when: str = "2026-12-07T16:02:00+00:00") -> RunPoint:
    status = status or ("failed" if failed else "passed" if passed else "skipped")
    return RunPoint(id=id, when=when, passed=passed, failed=failed, skipped=skipped,
                    duration_ms=duration_ms, status=status)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def grid_ys(root: ET.Element) -> dict[str, float]:
    """The y of each gridline, by its tick label."""
    lines = [float(line.get("y1", "nan")) for line in root.iter(f"{SVG}line")
             if line.get("class") == "grid"]
    labels = [text.text or "" for text in root.iter(f"{SVG}text") if text.get("class") == "tick"]
    assert len(lines) == len(labels)
    return dict(zip(labels, lines, strict=True))


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if (e.get("class") or "").startswith("run ")]


def title(mark: ET.Element) -> str:
    found = mark.find(f"{SVG}title")
    assert found is not None
    return found.text or ""


def polyline_points(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [[(float(x), float(y)) for x, y in (pair.split(",") for pair in line.get("points", "").split())]
            for line in root.iter(f"{SVG}polyline")]


def links(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}a"))


def assert_no_style_or_script(root: ET.Element) -> None:
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert element.tag not in (f"{SVG}style", f"{SVG}script", "style", "script")


class TestPassRateChart:
    def test_a_full_pass_sits_on_the_top_line_a_half_in_the_middle_a_full_failure_at_the_base(self):
        root = parse(pass_rate_chart([run(1, 10, 0), run(2, 5, 5), run(3, 0, 4)]))

        ys = grid_ys(root)
        cys = [float(circle.get("cy", "nan")) for circle in root.iter(f"{SVG}circle")]
        assert cys == [ys["100%"], pytest.approx((ys["0%"] + ys["100%"]) / 2, abs=0.1), ys["0%"]]
        assert ys["100%"] < ys["75%"] < ys["50%"] < ys["25%"] < ys["0%"]

    def test_the_line_joins_the_markers_oldest_first(self):
        root = parse(pass_rate_chart([run(1, 3, 1), run(2, 1, 3), run(3, 2, 2)]))

        circles = [(float(c.get("cx", "nan")), float(c.get("cy", "nan")))
                   for c in root.iter(f"{SVG}circle")]
        assert polyline_points(root) == [circles]
        assert [x for x, _ in circles] == sorted(x for x, _ in circles)

    def test_a_run_without_a_rate_is_a_gap_not_a_point_at_zero(self):
        points = [run(1, 10, 0), run(2, 8, 2), run(3, 0, 0, skipped=5), run(4, 9, 1), run(5, 4, 6)]

        root = parse(pass_rate_chart(points))

        ys = grid_ys(root)
        no_rate = next(mark for mark in marks(root) if title(mark).startswith("#3 "))
        assert no_rate.tag == f"{SVG}rect"
        assert float(no_rate.get("y", "nan")) == ys["100%"]
        assert float(no_rate.get("height", "nan")) == pytest.approx(ys["0%"] - ys["100%"])
        assert "no passed or failed cases, 5 skipped" in title(no_rate)
        assert len(list(root.iter(f"{SVG}circle"))) == 4
        # The line stops before the gap and starts again after it.
        assert [len(stretch) for stretch in polyline_points(root)] == [2, 2]

    def test_the_tooltip_carries_the_counts_time_status_and_duration(self):
        point = run(42, 18, 2, skipped=1, duration_ms=1234, when="2026-12-07T16:02:59+00:00")

        root = parse(pass_rate_chart([point]))

        assert [title(mark) for mark in marks(root)] == [
            "#42 · 2026-12-07 16:02 · failed · 18/20 passed (90%), 1 skipped · 1.2 s"]

    def test_rounding_never_shows_a_failing_run_as_100_percent(self):
        root = parse(pass_rate_chart([run(7, 1999, 1, duration_ms=40)]))

        assert title(marks(root)[0]).endswith("1999/2000 passed (99.9%) · 40 ms")

    def test_each_marker_is_classed_by_its_status(self):
        points = [run(1, 10, 0), run(2, 5, 5), run(3, 0, 0, status="error"),
                  run(4, 1, 0, status="<weird> status")]

        root = parse(pass_rate_chart(points))

        assert [mark.get("class") for mark in marks(root)] == [
            "run run-passed", "run run-failed", "run run-error", "run run-other"]

    def test_the_label_summarises_the_runs_and_the_latest_rate(self):
        points = [run(i, 10, 0) for i in range(28)] + [run(28, 5, 5), run(29, 0, 0, status="error")]

        root = parse(pass_rate_chart(points))

        assert root.get("role") == "img"
        assert root.get("aria-label") == "Pass rate of the last 30 runs: 28 passed, 1 failed, 1 error"
        assert root.find(f"{SVG}desc") is not None
        assert (root.get("viewBox"), root.get("width"), root.get("height")) == ("0 0 640 160", "640", "160")

    def test_markers_link_to_their_run_only_when_given_an_href(self):
        points = [run(1), run(2, 0, 0)]

        plain = parse(pass_rate_chart(points))
        linked = parse(pass_rate_chart(points, href=lambda p: f"/runs/{p.id}"))

        assert links(plain) == []
        assert [(a.get("href"), [title(m) for m in marks(a)]) for a in links(linked)] == [
            ("/runs/1", [title(marks(plain)[0])]), ("/runs/2", [title(marks(plain)[1])])]

    def test_hostile_text_is_escaped_and_comes_back_intact(self):
        point = run(1, 1, 1, when=HOSTILE, status=HOSTILE)

        svg = pass_rate_chart([point], href=lambda _: f'/runs?x="><script>{HOSTILE}')
        root = parse(svg)

        assert "<script" not in svg
        assert HOSTILE in title(marks(root)[0])
        assert links(root)[0].get("href") == f'/runs?x="><script>{HOSTILE}'
        assert HOSTILE in (root.findtext(f"{SVG}desc") or "")
        assert_no_style_or_script(root)

    def test_characters_xml_cannot_carry_are_dropped(self):
        root = parse(pass_rate_chart([run(1, when="2026\x00-12\x1b-07\ud800")]))

        assert "2026-12-07" in title(marks(root)[0])

    def test_no_runs_says_so(self):
        root = parse(pass_rate_chart([]))

        assert [text.text for text in root.iter(f"{SVG}text")] == ["No runs yet"]
        assert marks(root) == []
        assert root.get("aria-label") == "Pass rate: no runs yet"

    def test_a_single_run_is_a_marker_in_the_middle_of_the_plot(self):
        root = parse(pass_rate_chart([run(1, 3, 1)], width=200))

        (circle,) = root.iter(f"{SVG}circle")
        grid = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "grid")
        middle = (float(grid.get("x1", "nan")) + float(grid.get("x2", "nan"))) / 2
        assert float(circle.get("cx", "nan")) == pytest.approx(middle, abs=0.1)
        assert polyline_points(root) == []
        assert root.get("aria-label") == "Pass rate of the last run: 1 failed; latest 75%"

    def test_ten_thousand_runs_each_get_their_mark(self):
        # Speed is measured in bench/dashboard_page.py, never as a timed test.
        points = [run(i, i % 11, 10 - i % 11, duration_ms=i) for i in range(10_000)]

        root = parse(pass_rate_chart(points, href=lambda p: f"/runs/{p.id}"))
        parse(duration_chart(points))

        assert len(marks(root)) == 10_000


class TestDurationChart:
    def test_bar_heights_are_proportional_to_the_durations(self):
        root = parse(duration_chart([run(1, duration_ms=1000), run(2, duration_ms=2000),
                                     run(3, duration_ms=500)]))

        ys = grid_ys(root)
        heights = [float(bar.get("height", "nan")) for bar in marks(root)]
        assert heights[1] == pytest.approx(2 * heights[0], abs=0.1)
        assert heights[0] == pytest.approx(2 * heights[2], abs=0.1)
        assert heights[1] == pytest.approx(ys["0 s"] - ys["2 s"], abs=0.1)

    @pytest.mark.parametrize("longest_ms", [0, 1, 7, 999, 1000, 1200, 4000, 61_234, 3_600_000])
    def test_the_axis_ticks_are_round_and_cover_the_longest_run(self, longest_ms):
        root = parse(duration_chart([run(1, duration_ms=longest_ms // 3), run(2, duration_ms=longest_ms)]))

        ys = grid_ys(root)
        ticks = [float(label.removesuffix(" s")) for label in ys]
        steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
        (step,) = steps
        mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
        assert ticks[0] == 0
        assert ticks[-1] >= longest_ms / 1000
        assert ticks[-1] - step < max(longest_ms, 1) / 1000
        assert round(mantissa, 6) in (1, 2, 2.5, 5)
        assert 2 <= len(ticks) <= 6
        tallest = marks(root)[1]
        assert float(tallest.get("y", "nan")) >= min(ys.values()) - 0.1

    def test_a_run_of_no_time_is_still_a_bar_one_can_point_at(self):
        root = parse(duration_chart([run(1, duration_ms=0), run(2, duration_ms=5000)]))

        assert float(marks(root)[0].get("height", "nan")) >= 1

    def test_bars_carry_the_same_tooltips_and_links_as_the_pass_rate(self):
        points = [run(42, 18, 2, duration_ms=1234), run(43, 0, 0, skipped=2)]

        bars = parse(duration_chart(points, href=lambda p: f"/runs/{p.id}?a=1&b=2"))
        rates = parse(pass_rate_chart(points))

        assert [title(m) for m in marks(bars)] == [title(m) for m in marks(rates)]
        assert [a.get("href") for a in links(bars)] == ["/runs/42?a=1&b=2", "/runs/43?a=1&b=2"]
        assert links(parse(duration_chart(points))) == []

    def test_the_label_gives_the_latest_and_longest_duration(self):
        root = parse(duration_chart([run(1, duration_ms=4500), run(2, duration_ms=800)]))

        assert root.get("role") == "img"
        assert root.get("aria-label") == "Duration of the last 2 runs: latest 800 ms, longest 4.5 s"

    def test_no_runs_says_so(self):
        root = parse(duration_chart([]))

        assert [text.text for text in root.iter(f"{SVG}text")] == ["No runs yet"]
        assert marks(root) == []

    def test_hostile_text_is_escaped_and_comes_back_intact(self):
        root = parse(duration_chart([run(1, when=HOSTILE)], href=lambda _: HOSTILE))

        assert HOSTILE in title(marks(root)[0])
        assert links(root)[0].get("href") == HOSTILE
        assert_no_style_or_script(root)


class TestSparkline:
    def test_the_highest_value_is_at_the_top_and_the_lowest_at_the_bottom(self):
        root = parse(sparkline([0.5, 1.0, 0.0, 0.75], width=100, height=20))

        ((first, high, low, last),) = polyline_points(root)
        assert high[1] < last[1] < first[1] < low[1]
        assert first[1] == pytest.approx((high[1] + low[1]) / 2, abs=0.1)
        assert first[0] < high[0] < low[0] < last[0] <= 100

    def test_the_last_value_gets_a_dot(self):
        root = parse(sparkline([1, 2, 3]))

        ((*_, last),) = polyline_points(root)
        (dot,) = root.iter(f"{SVG}circle")
        assert (float(dot.get("cx", "nan")), float(dot.get("cy", "nan"))) == last

    def test_equal_values_are_a_flat_line_in_the_middle(self):
        root = parse(sparkline([0.9, 0.9, 0.9], height=20))

        ((a, b, c),) = polyline_points(root)
        assert a[1] == b[1] == c[1] == 10

    def test_a_single_value_is_a_dot(self):
        root = parse(sparkline([0.4], label="Pass rate"))

        assert polyline_points(root) == []
        assert len(list(root.iter(f"{SVG}circle"))) == 1

    def test_nan_values_are_gaps(self):
        root = parse(sparkline([1, 2, float("nan"), 3, 4]))

        assert [len(stretch) for stretch in polyline_points(root)] == [2, 2]

    def test_no_values_is_an_empty_svg_with_its_label(self):
        root = parse(sparkline([], label="Pass rate of the last 10 runs"))

        assert list(root) == []
        assert root.get("role") == "img"
        assert root.get("aria-label") == "Pass rate of the last 10 runs"

    def test_the_label_is_escaped_and_comes_back_intact(self):
        root = parse(sparkline([1, 0], label=HOSTILE))

        assert root.get("aria-label") == HOSTILE
        assert_no_style_or_script(root)
