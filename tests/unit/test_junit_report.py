"""Writing a stored test run as JUnit XML (``adapters.reports.junit_xml``), read back with
junitparser as a CI system would."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from junitparser import Error, Failure, JUnitXml, Skipped

from attune_registry.adapters.reports.junit_xml import SUITE_CASE, junit_xml

HOSTILE = 'a < b & "c" \'d\' \x00nul \x1b[31mred\x07 end'


def run(*suites: dict) -> dict:
    return {"pack_ref": "mypack", "pack_version": "1.0.0", "execution_time": "2026-01-01T00:00:00",
            "status": "failed", "duration_ms": 2500, "test_suites": list(suites)}


def suite(name: str = "Unit Tests", status: str = "failed", **extra: object) -> dict:
    return {"name": name, "runner_type": "python_unittest", "status": status,
            "duration_ms": 1500, "stdout": "", "stderr": "", **extra}


def case(name: str, status: str = "passed", message: str | None = None, ms: int = 12) -> dict:
    return {"name": name, "status": status, "duration_ms": ms, "error_message": message}


def parsed(tmp_path, document: dict) -> JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_bytes(junit_xml(document))
    return JUnitXml.fromfile(str(path))


def test_counts_per_suite_and_in_total(tmp_path):
    report = parsed(tmp_path, run(
        suite(test_cases=[case("t.A.ok"), case("t.A.bad", "failed", "boom"),
                          case("t.A.broke", "error", "E"), case("t.A.later", "skipped", "why")]),
        suite("Other", "passed", test_cases=[case("x.y"), case("x.z")])))

    first, second = list(report)
    assert (first.name, first.tests, first.failures, first.errors, first.skipped) == (
        "Unit Tests", 4, 1, 1, 1)
    assert (second.name, second.tests, second.failures, second.errors, second.skipped) == (
        "Other", 2, 0, 0, 0)
    assert (report.tests, report.failures, report.errors, report.skipped) == (6, 1, 1, 1)
    assert report.time == 2.5 and first.time == 1.5


def test_each_case_has_its_classname_name_time_and_outcome(tmp_path):
    report = parsed(tmp_path, run(suite(test_cases=[
        case("test_m.TestC.test_a", "failed", "assert 1 == 2\ndetails", ms=1234),
        case("plain", "error", "crash"), case("test_p.test_x[1.5]", "skipped", "no net")])))

    failed, errored, skipped = list(next(iter(report)))
    assert (failed.classname, failed.name, failed.time) == ("test_m.TestC", "test_a", 1.234)
    [failure] = failed.result
    assert isinstance(failure, Failure) and failure.message == "assert 1 == 2"
    assert failure.text == "assert 1 == 2\ndetails"
    assert (errored.classname, errored.name) == ("Unit Tests", "plain")
    assert isinstance(errored.result[0], Error) and errored.result[0].message == "crash"
    assert (skipped.classname, skipped.name) == ("test_p", "test_x[1.5]")
    assert isinstance(skipped.result[0], Skipped) and skipped.result[0].message == "no net"


def test_hostile_text_makes_valid_xml_without_forbidden_characters(tmp_path):
    document = run(suite(HOSTILE, test_cases=[case(f"m.{HOSTILE}", "failed", HOSTILE)],
                         stdout=f"out {HOSTILE}", stderr=f"err {HOSTILE}"))

    root = ET.fromstring(junit_xml(document))  # raises on invalid XML
    report = parsed(tmp_path, document)

    expected = 'a < b & "c" \'d\' nul [31mred end'
    [only] = list(report)
    [testcase] = list(only)
    assert only.name == expected and testcase.result[0].message == expected
    assert root.find("testsuite/system-out").text == f"out {expected}"
    assert root.find("testsuite/system-err").text == f"err {expected}"


def test_a_suite_that_failed_without_a_failing_case_is_one_error(tmp_path):
    report = parsed(tmp_path, run(suite(status="error", message="timed out after 60 s",
                                        timed_out=True, test_cases=[case("m.ok")])))

    [only] = list(report)
    assert (only.tests, only.failures, only.errors) == (2, 0, 1)
    stand_in = list(only)[-1]
    assert stand_in.name == SUITE_CASE and stand_in.result[0].message == "timed out after 60 s"


def test_a_run_without_suites_is_an_empty_report(tmp_path):
    report = parsed(tmp_path, {**run(), "status": "running"})

    assert (report.tests, len(list(report))) == (0, 0)
