"""The pytest and shell runners against real suites and scripts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attune_registry.domain.manifest import TestSuite

from attune_registry.adapters.runners import SandboxRunner

run = SandboxRunner().run


def suite(runner: str, working_dir: str = "tests", patterns=("test_*.py",), timeout=120,
          result_format="simple"):
    return TestSuite(name="Suite", runner=runner, working_dir=working_dir,
                     test_files=list(patterns), timeout_seconds=timeout,
                     result_format=result_format)


def write(path: Path, source: str, *, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    if executable:
        path.chmod(0o755)


def pytest_summary(directory: Path, *args: str) -> dict[str, int]:
    """The counts pytest prints on its last line, run directly on the same files."""
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                *args], cwd=directory, capture_output=True, text=True,
                               env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})
    last = completed.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}


class TestPytestRunner:
    def test_a_third_party_suite_counts_what_pytest_counts(self, tmp_path):
        import networkx

        pack = tmp_path / "nx"
        shutil.copytree(Path(networkx.__file__).parent, pack / "networkx",
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(pack / "networkx" / "classes" / "tests" / "test_graph.py", "a") as module:
            module.write("\n\ndef test_injected_failure():\n    assert nx.Graph().order() == 1\n")
        expected = pytest_summary(pack, "networkx/classes")

        result = run(suite("pytest", "networkx/classes", patterns=("test_*.py",)), str(pack))

        assert expected["passed"] > 1000 and expected["failed"] == 1
        assert result.passed == expected["passed"] + expected.get("xpassed", 0)
        assert result.failed == expected["failed"] + expected.get("error", 0) + expected.get(
            "errors", 0)
        assert result.skipped == expected.get("skipped", 0) + expected.get("xfailed", 0)
        assert result.total == result.passed + result.failed + result.skipped
        assert result.status == "failed" and result.exit_code == 1
        [failure] = [c for c in result.test_cases if c.status == "failed"]
        assert failure.name == "networkx.classes.tests.test_graph.test_injected_failure"

    def test_collection_errors_are_errors_not_zero_tests(self, tmp_path):
        write(tmp_path / "tests" / "test_ok.py", "def test_ok(): pass\n")
        write(tmp_path / "tests" / "test_broken.py", "import not_a_module_anywhere\n")

        result = run(suite("pytest"), str(tmp_path))

        assert result.status == "failed" and result.failed >= 1
        broken = [c for c in result.test_cases if c.status == "error"]
        assert broken and "not_a_module_anywhere" in broken[0].error_message

    def test_statuses_and_the_pack_root_on_the_import_path(self, tmp_path):
        write(tmp_path / "helpers.py", "ANSWER = 42\n")
        write(tmp_path / "tests" / "test_kinds.py", """
            import pytest
            from helpers import ANSWER
            def test_passes(): assert ANSWER == 42
            def test_fails(): assert ANSWER == 41
            @pytest.mark.skip(reason="later")
            def test_skipped(): pass
            @pytest.mark.xfail(reason="known")
            def test_known_bug(): assert False
            @pytest.fixture
            def broken(): raise RuntimeError("fixture broke")
            def test_uses_broken(broken): pass
        """)

        result = run(suite("pytest"), str(tmp_path))

        statuses = {c.name.rsplit(".", 1)[-1]: c.status for c in result.test_cases}
        assert statuses == {"test_passes": "passed", "test_fails": "failed",
                            "test_skipped": "skipped", "test_known_bug": "skipped",
                            "test_uses_broken": "error"}

    def test_explicit_paths_as_upstream_entry_points_name_them(self, tmp_path):
        write(tmp_path / "tests" / "test_a.py", "def test_a(): pass\n")
        write(tmp_path / "tests" / "test_b.py", "def test_b(): pass\n")
        result = run(suite("pytest", ".", patterns=("tests/test_a.py",)), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["tests.test_a.test_a"]

    def test_a_hanging_test_times_out_keeping_finished_cases_and_naming_the_culprit(
            self, tmp_path):
        write(tmp_path / "tests" / "test_hang.py", """
            import threading
            def test_a_quick(): pass
            def test_b_hangs(): threading.Event().wait()
        """)
        result = run(suite("pytest", timeout=5), str(tmp_path))
        assert (result.status, result.message) == ("error", "timed out after 5 s")
        assert [(c.name, c.status) for c in result.test_cases] == [
            ("tests.test_hang.test_a_quick", "passed"), ("tests.test_hang.test_b_hangs", "error")]

    def test_no_tests_collected_is_not_a_pass(self, tmp_path):
        write(tmp_path / "tests" / "test_empty.py", "VALUE = 1\n")
        result = run(suite("pytest"), str(tmp_path))
        assert result.status != "passed" and result.total == 0
        assert result.message == "pytest exited with code 5: no tests were collected"

    def test_plugins_of_the_registrys_environment_are_not_loaded(self, tmp_path):
        write(tmp_path / "tests" / "test_plugins.py", """
            def test_no_hypothesis_plugin(pytestconfig):
                assert not pytestconfig.pluginmanager.has_plugin("hypothesispytest")
        """)
        assert run(suite("pytest"), str(tmp_path)).status == "passed"

    def test_cases_are_reported_while_the_suite_runs(self, tmp_path):
        write(tmp_path / "tests" / "test_many.py", """
            import pytest
            @pytest.mark.parametrize("n", range(5))
            def test_n(n): assert n != 3
        """)
        seen = []
        result = run(suite("pytest"), str(tmp_path), on_case=seen.append)
        assert sorted(c.status for c in seen) == ["failed", "passed", "passed", "passed", "passed"]
        assert len(seen) == result.total == 5


class TestShellRunner:
    def test_tap_output_gives_one_case_per_line(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "1..4"
            echo "ok 1 - echo prints its message"
            echo "not ok 2 - sleep rejects negative seconds"
            echo "ok 3 - noop # SKIP not on this platform"
            printf '\\033[0;32mok 4 - coloured\\033[0m\\n'
            exit 1
        """)

        result = run(suite("shell", patterns=("run_tests.sh",)), str(tmp_path))

        assert [(c.name, c.status) for c in result.test_cases] == [
            ("tests/run_tests.sh: echo prints its message", "passed"),
            ("tests/run_tests.sh: sleep rejects negative seconds", "failed"),
            ("tests/run_tests.sh: noop", "skipped"),
            ("tests/run_tests.sh: coloured", "passed")]
        assert (result.status, result.exit_code) == ("failed", 1)

    def test_coloured_summary_lines_are_counted(self, tmp_path):
        # Upstream's core pack printed counts wrapped in colour codes and lost them.
        write(tmp_path / "tests" / "run_tests.sh", """
            GREEN='\\033[0;32m'; NC='\\033[0m'
            echo "Running 36 tests..."
            printf "Total Tests:  ${GREEN}36${NC}\\n"
            printf "Passed:       ${GREEN}36${NC}\\n"
            printf "Failed:       ${GREEN}0${NC}\\n"
        """)
        result = run(suite("shell", patterns=("run_tests.sh",)), str(tmp_path))
        assert (result.status, result.total, result.passed) == ("passed", 36, 36)

    def test_a_non_zero_exit_is_never_a_pass(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "Total Tests: 3"; echo "Passed: 3"; echo "Failed: 0"
            exit 4
        """)
        result = run(suite("shell", patterns=("run_tests.sh",)), str(tmp_path))
        # A contradiction (all passed, yet exit 4): an error, which no min_pass_rate accepts.
        assert (result.status, result.passed, result.exit_code) == ("error", 3, 4)

    def test_without_a_report_the_exit_code_decides(self, tmp_path):
        write(tmp_path / "tests" / "check_ok.sh", "true\n")
        write(tmp_path / "tests" / "check_bad.sh", "echo nope >&2; exit 3\n")

        result = run(suite("shell", patterns=("check_*.sh",)), str(tmp_path))

        assert [(c.name, c.status, c.error_message) for c in result.test_cases] == [
            ("tests/check_bad.sh", "failed", "exited with code 3"),
            ("tests/check_ok.sh", "passed", None)]

    def test_executable_scripts_run_with_their_shebang(self, tmp_path):
        write(tmp_path / "tests" / "check.py", f"""
            #!{sys.executable}
            print("1..1")
            print("ok 1 - python speaks TAP")
        """, executable=True)
        result = run(suite("shell", patterns=("check.py",)), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["tests/check.py: python speaks TAP"]

    def test_scripts_share_the_suite_timeout(self, tmp_path):
        write(tmp_path / "tests" / "a_slow.sh", "sleep 30\n")
        write(tmp_path / "tests" / "b_never.sh", "echo never\n")
        result = run(suite("shell", patterns=("*.sh",), timeout=2), str(tmp_path))
        assert (result.status, result.timed_out) == ("error", True)
        assert "never" not in result.stdout

    def test_a_bare_script_name_matches_in_the_working_dir_only(self, tmp_path):
        write(tmp_path / "run_tests.sh", 'echo "1..1"; echo "ok 1 - top"\n')
        write(tmp_path / "vendor" / "lib" / "run_tests.sh", "exit 1\n")
        result = run(suite("shell", ".", patterns=("run_tests.sh",)), str(tmp_path))
        assert [c.name for c in result.test_cases] == ["run_tests.sh: top"]

    def test_scripts_run_in_the_working_dir(self, tmp_path):
        write(tmp_path / "tests" / "where.sh", 'echo "1..1"; [ -f where.sh ] && echo "ok 1 - cwd"\n')
        result = run(suite("shell", patterns=("where.sh",)), str(tmp_path))
        assert result.status == "passed"

    @pytest.mark.parametrize("runner", ["shell", "pytest", "python_unittest"])
    def test_a_pattern_matching_nothing_is_an_error(self, tmp_path, runner):
        (tmp_path / "tests").mkdir()
        result = run(suite(runner, patterns=("nothing_*.sh",)), str(tmp_path))
        assert (result.status, result.message) == (
            "error", "no test files match 'nothing_*.sh' in 'tests'")


class TestShellResultsCannotBeFooled:
    def test_a_log_line_starting_with_ok_does_not_hide_the_failed_count(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "ok: cache warmed"
            echo "Total Tests: 3"; echo "Passed: 1"; echo "Failed: 2"
            exit 0
        """)

        result = run(suite("shell", patterns=("run_tests.sh",)), str(tmp_path))

        assert (result.status, result.passed, result.failed, result.exit_code) == (
            "failed", 1, 2, 0)
        assert result.message == (
            "2 test(s) failed; tests/run_tests.sh: the script exited with 0, but 2 failed "
            "according to the summary lines on stdout")

    def test_an_ok_parent_over_a_failing_tap14_subtest_fails_and_counts_only_parents(
            self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "TAP version 14"
            echo "1..2"
            echo "# Subtest: cache"
            echo "    1..2"
            echo "    ok 1 - warms"
            echo "    not ok 2 - expires"
            echo "ok 1 - cache"
            echo "ok 2 - echo"
        """)

        result = run(suite("shell", patterns=("run_tests.sh",)), str(tmp_path))

        assert [(c.name, c.status) for c in result.test_cases] == [
            ("tests/run_tests.sh: cache", "error"), ("tests/run_tests.sh: echo", "passed")]
        assert result.status == "error"  # contradicted: no pass rate can outvote it
        assert result.message == (
            "1 test(s) failed; tests/run_tests.sh: TAP on stdout: test point 'cache' says ok, "
            "but its subtest has 1 failing test point")

    def test_a_json_report_with_a_failure_fails_although_the_script_exits_0(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "checking things" >&2
            echo '{"total": 2, "passed": 1, "failed": 1,'
            echo ' "tests": [{"name": "adds", "status": "passed"},'
            echo '           {"name": "divides", "status": "failed", "message": "by zero"}]}'
        """)

        result = run(suite("shell", patterns=("run_tests.sh",), result_format="json"),
                     str(tmp_path))

        assert [(c.name, c.status, c.error_message) for c in result.test_cases] == [
            ("tests/run_tests.sh: adds", "passed", None),
            ("tests/run_tests.sh: divides", "failed", "by zero")]
        assert (result.status, result.exit_code) == ("failed", 0)
        assert result.message.endswith(
            "tests/run_tests.sh: the script exited with 0, but 1 failed according to the JSON "
            "report")

    def test_a_json_report_that_passes_passes_and_tap_lines_are_not_read(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", """
            echo "not ok 1 - on stderr, not the report" >&2
            echo '{"total": 1, "passed": 1, "failed": 0}'
        """)

        result = run(suite("shell", patterns=("run_tests.sh",), result_format="json"),
                     str(tmp_path))

        assert (result.status, result.total, result.message) == ("passed", 1, None)

    def test_a_json_suite_without_a_report_is_an_error_case(self, tmp_path):
        write(tmp_path / "tests" / "run_tests.sh", 'echo "1..1"; echo "ok 1 - tap, not json"\n')

        result = run(suite("shell", patterns=("run_tests.sh",), result_format="json"),
                     str(tmp_path))

        [case] = result.test_cases
        assert (result.status, case.status) == ("failed", "error")
        assert case.error_message.startswith("no valid JSON report on stdout")

    def test_a_large_json_report_is_read_whole_and_stored_bounded(self, tmp_path):
        write(tmp_path / "tests" / "report.py", """
            import json
            tests = [{"name": f"case {n:05}", "status": "passed", "message": "x" * 40}
                     for n in range(5000)]
            print(json.dumps({"total": 5000, "passed": 5000, "failed": 0, "tests": tests}))
        """)

        result = run(suite("shell", patterns=("report.py",), result_format="json"),
                     str(tmp_path))

        assert (result.status, result.passed) == ("passed", 5000)
        assert "bytes of output dropped" in result.stdout
        assert len(result.stdout.encode()) < 64 * 1024 + 200


class TestShellCaseDurations:
    def test_a_scripts_cases_share_its_measured_duration(self, tmp_path):
        write(tmp_path / "tests" / "a.sh", 'echo "ok 1 - one"; echo "ok 2 - two"; '
                                           'echo "ok 3 - three"\n')
        write(tmp_path / "tests" / "b.sh", "exit 0\n")

        result = run(suite("shell", patterns=("a.sh", "b.sh")), str(tmp_path))

        durations = [c.duration_ms for c in result.test_cases]
        assert [c.name for c in result.test_cases] == [
            "tests/a.sh: one", "tests/a.sh: two", "tests/a.sh: three", "tests/b.sh"]
        assert sum(durations[:3]) > 0 and durations[3] > 0  # measured, no longer always 0
        assert max(durations[:3]) - min(durations[:3]) <= 1  # shared evenly
        assert sum(durations) <= result.duration_ms

    def test_an_even_share_adds_up_and_reported_durations_are_kept(self):
        from attune_registry.domain.results import TestCaseResult

        from attune_registry.adapters.runners.shell_runner import timed

        cases = [TestCaseResult(name=n, status="passed") for n in "abc"]
        own = [TestCaseResult(name="a", status="passed", duration_ms=5),
               TestCaseResult(name="b", status="passed")]

        assert [c.duration_ms for c in timed(cases, 8)] == [3, 3, 2]
        assert [c.duration_ms for c in timed(cases[:1], 8)] == [8]
        assert timed(own, 100) == own
        assert timed([], 100) == []
