"""Suite progress on stderr: start and end lines, failing cases, the live status line."""

from __future__ import annotations

import threading

import pytest

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.policy import suite_result
from attune_registry.domain.results import TestCaseResult, summary_line

from attune_registry.adapters.cli.progress import MAX_LISTED_FAILURES, SuiteProgress, suite_summary

UNIT = TestSuite(name="Unit Tests", runner="pytest", timeout_seconds=120)
SHELL = TestSuite(name="Shell", runner="shell", timeout_seconds=30)


def case(name: str, status: str = "passed", message: str | None = None) -> TestCaseResult:
    return TestCaseResult(name=name, status=status, error_message=message)


def result(*cases: TestCaseResult, name: str = "Unit Tests", exit_code: int | None = 0,
           duration_ms: int = 1234, **options):
    return suite_result(name=name, runner_type="pytest", cases=cases, exit_code=exit_code,
                        duration_ms=duration_ms, **options)


def live_segments(err: str) -> list[str]:
    """The texts the live line showed, in order (each write starts with CR + erase line)."""
    shown = (part.removeprefix("\x1b[2K") for part in err.split("\r"))
    return [text for text in shown if text]


class TestSuiteSummaryLine:
    def test_a_passing_suite_shows_a_tick_the_counts_and_the_duration(self):
        summary = suite_summary(result(case("a"), case("b")))

        assert summary == ["  ✓ Unit Tests: 2/2 passed in 1.23 s"]

    def test_a_failing_suite_shows_a_cross_and_its_message(self):
        summary = suite_summary(result(case("a"), case("b", "failed"), exit_code=1))

        assert summary[0] == "  ✗ Unit Tests: 1/2 passed in 1.23 s (1 test(s) failed)"

    def test_skipped_cases_are_counted_in_the_line(self):
        summary = suite_summary(result(case("a"), case("b", "skipped"), case("c", "skipped")))

        assert summary == ["  ✓ Unit Tests: 1/3 passed, 2 skipped in 1.23 s"]

    def test_no_skipped_count_when_nothing_was_skipped(self):
        assert "skipped" not in suite_summary(result(case("a")))[0]

    def test_a_suite_that_errored_shows_a_cross_and_its_own_message(self):
        summary = suite_summary(result(exit_code=None, timed_out=True,
                                       message="timed out after 30 s"))

        assert summary == ["  ✗ Unit Tests: 0/0 passed in 1.23 s (timed out after 30 s)"]

    def test_a_suite_where_nothing_ran_says_so(self):
        assert suite_summary(result())[0].endswith("(no tests ran)")

    def test_long_durations_are_shown_in_minutes(self):
        assert suite_summary(result(case("a"), duration_ms=125_000))[0].endswith(
            "in 2 min 5 s")


class TestFailingCasesList:
    def test_failing_and_erroring_cases_are_listed_with_the_last_line_of_their_message(self):
        summary = suite_summary(result(
            case("t.ok"),
            case("t.fails", "failed", "Traceback (most recent call last):\n  File x\n"
                                      "AssertionError: 1 != 2\n\n"),
            case("t.errs", "error", "fixture 'db' not found"),
            case("t.skip", "skipped", "not today"), exit_code=1))

        assert summary[1:] == ["    ✗ t.fails: AssertionError: 1 != 2",
                               "    ✗ t.errs: fixture 'db' not found"]

    def test_a_failing_case_without_a_message_is_listed_by_name_only(self):
        summary = suite_summary(result(case("t.bare", "failed"), exit_code=1))

        assert summary[1:] == ["    ✗ t.bare"]

    def test_a_passing_suite_lists_no_cases(self):
        assert len(suite_summary(result(case("a"), case("b", "skipped", "why")))) == 1

    def test_at_most_ten_failures_are_listed_then_how_many_more(self):
        failing = [case(f"t.f{n}", "failed", f"boom {n}") for n in range(13)]

        summary = suite_summary(result(case("t.ok"), *failing, exit_code=1))

        assert MAX_LISTED_FAILURES == 10
        assert summary[1:11] == [f"    ✗ t.f{n}: boom {n}" for n in range(10)]
        assert summary[11:] == ["    … and 3 more"]

    def test_exactly_ten_failures_need_no_more_line(self):
        failing = [case(f"t.f{n}", "error") for n in range(10)]

        summary = suite_summary(result(*failing, exit_code=1))

        assert len(summary) == 11 and not any("more" in text for text in summary)


