"""Pack tests that misbehave, registered through the real `attune` entry point: they flood their
output, print garbage, leave processes behind, hang, exit early, try to kill their parent, or
vandalise their working directory. Every run is bounded, ends with a clear verdict, leaves no
process and no snapshot behind, and never touches the pack's source directory.

Suites run in the OS sandbox, as users run them, unless a test turns it off (the old paths,
still there for operators who set ``ATTUNE_SANDBOX=off``). In the sandbox the pids a test sees
are those of a PID namespace of its own: a process it leaves is found from here by an argument
of its own in its command line, in the host's /proc (``tests.sandboxed.running_with``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from attune_registry.adapters.cli.output import REJECTION_HINT

from tests.conftest import ATTUNE
from tests.packs import manifest, tree_digest, write_pack
from tests.sandboxed import running_under, running_with

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

    work = Path(attune.env["ATTUNE_HOME"]) / "work"
    # The sandbox, the supervisor and the test process all name the snapshot.
    assert kill_survivors(lambda: running_under([work])) == [], "a process of the suite runs"
    assert tree_digest(pack) == before, "the pack's source directory changed"
    assert not work.exists() or not list(work.iterdir()), "a snapshot was left behind"
    # Whatever the tests printed, attune's own output is valid UTF-8.
    return Registration(process.returncode, stdout.decode(), stderr.decode(), peak)


def kill_survivors(find: Callable[[], list[int]]) -> list[int]:
    """SIGKILL what ``find`` finds until it finds nothing (a fork chain outruns a single pass):
    a failing test leaves nothing running on this machine. Returns what it found first."""
    first = found = find()
    while found:
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        found = find()
    return first


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
    [attempt] = cli_json(attune, "pack", "history", "unruly")
    # The spec's line, the failing cases, then the attempt and the hint.
    assert REJECTED in done.stderr.splitlines()
    assert done.stderr.splitlines()[-2:] == [f"Registration: {attempt['id']}", REJECTION_HINT]
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
        done = register(attune, misbehaving_pack(tmp_path, "shell", 'yes "ok 1" | head -n 50001'))

        suite = assert_rejected(attune, done)
        assert (suite["total"], suite["passed"]) == (50_001, 50_000)
        assert cases(suite)[-1] == (
            "tests/check.sh", "error",
            "more than 50000 result lines (or 4 MiB); the rest was not read")


class TestResultLines:
    def test_result_lines_are_kept_whole_however_the_output_arrives(self):
        from attune_registry.adapters.runners.process import MAX_RESULT_LINE, LineSieve
        from attune_registry.adapters.runners.shell_output import RESULT_LINES

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

# Processes a pack's test leaves running. Each carries the test's token (see unique_token) in its
# command line: these tests find them by it in the host's /proc, whatever PID namespace they
# run in. Each announces itself on the descriptor named by its second argument once it runs
# (so after exec, the token in place), and gives up by itself after 300 s should all else fail.
LINGERER = r'import os, sys, time; os.write(int(sys.argv[2]), b"+\n"); time.sleep(300)'
# A process that forks its successor and exits, over and over (retrying when out of processes):
# none of its members lives long enough to be found and killed one by one.
FORK_CHAIN = r"""import os, sys, time
give_up = time.monotonic() + 300
announced = False
while time.monotonic() < give_up:
    try:
        forked = os.fork()
    except OSError:
        continue
    if forked:
        os._exit(0)
    if not announced:
        os.write(int(sys.argv[2]), b"+\n")
        announced = True
"""


def unique_token() -> str:
    """An argument no other process has: also a valid ``sleep`` duration (300.NNN s)."""
    return f"300.{secrets.randbelow(10**12):012d}"


def register_and_reap(attune, pack: Path, token: str) -> tuple[Registration, list[int]]:
    """``register``; then the host pids of the processes with ``token`` that still ran, killed
    (also when ``register`` fails)."""
    try:
        done = register(attune, pack)
    finally:
        survivors = kill_survivors(lambda: running_with(token))
    return done, survivors


def python_leaver(token: str) -> str:
    """Python source defining ``start_daemon(fd)`` and ``leave_processes_behind(chain)``."""
    return f'''
import os, subprocess, sys
TOKEN = {token!r}
LINGERER = {LINGERER!r}
FORK_CHAIN = {FORK_CHAIN!r}

def start_daemon(announce):
    """A lingerer in a session of its own, whose parent is gone (a double fork)."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.set_inheritable(announce, True)
            os.execv(sys.executable, [sys.executable, "-c", LINGERER, TOKEN, str(announce)])
        os._exit(0)
    os.wait()  # the intermediate process

