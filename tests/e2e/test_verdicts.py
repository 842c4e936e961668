"""The verdict lines: "✓ All tests passed" only when nothing failed, and every fraction after
"tests" is passed/total (register, test, show, test-history)."""

from __future__ import annotations

from tests.packs import failing_tests, manifest, write_pack

SKIPPING = """
import unittest

class TestSome(unittest.TestCase):
    def test_runs(self):
        pass

    @unittest.skip("not here")
    def test_skipped(self):
        pass
"""
NO_TESTS = """
import unittest

class TestNothing(unittest.TestCase):
    pass
"""


def test_skipped_tests_are_no_failure_and_count_in_the_total(cli, tmp_path):
    done = cli("pack", "register", str(write_pack(tmp_path / "p", manifest("skips"),
                                                  {"test_some.py": SKIPPING})), "-q")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["✓ Pack 'skips' registered successfully",
                                        "Version: 1.0.0", "ID: 1", "✓ All tests passed",
                                        "Tests: 1/2 passed"]


def test_a_run_where_nothing_failed_but_nothing_passed_is_not_all_passed(cli, tmp_path):
    pack = write_pack(tmp_path / "p", manifest("empty"), {"test_nothing.py": NO_TESTS})

    forced = cli("pack", "register", str(pack), "--force", "-q")
    tested = cli("pack", "test", "empty", "-q")

    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.splitlines() == ["⚠ Pack 'empty' registered successfully",
                                          "Version: 1.0.0", "ID: 1", "✗ Tests did not pass",
                                          "Tests: 0/0 passed"]
    assert tested.returncode == 1
    assert tested.stdout.splitlines()[-1] == "✗ Tests did not pass: 0/0 passed"


def test_every_fraction_is_passed_over_total(cli, tmp_path):
    pack = write_pack(tmp_path / "p", manifest("mixed"),
                      {"test_mixed.py": failing_tests(passed=7, failed=3)})

    forced = cli("pack", "register", str(pack), "--force", "-q")
    tested = cli("pack", "test", "mixed", "-q")
    shown = cli("pack", "show", "mixed")
    history = cli("pack", "test-history", "mixed")

    assert forced.stdout.splitlines()[3:] == ["✗ Some tests failed", "Tests: 7/10 passed"]
    assert tested.stdout.splitlines()[-1] == "✗ Some tests failed: 7/10 passed"
    assert ", 7/10 passed (70.0%), failed, manual" in shown.stdout
    rows = [line.split() for line in history.stdout.splitlines()[1:]]
    assert [row[4] for row in rows] == ["7/10", "7/10"]  # TESTS, after the date and time