class TestVerboseSummary:
    def test_every_case_is_listed_with_its_symbol(self):
        summary = suite_summary(result(case("t.a"), case("t.b", "failed", "one\nlast line"),
                                       case("t.c", "error"), case("t.d", "skipped", "later"),
                                       exit_code=1), verbose=True)

        assert summary[1:] == ["    ✓ t.a", "    ✗ t.b: last line", "    ✗ t.c", "    ○ t.d"]

    def test_more_than_ten_failures_are_all_listed(self):
        failing = [case(f"t.f{n}", "failed") for n in range(12)]

        summary = suite_summary(result(*failing, exit_code=1), verbose=True)

        assert summary[1:] == [f"    ✗ t.f{n}" for n in range(12)]

    def test_a_passing_suite_lists_its_passing_cases(self):
        assert suite_summary(result(case("t.a"), case("t.b")), verbose=True)[1:] == [
            "    ✓ t.a", "    ✓ t.b"]


class TestSuiteProgressLines:
    def test_the_start_line_names_the_suite_its_runner_and_timeout(self, capsys):
        SuiteProgress(live=False).suite_started(UNIT)

        captured = capsys.readouterr()
        assert captured.err == "▶ Running suite 'Unit Tests' (pytest, timeout 120 s)\n"
        assert captured.out == ""

    def test_the_end_line_and_failing_cases_go_to_stderr(self, capsys):
        progress = SuiteProgress(live=False)
        progress.suite_started(UNIT)
        capsys.readouterr()

        progress.suite_finished(result(case("t.a"), case("t.b", "failed", "x\nboom"),
                                       exit_code=1))

        captured = capsys.readouterr()
        assert captured.err.splitlines() == [
            "  ✗ Unit Tests: 1/2 passed in 1.23 s (1 test(s) failed)", "    ✗ t.b: boom"]
        assert captured.out == ""

    def test_not_live_writes_nothing_per_case(self, capsys):
        progress = SuiteProgress(live=False)
        progress.suite_started(UNIT)
        capsys.readouterr()

        for n in range(5):
            progress.case_finished(UNIT, case(f"t.{n}", "failed" if n % 2 else "passed"))

        assert capsys.readouterr() == ("", "")
        assert progress.counts["Unit Tests"] == [5, 2]

    def test_not_live_writes_no_control_characters(self, capsys):
        progress = SuiteProgress(live=False)
        progress.suite_started(UNIT)
        progress.case_finished(UNIT, case("t.a"))
        progress.suite_finished(result(case("t.a")))

        err = capsys.readouterr().err
        assert "\r" not in err and "\x1b" not in err
        assert err.splitlines() == ["▶ Running suite 'Unit Tests' (pytest, timeout 120 s)",
                                    "  ✓ Unit Tests: 1/1 passed in 1.23 s"]

    def test_live_defaults_to_whether_stderr_is_a_terminal(self, capsys):
        assert SuiteProgress().live is False  # capsys's stderr is not a terminal

    def test_a_finished_suite_is_forgotten(self, capsys):
        progress = SuiteProgress(live=False)
        progress.suite_started(UNIT)
        progress.case_finished(UNIT, case("t.a"))

        progress.suite_finished(result(case("t.a")))

        assert "Unit Tests" not in progress.counts