def leave_processes_behind(chain):
    """A child, a setsid daemon and (if ``chain``) a fork chain; returns once all of them run."""
    read, write = os.pipe()
    subprocess.Popen([sys.executable, "-c", LINGERER, TOKEN, str(write)], pass_fds=[write])
    start_daemon(write)
    if chain:
        subprocess.Popen([sys.executable, "-c", FORK_CHAIN, TOKEN, str(write)],
                         pass_fds=[write])
    os.close(write)
    announced = b""
    while len(announced) < 2 * (3 if chain else 2):
        chunk = os.read(read, 64)
        assert chunk, "a process left behind ended before it announced itself"
        announced += chunk
'''


def leftovers(token: str, *, chain: bool) -> dict[str, str]:
    """Pack tests that leave a child, a setsid daemon and, if ``chain``, a fork chain running
    (each with ``token`` in its command line), and pass once all of them run."""
    python = python_leaver(token)
    lingerer, fork_chain = shlex.quote(LINGERER), shlex.quote(FORK_CHAIN)
    start_chain = f"python3 -c {fork_chain} {token} 3 &" if chain else ""
    return {
        "python_unittest": python + f"""
import unittest
class TestLeaves(unittest.TestCase):
    def test_leaves_processes_behind(self):
        leave_processes_behind({chain})
""",
        "pytest": python + f"""
def test_leaves_processes_behind():
    leave_processes_behind({chain})
""",
        # Once the chain runs, the suite may be out of processes: builtins only from there on.
        "shell": f"""
mkfifo announced; exec 3<>announced
python3 -c {lingerer} {token} 3 &
( setsid python3 -c {lingerer} {token} 3 & )
{start_chain}
for process in {" ".join(["child", "daemon", "chain"][:3 if chain else 2])}; do
    read started <&3
done
echo 1..1; echo "ok 1 - leaves processes behind"
""",
    }


def sandbox(attune, mode: str) -> None:
    """Run the suites of this test's registrations with ``ATTUNE_SANDBOX=mode``: ``auto`` (the
    default, set so that an ``ATTUNE_SANDBOX`` of the environment running these tests does not
    change what they test) or ``off``."""
    attune.env["ATTUNE_SANDBOX"] = mode


def assert_sandboxed(suite: dict[str, Any]) -> None:
    assert suite["isolation"]["mechanism"] in ("bwrap", "namespaces")


@sqlite_only
class TestProcessesLeftBehind:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_children_a_setsid_daemon_and_a_fork_chain_are_dead_when_the_command_returns(
            self, attune, tmp_path, runner):
        token = unique_token()
        sandbox(attune, "auto")
        pack = misbehaving_pack(tmp_path, runner, leftovers(token, chain=True)[runner])

        done, survivors = register_and_reap(attune, pack, token)

        # The test passed: all of them ran (as announced), with the token in their command
        # lines. Leaving processes behind is no failure, as long as they die.
        assert_sandboxed(assert_registered(attune, done))
        assert survivors == []

    @pytest.mark.parametrize("runner", RUNNERS)
    def test_with_the_sandbox_off_children_and_a_setsid_daemon_are_dead_too(
            self, attune, tmp_path, runner):
        # The supervisor is then their subreaper, and finds and kills them one by one. (No fork
        # chain: with the sandbox off, nothing caps the processes it piles up meanwhile.)
        token = unique_token()
        sandbox(attune, "off")
        pack = misbehaving_pack(tmp_path, runner, leftovers(token, chain=False)[runner])

        done, survivors = register_and_reap(attune, pack, token)

        assert assert_registered(attune, done)["isolation"]["mechanism"] == "off"
        assert survivors == []


# --- Hangs, early exits, a parent it tries to kill -----------------------------------------------

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
    """, ("error", 0, "2 test(s) failed; tests/check.sh: TAP on stdout plans 1..3 but reports 1 "
                    "test point"),
        [("tests/check.sh: first", "passed", None),
         ("tests/check.sh: test 2", "error", "planned but never reported"),
         ("tests/check.sh: test 3", "error", "planned but never reported")]),
}

# The test's parent is its supervisor. The test SIGKILLs it, then waits to be killed in turn.
# In the sandbox the supervisor is PID 1 of the suite's PID namespace, which no process inside
# can kill: the attempt is refused (a registry run as root runs its supervisors as root and each
# suite as a uid of its own) or ignored (by the kernel), so the test hangs until the suite's
# timeout. With the sandbox off the supervisor dies, and the registry kills the test's group.
# runner: (source, sandboxed: the cases recorded, off: (status, message) and the cases recorded)
KILLS_ITS_PARENT = {
    "python_unittest": ("""
        import os, signal, threading, unittest
        class TestKill(unittest.TestCase):
            def test_kills_its_parent(self):
                try:
                    os.kill(os.getppid(), signal.SIGKILL)
                except PermissionError:
                    pass  # refused: hang all the same
                threading.Event().wait()
    """, [("test_it.TestKill.test_kills_its_parent", "error", f"{TIMED_OUT} during this test")],
        (("error", "the test process ended (exit code -9) before the suite finished"),
         [("test_it.TestKill.test_kills_its_parent", "error",
           "the test process ended (exit code -9) before the suite finished during this test")])),
    "pytest": ("""
        import os, signal, threading
        def test_kills_its_parent():
            try:
                os.kill(os.getppid(), signal.SIGKILL)
            except PermissionError:
                pass  # refused: hang all the same
            threading.Event().wait()
    """, [("tests.test_it.test_kills_its_parent", "error", f"{TIMED_OUT} during this test")],
        (("error", "the runner wrote no JUnit report (pytest exit code -9)"),
         [("tests.test_it.test_kills_its_parent", "error",
           "the test process ended during this test")])),
    "shell": ("""
        echo 1..1
        kill -KILL $PPID
        sleep TOKEN
    """, [("tests/check.sh: test 1", "error", "planned but never reported")],
        (("error", "1 test(s) failed; tests/check.sh: TAP on stdout plans 1..1 but reports 0 "
                   "test points"),
         [("tests/check.sh: test 1", "error", "planned but never reported")])),
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
    def test_a_test_cannot_kill_its_supervisor_and_is_rejected_at_the_timeout(
            self, attune, tmp_path, runner):
        token = unique_token()  # the shell's sleep, after the attempt
        source, expected, _off = KILLS_ITS_PARENT[runner]
        sandbox(attune, "auto")

        pack = misbehaving_pack(tmp_path, runner, source.replace("TOKEN", token),
                                timeout=HANG_TIMEOUT)

        done, survivors = register_and_reap(attune, pack, token)

        # Timed out: the supervisor outlived the attempt (had it died, so would the namespace
        # with the test in it, at once). Nothing of the suite runs (see register).
        suite = assert_rejected(attune, done)
        assert_sandboxed(suite)
        assert (suite["status"], suite["timed_out"], suite["exit_code"], suite["message"]) == (
            "error", True, None, TIMED_OUT)
        assert cases(suite) == expected
        assert survivors == []

    @sqlite_only
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_with_the_sandbox_off_a_test_that_kills_its_parent_is_rejected(
            self, attune, tmp_path, runner):
        token = unique_token()
        source, _sandboxed, ((status, message), expected) = KILLS_ITS_PARENT[runner]
        sandbox(attune, "off")

        pack = misbehaving_pack(tmp_path, runner, source.replace("TOKEN", token))

        done, survivors = register_and_reap(attune, pack, token)

        suite = assert_rejected(attune, done)
        assert suite["isolation"]["mechanism"] == "off"
        assert (suite["status"], suite["exit_code"], suite["message"]) == (status, -9, message)
        assert cases(suite) == expected
        assert survivors == []


def escaping_test(token: str) -> str:
    """A unittest module whose test starts a daemon, then SIGKILLs its supervisor and waits."""
    return python_leaver(token) + """
import os, signal, threading, unittest
class TestEscape(unittest.TestCase):
    def test_escapes(self):
        read, write = os.pipe()
        start_daemon(write)
        os.close(write)
        self.assertEqual(os.read(read, 2), b"+\\n")  # the daemon runs
        try:
            os.kill(os.getppid(), signal.SIGKILL)
        except PermissionError:
            pass  # refused: hang all the same
        threading.Event().wait()
"""


@sqlite_only
class TestEscapedDaemon:
    def test_a_test_cannot_kill_its_supervisor_to_leave_a_daemon_behind(self, attune,
                                                                         tmp_path):
        token = unique_token()
        sandbox(attune, "auto")

        pack = misbehaving_pack(tmp_path, "python_unittest", escaping_test(token),
                                timeout=HANG_TIMEOUT)

        done, survivors = register_and_reap(attune, pack, token)

        # The daemon ran before the attempt (the test checks); the supervisor outlived it, so
        # the test hung until the timeout, and then nothing of the namespace survived.
        suite = assert_rejected(attune, done)
        assert_sandboxed(suite)
        assert (suite["status"], suite["timed_out"], suite["exit_code"]) == ("error", True, None)
        assert cases(suite) == [("test_it.TestEscape.test_escapes", "error",
                                 f"{TIMED_OUT} during this test")]
        assert survivors == []

    def test_with_the_sandbox_off_an_escaped_daemon_cannot_hang_the_registry(self, attune,
                                                                             tmp_path):
        # The one way out of the supervisor's reach, with the sandbox off: kill it. The daemon
        # then holds the test's output pipes open; the registry stops reading them shortly
        # after the group is dead.
        token = unique_token()
        sandbox(attune, "off")

        pack = misbehaving_pack(tmp_path, "python_unittest", escaping_test(token))

        done, survivors = register_and_reap(attune, pack, token)

        suite = assert_rejected(attune, done)
        assert suite["isolation"]["mechanism"] == "off"
        assert (suite["status"], suite["exit_code"]) == ("error", -9)
        assert survivors != []  # it did escape, and still the registry returned


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
                try:
                    pathlib.Path("../../escaped").write_text("planted")
                except PermissionError:
                    pass  # the sandbox's folder around the copy, not the suite's to write
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
