"""How a shell suite's output becomes test cases: TAP, summary lines, or the exit code."""

from __future__ import annotations

import pytest

from attune_registry.domain.policy import suite_result
from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.runners.shell_output import (
    cases_from_output,
    read_json_output,
    read_output,
    read_summary,
    strip_ansi,
)
from attune_registry.adapters.runners.tap import read_tap

GREEN, RED, BOLD, RESET = "\x1b[0;32m", "\x1b[0;31m", "\x1b[1m", "\x1b[0m"


def statuses(cases: list[TestCaseResult] | None) -> list[tuple[str, str]]:
    assert cases is not None
    return [(case.name, case.status) for case in cases]


def lines(*text: str) -> str:
    return "\n".join(text) + "\n"


def parse_tap(text: str, prefix: str) -> list[TestCaseResult] | None:
    reading = read_tap(text, prefix)
    return None if reading is None else reading.cases


def parse_summary(text: str, prefix: str) -> list[TestCaseResult] | None:
    reading = read_summary(text, prefix)
    return None if reading is None else reading.cases


class TestStripAnsi:
    def test_colour_codes_are_removed_and_the_text_is_kept(self):
        assert strip_ansi(f"{GREEN}ok{RESET} and {BOLD}{RED}bold red{RESET}") == "ok and bold red"

    def test_cursor_and_erase_sequences_are_removed(self):
        assert strip_ansi("\x1b[2K\x1b[?25lcounting\x1b[1A") == "counting"

    def test_text_without_escapes_is_unchanged(self):
        assert strip_ansi("Passed: 3 [ok] 1..2") == "Passed: 3 [ok] 1..2"


class TestTapVerdicts:
    def test_ok_and_not_ok_lines_become_passed_and_failed_cases(self):
        cases = parse_tap(lines("ok 1 - adds", "not ok 2 - subtracts"), "math")

        assert statuses(cases) == [("math: adds", "passed"), ("math: subtracts", "failed")]

    def test_a_description_without_a_dash_is_the_name(self):
        cases = parse_tap(lines("ok 1 adds numbers", "not ok 2 subtracts"), "m")

        assert statuses(cases) == [("m: adds numbers", "passed"), ("m: subtracts", "failed")]

    def test_a_line_without_a_description_is_named_by_its_number(self):
        cases = parse_tap(lines("ok 1", "not ok 7"), "m")

        assert statuses(cases) == [("m: test 1", "passed"), ("m: test 7", "failed")]

    def test_a_line_without_a_number_or_description_is_named_by_its_position(self):
        cases = parse_tap(lines("1..3", "ok", "ok", "not ok"), "m")

        assert statuses(cases) == [("m: test 1", "passed"), ("m: test 2", "passed"),
                                   ("m: test 3", "failed")]

    def test_a_dash_without_a_number_still_introduces_the_description(self):
        assert statuses(parse_tap("1..1\nok - works\n", "m")) == [("m: works", "passed")]

    def test_surrounding_whitespace_is_ignored(self):
        assert statuses(parse_tap("   ok 1 - padded   \n", "m")) == [("m: padded", "passed")]

    def test_a_failing_case_without_a_directive_has_no_message(self):
        [case] = parse_tap("not ok 1 - broken\n", "m")

        assert case.status == "failed" and case.error_message is None

    def test_durations_are_zero_because_tap_does_not_report_them(self):
        assert [c.duration_ms for c in parse_tap(lines("ok 1 - a", "not ok 2 - b"), "m")] == [0, 0]