class TestLiveStatusLine:
    def test_each_finished_case_redraws_the_line_with_done_and_failed_counts(self, capsys):
        progress = SuiteProgress(live=True)
        progress.suite_started(UNIT)
        capsys.readouterr()

        progress.case_finished(UNIT, case("t.a"))
        progress.case_finished(UNIT, case("t.b", "failed"))
        progress.case_finished(UNIT, case("t.c", "error"))
        progress.case_finished(UNIT, case("t.d", "skipped"))

        err = capsys.readouterr().err
        assert err.startswith("\r\x1b[2K")
        assert "\n" not in err
        assert live_segments(err) == ["  Unit Tests: 1 done, 0 failed",
                                      "  Unit Tests: 2 done, 1 failed",
                                      "  Unit Tests: 3 done, 2 failed",
                                      "  Unit Tests: 4 done, 2 failed"]

    def test_the_line_shows_every_running_suite(self, capsys):
        progress = SuiteProgress(live=True)
        progress.suite_started(UNIT)
        progress.suite_started(SHELL)
        capsys.readouterr()

        progress.case_finished(UNIT, case("t.a"))
        progress.case_finished(SHELL, case("s.a", "failed"))

        assert live_segments(capsys.readouterr().err)[-1] == (
            "  Unit Tests: 1 done, 0 failed, Shell: 1 done, 1 failed")

    def test_the_line_is_cleared_before_the_start_and_end_lines(self, capsys):
        progress = SuiteProgress(live=True)
        progress.suite_started(UNIT)
        progress.case_finished(UNIT, case("t.a"))
        progress.suite_finished(result(case("t.a")))

        err = capsys.readouterr().err
        assert err.startswith("\r\x1b[2K▶ Running suite 'Unit Tests'")
        assert err.endswith("1 done, 0 failed\r\x1b[2K  ✓ Unit Tests: 1/1 passed in 1.23 s\n")

    def test_the_line_is_cut_to_200_characters(self, capsys):
        progress = SuiteProgress(live=True)
        suites = [TestSuite(name=f"suite number {n:02d}", runner="pytest") for n in range(20)]
        for suite in suites:
            progress.suite_started(suite)
        capsys.readouterr()

        progress.case_finished(suites[0], case("t.a"))

        err = capsys.readouterr().err
        assert len(err) == 200 and err.startswith("\r\x1b[2K  suite number 00: 1 done")

    @pytest.mark.parametrize("live", [True, False])
    def test_case_finished_is_safe_from_several_threads_at_once(self, capsys, live):
        threads, calls = 8, 200
        progress = SuiteProgress(live=live)
        progress.suite_started(UNIT)
        capsys.readouterr()
        barrier = threading.Barrier(threads)

        def report(worker: int) -> None:
            barrier.wait()
            for n in range(calls):
                progress.case_finished(UNIT, case(f"t.{worker}.{n}",
                                                  "failed" if n % 4 == 0 else "passed"))

        workers = [threading.Thread(target=report, args=(w,)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        total, failed = threads * calls, threads * calls // 4
        assert progress.counts["Unit Tests"] == [total, failed]
        segments = live_segments(capsys.readouterr().err)
        if live:
            assert len(segments) == total
            assert segments[-1] == f"  Unit Tests: {total} done, {failed} failed"
            assert all(s.startswith("  Unit Tests: ") and s.endswith(" failed") for s in segments)
        else:
            assert segments == []


@pytest.mark.parametrize(("ms", "text"), [(220, "0.22 s"), (59_994, "59.99 s"),
                                          (59_999, "1 min 0 s"), (119_600, "2 min 0 s")])
def test_durations_never_show_60_seconds(ms, text):
    from attune_registry.adapters.cli.output import duration

    assert duration(ms) == text


class TestSummaryLine:
    """The one line a failing case shows: what failed, not the end of a diff."""

    def test_a_traceback_gives_its_exception_line_not_the_diff_after_it(self):
        message = ('Traceback (most recent call last):\n'
                   '  File "tests/test_cmp.py", line 6, in test_strings\n'
                   '    self.assertEqual("a", "b")\n'
                   "AssertionError: 'a' != 'b'\n- a\n+ b\n")

        assert summary_line(message) == "AssertionError: 'a' != 'b'"

    def test_a_chained_or_cut_traceback_gives_the_last_exception_line(self):
        message = ("[...]\n    x = 1\nKeyError: 'k'\n\nDuring handling of the above exception, "
                   'another exception occurred:\n\nTraceback (most recent call last):\n'
                   '  File "t.py", line 9, in test\n    raise ValueError("bad\\nvalue")\n'
                   "ValueError: bad\nvalue\n")

        assert summary_line(message) == "ValueError: bad"

    def test_pytest_gives_its_first_e_line(self):
        message = ("def test_x():\n>       assert 'a' == 'b'\n"
                   "E       AssertionError: assert 'a' == 'b'\nE         \nE         - b\n"
                   "E         + a\n\ntests/test_x.py:2: AssertionError")

        assert summary_line(message) == "AssertionError: assert 'a' == 'b'"

    def test_anything_else_gives_its_last_non_blank_line(self):
        assert summary_line("first\n  exited with code 3\n\n") == "exited with code 3"
        assert summary_line("") == ""

    def test_the_failure_list_uses_it(self):
        lines = suite_summary(result(case("t.test_cmp", "failed",
                                          'Traceback (most recent call last):\n'
                                          '  File "t.py", line 2, in test_cmp\n    check()\n'
                                          "AssertionError: 'a' != 'b'\n- a\n+ b")),
                              verbose=False)

        assert lines[1] == "    ✗ t.test_cmp: AssertionError: 'a' != 'b'"
