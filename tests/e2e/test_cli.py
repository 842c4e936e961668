"""The ``attune`` command on each store: in process (the ``cli`` fixture), and through the
real entry point for a smoke test per command family and where a process is the subject
(signals, the working directory, two processes at once)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.cli.output import REJECTION_HINT

from tests.conftest import ATTUNE, CORE_PACK, CORE_VERSION, invoke
from tests.packs import failing_tests, manifest, write_pack
from tests.sandboxed import (
    running_under,
    running_with,
    shared_folder,
    sharing,
    stuck_pack,
    wait_until_gone,
    with_mark,
)

REJECTED = ("✗ Error: Pack registration failed: tests did not pass. "
            "Use force=true to register anyway.")


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


class TestRegister:
    def test_the_core_pack_prints_the_spec_lines(self, attune):
        # The real entry point, as a user runs it (most tests here run the CLI in process).
        done = attune("pack", "register", str(CORE_PACK))

        assert done.returncode == 0, done.stderr
        first, version, ident, verdict, tests = lines(done.stdout)
        assert (first, version, ident, verdict) == (
            "✓ Pack 'core' registered successfully", f"Version: {CORE_VERSION}", "ID: 1",
            "✓ All tests passed")
        passed, total = tests.removeprefix("Tests: ").removesuffix(" passed").split("/")
        assert passed == total and int(total) >= 20
        assert "Running suite 'Unit Tests'" in done.stderr  # progress goes to stderr

    def test_an_existing_ref_needs_force(self, cli, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"))
        cli("pack", "register", str(pack), "--skip-tests")

        again = cli("pack", "register", str(pack))
        forced = cli("pack", "register", str(pack), "--force")

        assert again.returncode == 1 and again.stdout == ""
        assert lines(again.stderr) == [
            "✗ Error: Pack 'mypack' already exists. Use force=true to reinstall."]
        assert forced.returncode == 0 and lines(forced.stdout)[3] == "✓ All tests passed"

    def test_failing_tests_reject_the_pack_and_the_error_names_the_evidence(self, attune,
                                                                            tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        done = attune("pack", "register", str(pack))

        assert done.returncode == 1 and done.stdout == ""
        [attempt] = json.loads(attune("pack", "history", "mypack", "--json").stdout)["data"]
        # The spec's line first, then the failing cases, the registration and what to do.
        assert lines(done.stderr)[-5:] == [
            REJECTED,
            "  ✗ Unit Tests: test_mixed.TestMixed.test_fail_0: AssertionError: 0 != 1 : "
            "deliberate failure 0",
            "  ✗ Unit Tests: test_mixed.TestMixed.test_fail_1: AssertionError: 1 != 2 : "
            "deliberate failure 1",
            f"Registration: {attempt['id']}",
            REJECTION_HINT]
        assert "--replace" in REJECTION_HINT and "--force" in REJECTION_HINT
        assert REJECTION_HINT.index("--replace") < REJECTION_HINT.index("--force")
        assert attune("pack", "list").stdout.strip() == "No packs registered."

    def test_a_rejection_lists_ten_cases_and_its_json_fifty(self, cli, tmp_path):
        pack = write_pack(tmp_path / "many", manifest("many"),
                          {"test_mixed.py": failing_tests(passed=1, failed=53)})

        text = cli("pack", "register", str(pack), "-q")
        as_json = cli("pack", "register", str(pack), "-q", "--json")

        [first, *cases, more, registration, hint] = lines(text.stderr)
        assert (text.returncode, first, more, hint) == (1, REJECTED, "  … and 43 more",
                                                         REJECTION_HINT)
        assert len(cases) == 10 and all(c.startswith("  ✗ Unit Tests: test_mixed.TestMixed.")
                                        for c in cases)
        body = json.loads(as_json.stdout)
        assert (as_json.returncode, as_json.stderr) == (1, "")
        assert (body["error"], body["code"]) == (REJECTED.removeprefix("✗ Error: "),
                                                 "BAD_REQUEST")
        [evidence] = body["details"]
        assert evidence["summary"] == {"total_tests": 54, "passed": 1, "failed": 53,
                                       "skipped": 0, "pass_rate": 0.0185}
        assert (len(evidence["failing_cases"]), evidence["more_failing_cases"]) == (50, 3)
        assert evidence["failing_cases"][0]["suite"] == "Unit Tests"
        attempts = json.loads(cli("pack", "history", "many", "--json").stdout)["data"]
        assert {a["id"] for a in attempts} == {
            registration.removeprefix("Registration: "), evidence["registration_id"]}

    def test_force_registers_failing_tests_with_a_warning(self, cli, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        done = cli("pack", "register", str(pack), "--force")

        assert done.returncode == 0, done.stderr
        assert lines(done.stdout) == ["⚠ Pack 'mypack' registered successfully",
                                      "Version: 1.0.0", "ID: 1", "✗ Some tests failed",
                                      "Tests: 8/10 passed"]

    def test_skip_tests(self, cli, tmp_path):
        pack = write_pack(tmp_path / "notest", manifest("notest", testing=None))

        done = cli("pack", "register", str(pack), "--force", "--skip-tests")

        assert done.returncode == 0, done.stderr
        assert lines(done.stdout) == ["✓ Pack 'notest' registered successfully",
                                      "Version: 1.0.0", "ID: 1", "Tests were skipped"]
        history = cli("pack", "test-history", "notest")
        assert history.stdout.strip() == "No test runs recorded for pack 'notest'."

    def test_replace_upgrades_but_keeps_the_test_gate(self, cli, tmp_path):
        cli("pack", "register", str(write_pack(tmp_path / "v1", manifest("app", "1.0.0"))))
        broken = write_pack(tmp_path / "v2", manifest("app", "2.0.0"),
                            {"test_mixed.py": failing_tests(passed=1, failed=1)})

        refused = cli("pack", "register", str(broken), "--replace")

        assert refused.returncode == 1 and REJECTED in lines(refused.stderr)
        assert lines(refused.stderr)[-1] == REJECTION_HINT
        assert "1.0.0" in cli("pack", "list").stdout

    def test_json_output_is_the_api_body(self, cli, tmp_path):
        done = cli("pack", "register", str(write_pack(tmp_path / "mypack", manifest("mypack"))),
                   "--json", "-q")

        body = json.loads(done.stdout)
        assert done.returncode == 0 and done.stderr == ""
        assert body["message"] == "Pack registered successfully"
        assert body["data"]["tests_skipped"] is False
        assert {"id": 1, "ref": "mypack", "version": "1.0.0"}.items() <= body["data"]["pack"].items()
        result = body["data"]["test_result"]
        assert result["status"] == "passed" and result["total_tests"] == result["passed"]
        case = result["test_suites"][0]["test_cases"][0]
        assert set(case) == {"name", "status", "duration_ms", "error_message", "attempts", "flaky"}

    def test_errors_in_json_mode_are_json(self, cli, tmp_path):
        done = cli("pack", "register", str(tmp_path / "absent"), "--json")
        assert done.returncode == 1
        assert json.loads(done.stdout) == {
            "error": f"Pack directory does not exist: {tmp_path / 'absent'}",
            "code": "BAD_REQUEST"}


class TestSpecErrors:
    @pytest.mark.parametrize(("setup", "message"), [
        ("absent", "Pack directory does not exist: {path}"),
        ("empty", "pack.yaml not found in directory: {path}"),
        ("no_testing", "No testing configuration found in pack.yaml for pack 'mypack'"),
        ("disabled", "Testing is disabled for pack 'mypack'"),
        ("bad_version", "Invalid pack.yaml: version: '1.0' is not a semantic version "
                        "(MAJOR.MINOR.PATCH, e.g. 1.0.0)"),
        ("bad_ref", "Invalid pack.yaml: ref: 'My Pack' is not a valid pack ref (lowercase "
                    "letter first, then at least one of a-z, 0-9, '_' or '-')"),
        ("bad_type", "Invalid pack.yaml: testing.test_suites[0].timeout_seconds: expected int, "
                     "got str"),
        ("broken_yaml", "Invalid pack.yaml: not valid YAML at line 2, column 15: mapping "
                        "values are not allowed here"),
    ])
    def test_each_refusal_is_one_line_and_exit_1(self, cli, tmp_path, setup, message):
        path = tmp_path / "mypack"
        if setup == "empty":
            path.mkdir()
        elif setup == "no_testing":
            write_pack(path, manifest("mypack", testing=None))
        elif setup == "disabled":
            write_pack(path, manifest("mypack", testing={"enabled": False}))
        elif setup == "bad_version":
            write_pack(path, manifest("mypack", "1.0"))
        elif setup == "bad_ref":
            write_pack(path, manifest("My Pack"))
        elif setup == "bad_type":
            data = manifest("mypack")
            data["testing"]["test_suites"][0]["timeout_seconds"] = "60"
            write_pack(path, data)
        elif setup == "broken_yaml":
            write_pack(path, "ref: mypack\nversion: 1.0.0: x\n")

        done = cli("pack", "register", str(path))

        assert (done.returncode, done.stdout) == (1, "")
        assert lines(done.stderr) == [f"✗ Error: {message.format(path=path)}"]

    def test_a_path_too_long_to_look_up_does_not_exist(self, cli, tmp_path):
        path = tmp_path / ("a" * 300)  # ENAMETOOLONG, which Path.is_dir() lets through

        done = cli("pack", "register", str(path))

        assert (done.returncode, done.stdout) == (1, "")
        assert lines(done.stderr) == [f"✗ Error: Pack directory does not exist: {path}"]

    def test_usage_errors_exit_2(self, cli):
        assert cli("pack", "register").returncode == 2


class TestReading:
    def test_history_lists_every_attempt_newest_first(self, cli, tmp_path):
        bad = write_pack(tmp_path / "mypack", manifest("mypack"),
                         {"test_mixed.py": failing_tests(passed=3, failed=1)})
        assert cli("pack", "register", str(bad)).returncode == 1
        assert cli("pack", "register", str(bad), "--force").returncode == 0

        done = cli("pack", "test-history", "mypack")

        header, newest, oldest = lines(done.stdout)
        assert header.split() == ["TIME", "VERSION", "TRIGGER", "TESTS", "PASS", "RATE",
                                  "DURATION", "STATUS", "OUTCOME", "SANDBOX"]
        assert newest.split()[2:6] + newest.split()[-3:-1] == [
            "1.0.0", "register", "3/4", "75.0%", "failed", "forced"]
        assert oldest.split()[-3:-1] == ["failed", "rejected"]
        # The mechanism that isolated the suites: the strongest this machine has.
        assert {newest.split()[-1], oldest.split()[-1]} <= {"bwrap", "namespaces"}
        runs = json.loads(cli("pack", "test-history", "mypack", "--json").stdout)["data"]
        assert [r["outcome"] for r in runs] == ["forced", "rejected"]
        assert runs[0]["result"]["test_suites"][0]["failed"] == 1

    def test_list_shows_active_packs(self, attune, tmp_path):
        attune("pack", "register", str(CORE_PACK), "--skip-tests")
        listed = lines(attune("pack", "list").stdout)
        assert listed[0].split() == ["ID", "REF", "VERSION", "LABEL", "UPDATED"]
        assert listed[1].split()[:5] == ["1", "core", CORE_VERSION, "Core", "Pack"]

    def test_unknown_ref(self, cli, settings):
        build_registry(settings).close()  # an empty store: without one, reads say so instead

        done = cli("pack", "test-history", "nope")
        assert (done.returncode, lines(done.stderr)) == (1, ["✗ Error: Pack 'nope' not found"])


class TestManualTests:
    def test_testing_a_registered_pack_records_a_manual_run(self, cli, tmp_path):
        cli("pack", "register", str(write_pack(tmp_path / "mypack", manifest("mypack"))), "-q")

        done = cli("pack", "test", "mypack")

        assert done.returncode == 0, done.stderr
        out = lines(done.stdout)
        assert out[0] == "Testing pack 'mypack' 1.0.0 (recorded as manual run)"
        assert out[1].startswith("  ✓ Unit Tests: ") and out[-1].startswith("✓ All tests passed: ")
        assert out[-3] == "Pass rate: 100.0%"
        history = json.loads(cli("pack", "test-history", "mypack", "--json").stdout)["data"]
        assert [r["trigger_reason"] for r in history] == ["manual", "register"]

    def test_testing_a_directory_lists_failures_and_exits_1(self, cli, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=2, failed=1)})

        done = cli("pack", "test", str(pack), "-v")

        assert done.returncode == 1
        out = lines(done.stdout)
        assert out[0] == "Testing pack 'mypack' 1.0.0 (directory, not recorded)"
        assert "    ✓ test_mixed.TestMixed.test_pass_0" in out
        assert any(line.startswith("    ✗ test_mixed.TestMixed.test_fail_0: AssertionError")
                   for line in out)
        assert out[-1] == "✗ Some tests failed: 2/3 passed"
        assert cli("pack", "test-history", "mypack").returncode == 1  # nothing recorded

    def test_a_bare_word_is_a_ref_and_a_path_needs_a_slash(self, cli, tmp_path):
        write_pack(tmp_path / "core", manifest("core"))
        as_ref = subprocess.run([ATTUNE, "pack", "test", "core"], env=cli.env, cwd=tmp_path,
                                capture_output=True, text=True)
        as_path = subprocess.run([ATTUNE, "pack", "test", "./core"], env=cli.env,
                                 cwd=tmp_path, capture_output=True, text=True)
        assert lines(as_ref.stderr) == [
            "✗ Error: Pack 'core' not found",
            "(a directory ./core exists: to test it, run attune pack test ./core)"]
        assert as_path.returncode == 0 and "(directory, not recorded)" in as_path.stdout

    def test_testing_an_unknown_ref(self, cli):
        done = cli("pack", "test", "ghost")
        assert (done.returncode, lines(done.stderr)) == (1, ["✗ Error: Pack 'ghost' not found"])


class TestConcurrency:
    def test_a_second_registration_of_a_ref_in_flight_is_refused(self, cli, tmp_path):
        # The pack's test runs sandboxed: it sees the gate folder only because it is shared.
        gate = shared_folder(tmp_path / "gate")
        started, release = gate / "started", gate / "release"
        pack = write_pack(tmp_path / "slow", manifest("slow"), {"test_wait.py": with_mark(f"""
            import pathlib, time, unittest
            class TestWait(unittest.TestCase):
                def test_waits_for_release(self):
                    mark({str(started)!r})
                    deadline = time.monotonic() + 60
                    while not pathlib.Path({str(release)!r}).exists():
                        self.assertLess(time.monotonic(), deadline)
                        time.sleep(0.02)
        """)})
        env = sharing(cli.env, gate)
        first = subprocess.Popen([ATTUNE, "pack", "register", str(pack)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(started, first)

            second = invoke(["pack", "register", str(pack), "--force"], env)

            assert second.returncode == 1
            assert "Pack 'slow' has a registration in progress" in second.stderr
        finally:
            release.touch()
            out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert lines(out)[0] == "✓ Pack 'slow' registered successfully"


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    """Wait until the first registration's test is running (it creates ``path``)."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first registration never started its tests"
        time.sleep(0.02)