class TestTapDirectives:
    def test_skip_makes_a_skipped_case_with_its_reason(self):
        [case] = parse_tap("ok 3 - network test # SKIP no network here\n", "m")

        assert (case.name, case.status, case.error_message) == (
            "m: network test", "skipped", "no network here")

    def test_skip_without_a_reason_has_no_message(self):
        [case] = parse_tap("ok 3 # SKIP\n", "m")

        assert (case.status, case.error_message) == ("skipped", None)

    def test_directives_are_case_insensitive(self):
        cases = parse_tap(lines("ok 1 - a # skip later", "not ok 2 - b # todo later"), "m")

        assert statuses(cases) == [("m: a", "skipped"), ("m: b", "passed")]

    def test_not_ok_with_todo_is_an_expected_failure_and_counts_as_passed(self):
        [case] = parse_tap("not ok 4 - unfinished feature # TODO not written yet\n", "m")

        assert (case.name, case.status, case.error_message) == (
            "m: unfinished feature", "passed", None)

    def test_ok_with_todo_counts_as_passed(self):
        assert statuses(parse_tap("ok 5 - surprise # TODO\n", "m")) == [("m: surprise", "passed")]

    def test_a_hash_that_is_not_a_directive_stays_in_the_description(self):
        assert statuses(parse_tap("ok 1 - issue #42 fixed\n", "m")) == [
            ("m: issue #42 fixed", "passed")]


class TestTapPlan:
    def test_a_plan_with_missing_results_counts_them_as_errors(self):
        cases = parse_tap(lines("1..4", "ok 1 - a", "ok 2 - b"), "m")

        assert statuses(cases) == [("m: a", "passed"), ("m: b", "passed"),
                                   ("m: test 3", "error"), ("m: test 4", "error")]
        assert [c.error_message for c in cases[2:]] == ["planned but never reported"] * 2

    def test_a_plan_at_the_end_is_honoured_too(self):
        cases = parse_tap(lines("ok 1 - a", "1..3"), "m")

        assert [c.status for c in cases] == ["passed", "error", "error"]

    def test_a_plan_that_matches_the_results_adds_nothing(self):
        cases = parse_tap(lines("1..2", "ok 1 - a", "not ok 2 - b"), "m")

        assert [c.status for c in cases] == ["passed", "failed"]

    def test_a_plan_only_with_nothing_reported_makes_every_planned_test_an_error(self):
        cases = parse_tap("1..3\n", "m")

        assert statuses(cases) == [("m: test 1", "error"), ("m: test 2", "error"),
                                   ("m: test 3", "error")]

    def test_a_plan_of_zero_is_tap_with_no_cases(self):
        assert parse_tap("1..0\n", "m") == []

    def test_a_plan_of_zero_with_a_skip_reason_is_tap_with_no_cases(self):
        assert parse_tap("1..0 # SKIP no database available\n", "m") == []


