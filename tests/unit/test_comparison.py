"""Two runs' suites compared case by case (``domain.comparison``), and the selectors that name
the runs."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from attune_registry.domain.comparison import (
    CaseChange,
    DurationChange,
    FlakyCase,
    RunSelector,
    SuiteChange,
    Thresholds,
    compare,
)
from attune_registry.domain.errors import InvalidRunSelectorError
from attune_registry.domain.results import SuiteResult, TestCaseResult


def case(name: str, status: str = "passed", ms: int = 10, message: str | None = None,
         **more: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "duration_ms": ms, "error_message": message,
            **more}


def suite(name: str, *cases: dict[str, Any], status: str = "passed",
          message: str | None = None) -> dict[str, Any]:
    return {"name": name, "runner_type": "pytest", "status": status, "total": len(cases),
            "passed": 0, "failed": 0, "skipped": 0, "duration_ms": 0, "message": message,
            "test_cases": list(cases)}


def keys(changes: list[Any]) -> list[tuple[str, str]]:
    return [(c.suite, c.name) for c in changes]


class TestOutcomes:
    def test_each_transition_lands_in_its_own_list(self):
        before = [suite("unit", case("stays"), case("breaks"),
                        case("mended", "failed", message="E  boom"),
                        case("stuck", "error", message="old"), case("gone"))]
        after = [suite("unit", case("stays"), case("breaks", "failed", message="E  assert 1 == 2"),
                       case("mended"), case("stuck", "failed", message="new"), case("fresh"))]

        diff = compare(before, after)

        assert diff.newly_failing == [CaseChange(suite="unit", name="breaks", from_status="passed",
                                                 to_status="failed", message="assert 1 == 2")]
        assert diff.fixed == [CaseChange(suite="unit", name="mended", from_status="failed",
                                         to_status="passed", message="boom")]
        assert diff.still_failing == [CaseChange(suite="unit", name="stuck", from_status="error",
                                                 to_status="failed", message="new")]
        assert diff.added == [CaseChange(suite="unit", name="fresh", from_status=None,
                                         to_status="passed")]
        assert diff.removed == [CaseChange(suite="unit", name="gone", from_status="passed",
                                           to_status=None)]
        assert (diff.counts.newly_failing, diff.counts.fixed, diff.counts.still_failing,
                diff.counts.added, diff.counts.removed, diff.counts.unchanged) == (1, 1, 1, 1, 1, 1)
        assert diff.has_new_failures

    def test_identical_runs_differ_in_nothing(self):
        run = [suite("a", case("x"), case("y", "skipped")), suite("b", case("z", "failed"))]

        diff = compare(run, run)

        assert msgspec.to_builtins(diff.counts) == {
            "newly_failing": 0, "fixed": 0, "still_failing": 1, "now_skipped": 0,
            "no_longer_skipped": 0, "added": 0, "removed": 0, "slower": 0, "faster": 0,
            "flaky": 0, "unchanged": 2}
        assert diff.suites == []
        assert not diff.has_new_failures

    def test_cases_are_keyed_by_suite_and_name(self):
        # The same case name in two suites is two cases; moving a case is a removal and an add.
        before = [suite("a", case("same")), suite("b", case("same", "failed"))]
        after = [suite("a", case("same", "failed")), suite("c", case("same"))]

        diff = compare(before, after)

        assert keys(diff.newly_failing) == [("a", "same")]
        assert keys(diff.added) == [("c", "same")]
        assert keys(diff.removed) == [("b", "same")]
        assert diff.fixed == []

    def test_a_name_reported_twice_is_told_apart_by_its_order(self):
        before = [suite("a", case("dup"), case("dup"))]
        after = [suite("a", case("dup"), case("dup", "failed"), case("dup"))]

        diff = compare(before, after)

        assert keys(diff.newly_failing) == [("a", "dup")]
        assert keys(diff.added) == [("a", "dup")]
        assert diff.counts.unchanged == 1

    def test_a_new_case_that_fails_is_a_new_failure_without_being_newly_failing(self):
        diff = compare([suite("a", case("x"))], [suite("a", case("x"), case("y", "error"))])

        assert diff.newly_failing == []
        assert diff.added[0].to_status == "error"
        assert diff.has_new_failures


class TestSkips:
    def test_skipped_cases_move_between_their_own_lists(self):
        before = [suite("a", case("hidden"), case("hidden_failure", "failed"),
                        case("back", "skipped"), case("broke", "skipped"),
                        case("idle", "skipped"))]
        after = [suite("a", case("hidden", "skipped"), case("hidden_failure", "skipped"),
                       case("back"), case("broke", "failed"), case("idle", "skipped"))]

        diff = compare(before, after)

        assert keys(diff.now_skipped) == [("a", "hidden"), ("a", "hidden_failure")]
        assert keys(diff.no_longer_skipped) == [("a", "back")]
        # Skipped, then failing: it newly fails (it was not failing before).
        assert keys(diff.newly_failing) == [("a", "broke")]
        assert diff.fixed == []  # a failure that is now skipped is not fixed
        assert diff.counts.unchanged == 1  # skipped in both


class TestDurations:
    def test_slower_and_faster_need_both_the_ratio_and_the_difference(self):
        before = [suite("a", case("slow", ms=100), case("fast", ms=900), case("jitter", ms=2),
                        case("steady", ms=1000), case("edge", ms=200))]
        after = [suite("a", case("slow", ms=1500), case("fast", ms=300), case("jitter", ms=40),
                       case("steady", ms=1400), case("edge", ms=300))]

        diff = compare(before, after, Thresholds(percent=50, min_ms=100))

        assert diff.slower == [
            DurationChange(suite="a", name="slow", from_ms=100, to_ms=1500, change_pct=1400.0),
            DurationChange(suite="a", name="edge", from_ms=200, to_ms=300, change_pct=50.0)]
        assert diff.faster == [DurationChange(suite="a", name="fast", from_ms=900, to_ms=300,
                                              change_pct=-66.7)]

    def test_thresholds_can_be_lowered(self):
        before = [suite("a", case("jitter", ms=2))]
        after = [suite("a", case("jitter", ms=40))]

        assert compare(before, after).slower == []
        assert keys(compare(before, after, Thresholds(percent=0, min_ms=0)).slower) == [
            ("a", "jitter")]

    def test_a_case_from_zero_has_no_percentage(self):
        diff = compare([suite("a", case("x", ms=0))], [suite("a", case("x", ms=500))])

        assert diff.slower[0].change_pct is None

    def test_only_cases_that_passed_in_both_are_timed(self):
        before = [suite("a", case("x", ms=10), case("y", "failed", ms=10))]
        after = [suite("a", case("x", "failed", ms=5000), case("y", "failed", ms=5000))]

        assert compare(before, after).slower == []


class TestFlakyAndSuites:
    def test_cases_that_passed_on_a_retry_are_listed_as_flaky(self):
        before = [suite("a", case("x", "failed"))]
        after = [suite("a", case("x", attempts=3, flaky=True,
                                 message="Traceback:\n  File \"t.py\"\nAssertionError: once"))]

        diff = compare(before, after)

        assert diff.flaky == [FlakyCase(suite="a", name="x", attempts=3,
                                        message="AssertionError: once")]
        assert keys(diff.fixed) == [("a", "x")]
        assert diff.counts.flaky == 1

    def test_a_suite_that_could_not_run_is_named_with_why(self):
        before = [suite("a", case("x")), suite("old")]
        after = [suite("a", status="error", message="Suite timed out after 5 s"), suite("new")]

        diff = compare(before, after)

        assert diff.suites == [
            SuiteChange(name="a", from_status="passed", to_status="error",
                        message="Suite timed out after 5 s"),
            SuiteChange(name="new", from_status=None, to_status="passed"),
            SuiteChange(name="old", from_status="passed", to_status=None)]
        assert keys(diff.removed) == [("a", "x")]

    def test_stored_results_of_real_suites_compare(self):
        # The documents as the store keeps them (``SuiteResult.to_dict``), extra fields and all.
        stored = SuiteResult(name="s", runner_type="pytest", status="failed", total=1, passed=0,
                             failed=1, skipped=0, duration_ms=3, test_cases=[
                                 TestCaseResult(name="t", status="failed", duration_ms=3,
                                                error_message="E   bad")]).to_dict()

        diff = compare([], [stored])

        assert diff.added == [CaseChange(suite="s", name="t", from_status=None,
                                         to_status="failed", message="bad")]

    def test_long_messages_are_cut(self):
        long = "E  " + "m" * 400
        diff = compare([suite("a", case("x"))], [suite("a", case("x", "failed", message=long))])

        assert diff.newly_failing[0].message is not None
        assert len(diff.newly_failing[0].message) == 300
        assert diff.newly_failing[0].message.endswith("…")


class TestSelectors:
    @pytest.mark.parametrize(("text", "expected"), [
        ("7", RunSelector(run_id=7)), ("0042", RunSelector(run_id=42)),
        ("1.2.0", RunSelector(version="1.2.0")),
        ("1.0.0-rc.1+build.5", RunSelector(version="1.0.0-rc.1+build.5"))])
    def test_ids_and_versions(self, text, expected):
        assert RunSelector.parse(text) == expected

    @pytest.mark.parametrize("bad", ["", "0", "abc", "1.2", "v1.2.0", "-3", "1.2.0\n", "1 2",
                                     str(2**63), "9" * 200, "1.02.0"])
    def test_anything_else_is_refused_naming_it(self, bad):
        with pytest.raises(InvalidRunSelectorError, match="names no test run") as refused:
            RunSelector.parse(bad)

        assert refused.value.code == "BAD_REQUEST"
        assert repr(bad[:20])[:-1] in str(refused.value) or len(bad) > 100

    def test_describe(self):
        assert RunSelector(run_id=3).describe() == "run 3"
        assert RunSelector(version="1.0.0").describe() == "version 1.0.0"
