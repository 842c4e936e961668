"""The outcome policy of DESIGN.md §3.3."""

from __future__ import annotations

import pytest

from attune_registry.domain.manifest import TestingConfig, TestSuite
from attune_registry.domain.policy import accepts, pass_rate, suite_result, test_result
from attune_registry.domain.results import TestCaseResult


def cases(passed=0, failed=0, errors=0, skipped=0):
    made = [TestCaseResult(name=f"p{n}", status="passed") for n in range(passed)]
    made += [TestCaseResult(name=f"f{n}", status="failed") for n in range(failed)]
    made += [TestCaseResult(name=f"e{n}", status="error") for n in range(errors)]
    made += [TestCaseResult(name=f"s{n}", status="skipped") for n in range(skipped)]
    return made


def suite(exit_code=0, timed_out=False, **counts):
    return suite_result(name="s", runner_type="python_unittest", cases=cases(**counts),
                        exit_code=exit_code, duration_ms=5, timed_out=timed_out)


def run(*suites):
    return test_result(pack_ref="p", pack_version="1.0.0", execution_time="t", suites=suites,
                       duration_ms=10)


TESTING = TestingConfig(test_suites=[TestSuite(name="s", runner="python_unittest")])


class TestSuiteStatus:
    def test_all_passing_cases_and_a_clean_exit_pass(self):
        result = suite(passed=3, skipped=1)
        assert (result.status, result.total, result.passed, result.skipped) == ("passed", 4, 3, 1)

    def test_errors_count_as_failures(self):
        result = suite(exit_code=1, passed=1, failed=1, errors=2)
        assert (result.status, result.failed) == ("failed", 3)

    def test_zero_tests_is_not_a_pass(self):
        assert suite().status == "failed"
        assert suite(skipped=2).status == "failed"

    def test_a_non_zero_exit_is_never_a_pass(self):
        result = suite(exit_code=3, passed=5)
        assert result.status == "failed"
        assert "exited with code 3" in result.message

    def test_a_timeout_is_an_error_even_with_passing_cases(self):
        assert suite(exit_code=None, timed_out=True, passed=2).status == "error"

    def test_a_crash_before_any_result_is_an_error(self):
        assert suite(exit_code=2).status == "error"


class TestRunAndDecision:
    def test_pass_rate_ignores_skips_and_is_zero_when_nothing_ran(self):
        assert pass_rate(passed=3, total=5, skipped=1) == 0.75
        assert pass_rate(passed=0, total=2, skipped=2) == 0.0

    def test_the_run_passes_only_if_every_suite_passed(self):
        assert run(suite(passed=2), suite(passed=1)).status == "passed"
        assert run(suite(passed=2), suite(exit_code=1, passed=1, failed=1)).status == "failed"
        assert run(suite(passed=2), suite(exit_code=None, timed_out=True)).status == "error"

    def test_counts_are_summed_over_suites(self):
        result = run(suite(passed=2, skipped=1), suite(exit_code=1, passed=6, failed=2))
        assert (result.total_tests, result.passed, result.failed, result.skipped) == (11, 8, 2, 1)
        assert result.pass_rate == 0.8

    def test_default_policy_accepts_only_a_full_pass(self):
        assert accepts(run(suite(passed=2)), TESTING)
        assert not accepts(run(suite(exit_code=1, passed=9, failed=1)), TESTING)

    def test_one_failure_among_many_tests_is_not_rounded_away(self):
        result = run(suite(exit_code=1, passed=49_999, failed=1))
        assert result.pass_rate == 1.0  # as displayed, rounded to 4 decimals
        assert not accepts(result, TESTING)

    def test_min_pass_rate_tolerates_counted_failures_only(self):
        lenient = TestingConfig(test_suites=TESTING.test_suites, min_pass_rate=0.8)
        assert accepts(run(suite(exit_code=1, passed=9, failed=1)), lenient)
        assert not accepts(run(suite(exit_code=1, passed=7, failed=3)), lenient)
        # A suite that errored or exited badly without failing cases is never tolerated.
        assert not accepts(run(suite(passed=9), suite(exit_code=None, timed_out=True)), lenient)
        assert not accepts(run(suite(exit_code=4, passed=9)), lenient)

    @pytest.mark.parametrize("policy", ["warn", "ignore"])
    def test_warn_and_ignore_accept_failures(self, policy):
        relaxed = TestingConfig(test_suites=TESTING.test_suites, on_failure=policy)
        assert accepts(run(suite(exit_code=1, failed=3)), relaxed)


def test_a_suite_cut_short_is_an_error_even_with_a_clean_exit():
    result = suite_result(name="s", runner_type="python_unittest", cases=cases(passed=3),
                          exit_code=0, duration_ms=1, completed=False)
    assert result.status == "error"