class TestTapDetection:
    def test_output_without_tap_is_none(self):
        assert parse_tap(lines("starting", "all good", "done"), "m") is None

    def test_empty_output_is_none(self):
        assert parse_tap("", "m") is None

    def test_words_that_merely_start_with_ok_are_not_tap(self):
        assert parse_tap(lines("okay, moving on", "oks: 3", "nothing ok here"), "m") is None

    def test_other_lines_between_tap_lines_are_ignored(self):
        cases = parse_tap(lines("# setting up", "ok 1 - a", "some log output", "not ok 2 - b",
                                "  ---", "  message: boom", "  ..."), "m")

        assert statuses(cases) == [("m: a", "passed"), ("m: b", "failed")]

    def test_colour_codes_around_tap_lines_are_ignored(self):
        text = lines(f"{BOLD}1..3{RESET}", f"{GREEN}ok 1 - green{RESET}",
                     f"{RED}not ok{RESET} 2 - {RED}red{RESET}",
                     f"{GREEN}ok 3 - skipped # SKIP{RESET} {BOLD}no tty{RESET}")

        cases = parse_tap(text, "m")

        assert statuses(cases) == [("m: green", "passed"), ("m: red", "failed"),
                                   ("m: skipped", "skipped")]
        assert cases[2].error_message == "no tty"

    def test_a_bail_out_keeps_the_reported_lines_and_counts_the_rest_as_errors(self):
        cases = parse_tap(lines("1..4", "ok 1 - a", "not ok 2 - b", "Bail out! database is down",
                                "ok 3 - never mind"), "m")

        assert statuses(cases)[:3] == [("m: a", "passed"), ("m: b", "failed"),
                                       ("m: never mind", "passed")]
        assert not any("Bail out" in c.name for c in cases)
        assert statuses(cases)[3:] == [("m: test 4", "error"), ("m", "error")]
        assert cases[4].error_message == "bailed out: database is down"

    def test_a_bail_out_without_a_plan_is_an_error_after_the_reported_lines(self):
        cases = parse_tap(lines("ok 1 - a", "Bail out! giving up"), "m")

        assert [(c.name, c.status, c.error_message) for c in cases] == [
            ("m: a", "passed", None), ("m", "error", "bailed out: giving up")]

    def test_lines_that_merely_start_with_ok_are_not_tap_without_a_plan_version_or_number(self):
        assert parse_tap(lines("ok: cache warmed", "ok", "ok - done", "not ok"), "m") is None

    def test_a_version_line_a_plan_or_a_numbered_point_makes_tap(self):
        assert statuses(parse_tap(lines("TAP version 14", "ok - a"), "m")) == [("m: a", "passed")]
        assert statuses(parse_tap(lines("1..1", "ok - a"), "m")) == [("m: a", "passed")]
        assert statuses(parse_tap(lines("not ok 1 - a", "ok - b"), "m")) == [
            ("m: a", "failed"), ("m: b", "passed")]

    def test_a_log_line_ok_with_a_colon_is_not_a_test_point_even_in_tap(self):
        assert statuses(parse_tap(lines("1..1", "ok: cache warmed", "ok 1 - a"), "m")) == [
            ("m: a", "passed")]

    def test_an_uppercase_ok_log_line_is_not_tap(self):
        assert parse_tap(lines("OK: setup done", "Everything OK"), "m") is None


