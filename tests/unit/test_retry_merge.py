"""Reruns of failed cases (``retries``): the merge into one suite result, when a suite is
rerun, the time a registration's lease allows, the pack.yaml field, and how flaky shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from junitparser import JUnitXml

from attune_registry.domain import policy
from attune_registry.domain.errors import ManifestError
from attune_registry.domain.manifest import MAX_RETRIES, TestSuite, parse_manifest
from attune_registry.domain.results import SuiteResult, TestCaseResult
from attune_registry.domain.retries import (
    MAX_RETRY_CASES,
    merge_rerun,
    not_retried,
    rerun_cases,
    time_budget,
    with_reruns,
)

from attune_registry.adapters.cli.progress import flaky_line, suite_summary
from attune_registry.adapters.reports.junit_xml import junit_xml

from tests.packs import manifest
from tests.unit.test_registration_use_case import world  # noqa: F401  (the fixture)


def case(name: str, status: str = "passed", message: str | None = None,
         duration_ms: int = 5) -> TestCaseResult:
    return TestCaseResult(name=name, status=status, error_message=message,  # type: ignore[arg-type]
                          duration_ms=duration_ms)


def suite(*cases: TestCaseResult, exit_code: int | None = None, timed_out: bool = False,
          duration_ms: int = 100, completed: bool = True) -> SuiteResult:
    failing = any(c.status in ("failed", "error") for c in cases)
    return policy.suite_result(
        name="unit", runner_type="python_unittest", cases=cases,
        exit_code=(1 if failing else 0) if exit_code is None else exit_code,
        duration_ms=duration_ms, timed_out=timed_out, completed=completed)


class TestMerge:
    def test_a_case_that_passes_on_a_rerun_is_passed_and_flaky(self):
        first = suite(case("t.a"), case("t.b", "failed", "AssertionError: first"))

        merged = with_reruns(first, [suite(case("t.b", duration_ms=7), duration_ms=40)])

        assert merged.status == "passed"
        assert (merged.total, merged.passed, merged.failed) == (2, 2, 0)
        assert merged.exit_code == 0
        flaky = merged.test_cases[1]
        assert (flaky.status, flaky.flaky, flaky.attempts) == ("passed", True, 2)
        assert flaky.error_message == "AssertionError: first"
        assert flaky.duration_ms == 7
        assert merged.test_cases[0] == case("t.a")
        assert merged.duration_ms == 140
        assert "1 flaky case(s) passed only on a retry" in (merged.message or "")

    def test_every_rerun_is_recorded_with_the_cases_it_ran(self):
        first = suite(case("t.a", "failed", "one"), case("t.b", "error", "two"))
        second = suite(case("t.a", "failed", "again"), case("t.b"), duration_ms=30)
        third = suite(case("t.a"), duration_ms=20)

        merged = with_reruns(first, [second, third])

        assert [r.attempt for r in merged.retries] == [2, 3]
        assert [[c.name for c in r.test_cases] for r in merged.retries] == [["t.a", "t.b"],
                                                                             ["t.a"]]
        assert merged.retries[0].test_cases[0].error_message == "again"
        assert [(c.name, c.attempts, c.flaky) for c in merged.test_cases] == [
            ("t.a", 3, True), ("t.b", 2, True)]
        assert merged.test_cases[0].error_message == "one"
        assert merged.status == "passed" and merged.duration_ms == 150

    def test_a_case_that_fails_every_attempt_keeps_its_first_failure(self):
        first = suite(case("t.a"), case("t.b", "failed", "first"))
        merged = with_reruns(first, [suite(case("t.b", "failed", "second"), exit_code=3)])

        assert merged.status == "failed"
        assert merged.exit_code == 1  # the first attempt's: a case still fails
        assert (merged.passed, merged.failed) == (1, 1)
        still = merged.test_cases[1]
        assert (still.status, still.flaky, still.attempts, still.error_message) == (
            "failed", False, 2, "first")
        assert policy.accepts(policy.test_result(
            pack_ref="p", pack_version="1.0.0", execution_time="", suites=[merged],
            duration_ms=0), parse_manifest(manifest("pk")).testing) is False

    def test_a_case_skipped_or_not_reported_on_a_rerun_is_still_failed(self):
        first = suite(case("t.a", "failed", "x"), case("t.b", "failed", "y"))
        merged = merge_rerun(first, suite(case("t.a", "skipped"), exit_code=0), selected=True)

        assert [(c.status, c.attempts) for c in merged.test_cases] == [("failed", 2),
                                                                        ("failed", 1)]
        assert "1 of the 2 case(s) to rerun were not reported" in (
            merged.retries[0].message or "")

    def test_a_whole_rerun_counts_only_the_earlier_failures(self):
        first = suite(case("s/a"), case("s/b", "failed", "x"))
        rerun = suite(case("s/a", "failed", "now"), case("s/b"), exit_code=1)

        merged = merge_rerun(first, rerun, selected=False)

        assert [(c.name, c.status) for c in merged.test_cases] == [("s/a", "passed"),
                                                                    ("s/b", "passed")]
        # The rerun's exit code stands once no case fails: a failure it saw is not hidden.
        assert merged.exit_code == 1 and merged.status == "failed"
        note = merged.retries[0].message or ""
        assert "the whole suite ran again" in note and "1 other case(s) failed in it" in note
        assert [c.name for c in merged.retries[0].test_cases] == ["s/b"]

    def test_a_name_reported_twice_on_a_rerun_passes_only_if_both_passed(self):
        first = suite(case("t.a", "failed", "x"))
        merged = merge_rerun(first, suite(case("t.a"), case("t.a", "failed", "dup")),
                             selected=True)
        assert merged.test_cases[0].status == "failed"
        assert merged.retries[0].test_cases[0].error_message == "dup"

    def test_the_first_attempts_environment_is_kept(self):
        first = msgspec_replace(suite(case("t.a", "failed", "x")), fingerprint="f" * 64)
        merged = merge_rerun(first, msgspec_replace(suite(case("t.a")), fingerprint="0" * 64),
                             selected=True)
        assert merged.fingerprint == "f" * 64

    def test_the_merged_result_survives_the_event_form(self):
        merged = with_reruns(suite(case("t.a", "failed", "x")), [suite(case("t.a"))])
        assert SuiteResult.from_dict(merged.to_dict()) == merged


def msgspec_replace(result: SuiteResult, **changes: object) -> SuiteResult:
    import msgspec

    return msgspec.structs.replace(result, **changes)


class TestWhenToRerun:
    def test_failed_cases_are_rerun_while_retries_remain(self):
        first = suite(case("t.a", "failed"), case("t.b", "error"), case("t.c"))
        assert rerun_cases(first, 2) == ["t.a", "t.b"]
        once = merge_rerun(first, suite(case("t.a", "failed"), case("t.b", "failed")),
                           selected=True)
        assert rerun_cases(once, 2) == ["t.a", "t.b"]
        twice = merge_rerun(once, suite(case("t.a", "failed"), case("t.b", "failed")),
                            selected=True)
        assert rerun_cases(twice, 2) == []

    def test_no_retries_or_nothing_failed_means_no_rerun(self):
        assert rerun_cases(suite(case("t.a", "failed")), 0) == []
        assert rerun_cases(suite(case("t.a")), 3) == []
        # Failed through its exit code alone: no case to rerun.
        assert rerun_cases(suite(case("t.a"), exit_code=2), 3) == []

    def test_a_suite_that_did_not_run_to_its_end_is_not_rerun(self):
        timed_out = suite(case("t.a", "failed"), timed_out=True)
        crashed = suite(case("t.a", "failed"), completed=False)
        assert rerun_cases(timed_out, 3) == [] and rerun_cases(crashed, 3) == []
        assert "not retried: the suite did not run to its end" in (
            not_retried(timed_out, 3).message or "")

    def test_a_rerun_that_did_not_end_or_ran_none_of_them_stops_the_reruns(self):
        first = suite(case("t.a", "failed"))
        cut = suite(case("t.a", "failed"), timed_out=True)
        assert rerun_cases(merge_rerun(first, cut, selected=True), 3, cut) == []
        nothing = suite(exit_code=5)
        assert rerun_cases(merge_rerun(first, nothing, selected=True), 3, nothing) == []

    def test_too_many_failures_are_a_broken_suite_not_a_flaky_one(self):
        many = suite(*(case(f"t.{i}", "failed") for i in range(MAX_RETRY_CASES + 1)))
        assert rerun_cases(many, 1) == []
        said = not_retried(many, 1).message or ""
        assert f"more than {MAX_RETRY_CASES} cases failed" in said and "broken" in said
        assert not_retried(many, 0) == many
        exactly = suite(*(case(f"t.{i}", "failed") for i in range(MAX_RETRY_CASES)))
        assert len(rerun_cases(exactly, 1)) == MAX_RETRY_CASES

    def test_each_attempt_has_the_whole_timeout(self):
        assert time_budget(TestSuite(name="a", runner="pytest", timeout_seconds=60,
                                     retries=2)) == 180
        assert time_budget(TestSuite(name="a", runner="pytest", timeout_seconds=60)) == 60


class TestManifestField:
    def test_retries_are_read_in_both_dialects(self):
        spec = manifest("ok")
        spec["testing"]["test_suites"][0]["retries"] = 2
        assert parse_manifest(spec).testing.test_suites[0].retries == 2
        upstream = manifest("core", testing={"enabled": True, "runners": {
            "sh": {"type": "script", "entry_point": "t.sh", "retries": MAX_RETRIES}}})
        assert parse_manifest(upstream).testing.test_suites[0].retries == MAX_RETRIES

    @pytest.mark.parametrize(("value", "problem"), [
        (-1, "must be between 0 and 5, got -1"), (6, "must be between 0 and 5, got 6"),
        ("2", "expected int, got str"), (True, "expected int, got bool"),
        (1.5, "expected int, got float")])
    def test_bad_values_name_the_field(self, value, problem):
        spec = manifest("ok")
        spec["testing"]["test_suites"][0]["retries"] = value
        upstream = manifest("core", testing={"enabled": True, "runners": {
            "sh": {"type": "script", "entry_point": "t.sh", "retries": value}}})
        for data, field in ((spec, "testing.test_suites[0].retries"),
                            (upstream, "testing.runners.sh.retries")):
            with pytest.raises(ManifestError) as caught:
                parse_manifest(data)
            assert str(caught.value).startswith(f"Invalid pack.yaml: {field}: {problem}")


class TestShown:
    def flaky_run(self) -> SuiteResult:
        return with_reruns(suite(case("t.ok"), case("t.flaky", "failed", "AssertionError: 1")),
                           [suite(case("t.flaky", "failed", "AssertionError: 2")),
                            suite(case("t.flaky"))])

    def test_the_suite_summary_names_the_flaky_case(self):
        lines = suite_summary(self.flaky_run())
        assert "2/2 passed" in lines[0] and "flaky" in lines[0]
        assert any("⚠ t.flaky: flaky, passed on attempt 3 (first failure: AssertionError: 1)"
                   in line for line in lines)

    def test_the_run_line_counts_them(self):
        assert flaky_line([self.flaky_run()]) == "⚠ 1 flaky case(s) passed on retry: unit/t.flaky"
        assert flaky_line([suite(case("t.ok"))]) is None

    def test_junit_xml_has_a_flaky_failure_per_failed_attempt(self):
        run = policy.test_result(pack_ref="p", pack_version="1.0.0", execution_time="",
                                 suites=[self.flaky_run()], duration_ms=1)
        xml = junit_xml(run)
        report = JUnitXml.fromstring(xml.decode())
        assert (report.tests, report.failures, report.errors) == (2, 0, 0)
        cases = {c.name: c for s in report for c in s}
        assert cases["flaky"].is_passed
        flaky = cases["flaky"]._elem.findall("flakyFailure")
        assert [f.get("message") for f in flaky] == ["AssertionError: 1", "AssertionError: 2"]
        assert cases["ok"]._elem.findall("flakyFailure") == []


class TestThroughRegistration:
    """``RegisterPack`` on the in-memory store (``world``), with a runner whose case ``t.b``
    fails on its first run: how the rerun is asked for, recorded, and allowed for."""

    def test_the_failed_case_is_asked_for_by_name_and_the_lease_covers_the_reruns(
            self, world):  # noqa: F811  (the fixture imported above)
        from attune_registry.application.commands import RegisterCommand
        from attune_registry.application.register import LEASE_GRACE
        from attune_registry.application.retries import RERUN_VARIABLE

        app, loader, runner, clock, register = world
        asked: list[str | None] = []

        def run(suite_, pack_dir, on_case=None, context=None):
            asked.append(dict(context.variables).get(RERUN_VARIABLE))
            cases = [case("t.b", "failed", "boom"), case("t.a")] if len(asked) == 1 else [
                case("t.b")]
            return policy.suite_result(name=suite_.name, runner_type=suite_.runner, cases=cases,
                                       exit_code=0 if len(asked) > 1 else 1, duration_ms=7)

        runner.run = run
        data = manifest("mypack")
        data["testing"]["test_suites"][0].update(retries=2, timeout_seconds=60)
        loader.packs["/packs/mypack"] = data

        outcome = register(RegisterCommand(path="/packs/mypack"))

        assert asked == [None, "t.b"]
        [suite_] = outcome.test_result.test_suites
        assert [(c.name, c.status, c.flaky, c.attempts) for c in suite_.test_cases] == [
            ("t.b", "passed", True, 2), ("t.a", "passed", False, 1)]
        assert app.get_registration(outcome.registration_id).status == "committed"
        opened = [app.mapper.to_domain_event(n) for n in
                  app.recorder.select_notifications(start=1, limit=100)
                  if n.topic == "attune:Pack.RegistrationOpened"]
        assert opened[0].lease_expires == clock.now + timedelta(seconds=180) + LEASE_GRACE


class TestCaseSelection:
    """The names a rerun lists are the names the runners report."""

    @pytest.mark.parametrize(("nodeid", "name"), [
        ("tests/test_x.py::test_y", "tests.test_x.test_y"),
        ("tests/test_x.py::TestC::test_y", "tests.test_x.TestC.test_y"),
        ("test_x.py::test_y[a::b/c]", "test_x.test_y[a::b/c]"),
    ])
    def test_the_pytest_plugin_names_items_as_the_junit_report_does(self, nodeid, name):
        from attune_registry.adapters.runners.pytest_plugin._attune_progress import _name

        assert _name(nodeid) == name

    def test_the_unittest_collector_keeps_only_the_listed_cases(self):
        import unittest

        from attune_registry.adapters.runners.child.unittest_collect import rerun_only

        class TestPicked(unittest.TestCase):
            def test_a(self): ...
            def test_b(self): ...

        suite_ = unittest.TestLoader().loadTestsFromTestCase(TestPicked)
        wanted = next(t.id() for t in suite_ if t.id().endswith("test_b"))

        assert [t.id() for t in rerun_only(suite_, f"{wanted}\nno.such.case")] == [wanted]
