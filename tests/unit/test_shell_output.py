"""How a shell suite's output becomes test cases: TAP, summary lines, or the exit code."""

from __future__ import annotations

from domain.results import TestCaseResult

from adapters.runners.shell_output import (
    cases_from_output,
    parse_summary,
    parse_tap,
    strip_ansi,
)

GREEN, RED, BOLD, RESET = "\x1b[0;32m", "\x1b[0;31m", "\x1b[1m", "\x1b[0m"


def statuses(cases: list[TestCaseResult] | None) -> list[tuple[str, str]]:
    assert cases is not None
    return [(case.name, case.status) for case in cases]


def lines(*text: str) -> str:
    return "\n".join(text) + "\n"


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
        cases = parse_tap(lines("ok", "ok", "not ok"), "m")

        assert statuses(cases) == [("m: test 1", "passed"), ("m: test 2", "passed"),
                                   ("m: test 3", "failed")]

    def test_a_dash_without_a_number_still_introduces_the_description(self):
        assert statuses(parse_tap("ok - works\n", "m")) == [("m: works", "passed")]

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
        assert statuses(cases)[3:] == [("m: test 4", "error")]

    def test_a_bail_out_without_a_plan_keeps_only_the_reported_lines(self):
        cases = parse_tap(lines("ok 1 - a", "Bail out! giving up"), "m")

        assert statuses(cases) == [("m: a", "passed")]

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

    def test_a_total_smaller_than_the_parts_adds_no_errors(self):
        cases = parse_summary(lines("Total Tests: 1", "Passed: 2", "Failed: 1"), "s")

        assert [c.status for c in cases] == ["passed", "passed", "failed"]

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
    def test_tap_wins_over_summary_lines(self):
        stdout = lines("ok 1 - a", "Total Tests: 9", "Passed: 9")

        assert statuses(cases_from_output(stdout, "", 0, "s")) == [("s: a", "passed")]

    def test_tap_on_stderr_wins_over_summary_lines_on_stdout(self):
        cases = cases_from_output(lines("Total Tests: 9", "Passed: 9"), "not ok 1 - a\n", 1, "s")

        assert statuses(cases) == [("s: a", "failed")]

    def test_tap_on_stdout_wins_over_tap_on_stderr(self):
        cases = cases_from_output("ok 1 - out\n", "ok 1 - err\n", 0, "s")

        assert statuses(cases) == [("s: out", "passed")]

    def test_summary_lines_win_over_the_exit_code(self):
        cases = cases_from_output(lines("Total Tests: 2", "Passed: 1", "Failed: 1"), "", 0, "s")

        assert [c.status for c in cases] == ["passed", "failed"]

    def test_summary_lines_are_found_on_stderr_when_stdout_has_none(self):
        cases = cases_from_output("just logging\n", lines("Total Tests: 2", "Passed: 2"), 0, "s")

        assert statuses(cases) == [("s: passed #1", "passed"), ("s: passed #2", "passed")]

    def test_tap_wins_over_a_non_zero_exit_code(self):
        assert statuses(cases_from_output("ok 1 - a\n", "", 2, "s")) == [("s: a", "passed")]

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