class TestSummaryLines:
    def test_the_four_counts_become_numbered_cases(self):
        text = lines("Total Tests: 5", "Passed: 3", "Failed: 1", "Skipped: 1")

        assert statuses(parse_summary(text, "sh")) == [
            ("sh: passed #1", "passed"), ("sh: passed #2", "passed"), ("sh: passed #3", "passed"),
            ("sh: failed #1", "failed"), ("sh: skipped #1", "skipped")]

    def test_a_zero_count_makes_no_cases(self):
        cases = parse_summary(lines("Total Tests: 5", "Passed: 4", "Failed: 1", "Skipped: 0"), "s")

        assert [c.status for c in cases] == ["passed"] * 4 + ["failed"]

    def test_failed_and_skipped_are_optional(self):
        assert [c.status for c in parse_summary(lines("Total Tests: 2", "Passed: 2"), "s")] == [
            "passed", "passed"]

    def test_coloured_counts_are_read(self):
        text = lines(f"Total Tests: {BOLD}37{RESET}", f"Passed: {GREEN}36{RESET}",
                     f"Failed: {RED}1{RESET}", f"Skipped: {GREEN}0{RESET}")

        cases = parse_summary(text, "s")

        assert [c.status for c in cases].count("passed") == 36
        assert [c.status for c in cases].count("failed") == 1
        assert len(cases) == 37

    def test_coloured_labels_are_read(self):
        text = lines(f"{BOLD}Total Tests:{RESET} 2", f"{GREEN}Passed:{RESET} 1",
                     f"{RED}Failed:{RESET} 1")

        assert [c.status for c in parse_summary(text, "s")] == ["passed", "failed"]

    def test_indented_lines_and_trailing_words_are_read(self):
        text = lines("  Total Tests: 3 tests", "  Passed: 2 (67%)", "  Failed: 1 test")

        assert [c.status for c in parse_summary(text, "s")] == ["passed", "passed", "failed"]

    def test_a_count_right_after_the_colon_is_read(self):
        assert [c.status for c in parse_summary(lines("Total Tests:1", "Passed:1"), "s")] == [
            "passed"]

    def test_the_last_value_of_a_label_wins(self):
        text = lines("Total Tests: 1", "Passed: 1", "... more tests ...",
                     "Total Tests: 3", "Passed: 2", "Failed: 0", "Failed: 1")

        assert [c.status for c in parse_summary(text, "s")] == ["passed", "passed", "failed"]

    def test_a_total_larger_than_the_parts_adds_unaccounted_errors(self):
        cases = parse_summary(lines("Total Tests: 5", "Passed: 2", "Failed: 1"), "s")

        assert statuses(cases)[3:] == [("s: unaccounted #1", "error"),
                                       ("s: unaccounted #2", "error")]
        assert all("not as passed, failed or skipped" in c.error_message for c in cases[3:])
        assert [c.status for c in cases[:3]] == ["passed", "passed", "failed"]

    def test_a_total_smaller_than_the_parts_is_an_error_naming_both(self):
        reading = read_summary(lines("Total Tests: 1", "Passed: 2", "Failed: 1"), "s")

        assert [c.status for c in reading.cases] == ["passed", "passed", "failed", "error"]
        assert reading.cases[-1].error_message == reading.conflicts[0] == (
            "the summary lines on stdout count Total Tests: 1 but 3 as passed, failed or "
            "skipped")

    def test_without_a_total_there_is_no_summary(self):
        assert parse_summary(lines("Passed: 4", "Failed: 1"), "s") is None

    def test_without_a_passed_count_there_is_no_summary(self):
        assert parse_summary(lines("Total Tests: 5", "Failed: 5"), "s") is None

    def test_text_without_summary_lines_is_none(self):
        assert parse_summary(lines("running", "ok then"), "s") is None

    def test_a_log_line_with_a_passed_label_but_no_number_does_not_count(self):
        text = lines("Total Tests: 2", "Passed: 2", "Passed: foo")

        assert [c.status for c in parse_summary(text, "s")] == ["passed", "passed"]

    def test_a_passed_label_without_a_number_is_not_a_passed_count(self):
        assert parse_summary(lines("Passed: foo", "Total Tests: 3"), "s") is None

    def test_a_label_in_the_middle_of_a_line_does_not_count(self):
        text = lines("Total Tests: 1", "Passed: 1", "the step Failed: 9 retries")

        assert [c.status for c in parse_summary(text, "s")] == ["passed"]

    def test_counts_coloured_with_tput_are_read(self):
        sgr0 = "\x1b(B\x1b[m"
        text = lines(f"Total Tests: \x1b[32m2{sgr0}", f"Passed: \x1b[32m2{sgr0}")

        assert [c.status for c in parse_summary(text, "s") or []] == ["passed", "passed"]


