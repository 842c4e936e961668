"""Running one test process: own process group, hard timeout, capped output, scrubbed env."""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from attune_registry.application.ports import NO_CONTEXT, SuiteContext

from attune_registry.adapters.hardening import PR_SET_PDEATHSIG, prctl, undumpable
from attune_registry.adapters.runners.channel import ResultPipe
from attune_registry.adapters.sandbox.jail import Jail

# What is kept of each stream: the first and the last half of this many bytes.
OUTPUT_LIMIT_BYTES = 64 * 1024
# Largest file a test may write (RLIMIT_FSIZE): enough for real suites, not for filling a disk.
MAX_FILE_BYTES = 1024 * 1024 * 1024
READ_CHUNK = 64 * 1024
# A runner that reads results from the output (shell) must not lose a result line in the part
# of a flood that is dropped: it names its lines, and they are kept apart, whole, up to these
# limits (a longer line is not a result; more result lines than that is not a real suite, and
# each becomes a recorded test case).
MAX_RESULT_LINE = 64 * 1024
MAX_RESULT_LINES = 50_000
MAX_RESULT_BYTES = 4 * 1024 * 1024
# The supervisor reports the test's exit status on its own pipe: a number.
STATUS_LIMIT = 64
# How long to wait for a killed process group to be gone before moving on.
GROUP_EXIT_WAIT = 5.0
# How long to keep reading output once the test's group is dead: a process that escaped the
# supervisor may hold the pipes open forever.
DRAIN_WAIT = 5.0
# How long the supervisor gets to kill the test's tree (daemonised processes included) when it
# is stopped, before its group is SIGKILLed outright.
SUPERVISOR_STOP_WAIT = 5.0


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None
    timed_out: bool
    duration_ms: int
    stdout: str
    stderr: str
    # The lines of each stream that match run_process's ``keep`` (None if not asked for), and
    # whether all of them fitted in the limits (MAX_RESULT_LINES, MAX_RESULT_BYTES).
    stdout_lines: str | None = None
    stderr_lines: str | None = None
    lines_complete: bool = True


class CappedOutput:
    """Keeps the head and the tail of a stream and counts what was dropped in between."""

    def __init__(self, limit: int = OUTPUT_LIMIT_BYTES) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n[... {self.dropped} bytes of output dropped ...]\n{tail}"


class LineSieve:
    """Keeps every line of a stream that matches ``pattern`` (a multi-line regex matching whole
    lines), in order, however much else the stream carries."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.kept = bytearray()
        self.lines = 0
        self.complete = True  # False once more lines matched than the limits keep
        self._line = bytearray()  # the unfinished last line
        self._too_long = False  # inside a line longer than MAX_RESULT_LINE: not a result

    def feed(self, chunk: bytes) -> None:
        end = chunk.rfind(b"\n")
        if end < 0:
            self._hold(chunk)
            return
        start = chunk.index(b"\n") + 1 if self._too_long else 0
        lines = bytes(self._line) + chunk[start:end + 1]
        self._line.clear()
        self._too_long = False
        self._sift(lines)
        self._hold(chunk[end + 1:])

    def close(self) -> None:
        """The stream ended: its last line may lack a newline."""
        if not self._too_long:
            self._sift(bytes(self._line))
        self._line.clear()

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")

    def _hold(self, piece: bytes) -> None:
        if self._too_long:
            return
        self._line += piece
        if len(self._line) > MAX_RESULT_LINE:
            self._line.clear()
            self._too_long = True

    def _sift(self, lines: bytes) -> None:
        for match in self.pattern.finditer(lines):
            line = match.group(0).rstrip(b"\n")
            if len(line) > MAX_RESULT_LINE:
                continue  # as when it arrives in pieces: too long to be a result
            line += b"\n"
            if self.lines == MAX_RESULT_LINES or len(self.kept) + len(line) > MAX_RESULT_BYTES:
                self.complete = False
                return
            self.kept += line
            self.lines += 1


def python_of(context: SuiteContext) -> str:
    """The interpreter a suite's Python runs with: its pack's environment's, else ours."""
    return context.python or sys.executable


