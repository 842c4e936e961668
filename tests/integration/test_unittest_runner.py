"""The python_unittest runner: exact per-case results, counted as unittest itself counts them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attune_registry.domain.manifest import TestSuite

from attune_registry.adapters.runners.unittest_runner import UnittestRunner

run = UnittestRunner().run


def suite(working_dir="tests", patterns=("test_*.py",), timeout=60) -> TestSuite:
    return TestSuite(name="Unit Tests", runner="python_unittest", working_dir=working_dir,
                     test_files=list(patterns), timeout_seconds=timeout)


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def unittest_summary(pack: Path, start: str, top: str) -> dict[str, int]:
    """What ``python -m unittest discover`` itself reports for the same directory."""
    completed = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", start, "-t", top, "-p", "test_*.py"],
        cwd=pack, capture_output=True, text=True, env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    ran = int(re.search(r"^Ran (\d+) tests?", completed.stderr, re.MULTILINE).group(1))
    counts = dict(re.findall(r"(failures|errors|skipped|expected failures|unexpected successes)"
                             r"=(\d+)", completed.stderr.splitlines()[-1]))
    return {"ran": ran, **{k: int(v) for k, v in counts.items()}}


class TestThirdPartySuite:
    @pytest.fixture
    def simplejson_pack(self, tmp_path) -> Path:
        """simplejson's own test suite, as shipped, with one failing test added."""
        import simplejson

        pack = tmp_path / "simplejson-pack"
        shutil.copytree(Path(simplejson.__file__).parent, pack / "simplejson",
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(pack / "simplejson" / "tests" / "test_decode.py", "a") as module:
            module.write(textwrap.dedent("""

                class TestInjectedFailure(TestCase):
                    def test_decoding_is_wrong_on_purpose(self):
                        self.assertEqual(json.loads("[1]"), [2])
            """))
        return pack

    def test_counts_equal_what_unittest_discover_reports(self, simplejson_pack):
        expected = unittest_summary(simplejson_pack, "simplejson/tests", ".")

        result = run(suite("simplejson/tests"), str(simplejson_pack))

        assert expected["ran"] > 200 and expected["failures"] == 1
        assert result.total == expected["ran"]
        assert result.failed == expected["failures"] + expected.get("errors", 0)
        assert result.skipped == expected.get("skipped", 0)
        assert result.passed == result.total - result.failed - result.skipped
        assert result.status == "failed" and result.exit_code == 1
        [failure] = [c for c in result.test_cases if c.status == "failed"]
        assert failure.name == ("simplejson.tests.test_decode.TestInjectedFailure."
                                "test_decoding_is_wrong_on_purpose")
        assert "AssertionError" in failure.error_message


class TestDiscovery:
    def test_a_plain_tests_folder_without_init(self, tmp_path):
        write(tmp_path / "tests" / "test_a.py", """
            import unittest
            class TestA(unittest.TestCase):
                def test_one(self): pass
        """)
        result = run(suite(), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["test_a.TestA.test_one"]
        assert result.status == "passed"

    def test_a_package_folder_is_imported_from_the_pack_root(self, tmp_path):
        write(tmp_path / "mypack_lib.py", "VALUE = 42\n")
        write(tmp_path / "tests" / "__init__.py", "")
        write(tmp_path / "tests" / "test_b.py", """
            import unittest
            from mypack_lib import VALUE
            class TestB(unittest.TestCase):
                def test_value(self): self.assertEqual(VALUE, 42)
        """)
        result = run(suite(), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["tests.test_b.TestB.test_value"]
        assert result.passed == 1

    def test_several_patterns_and_a_path_pattern(self, tmp_path):
        for name in ("test_x.py", "check_y.py", "deep/test_z.py"):
            write(tmp_path / "tests" / name, f"""
                import unittest
                class T(unittest.TestCase):
                    def test_{Path(name).stem}(self): pass
            """)
        result = run(suite(patterns=("test_*.py", "check_*.py")), str(tmp_path))
        assert sorted(c.name for c in result.test_cases) == ["check_y.T.test_check_y",
                                                            "test_x.T.test_test_x"]
        result = run(suite(patterns=("deep/test_*.py",)), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["deep.test_z.T.test_test_z"]

    def test_a_pattern_matching_nothing_is_an_error_not_a_pass(self, tmp_path):
        write(tmp_path / "tests" / "test_a.py", "")
        result = run(suite(patterns=("test_*.py", "nothing_*.py")), str(tmp_path))
        assert result.status == "error"
        assert result.message == "no test files match 'nothing_*.py' in 'tests'"

    def test_a_missing_working_dir_is_an_error(self, tmp_path):
        result = run(suite("absent"), str(tmp_path))
        assert (result.status, result.message) == (
            "error", "working_dir 'absent' is not a directory in the pack")

    def test_a_working_dir_linking_out_of_the_pack_is_an_error(self, tmp_path):
        (tmp_path / "outside").mkdir()
        (tmp_path / "pack").mkdir()
        (tmp_path / "pack" / "tests").symlink_to(tmp_path / "outside")
        result = run(suite(), str(tmp_path / "pack"))
        assert result.message == "working_dir 'tests' resolves outside the pack"


class TestCaseStatuses:
    def test_every_kind_of_outcome_is_reported_per_case(self, tmp_path):
        write(tmp_path / "tests" / "test_kinds.py", """
            import unittest
            class TestKinds(unittest.TestCase):
                def test_passes(self): pass
                def test_fails(self): self.assertEqual(1, 2)
                def test_errors(self): raise RuntimeError("kaput")
                @unittest.skip("not today")
                def test_skipped(self): pass
                @unittest.expectedFailure
                def test_expected_failure(self): self.assertEqual(1, 2)
                @unittest.expectedFailure
                def test_unexpected_success(self): pass
                def test_subtests(self):
                    for n in range(3):
                        with self.subTest(n=n):
                            self.assertLess(n, 2)
        """)
        write(tmp_path / "tests" / "test_broken.py", "import not_a_module_anywhere\n")

        result = run(suite(), str(tmp_path))

        statuses = {c.name.rsplit(".", 1)[-1]: c.status for c in result.test_cases}
        assert statuses == {
            "test_passes": "passed", "test_fails": "failed", "test_errors": "error",
            "test_skipped": "skipped", "test_expected_failure": "passed",
            "test_unexpected_success": "failed", "test_subtests": "failed",
            "test_broken (failed to import)": "error",
        }
        assert (result.total, result.passed, result.failed, result.skipped) == (8, 2, 5, 1)
        messages = {c.name.rsplit(".", 1)[-1]: c.error_message or "" for c in result.test_cases}
        assert "kaput" in messages["test_errors"]
        assert "(n=2)" in messages["test_subtests"]
        assert "not_a_module_anywhere" in messages["test_broken (failed to import)"]

    def test_output_of_a_failing_test_is_attached_to_it(self, tmp_path):
        write(tmp_path / "tests" / "test_out.py", """
            import unittest
            class T(unittest.TestCase):
                def test_noisy(self):
                    print("diagnostic line")
                    self.fail("see above")
        """)
        [case] = run(suite(), str(tmp_path)).test_cases
        assert "diagnostic line" in case.error_message

    def test_a_hanging_suite_times_out_as_an_error_keeping_finished_cases(self, tmp_path):
        write(tmp_path / "tests" / "test_hang.py", """
            import threading, unittest
            class T(unittest.TestCase):
                def test_a_quick(self): pass
                def test_b_hangs(self): threading.Event().wait()
        """)
        # Long enough to reach the hanging test first, also on a slow, busy machine.
        result = run(suite(timeout=5), str(tmp_path))
        assert (result.status, result.timed_out, result.message) == (
            "error", True, "timed out after 5 s")
        assert [(c.name, c.status) for c in result.test_cases] == [
            ("test_hang.T.test_a_quick", "passed"), ("test_hang.T.test_b_hangs", "error")]
        assert result.test_cases[1].error_message == "timed out after 5 s during this test"

    def test_a_test_that_ends_the_process_is_named_and_the_suite_does_not_pass(self, tmp_path):
        write(tmp_path / "tests" / "test_exit.py", """
            import os, unittest
            class T(unittest.TestCase):
                def test_a_fine(self): pass
                def test_b_exits(self): os._exit(0)
        """)
        result = run(suite(), str(tmp_path))
        assert (result.status, result.exit_code, result.passed, result.failed) == ("error", 0, 1, 1)
        assert result.test_cases[-1].name == "test_exit.T.test_b_exits"
        assert result.message == "the test process ended (exit code 0) before the suite finished"

    def test_the_pack_cannot_shadow_the_collector(self, tmp_path):
        # A pack module named like our own collector module must not break collection.
        write(tmp_path / "tests" / "unittest_collect.py", "raise SystemExit('shadowed!')\n")
        write(tmp_path / "tests" / "test_ok.py", """
            import unittest
            class T(unittest.TestCase):
                def test_ok(self): pass
        """)
        result = run(suite(), str(tmp_path))
        assert result.status == "passed" and result.total == 1