class TestCasesFromOutput:
    def test_tap_gives_the_cases_when_summary_lines_count_the_same(self):
        stdout = lines("1..2", "ok 1 - a", "ok 2 - b", "Total Tests: 2", "Passed: 2")

        report = read_output(stdout, "", 0, "s")

        assert statuses(report.cases) == [("s: a", "passed"), ("s: b", "passed")]
        assert report.conflicts == []

    def test_summary_lines_that_count_differently_from_tap_are_an_error_naming_both(self):
        report = read_output(lines("ok 1 - a", "Total Tests: 9", "Passed: 9"), "", 0, "s")

        assert statuses(report.cases) == [("s: a", "passed"), ("s", "error")]
        assert report.cases[-1].error_message == (
            "results disagree: TAP on stdout: 1 test (1 passed); the summary lines on stdout: "
            "9 tests (9 passed)")
        assert report.conflicts == [f"s: {report.cases[-1].error_message}"]

    def test_tap_on_stderr_gives_the_cases_and_summary_lines_on_stdout_must_agree(self):
        report = read_output(lines("Total Tests: 1", "Passed: 0", "Failed: 1"),
                             "not ok 1 - a\n", 1, "s")

        assert statuses(report.cases) == [("s: a", "failed")]
        assert report.conflicts == []

    def test_tap_on_stdout_wins_over_tap_on_stderr(self):
        cases = cases_from_output("ok 1 - out\n", "ok 1 - err\n", 0, "s")

        assert statuses(cases) == [("s: out", "passed")]

    def test_summary_lines_win_over_the_exit_code(self):
        cases = cases_from_output(lines("Total Tests: 2", "Passed: 1", "Failed: 1"), "", 0, "s")

        assert [c.status for c in cases] == ["passed", "failed"]

    def test_summary_lines_are_found_on_stderr_when_stdout_has_none(self):
        cases = cases_from_output("just logging\n", lines("Total Tests: 2", "Passed: 2"), 0, "s")

        assert statuses(cases) == [("s: passed #1", "passed"), ("s: passed #2", "passed")]

    def test_a_non_zero_exit_beside_tap_that_reports_no_failure_is_an_error(self):
        report = read_output("ok 1 - a\n", "", 2, "s")

        assert statuses(report.cases) == [("s: a", "passed"), ("s", "error")]
        assert report.conflicts == [
            "s: the script exited with code 2, but no test failed according to TAP on stdout"]

    def test_a_timed_out_script_keeps_the_tap_it_reported(self):
        cases = cases_from_output(lines("1..3", "ok 1 - a"), "", None, "s")

        assert [c.status for c in cases] == ["passed", "error", "error"]

    def test_exit_code_zero_without_results_is_one_passed_case_named_by_the_prefix(self):
        assert cases_from_output("hello\n", "", 0, "check.sh") == [
            TestCaseResult(name="check.sh", status="passed")]

    def test_a_non_zero_exit_code_without_results_is_one_failed_case(self):
        assert cases_from_output("hello\n", "oops\n", 3, "check.sh") == [
            TestCaseResult(name="check.sh", status="failed", error_message="exited with code 3")]

    def test_a_negative_exit_code_is_reported_as_it_is(self):
        [case] = cases_from_output("", "", -9, "check.sh")

        assert (case.status, case.error_message) == ("failed", "exited with code -9")

    def test_a_timed_out_script_without_results_has_no_cases(self):
        assert cases_from_output("partial output\n", "", None, "check.sh") == []

    def test_a_plan_of_zero_is_tap_and_gives_no_cases(self):
        assert cases_from_output("1..0 # SKIP nothing to do\n", "", 0, "check.sh") == []

    def test_a_summary_of_zero_tests_gives_no_cases(self):
        assert cases_from_output(lines("Total Tests: 0", "Passed: 0"), "", 0, "check.sh") == []


def judged(report, exit_code: int | None = 0):
    """The suite the policy makes of one script's report, as the shell runner builds it."""
    return suite_result(name="Suite", runner_type="shell", cases=report.cases,
                        exit_code=exit_code, duration_ms=0)


class TestMeasuredFalsePasses:
    def test_a_log_line_starting_with_ok_does_not_hide_a_failed_count(self):
        stdout = lines("ok: cache warmed", "Total Tests: 5", "Passed: 3", "Failed: 2")

        report = read_output(stdout, "", 0, "tests/run.sh")

        assert judged(report).status == "failed"
        assert [c.status for c in report.cases].count("failed") == 2
        assert report.conflicts == ["tests/run.sh: the script exited with 0, but 2 failed "
                                    "according to the summary lines on stdout"]

    def test_a_failed_count_beside_passing_tap_is_not_ignored(self):
        stdout = lines("1..1", "ok 1 - warm", "Total Tests: 3", "Passed: 1", "Failed: 2")

        report = read_output(stdout, "", 0, "t.sh")

        assert judged(report).status == "failed"
        assert report.conflicts[0] == (
            "t.sh: results disagree: TAP on stdout: 1 test (1 passed); the summary lines on "
            "stdout: 3 tests (1 passed, 2 failed)")
        assert report.conflicts[1] == (
            "t.sh: the script exited with 0, but 2 failed according to the summary lines on "
            "stdout")

    def test_a_json_report_with_a_failure_and_exit_0_fails(self):
        report = read_json_output('{"total": 1, "passed": 0, "failed": 1}', 0, "t.sh", 2**22)

        assert judged(report).status == "failed"
        assert statuses(report.cases) == [("t.sh: failed #1", "failed")]
        assert report.conflicts == [
            "t.sh: the script exited with 0, but 1 failed according to the JSON report"]

    def test_indented_subtest_points_are_not_counted_as_cases(self):
        stdout = lines("TAP version 14", "1..1", "# Subtest: parent", "    1..2",
                       "    ok 1 - child a", "    ok 2 - child b", "ok 1 - parent")

        report = read_output(stdout, "", 0, "t.sh")

        assert statuses(report.cases) == [("t.sh: parent", "passed")]
        assert report.conflicts == []


