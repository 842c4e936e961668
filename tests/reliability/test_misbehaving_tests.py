"""Pack tests that misbehave, registered through the real `attune` entry point: they flood their
output, print garbage, leave processes behind, hang, exit early, kill their parent, or vandalise
their working directory. Every run is bounded, ends with a clear verdict, leaves no process and
no snapshot behind, and never touches the pack's source directory."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack
from tests.reliability.test_races_and_crashes import DAEMON, alive

pytestmark = pytest.mark.reliability

REJECTED = ("✗ Error: Pack registration failed: tests did not pass. "
            "Use force=true to register anyway.")
RUNNERS = ("python_unittest", "pytest", "shell")
TEST_FILE = {"python_unittest": "test_it.py", "pytest": "test_it.py", "shell": "check.sh"}
sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@dataclass
class Registration:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_bytes: int  # the attune process's own high-water mark (VmHWM)


def misbehaving_pack(tmp_path: Path, runner: str, source: str, timeout: int = 60) -> Path:
    """A pack whose only suite runs ``source`` (one test file) with ``runner``."""
    data = manifest("unruly", testing={"enabled": True, "test_suites": [{
        "name": "Unruly", "runner": runner, "working_dir": "tests",
        "test_files": [TEST_FILE[runner]], "timeout_seconds": timeout}]})
    return write_pack(tmp_path / "unruly", data, {TEST_FILE[runner]: source})


def tree_digest(root: Path) -> str:
    """Names, kinds, modes and contents of everything under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{stat.filemode(info.st_mode)}\0".encode())
        if stat.S_ISREG(info.st_mode):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        elif stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode())
    return digest.hexdigest()


def register(attune, pack: Path) -> Registration:
    """``attune pack register PACK``; checks what must hold whatever the tests did."""
    before = tree_digest(pack)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([ATTUNE, "pack", "register", str(pack)], env=attune.env,
                                   stdout=out, stderr=err)
        peak = 0
        deadline = time.monotonic() + 180
        while process.poll() is None:
            peak = max(peak, _high_water_mark(process.pid))
            assert time.monotonic() < deadline, "attune pack register did not return"
            time.sleep(0.01)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()

    assert tree_digest(pack) == before, "the pack's source directory changed"
    work = Path(attune.env["ATTUNE_HOME"]) / "work"
    assert not work.exists() or not list(work.iterdir()), "a snapshot was left behind"
    # Whatever the tests printed, attune's own output is valid UTF-8.
    return Registration(process.returncode, stdout.decode(), stderr.decode(), peak)


