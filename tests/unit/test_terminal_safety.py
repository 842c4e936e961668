"""What the CLI prints of pack-supplied text: terminal controls become visible escapes in
text mode; JSON keeps the data exactly."""

from __future__ import annotations

import json

import pytest

from attune_registry.domain.manifest import TestSuite
from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.progress import SuiteProgress

# Set the window title, write the clipboard (OSC 52), clear the screen, a one-byte CSI, DEL,
# and a right-to-left override that shows "exe.txt" as "txt.exe".
HOSTILE = ("\x1b]0;owned\x07 \x1b]52;c;ZWNobyBvd25lZA==\x07 \x1b[2J\x1b[H \x9b31m \x7f"
           " \u202eexe.txt \r")


class TestSafe:
    def test_every_terminal_control_becomes_a_visible_escape(self):
        shown = output.safe(HOSTILE)

        assert shown == ("\\x1b]0;owned\\x07 \\x1b]52;c;ZWNobyBvd25lZA==\\x07 \\x1b[2J\\x1b[H"
                         " \\x9b31m \\x7f \\u202eexe.txt \\x0d")
        assert shown.isprintable()

    def test_each_control_is_escaped(self):
        codes = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F,
                 *range(0x202A, 0x202F), *range(0x2066, 0x206A)]

        kept = [hex(code) for code in codes if chr(code) in output.safe(f"a{chr(code)}b")]

        assert kept == []

    def test_lines_keep_newlines_and_tabs_but_table_cells_do_not(self):
        assert output.safe("one\n\ttwo") == "one\n\ttwo"
        assert output.safe("one\n\ttwo", one_line=True) == "one\\x0a\\x09two"

    def test_plain_text_and_other_scripts_are_unchanged(self):
        text = "✓ Pack 'core' — Ünïcode, 日本語, עברית"
        assert output.safe(text) == text


class TestPrinting:
    def test_lines_notes_errors_and_tables_print_no_control(self, capsys):
        output.line(f"Label: {HOSTILE}")
        output.note(f"  ✗ test_x: {HOSTILE}")
        output.table(["LABEL"], [[HOSTILE + "\nsecond line"]])
        with pytest.raises(SystemExit):
            output.abort(f"bad {HOSTILE}")

        printed = capsys.readouterr()
        for stream in (printed.out, printed.err):
            assert not any(c in stream for c in "\x1b\x07\x9b\x7f\u202e\r")
        assert "Label: \\x1b]0;owned\\x07" in printed.out
        assert "\\x0asecond line" in printed.out  # one table row stays one line
        assert printed.err.splitlines()[-1].startswith("✗ Error: bad \\x1b]0;owned")

    def test_json_keeps_the_data_exactly_and_escapes_the_controls(self, capsys):
        document = {"label": HOSTILE, "nested": [{"message": "line\n" + HOSTILE}]}

        output.print_json(document)

        printed = capsys.readouterr().out
        assert json.loads(printed) == document
        assert not any(c in printed for c in "\x1b\x07\x9b\x7f\u202e\r")
        assert "\\u202e" in printed and "\\u009b" in printed

    def test_the_live_status_line_shows_suite_names_escaped(self, capsys):
        suite = TestSuite(name="Unit \u202eTests\x9b", runner="python_unittest")
        progress = SuiteProgress(live=True)

        progress.case_finished(suite, TestCaseResult(name="t", status="passed"))

        err = capsys.readouterr().err
        # Only our own "clear the line" sequence is left.
        assert err == "\r\x1b[2K  Unit \\u202eTests\\x9b: 1 done, 0 failed"


class TestVerdict:
    @pytest.mark.parametrize(("status", "failed", "said"), [
        ("passed", 0, "✓ All tests passed"),
        ("failed", 2, "✗ Some tests failed"),
        ("failed", 0, "✗ Tests did not pass"),  # no test ran, or a runner exited non-zero
        ("error", 1, "✗ Some tests failed (a suite could not run)"),
        ("error", 0, "✗ Tests did not pass (a suite could not run)"),
    ])
    def test_all_tests_passed_only_when_every_suite_passed(self, status, failed, said):
        assert output.verdict(status, failed) == said

    def test_counts_follow_a_colon_before_the_reason(self):
        assert output.verdict("error", 1, "2/3 passed") == (
            "✗ Some tests failed: 2/3 passed (a suite could not run)")