class TestLifecycleAndAudit:
    def test_show_history_rollback_unregister_and_audit(self, cli, tmp_path):
        v1 = write_pack(tmp_path / "v1", manifest("app", "1.0.0"))
        v2 = write_pack(tmp_path / "v2", manifest("app", "2.0.0"))
        cli("pack", "register", str(v1), "-q")
        cli("pack", "register", str(v2), "--replace", "-q")

        shown = lines(cli("pack", "show", "app").stdout)
        rolled = cli("pack", "rollback", "app")
        history = json.loads(cli("pack", "history", "app", "--json").stdout)["data"]
        gone = cli("pack", "unregister", "app")
        audit = json.loads(cli("audit", history[0]["id"], "--json").stdout)["data"]

        assert shown[0] == "Pack 'app' 2.0.0 (ID 1)" and "Components (0):" in shown
        assert any(line.startswith("Latest test run: ") for line in shown)
        assert lines(rolled.stdout)[:2] == ["✓ Pack 'app' rolled back to version 1.0.0", "ID: 1"]
        assert [(h["pack_version"], h["status"], h["reason"]) for h in history] == [
            ("2.0.0", "rolled_back", "rollback"), ("1.0.0", "committed", None)]
        assert history[0]["rolled_back_by"].startswith("cli:")
        assert gone.returncode == 0 and lines(gone.stdout)[0] == "✓ Pack 'app' unregistered"
        assert cli("pack", "list").stdout.strip() == "No packs registered."
        assert [e["topic"] for e in audit["events"]] == [
            "attune:Registration.PackRegistrationRequested",
            "attune:Registration.TestSuiteCompleted",
            "attune:Registration.RegistrationCommitted",
            "attune:Registration.RegistrationRolledBack"]
        text = cli("audit", history[0]["id"]).stdout
        assert f"Registration {history[0]['id']}: 4 events" in text

    def test_projections_status_and_rebuild(self, cli):
        cli("pack", "register", str(CORE_PACK), "--skip-tests")

        status = lines(cli("projections", "status").stdout)
        rebuilt = cli("projections", "rebuild")

        assert status[0].split() == ["PROJECTION", "POSITION", "LOG", "HEAD", "LAG"]
        name, position, head, lag = status[1].split()
        assert (name, position == head, lag) == ("registry_views", True, "0")
        assert lines(rebuilt.stdout)[0].startswith(f"✓ Rebuilt the read models from {head} "
                                                   "events in ")

    def test_refusals_of_lifecycle_commands(self, cli, settings):
        build_registry(settings).close()  # an empty store: without one, they say so instead
        assert lines(cli("pack", "rollback", "nope").stderr) == [
            "✗ Error: Pack 'nope' not found"]
        cli("pack", "register", str(CORE_PACK), "--skip-tests")
        assert lines(cli("pack", "rollback", "core").stderr) == [
            "✗ Error: Pack 'core' has no earlier registration to roll back to; use unregister "
            "to remove it"]
        missing = cli("audit", "00000000-0000-0000-0000-000000000000")
        assert lines(missing.stderr) == [
            "✗ Error: Registration '00000000-0000-0000-0000-000000000000' not found"]


class TestInterruption:
    def test_ctrl_c_stops_the_suites_and_records_the_attempt(self, cli, settings, tmp_path):
        import signal

        stuck = stuck_pack(tmp_path)
        child = stuck.child
        # Default SIGINT handling even if this test runs with SIGINT ignored (a background job).
        run = subprocess.Popen([ATTUNE, "pack", "register", str(stuck.path), "--jobs", "2"],
                               env=sharing(cli.env, stuck.gate), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        _wait_for(stuck.started, run)
        # The suite's processes, seen from here: its sandbox, supervisor and test (they name
        # the snapshot, in the store's home) and the test's child.
        assert running_with(child[-1]) and running_under([settings.home])

        run.send_signal(signal.SIGINT)
        run.communicate(timeout=30)

        assert run.returncode != 0
        # Stopped with their sandbox, whose PID namespace the kernel may still be tearing down.
        wait_until_gone(lambda: running_with(child[-1]) + running_under([settings.home]),
                        "the suite's processes outlived the interrupted registration")
        history = json.loads(cli("pack", "history", "stuck", "--json").stdout)["data"]
        assert (history[0]["status"], history[0]["reason"]) == ("rejected", "tests_not_executed")