def _high_water_mark(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def cli_json(attune, *args: str) -> Any:
    done = attune(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def last_suite(attune) -> dict[str, Any]:
    """The suite of the latest test run of the pack, as recorded."""
    [suite] = cli_json(attune, "pack", "test-history", "unruly")[0]["result"]["test_suites"]
    return suite


def cases(suite: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """Name, status and the first line of the message of each recorded case."""
    return [(c["name"], c["status"], (c["error_message"] or "").split("\n")[0] or None)
            for c in suite["test_cases"]]


def assert_rejected(attune, done: Registration) -> dict[str, Any]:
    """Exit 1 with the spec's line, the attempt recorded as rejected; returns its suite."""
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines()[-1] == REJECTED
    [attempt] = cli_json(attune, "pack", "history", "unruly")
    assert (attempt["status"], attempt["reason"]) == ("rejected", "tests_failed")
    assert cli_json(attune, "pack", "list") == []
    return last_suite(attune)


def assert_registered(attune, done: Registration) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[3] == "✓ All tests passed"
    [attempt] = cli_json(attune, "pack", "history", "unruly")
    assert attempt["status"] == "committed"
    return last_suite(attune)


# --- Output ------------------------------------------------------------------------------------

FLOOD_MIB = 64  # per stream

FLOOD = {
    "python_unittest": f"""
        import os, unittest
        class TestFlood(unittest.TestCase):
            def test_floods_both_streams(self):
                with open(1, "wb", closefd=False) as out, open(2, "wb", closefd=False) as err:
                    for _ in range({FLOOD_MIB}):
                        out.write(b"o" * 1048575 + b"\\n")
                        err.write(b"e" * 1048575 + b"\\n")
                    out.write(b"LAST-OUT\\n")
                    err.write(b"LAST-ERR\\n")
    """,
    "pytest": f"""
        def test_floods_both_streams(capfd):
            with capfd.disabled(), open(1, "wb", closefd=False) as out, \\
                    open(2, "wb", closefd=False) as err:
                for _ in range({FLOOD_MIB}):
                    out.write(b"o" * 1048575 + b"\\n")
                    err.write(b"e" * 1048575 + b"\\n")
                out.write(b"LAST-OUT\\n")
                err.write(b"LAST-ERR\\n")
    """,
    "shell": f"""
        head -c {FLOOD_MIB * 2**20} /dev/zero | tr '\\0' o
        head -c {FLOOD_MIB * 2**20} /dev/zero | tr '\\0' e >&2
        echo; echo LAST-ERR >&2
        echo; echo 1..1; echo "ok 1 - floods both streams"; echo LAST-OUT
    """,
}


GARBAGE = {
    "python_unittest": """
        import os, unittest
        class TestGarbage(unittest.TestCase):
            def test_prints_garbage(self):
                for fd in (1, 2):
                    os.write(fd, b"bad \\xff\\xfe \\xc3( \\xed\\xa0\\x80 bytes\\n")
                    with open(fd, "wb", closefd=False) as stream:
                        stream.write(b"z" * (8 << 20))  # one line, no newline at the end
    """,
    "pytest": """
        import os
        def test_prints_garbage(capfd):
            with capfd.disabled():
                for fd in (1, 2):
                    os.write(fd, b"bad \\xff\\xfe \\xc3( \\xed\\xa0\\x80 bytes\\n")
                    with open(fd, "wb", closefd=False) as stream:
                        stream.write(b"z" * (8 << 20))
    """,
    "shell": """
        echo 1..1; echo "ok 1 - prints garbage"
        for fd in 1 2; do
            printf 'bad \\377\\376 \\303( \\355\\240\\200 bytes\\n' >&$fd
            head -c 8388608 /dev/zero | tr '\\0' z >&$fd
        done
    """,
}


@sqlite_only
class TestOutput:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_a_flood_is_cut_to_head_and_tail_and_the_cli_stays_small(self, attune, tmp_path,
                                                                      runner):
        done = register(attune, misbehaving_pack(tmp_path, runner, FLOOD[runner]))

        suite = assert_registered(attune, done)
        for stream, last in (("stdout", "LAST-OUT"), ("stderr", "LAST-ERR")):
            kept = suite[stream]
            assert len(kept.encode()) < 64 * 1024 + 200
            dropped = int(kept.split("[... ", 1)[1].split(" bytes of output dropped ...]")[0])
            assert dropped > (FLOOD_MIB - 1) * 2**20  # what was cut, was counted
            assert last in kept[-2000:]  # the end of the flood (and the runner's summary)
        # 2 x 64 MiB went through the pipes; attune itself never held more than a fraction.
        assert 0 < done.peak_rss_bytes < FLOOD_MIB * 2**20

    @pytest.mark.parametrize("runner", RUNNERS)
    def test_invalid_utf8_and_a_giant_line_are_kept_as_replacement_characters(
            self, attune, tmp_path, runner):
        done = register(attune, misbehaving_pack(tmp_path, runner, GARBAGE[runner]))

        suite = assert_registered(attune, done)
        for stream in ("stdout", "stderr"):
            kept = suite[stream]
            assert "bad \ufffd\ufffd \ufffd( \ufffd\ufffd\ufffd bytes\n" in kept
            assert "z" * 30_000 + "\n[... " in kept and "bytes of output dropped" in kept
            assert len(kept.encode()) < 64 * 1024 + 200


    def test_a_failure_in_the_dropped_middle_of_a_flood_still_fails_the_suite(self, attune,
                                                                                tmp_path):
        source = """
            echo "ok 1 - first"
            yes "a log line" | head -n 200000
            head -c 8388608 /dev/zero | tr '\\0' j; echo
            echo "not ok 2 - hidden in the flood"
            yes "another log line" | head -n 200000
            echo "ok 3 - last"
        """

        done = register(attune, misbehaving_pack(tmp_path, "shell", source))

        suite = assert_rejected(attune, done)
        assert "hidden in the flood" not in suite["stdout"]  # in the part that was dropped
        assert cases(suite) == [("tests/check.sh: first", "passed", None),
                                ("tests/check.sh: hidden in the flood", "failed", None),
                                ("tests/check.sh: last", "passed", None)]

    def test_more_result_lines_than_the_registry_keeps_is_an_error(self, attune, tmp_path):
        done = register(attune, misbehaving_pack(tmp_path, "shell", 'yes "ok" | head -n 50001'))

        suite = assert_rejected(attune, done)
        assert (suite["total"], suite["passed"]) == (50_001, 50_000)
        assert cases(suite)[-1] == (
            "tests/check.sh", "error",
            "more than 50000 result lines (or 4 MiB); the rest was not read")


class TestResultLines:
    def test_result_lines_are_kept_whole_however_the_output_arrives(self):
        from adapters.runners.process import MAX_RESULT_LINE, LineSieve
        from adapters.runners.shell_output import RESULT_LINES

        stream = (b"1..4\nok 1 - a\n" + b"x" * (MAX_RESULT_LINE + 10) + b"\nnot ok 2 - b\n"
                  + b"ok 9 - " + b"too long to be a result " * 3000 + b"\n"
                  + b"log line\n" * 1000 + b"  \x1b[32mok 3 - c\x1b[0m\r\n"
                  + b"ok 4 - no newline at the end")

        for size in (1, 7, 4096, 65536, len(stream)):  # how the pipe happens to cut it
            sieve = LineSieve(RESULT_LINES)
            for at in range(0, len(stream), size):
                sieve.feed(stream[at:at + size])
            sieve.close()

            assert sieve.text().splitlines() == [
                "1..4", "ok 1 - a", "not ok 2 - b", "  \x1b[32mok 3 - c\x1b[0m",
                "ok 4 - no newline at the end"], size
            assert sieve.complete


# --- Processes left behind -----------------------------------------------------------------------

def leftovers(pid_dir: Path) -> dict[str, str]:
    """Pack tests that start a child and a daemon, write their pids to ``pid_dir``, and pass."""
    python = DAEMON + f"""
import os, pathlib, subprocess
PIDS = pathlib.Path({str(pid_dir)!r})

def leave_processes_behind():
    child = subprocess.Popen(["sleep", "300"])
    (PIDS / "child").write_text(str(child.pid))
    (PIDS / "daemon").write_text(str(start_daemon()))
"""
    return {
        "python_unittest": python + """
import unittest
class TestLeaves(unittest.TestCase):
    def test_leaves_processes_behind(self):
        leave_processes_behind()
""",
        "pytest": python + """
def test_leaves_processes_behind():
    leave_processes_behind()
""",
        "shell": f"""
cd {str(pid_dir)!r}
sleep 300 & echo $! > child
( setsid sh -c 'echo $$ > daemon.tmp; mv daemon.tmp daemon; exec sleep 300' & )
while [ ! -s daemon ]; do sleep 0.01; done
echo 1..1; echo "ok 1 - leaves processes behind"
""",
    }


@sqlite_only
class TestProcessesLeftBehind:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_children_and_a_setsid_daemon_are_dead_when_the_command_returns(
            self, attune, tmp_path, runner):
        pid_dir = tmp_path / "pids"
        pid_dir.mkdir()
        pack = misbehaving_pack(tmp_path, runner, leftovers(pid_dir)[runner])

        done = register(attune, pack)

        assert_registered(attune, done)
        pids = {name: int((pid_dir / name).read_text()) for name in ("child", "daemon")}
        assert [name for name, pid in pids.items() if alive(pid)] == []


# --- Hangs, early exits, a killed parent ---------------------------------------------------------

# Long enough for the runner to reach the hanging test first, also on a slow, busy machine.
HANG_TIMEOUT = 5
TIMED_OUT = f"timed out after {HANG_TIMEOUT} s"
# case id: (runner, test source, the cases recorded: name, status, first line of the message)
HANGS = {
    "python_unittest": ("python_unittest", """
        import threading, unittest
        class TestHang(unittest.TestCase):
            def test_a_passes(self):
                pass
            def test_b_hangs(self):
                threading.Event().wait()
    """, [("test_it.TestHang.test_a_passes", "passed", None),
          ("test_it.TestHang.test_b_hangs", "error", f"{TIMED_OUT} during this test")]),
    "pytest": ("pytest", """
        import threading
        def test_a_passes():
            pass
        def test_b_hangs():
            threading.Event().wait()
    """, [("tests.test_it.test_a_passes", "passed", None),
          ("tests.test_it.test_b_hangs", "error", f"{TIMED_OUT} during this test")]),
    "shell-tap": ("shell", """
        echo 1..2; echo "ok 1 - passes"
        sleep 300
        echo "ok 2 - hangs"
    """, [("tests/check.sh: passes", "passed", None),
          ("tests/check.sh: test 2", "error", "planned but never reported")]),
    "shell-silent": ("shell", """
        echo "starting"
        sleep 300
    """, [("tests/check.sh", "error", f"{TIMED_OUT} in this script")]),
}

EARLY_EXITS = {
    "unittest-os._exit": ("python_unittest", """
        import os, unittest
        class TestExit(unittest.TestCase):
            def test_a_passes(self):
                pass
            def test_b_exits(self):
                os._exit(0)
            def test_c_never_runs(self):
                pass
    """, ("error", 0, "the test process ended (exit code 0) before the suite finished"),
        [("test_it.TestExit.test_a_passes", "passed", None),
         ("test_it.TestExit.test_b_exits", "error",
          "the test process ended (exit code 0) before the suite finished during this test")]),
    "pytest-sys.exit-at-import": ("pytest", """
        import sys
        sys.exit(0)
        def test_never_collected():
            pass
    """, ("failed", 3, "1 test(s) failed"), [("pytest.internal", "error", "internal error")]),
    "pytest-os._exit": ("pytest", """
        import os
        def test_a_passes():
            pass
        def test_b_exits():
            os._exit(0)
    """, ("error", 0, "the runner wrote no JUnit report (pytest exit code 0)"),
        [("tests.test_it.test_a_passes", "passed", None),
         ("tests.test_it.test_b_exits", "error", "the test process ended during this test")]),
    "tap-exit-0-early": ("shell", """
        echo 1..3; echo "ok 1 - first"
        exit 0
        echo "ok 2 - second"; echo "ok 3 - third"
    """, ("failed", 0, "2 test(s) failed"),
        [("tests/check.sh: first", "passed", None),
         ("tests/check.sh: test 2", "error", "planned but never reported"),
         ("tests/check.sh: test 3", "error", "planned but never reported")]),
}

# The test's parent is the supervisor that leads its process group; after killing it, the test
# waits to be killed in turn.
KILLS_ITS_PARENT = {
    "python_unittest": ("""
        import os, signal, threading, unittest
        class TestKill(unittest.TestCase):
            def test_kills_its_parent(self):
                os.kill(os.getppid(), signal.SIGKILL)
                threading.Event().wait()
    """, ("error", "the test process ended (exit code -9) before the suite finished"),
        [("test_it.TestKill.test_kills_its_parent", "error",
          "the test process ended (exit code -9) before the suite finished during this test")]),
    "pytest": ("""
        import os, signal, threading
        def test_kills_its_parent():
            os.kill(os.getppid(), signal.SIGKILL)
            threading.Event().wait()
    """, ("error", "the runner wrote no JUnit report (pytest exit code -9)"),
        [("tests.test_it.test_kills_its_parent", "error",
          "the test process ended during this test")]),
    "shell": ("""
        echo 1..1
        kill -KILL $PPID
        sleep 300
    """, ("failed", "1 test(s) failed"),
        [("tests/check.sh: test 1", "error", "planned but never reported")]),
}


class TestHangsAndEarlyExits:
    @pytest.mark.parametrize("case", list(HANGS))
    def test_a_hung_test_is_killed_at_the_timeout_and_named(self, attune, tmp_path, case):
        runner, source, expected = HANGS[case]

        done = register(attune, misbehaving_pack(tmp_path, runner, source,
                                                 timeout=HANG_TIMEOUT))

        suite = assert_rejected(attune, done)
        assert (suite["status"], suite["timed_out"], suite["exit_code"], suite["message"]) == (
            "error", True, None, TIMED_OUT)
        assert cases(suite) == expected

    @sqlite_only
    @pytest.mark.parametrize("case", list(EARLY_EXITS))
    def test_exiting_the_interpreter_early_is_never_a_pass(self, attune, tmp_path, case):
        runner, source, (status, exit_code, message), expected = EARLY_EXITS[case]

        done = register(attune, misbehaving_pack(tmp_path, runner, source))

        suite = assert_rejected(attune, done)
        assert (suite["status"], suite["exit_code"], suite["message"]) == (
            status, exit_code, message)
        assert cases(suite) == expected

    @sqlite_only
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_a_test_that_kills_its_parent_is_rejected(self, attune, tmp_path, runner):
        source, (status, message), expected = KILLS_ITS_PARENT[runner]

        done = register(attune, misbehaving_pack(tmp_path, runner, source))

        suite = assert_rejected(attune, done)
        assert (suite["status"], suite["exit_code"], suite["message"]) == (status, -9, message)
        assert cases(suite) == expected


@sqlite_only
class TestEscapedDaemon:
    def test_a_daemon_left_by_a_test_that_killed_its_supervisor_cannot_hang_the_registry(
            self, attune, tmp_path):
        # The one way out of the supervisor's reach: kill it. The daemon then holds the test's
        # output pipes open; the registry stops reading them shortly after the group is dead.
        pid_file = tmp_path / "daemon.pid"
        source = DAEMON + f"""
import os, pathlib, signal, threading, unittest
class TestEscape(unittest.TestCase):
    def test_escapes(self):
        pathlib.Path({str(pid_file)!r}).write_text(str(start_daemon()))
        os.kill(os.getppid(), signal.SIGKILL)
        threading.Event().wait()
"""
        try:
            done = register(attune, misbehaving_pack(tmp_path, "python_unittest", source))

            suite = assert_rejected(attune, done)
            assert (suite["status"], suite["exit_code"]) == ("error", -9)
        finally:
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), 9)


# --- The working directory -----------------------------------------------------------------------

VANDAL = {
    "python_unittest": """
        import os, pathlib, unittest
        class TestVandal(unittest.TestCase):
            def test_vandalises_the_pack(self):
                for name in os.listdir("."):
                    if os.path.isfile(name):
                        os.remove(name)  # this very file included
                pathlib.Path("../pack.yaml").write_text("ref: [broken")
                os.chmod("../pack.yaml", 0)
                pathlib.Path("../new_file").write_text("planted")
                pathlib.Path("../../escaped").write_text("planted")
                locked = pathlib.Path("../locked/deeper")
                locked.mkdir(parents=True)
                (locked / "file").write_text("planted")
                os.chmod("../locked", 0)
    """,
    "shell": """
        rm -f ./*
        echo 'ref: [broken' > ../pack.yaml; chmod 0 ../pack.yaml
        echo planted > ../new_file; echo planted > ../../escaped
        mkdir -p ../locked/deeper; echo planted > ../locked/deeper/file; chmod 0 ../locked
        echo 1..1; echo "ok 1 - vandalises the pack"
    """,
}


@sqlite_only
class TestWorkingDirectory:
    @pytest.mark.parametrize("runner", ["python_unittest", "shell"])
    def test_deleting_and_writing_through_relative_paths_only_touches_the_copy(
            self, attune, tmp_path, runner):
        pack = misbehaving_pack(tmp_path, runner, VANDAL[runner])

        done = register(attune, pack)  # checks the source tree and that no snapshot is left

        assert_registered(attune, done)
        assert not (tmp_path / "escaped").exists() and not (pack.parent / "new_file").exists()