class TestTapSubtests:
    def test_the_tap14_example_counts_top_level_points_only(self):
        text = lines("TAP version 14", "1..2", "# Subtest: first", "    # Subtest: nested",
                     "        1..1", "        ok 1 - deepest", "    ok 1 - nested",
                     "    ok 2 - sibling", "    1..2", "ok 1 - first", "ok 2 - second")

        reading = read_tap(text, "m")

        assert statuses(reading.cases) == [("m: first", "passed"), ("m: second", "passed")]
        assert reading.conflicts == []

    def test_a_failing_subtest_under_a_not_ok_parent_is_one_failed_case(self):
        text = lines("1..1", "    1..2", "    ok 1 - a", "    not ok 2 - b", "not ok 1 - parent")

        reading = read_tap(text, "m")

        assert statuses(reading.cases) == [("m: parent", "failed")]
        assert (reading.conflicts, reading.reported_failures) == ([], 1)

    def test_an_ok_parent_over_a_failing_subtest_is_an_error_saying_so(self):
        text = lines("1..1", "    1..2", "    ok 1 - a", "    not ok 2 - b", "ok 1 - parent")

        reading = read_tap(text, "m")

        assert [(c.name, c.status, c.error_message) for c in reading.cases] == [
            ("m: parent", "error", "says ok, but its subtest has 1 failing test point")]
        assert reading.conflicts == [
            "TAP on stdout: test point 'parent' says ok, but its subtest has 1 failing test point"]

    def test_an_ok_parent_over_a_subtest_that_misses_planned_points_is_an_error(self):
        text = lines("1..1", "    1..3", "    ok 1 - a", "ok 1 - parent")

        [case] = read_tap(text, "m").cases

        assert (case.status, case.error_message) == (
            "error", "says ok, but its subtest plans 1..3 but reports 1 test points")

    def test_a_failure_two_levels_down_under_ok_parents_is_caught_at_the_top(self):
        text = lines("1..1", "        not ok 1 - deep", "    ok 1 - middle", "ok 1 - top")

        [case] = read_tap(text, "m").cases

        assert (case.name, case.status) == ("m: top", "error")

    def test_a_todo_parent_may_have_a_failing_subtest(self):
        text = lines("1..1", "    not ok 1 - b", "ok 1 - parent # TODO not yet")

        reading = read_tap(text, "m")

        assert statuses(reading.cases) == [("m: parent", "passed")]
        assert reading.conflicts == []

    def test_a_failing_subtest_that_no_test_point_follows_is_an_error(self):
        text = lines("ok 1 - a", "    1..1", "    not ok 1 - b")

        reading = read_tap(text, "m")

        assert statuses(reading.cases) == [("m: a", "passed"), ("m", "error")]
        assert reading.cases[-1].error_message == (
            "a subtest has 1 failing test point but no test point follows it")

    def test_indented_tap_alone_is_still_tap_and_its_failure_counts(self):
        reading = read_tap(lines("    not ok 1 - hidden"), "m")

        assert statuses(reading.cases) == [("m", "error")]

    def test_up_to_three_spaces_of_indentation_is_still_the_top_level(self):
        assert statuses(parse_tap(lines("1..2", "ok 1 - a", "   not ok 2 - b"), "m")) == [
            ("m: a", "passed"), ("m: b", "failed")]


