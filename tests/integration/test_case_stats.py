"""Each case's outcomes per content and environment (``pack_case_stat``), and the flaky cases
read from them, on both stores. Runs are recorded through the application with results made
here, so that digests, fingerprints and retries are exactly what each test needs."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.results import SuiteResult, TestCaseResult

from attune_registry.application.commands import RegisterCommand

from attune_registry.projections.case_stats import MAX_FAILURE_CHARS

from attune_registry.adapters.bootstrap import build_registry

from tests.packs import manifest, write_pack

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
F1, F2 = "a" * 64, "b" * 64


@pytest.fixture
def registry(settings, tmp_path):
    with build_registry(settings) as service:
        path = write_pack(tmp_path / "app", manifest("app", "1.4.0"))
        service.register(RegisterCommand(path=str(path), skip_tests=True))
        yield service


def passed(name: str, **extra: object) -> TestCaseResult:
    return TestCaseResult(name=name, status="passed", **extra)  # type: ignore[arg-type]


def failed(name: str, message: str = "AssertionError: 1 != 2") -> TestCaseResult:
    return TestCaseResult(name=name, status="failed", error_message=message)


def run(registry, cases: list[TestCaseResult], *, digest: str = D1,
        fingerprint: str | None = F1, suite: str = "Unit", dependency: bool = False) -> None:
    """A test run of active ``app`` that recorded one suite with ``cases``."""
    app = registry.app
    active = app.active_registration("app")
    run_id = app.start_test_run(active, content_digest=digest, requested_by="test",
                                candidate=active if dependency else None)
    failures = sum(case.status in ("failed", "error") for case in cases)
    skipped = sum(case.status == "skipped" for case in cases)
    app.complete_suite(run_id, SuiteResult(
        name=suite, runner_type="python_unittest", status="failed" if failures else "passed",
        total=len(cases), passed=len(cases) - failures - skipped, failed=failures,
        skipped=skipped, duration_ms=5, test_cases=cases, fingerprint=fingerprint))
    app.complete_test_run(run_id, result=None, error="recorded by the test")


def counts(registry) -> list[tuple[str, str, int, int, int]]:
    return [(c.suite, c.case, c.passed, c.failed, c.passed_on_retry)
            for c in registry.flaky_cases("app")]


def test_a_case_that_passed_and_failed_with_one_content_and_environment_is_flaky(registry):
    run(registry, [passed("test_flips"), passed("test_steady"), failed("test_broken")])
    run(registry, [failed("test_flips", "Traceback (most recent call last):\n"
                                        '  File "t.py", line 3, in test_flips\n'
                                        "    assert ready()\nAssertionError: not ready"),
                   passed("test_steady"), failed("test_broken"),
                   TestCaseResult(name="test_skipped", status="skipped")])

    [case] = registry.flaky_cases("app")
    assert (case.suite, case.case, case.passed, case.failed, case.passed_on_retry) == (
        "Unit", "test_flips", 1, 1, 0)
    assert (case.versions, case.latest_version, case.digests, case.environments) == (
        1, "1.4.0", 1, 1)
    assert case.last_failure == "AssertionError: not ready"
    [latest] = registry.test_history("app", limit=1)
    assert case.last_failed_run_id == latest.run_id
    assert case.first_seen < case.last_seen


def test_outcomes_pair_only_within_one_content_and_one_environment(registry):
    run(registry, [passed("test_flips")])
    run(registry, [failed("test_flips")], digest=D2)  # another content: a change, not flakiness
    run(registry, [failed("test_flips")], fingerprint=F2)  # another environment
    assert counts(registry) == []

    run(registry, [failed("test_flips"), passed("test_other")], digest=D2)
    run(registry, [passed("test_flips")], digest=D2)

    [case] = registry.flaky_cases("app")
    # Only D2/F1's runs count (a pass, two failures); D1's pass pairs with nothing.
    assert (case.case, case.passed, case.failed, case.digests, case.environments) == (
        "test_flips", 1, 2, 1, 1)


def test_runs_against_an_upgrade_candidate_and_suites_without_a_fingerprint_do_not_count(
        registry):
    run(registry, [passed("test_flips")])
    run(registry, [failed("test_flips")], dependency=True)
    run(registry, [failed("test_flips")], fingerprint=None)  # recorded before fingerprints

    assert counts(registry) == []
    assert registry.flaky_cases("app") == []


def test_a_pass_on_a_retry_is_flaky_and_keeps_its_first_failure(registry):
    run(registry, [passed("test_races", attempts=2, flaky=True,
                          error_message="E   assert 'late' == 'early'"), passed("test_ok")])

    [case] = registry.flaky_cases("app")
    assert (case.case, case.passed, case.failed, case.passed_on_retry) == (
        "test_races", 1, 0, 1)
    assert case.last_failure == "assert 'late' == 'early'"
    assert case.last_failed_run_id is not None


def test_most_recently_seen_first_and_counts_add_up_per_suite(registry):
    run(registry, [passed("test_a"), passed("test_b")], suite="Unit")
    run(registry, [failed("test_a"), passed("test_b")], suite="Unit")
    run(registry, [passed("test_a")], suite="Shell")  # same name, another suite: its own case
    run(registry, [failed("test_b")], suite="Unit")
    run(registry, [passed("test_a")], suite="Unit")

    assert counts(registry) == [("Unit", "test_a", 2, 1, 0), ("Unit", "test_b", 2, 1, 0)]
    run(registry, [failed("test_b", "E   boom")], suite="Unit")
    assert counts(registry) == [("Unit", "test_b", 2, 2, 0), ("Unit", "test_a", 2, 1, 0)]
    assert registry.flaky_cases("app")[0].last_failure == "boom"


def test_a_large_suite_with_repeated_names_is_one_row_per_case(registry):
    many = [passed(f"test_{n}") for n in range(3000)]
    run(registry, [*many, passed("test_0"), failed("test_1")])  # names a runner repeated

    [case] = registry.flaky_cases("app")
    assert (case.case, case.passed, case.failed) == ("test_1", 1, 1)
    rows = registry.view.snapshot()["pack_case_stat"]
    assert len(rows) == 3000
    assert {row["case_name"]: row["passed"] for row in rows}["test_0"] == 2


def test_a_failure_line_is_bounded_and_stored_without_nul(registry):
    run(registry, [passed("test_long")])
    run(registry, [failed("test_long", "AssertionError: " + "\x00x" * 1000)])

    [case] = registry.flaky_cases("app")
    assert case.last_failure is not None
    assert len(case.last_failure) == MAX_FAILURE_CHARS and case.last_failure.endswith("…")
    assert "\x00" not in case.last_failure and "\ufffd" in case.last_failure


def test_an_unknown_ref_is_not_found_and_a_known_one_without_flaky_cases_is_empty(registry):
    with pytest.raises(PackNotFoundError):
        registry.flaky_cases("nothing")
    assert registry.flaky_cases("app") == []


def test_a_rebuild_gives_the_same_rows_and_the_same_flaky_cases(registry):
    run(registry, [passed("test_a"), failed("test_b"), passed("test_c", flaky=True)])
    run(registry, [failed("test_a"), passed("test_b"), passed("test_c")], fingerprint=F2)
    run(registry, [failed("test_a"), passed("test_b"), passed("test_c")])
    flaky = registry.flaky_cases("app")  # caught up with the log
    live = registry.view.snapshot()
    assert [c.case for c in flaky] == ["test_a", "test_b", "test_c"]

    registry.rebuild()

    assert registry.view.snapshot() == live
    assert registry.flaky_cases("app") == flaky
