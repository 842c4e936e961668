"""Reading the JUnit XML report pytest writes into test cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from attune_registry.adapters.runners import junit
from attune_registry.adapters.runners.junit import MAX_MESSAGE, ReportError, read_junit


def report(tmp_path: Path, *testcases: str, name: str = "report.xml") -> Path:
    """A report shaped like pytest's: one testsuite inside testsuites."""
    path = tmp_path / name
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<testsuites name="pytest tests">'
        f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{len(testcases)}" '
        'time="0.100" timestamp="2026-01-01T00:00:00.000000+00:00" hostname="h">'
        + "".join(testcases)
        + "</testsuite></testsuites>",
        encoding="utf-8")
    return path


def case(name: str = "test_y", classname: str = "tests.test_x.TestC", time: str = "0.012",
         body: str = "") -> str:
    return f'<testcase classname="{classname}" name="{name}" time="{time}">{body}</testcase>'


def read_one(tmp_path: Path, body: str = "", **attributes: str):
    [result] = read_junit(report(tmp_path, case(body=body, **attributes)))
    return result


class TestStatuses:
    def test_a_case_without_children_passed(self, tmp_path):
        result = read_one(tmp_path)

        assert (result.status, result.error_message) == ("passed", None)

    def test_a_failure_child_means_failed(self, tmp_path):
        result = read_one(tmp_path, '<failure message="assert 1 == 2">def test_y():\n'
                                    '&gt;       assert 1 == 2\nE       assert 1 == 2</failure>')

        assert result.status == "failed"

    def test_an_error_child_means_error(self, tmp_path):
        result = read_one(tmp_path, '<error message="failed on setup with &quot;fixture '
                                    'boom&quot;">setup traceback</error>')

        assert result.status == "error"

    def test_a_skipped_child_means_skipped(self, tmp_path):
        result = read_one(tmp_path, '<skipped type="pytest.skip" message="no network">'
                                    '/tmp/tests/test_x.py:3: no network</skipped>')

        assert result.status == "skipped"

    def test_an_xfail_is_skipped(self, tmp_path):
        result = read_one(tmp_path, '<skipped type="pytest.xfail" message="known bug" />')

        assert (result.status, result.error_message) == ("skipped", "known bug")

    def test_error_wins_over_failure_when_both_are_present(self, tmp_path):
        result = read_one(tmp_path, '<failure message="assert False">call</failure>'
                                    '<error message="teardown blew up">teardown</error>')

        assert result.status == "error"
        assert result.error_message == "teardown blew up\nteardown"

    def test_system_output_children_do_not_change_the_status(self, tmp_path):
        result = read_one(tmp_path, "<system-out>printed</system-out>"
                                    "<system-err>warned</system-err>")

        assert (result.status, result.error_message) == ("passed", None)

    def test_every_testcase_is_read_in_document_order(self, tmp_path):
        path = report(tmp_path, case(name="test_a"),
                      case(name="test_b", body='<failure message="no" />'),
                      case(name="test_c", body='<skipped message="later" />'),
                      case(name="test_d", body='<error message="bad" />'))

        assert [(c.name, c.status) for c in read_junit(path)] == [
            ("tests.test_x.TestC.test_a", "passed"), ("tests.test_x.TestC.test_b", "failed"),
            ("tests.test_x.TestC.test_c", "skipped"), ("tests.test_x.TestC.test_d", "error")]

    def test_testcases_of_several_testsuites_are_all_read(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_text('<testsuites><testsuite name="a">' + case(name="test_1")
                        + '</testsuite><testsuite name="b">' + case(name="test_2")
                        + "</testsuite></testsuites>")

        assert [c.name for c in read_junit(path)] == ["tests.test_x.TestC.test_1",
                                                      "tests.test_x.TestC.test_2"]

    def test_a_bare_testsuite_root_is_read(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_text("<testsuite>" + case() + "</testsuite>")

        assert [c.status for c in read_junit(path)] == ["passed"]

    def test_a_report_with_no_testcases_gives_no_cases(self, tmp_path):
        assert read_junit(report(tmp_path)) == []


class TestNamesAndDurations:
    def test_the_name_is_classname_dot_name(self, tmp_path):
        assert read_one(tmp_path).name == "tests.test_x.TestC.test_y"

    def test_a_parametrized_name_is_kept_whole(self, tmp_path):
        result = read_one(tmp_path, name="test_y[a-1]", classname="tests.test_x")

        assert result.name == "tests.test_x.test_y[a-1]"

    def test_a_collection_error_with_an_empty_classname_is_named_by_its_name(self, tmp_path):
        result = read_one(tmp_path, '<error message="collection failure">ImportError while '
                                    "importing test module\nE   ModuleNotFoundError: No module "
                                    "named 'nope'</error>",
                          name="tests.test_broken", classname="", time="0.000")

        assert (result.name, result.status, result.duration_ms) == (
            "tests.test_broken", "error", 0)
        assert result.error_message.startswith("collection failure\nImportError")
        assert result.error_message.endswith("No module named 'nope'")

    def test_a_case_without_a_classname_attribute_is_named_by_its_name(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_text('<testsuites><testsuite><testcase name="lonely" time="0.1" />'
                        "</testsuite></testsuites>")

        assert [c.name for c in read_junit(path)] == ["lonely"]

    def test_the_duration_is_converted_to_milliseconds(self, tmp_path):
        assert read_one(tmp_path, time="0.012").duration_ms == 12
        assert read_one(tmp_path, time="2.5").duration_ms == 2500

    def test_a_missing_or_empty_time_is_zero(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_text('<testsuites><testsuite><testcase classname="c" name="a" />'
                        '<testcase classname="c" name="b" time="" /></testsuite></testsuites>')

        assert [c.duration_ms for c in read_junit(path)] == [0, 0]

    def test_the_duration_is_not_truncated_by_float_rounding(self, tmp_path):
        assert read_one(tmp_path, time="1.001").duration_ms == 1001


class TestMessages:
    def test_the_message_attribute_and_the_text_are_combined(self, tmp_path):
        result = read_one(tmp_path, '<failure message="assert 1 == 2">def test_y():\n'
                                    "E       assert 1 == 2</failure>")

        assert result.error_message == "assert 1 == 2\ndef test_y():\nE       assert 1 == 2"

    def test_only_the_attribute_when_there_is_no_text(self, tmp_path):
        assert read_one(tmp_path, '<failure message="boom" />').error_message == "boom"

    def test_only_the_text_when_there_is_no_attribute(self, tmp_path):
        assert read_one(tmp_path, "<failure>trace\nE boom</failure>").error_message == (
            "trace\nE boom")

    def test_a_failure_without_attribute_or_text_has_no_message(self, tmp_path):
        result = read_one(tmp_path, "<failure />")

        assert (result.status, result.error_message) == ("failed", None)

    def test_the_skip_reason_is_the_message(self, tmp_path):
        result = read_one(tmp_path, '<skipped type="pytest.skip" message="no network">'
                                    "/tmp/tests/test_x.py:3: no network</skipped>")

        assert result.error_message == "no network\n/tmp/tests/test_x.py:3: no network"

    def test_escaped_characters_are_unescaped(self, tmp_path):
        result = read_one(tmp_path, '<failure message="assert &apos;a&apos; &lt; &quot;b&quot;'
                                    ' &amp; more">x &gt; y</failure>')

        assert result.error_message == "assert 'a' < \"b\" & more\nx > y"

    def test_a_very_long_message_is_cut_to_its_tail_with_a_marker(self, tmp_path):
        text = "HEAD" + "x" * (MAX_MESSAGE * 2) + "the real error at the end"

        message = read_one(tmp_path, f'<failure message="short">{text}</failure>').error_message

        assert message.startswith("[...]\n")
        assert message.endswith("the real error at the end")
        assert "HEAD" not in message and "short" not in message
        assert len(message) == len("[...]\n") + MAX_MESSAGE

    def test_a_message_of_exactly_the_limit_is_kept_whole(self, tmp_path):
        text = "y" * (MAX_MESSAGE - len("m\n"))

        message = read_one(tmp_path, f'<failure message="m">{text}</failure>').error_message

        assert message == "m\n" + text


class TestReportErrors:
    def test_a_missing_file_is_a_report_error(self, tmp_path):
        with pytest.raises(ReportError, match="^the runner wrote no JUnit report$"):
            read_junit(tmp_path / "never-written.xml")

    def test_invalid_xml_is_a_report_error(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_text("<testsuites><testsuite><testcase name='a'></testsuite>")

        with pytest.raises(ReportError, match="not valid XML"):
            read_junit(path)

    def test_an_empty_file_is_a_report_error(self, tmp_path):
        path = tmp_path / "report.xml"
        path.write_bytes(b"")

        with pytest.raises(ReportError, match="not valid XML"):
            read_junit(path)

    def test_a_truncated_report_is_a_report_error(self, tmp_path):
        path = report(tmp_path, case(), case(name="test_z"))
        path.write_bytes(path.read_bytes()[:-40])

        with pytest.raises(ReportError, match="not valid XML"):
            read_junit(path)

    def test_an_oversized_report_is_a_report_error(self, tmp_path, monkeypatch):
        path = report(tmp_path, case())
        size = path.stat().st_size
        monkeypatch.setattr(junit, "MAX_REPORT_BYTES", size - 1)

        with pytest.raises(ReportError, match=f"{size} bytes, over {size - 1}"):
            read_junit(path)

    def test_a_report_of_exactly_the_limit_is_read(self, tmp_path, monkeypatch):
        path = report(tmp_path, case())
        monkeypatch.setattr(junit, "MAX_REPORT_BYTES", path.stat().st_size)

        assert [c.status for c in read_junit(path)] == ["passed"]