class TestTapYamlBlocks:
    def test_a_yaml_block_after_a_point_is_skipped_whatever_it_holds(self):
        text = lines("1..1", "not ok 1 - a", "  ---", "  output: |", "    ok 2 - not a test",
                     "    1..9", "  ...")

        assert statuses(parse_tap(text, "m")) == [("m: a", "failed")]

    def test_an_unclosed_yaml_block_ends_where_its_indentation_does(self):
        text = lines("1..2", "ok 1 - a", "  ---", "  note: no end marker", "not ok 2 - b")

        assert statuses(parse_tap(text, "m")) == [("m: a", "passed"), ("m: b", "failed")]


class TestTapPlanMismatch:
    def test_more_points_than_planned_is_an_error_saying_so(self):
        reading = read_tap(lines("1..1", "ok 1 - a", "ok 2 - b"), "m")

        assert statuses(reading.cases) == [("m: a", "passed"), ("m: b", "passed"),
                                           ("m", "error")]
        assert reading.conflicts == ["TAP on stdout plans 1..1 but reports 2 test points"]

    def test_fewer_points_than_planned_is_named_in_the_conflicts(self):
        reading = read_tap(lines("1..3", "ok 1 - a"), "m")

        assert reading.conflicts == ["TAP on stdout plans 1..3 but reports 1 test point"]
        assert reading.reported_failures == 0  # derived, not stated by the script

    def test_two_plans_are_an_error(self):
        reading = read_tap(lines("1..1", "ok 1 - a", "1..1"), "m")

        assert statuses(reading.cases)[-1] == ("m", "error")
        assert reading.conflicts == ["TAP on stdout has 2 plans (1..1, 1..1)"]


class TestExitCodeAgainstReports:
    def test_exit_0_beside_failing_tap_names_both_and_adds_no_case(self):
        report = read_output(lines("1..2", "ok 1 - a", "not ok 2 - b"), "", 0, "t.sh")

        assert [c.status for c in report.cases] == ["passed", "failed"]
        assert report.conflicts == [
            "t.sh: the script exited with 0, but 1 failed according to TAP on stdout"]

    def test_a_non_zero_exit_beside_a_passing_summary_is_an_error(self):
        report = read_output(lines("Total Tests: 2", "Passed: 2"), "", 1, "t.sh")

        assert statuses(report.cases)[-1] == ("t.sh", "error")
        assert judged(report, 1).status == "failed"
        assert report.conflicts == ["t.sh: the script exited with code 1, but no test failed "
                                    "according to the summary lines on stdout"]

    def test_a_non_zero_exit_after_planned_tests_went_missing_is_no_contradiction(self):
        report = read_output(lines("1..2", "ok 1 - a"), "", 1, "t.sh")

        assert [c.status for c in report.cases] == ["passed", "error"]
        assert report.conflicts == ["t.sh: TAP on stdout plans 1..2 but reports 1 test point"]

    def test_a_plan_of_zero_and_a_non_zero_exit_is_an_error(self):
        report = read_output("1..0\n", "", 3, "t.sh")

        assert statuses(report.cases) == [("t.sh", "error")]

    def test_a_timed_out_script_is_not_judged_by_its_missing_exit_code(self):
        report = read_output(lines("1..1", "ok 1 - a"), "", None, "t.sh")

        assert (statuses(report.cases), report.conflicts) == ([("t.sh: a", "passed")], [])

    def test_tap_on_both_streams_must_count_the_same(self):
        agree = read_output("ok 1 - out\n", "ok 1 - err\n", 0, "t.sh")
        differ = read_output("ok 1 - out\n", "not ok 1 - err\n", 0, "t.sh")

        assert (statuses(agree.cases), agree.conflicts) == ([("t.sh: out", "passed")], [])
        assert statuses(differ.cases) == [("t.sh: out", "passed"), ("t.sh", "error")]
        assert "TAP on stderr: 1 test (1 failed)" in differ.conflicts[0]