def sandbox_env(pack_dir: str, private_dir: str,
                context: SuiteContext = NO_CONTEXT) -> dict[str, str]:
    """The whole environment a test sees: nothing of the service's own variables, and the
    context's (``PACKS_PATH``)."""
    home = Path(private_dir) / "home"
    tmp = Path(private_dir) / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    interpreter_bin = str(Path(python_of(context)).parent)
    return dict(context.variables) | {
        "PATH": os.pathsep.join([interpreter_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PYTHONPATH": pack_dir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _limit_child(jail: Jail | None) -> None:  # runs in the child between fork and exec
    # If the registry dies (even by SIGKILL), the supervisor hears of it (see SUPERVISOR).
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if jail is not None:
        jail.apply_limits()
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    cap = MAX_FILE_BYTES if hard == resource.RLIM_INFINITY else min(MAX_FILE_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


# The test runs under a small supervisor that leads its process group and is the subreaper of
# everything the test starts: when the test ends, on SIGTERM, or if the registry dies, even by
# SIGKILL (PR_SET_PDEATHSIG), it kills the test's whole tree, daemonised processes included.
# -S: the supervisor needs the standard library only; skipping site saves a start-up. Paths are
# resolved: the sandbox binds the real folder, not the attune_registry/ link in a checkout.
CHILD = Path(__file__).resolve().parent / "child"
SUPERVISOR = [sys.executable, "-I", "-S", str(CHILD / "supervise.py")]

_live_groups: set[int] = set()
_live_lock = threading.Lock()


def kill_all() -> None:
    """Stop every test process tree still running (the registry is being interrupted)."""
    with _live_lock:
        groups = list(_live_groups)
    for pgid in groups:  # all at once: each supervisor cleans up in parallel
        _signal_supervisor(pgid)
    for pgid in groups:
        _stop_tree(pgid, signalled=True)


def run_process(argv: list[str], *, cwd: str, env: dict[str, str], timeout: float,
                output_limit: int = OUTPUT_LIMIT_BYTES,
                keep: re.Pattern[bytes] | None = None, jail: Jail | None = None,
                write: Sequence[str] = (), channels: Sequence[ResultPipe] = (),
                read: Sequence[str] = ()) -> ProcessOutcome:
    """Run ``argv`` to completion or until ``timeout``; then kill its whole process group.

    With a ``jail`` the command runs in that sandbox, where ``write`` are its only writable
    folders and ``read`` folders it may read beyond the system's; each of ``channels`` is a
    result pipe whose write end the command inherits (at the same descriptor number).

    Output is drained concurrently (a chatty test never blocks on a full pipe) and capped, so
    memory stays flat however much a test prints. The lines matching ``keep`` are also kept
    whole, wherever they are (see LineSieve).
    """
    undumpable()  # also with the sandbox off: a test must not read our memory
    started = time.monotonic()
    status = ResultPipe(limit=STATUS_LIMIT)
    inherited = [pipe.write_fd for pipe in channels]
    command = [*SUPERVISOR, *(jail.supervisor_options() if jail else []), "--cwd", cwd,
               "--status-fd", str(status.write_fd),
               *(f"--pass-fd={fd}" for fd in inherited), "--", *argv]
    extra: list[int] = []  # what the sandbox itself reads (bwrap's seccomp program)
    # bwrap tells the host pid of the sandbox's PID 1 here: the sandbox is gone when it is.
    info = ResultPipe(limit=STATUS_LIMIT * 64) if jail and jail.mechanism == "bwrap" else None
    if jail is not None:
        jail.give(write, inherited)
        command, extra = jail.wrap(command, write=list(write), read=read,
                                   info_fd=info.write_fd if info else None)
    own = [status, *channels, *([info] if info else [])]
    try:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=lambda: _limit_child(jail),
            pass_fds=[pipe.write_fd for pipe in own] + extra,
        )
    except BaseException:
        for pipe in own:
            pipe.discard()
        raise
    finally:
        for fd in extra:
            os.close(fd)
    for pipe in own:
        pipe.start()
    with _live_lock:
        _live_groups.add(process.pid)
    stdout, stderr = CappedOutput(output_limit), CappedOutput(output_limit)
    sieves = (LineSieve(keep), LineSieve(keep)) if keep is not None else (None, None)
    assert process.stdout is not None and process.stderr is not None
    stop_reading = threading.Event()
    readers = [threading.Thread(target=_drain, daemon=True,
                                args=(process.stdout, stdout, sieves[0], stop_reading)),
               threading.Thread(target=_drain, daemon=True,
                                args=(process.stderr, stderr, sieves[1], stop_reading))]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if process.poll() is None:  # timed out or interrupted: the supervisor kills the tree
            _stop_tree(process.pid)
        # Also after a normal exit: children the test left running in its group die with it.
        _kill_group(process.pid)
        process.wait()
        if info is not None:
            # Killed, bwrap does not wait for its sandbox: wait until the kernel has torn down
            # the PID namespace, so that nothing of the suite outlives this call.
            info.finish(GROUP_EXIT_WAIT)
            _wait_for_sandbox(bytes(info.data))
        with _live_lock:
            _live_groups.discard(process.pid)
    deadline = time.monotonic() + DRAIN_WAIT
    for reader in readers:
        reader.join(timeout=max(deadline - time.monotonic(), 0))
    stop_reading.set()
    for reader in readers:
        reader.join()
    for pipe in (status, *channels):
        pipe.finish(deadline - time.monotonic())
    process.stdout.close()
    process.stderr.close()
    lines = [_close(sieve) for sieve in sieves]
    return ProcessOutcome(
        exit_code=None if timed_out else _exit_code(status, process.returncode),
        timed_out=timed_out,
        duration_ms=int((time.monotonic() - started) * 1000),
        stdout=stdout.text(),
        stderr=stderr.text(),
        stdout_lines=lines[0],
        stderr_lines=lines[1],
        lines_complete=all(sieve.complete for sieve in sieves if sieve is not None),
    )


def _wait_for_sandbox(info: bytes) -> None:
    """Wait (up to GROUP_EXIT_WAIT) until the sandbox's PID 1 is gone or a zombie: by then the
    kernel has killed every other process of its namespace."""
    try:
        pid = int(json.loads(info)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return
    deadline = time.monotonic() + GROUP_EXIT_WAIT
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state == "Z":
            return
        time.sleep(0.01)


def _exit_code(status: ResultPipe, returncode: int) -> int:
    """The test's own exit status, as its supervisor saw it (a sandbox wrapper's exit code
    cannot tell a signal from an exit); else what the wrapper reports."""
    try:
        reported = int(bytes(status.data).decode("ascii").strip())
    except ValueError:
        return returncode
    return reported if -64 <= reported <= 255 else returncode


def _drain(stream: IO[bytes], sink: CappedOutput, sieve: LineSieve | None,
           stop: threading.Event) -> None:
    """Read until end of file, or until ``stop``: never block for good on a pipe that a
    process outside our control keeps open (closing it under a blocked read would hang)."""
    fd = stream.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while not stop.is_set():
        if not poller.poll(100):
            continue
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            return
        sink.feed(chunk)
        if sieve is not None:
            sieve.feed(chunk)


def _close(sieve: LineSieve | None) -> str | None:
    if sieve is None:
        return None
    sieve.close()
    return sieve.text()


def _signal_supervisor(pgid: int) -> None:
    try:
        # The group leader: the supervisor with the sandbox off; else the sandbox's own process
        # (bwrap, or the namespaces launcher), whose end ends the sandbox's PID 1 and with it
        # every process of the suite (see _wait_for_sandbox).
        os.kill(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _stop_tree(pgid: int, *, signalled: bool = False) -> None:
    """Have the supervisor kill the test's tree, daemonised processes included (only it can
    find those: they left the group); SIGKILL the group if it does not finish in time."""
    if not signalled:
        _signal_supervisor(pgid)
    deadline = time.monotonic() + SUPERVISOR_STOP_WAIT
    while _group_has_live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    _kill_group(pgid)


def _kill_group(pgid: int) -> None:
    """SIGKILL the whole group and wait until none of its processes is still running."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + GROUP_EXIT_WAIT
    while _group_has_live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)  # SIGKILL is asynchronous: wait for the kernel to finish the job


def _group_has_live_members(pgid: int) -> bool:
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the group exists as long as killpg(0) succeeds
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
