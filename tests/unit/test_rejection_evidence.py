"""A rejection carries its evidence: the registration, the counts and the failing cases."""

from __future__ import annotations

from typing import Any

from attune_registry.domain.errors import MAX_FAILING_CASES, TestsFailedError

from attune_registry.adapters.cli.output import REJECTION_HINT, rejection_lines


def suite(name: str, status: str, *cases: dict[str, Any], message: str | None = None):
    return {"name": name, "status": status, "message": message, "test_cases": list(cases)}


def case(name: str, status: str, message: str | None = None) -> dict[str, Any]:
    return {"name": name, "status": status, "error_message": message}


def result(*suites: dict[str, Any]) -> dict[str, Any]:
    return {"total_tests": 4, "passed": 1, "failed": 3, "skipped": 0, "pass_rate": 0.25,
            "status": "failed", "pack_ref": "p", "test_suites": list(suites)}


class TestEvidence:
    def test_failing_cases_in_suite_order_with_the_last_line_of_their_message(self):
        error = TestsFailedError("r-1", result(
            suite("Unit", "failed", case("t.ok", "passed"),
                  case("t.bad", "failed", "Traceback (most recent call last):\n  File x\n"
                                          "AssertionError: 1 != 2\n\n"),
                  case("t.boom", "error", None), case("t.skip", "skipped", "why")),
            suite("Shell", "error", message="timed out after 30 s"),
            suite("Fine", "passed", case("f.ok", "passed"))))

        assert error.details == [{
            "registration_id": "r-1",
            "summary": {"total_tests": 4, "passed": 1, "failed": 3, "skipped": 0,
                        "pass_rate": 0.25},
            "failing_cases": [
                {"suite": "Unit", "case": "t.bad", "message": "AssertionError: 1 != 2"},
                {"suite": "Unit", "case": "t.boom", "message": ""},
                # A suite that failed without a failing case is named with its message.
                {"suite": "Shell", "case": None, "message": "timed out after 30 s"}],
            "more_failing_cases": 0}]
        assert str(error) == ("Pack registration failed: tests did not pass. "
                              "Use force=true to register anyway.")

    def test_the_cases_are_capped_and_the_rest_counted_and_long_messages_cut(self):
        many = [case(f"t.{n}", "failed", "x" * 1000) for n in range(MAX_FAILING_CASES + 7)]

        [evidence] = TestsFailedError("r-2", result(suite("Unit", "failed", *many))).details

        assert len(evidence["failing_cases"]) == MAX_FAILING_CASES
        assert evidence["more_failing_cases"] == 7
        message = evidence["failing_cases"][0]["message"]
        assert len(message) == 300 and message.endswith("…")

    def test_without_a_result_only_the_registration_is_known(self):
        assert TestsFailedError("r-3", None).details == [{
            "registration_id": "r-3", "summary": None, "failing_cases": [],
            "more_failing_cases": 0}]


class TestRejectionLines:
    def test_ten_cases_then_how_many_more_then_the_registration_and_the_hint(self):
        [evidence] = TestsFailedError("r-4", result(suite(
            "Unit", "failed", *[case(f"t.{n}", "failed", f"E{n}") for n in range(60)]))).details

        shown = rejection_lines([evidence])

        assert shown[:2] == ["  ✗ Unit: t.0: E0", "  ✗ Unit: t.1: E1"]
        assert shown[10:] == ["  … and 50 more", "Registration: r-4", REJECTION_HINT]

    def test_a_suite_level_failure_reads_suite_then_message(self):
        details = TestsFailedError("r-5", result(suite("Shell", "error",
                                                       message="exit code 2"))).details

        assert rejection_lines(details)[0] == "  ✗ Shell: exit code 2"

    def test_other_details_print_nothing(self):
        validation = [{"message": "Expected `str`, got `int`", "key": "path", "source": "body"}]

        assert rejection_lines(validation) == []
        assert rejection_lines(None) == []
        assert rejection_lines([{"failing_cases": "not a list"}]) == []

    def test_the_hint_offers_replace_before_force(self):
        assert REJECTION_HINT.index("--replace") < REJECTION_HINT.index("--force")