class TestJsonReport:
    def test_counts_alone_become_numbered_cases(self):
        report = read_json_output(
            '{"total": 4, "passed": 1, "failed": 1, "errors": 1, "skipped": 1}', 1, "j", 2**22)

        assert statuses(report.cases) == [("j: passed #1", "passed"), ("j: failed #1", "failed"),
                                          ("j: error #1", "error"), ("j: skipped #1", "skipped")]
        assert report.conflicts == []

    def test_named_tests_become_the_cases(self):
        stdout = """
            {"total": 2, "passed": 1, "failed": 1, "duration_ms": 30,
             "tests": [{"name": "adds", "status": "passed", "duration_ms": 10},
                       {"name": "divides", "status": "failed", "message": "ZeroDivisionError"}]}
        """

        report = read_json_output(stdout, 1, "j", 2**22)

        assert [(c.name, c.status, c.duration_ms, c.error_message) for c in report.cases] == [
            ("j: adds", "passed", 10, None), ("j: divides", "failed", 0, "ZeroDivisionError")]
        assert judged(report, 1).status == "failed"

    def test_a_passing_report_and_exit_0_pass(self):
        report = read_json_output('{"total": 1, "passed": 1, "failed": 0}\n', 0, "j", 2**22)

        assert judged(report).status == "passed"

    def test_counts_that_do_not_add_up_are_an_error(self):
        report = read_json_output('{"total": 3, "passed": 3, "failed": 1}', 1, "j", 2**22)

        assert statuses(report.cases)[-1] == ("j", "error")
        assert report.conflicts == [
            "j: the JSON report says total 3 but passed + failed + errors + skipped is 4"]

    def test_tests_that_disagree_with_the_counts_are_an_error(self):
        stdout = ('{"total": 1, "passed": 1, "failed": 0, '
                  '"tests": [{"name": "a", "status": "failed"}]}')

        report = read_json_output(stdout, 0, "j", 2**22)

        assert judged(report).status == "failed"
        assert report.conflicts[0] == ("j: the JSON report's counts say 1 test (1 passed) but "
                                       "its tests list 1 test (1 failed)")

    @pytest.mark.parametrize(("stdout", "problem"), [
        ("", "stdout is empty"),
        ("all good\n", "stdout is not one JSON object"),
        ('{"total": 1, "passed": 1}', "Object missing required field `failed`"),
        ('{"total": 1, "passed": 1, "failed": 0, "failures": 1}',
         "Object contains unknown field `failures`"),
        ('{"total": 1, "passed": true, "failed": 0}',
         "Expected `int`, got `bool` - at `report.passed`"),
        ('{"total": 1, "passed": 2, "failed": -1}',
         "Expected `int` >= 0 - at `report.failed`"),
        ('[{"total": 1, "passed": 1, "failed": 0}]', "Expected `object`, got `array`"),
        ('{"total": 1, "passed": 1, "failed": 0}\n{"total": 1, "passed": 1, "failed": 0}',
         "stdout is not one JSON object"),
        ('{"total": 1, "passed": 1, "failed": 0, "tests": [{"name": "a", "status": "ok"}]}',
         "Invalid enum value 'ok' - at `report.tests[0].status`"),
        ("{" + "x" * 10 + "\n[... 99 bytes of output dropped ...]\n}", "stdout is larger than 4 MiB"),
    ])
    def test_anything_but_one_valid_report_is_an_error_whatever_the_exit_code(self, stdout,
                                                                              problem):
        report = read_json_output(stdout, 0, "j", 2**22)

        [case] = report.cases
        assert (case.name, case.status) == ("j", "error")
        assert case.error_message.startswith(
            "no valid JSON report on stdout (result_format: json): ")
        assert problem in case.error_message

    def test_a_script_killed_before_its_report_leaves_the_timeout_to_speak(self):
        assert read_json_output('{"total": 3, "pas', None, "j", 2**22).cases == []

    def test_a_non_zero_exit_beside_a_passing_report_is_an_error(self):
        report = read_json_output('{"total": 1, "passed": 1, "failed": 0}', 2, "j", 2**22)

        assert statuses(report.cases)[-1] == ("j", "error")
        assert report.conflicts == [
            "j: the script exited with code 2, but no test failed according to the JSON report"]
