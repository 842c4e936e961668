"""Running one test process: own process group, hard timeout, capped output, scrubbed env."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# What is kept of each stream: the first and the last half of this many bytes.
OUTPUT_LIMIT_BYTES = 64 * 1024
# Largest file a test may write (RLIMIT_FSIZE): enough for real suites, not for filling a disk.
MAX_FILE_BYTES = 1024 * 1024 * 1024
READ_CHUNK = 64 * 1024
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
_PROTECTED = False
# How long to wait for a killed process group to be gone before moving on.
GROUP_EXIT_WAIT = 5.0


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None
    timed_out: bool
    duration_ms: int
    stdout: str
    stderr: str


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


def sandbox_env(pack_dir: str, private_dir: str) -> dict[str, str]:
    """The whole environment a test sees: nothing of the service's own variables."""
    home = Path(private_dir) / "home"
    tmp = Path(private_dir) / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    interpreter_bin = str(Path(sys.executable).parent)
    return {
        "PATH": os.pathsep.join([interpreter_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PYTHONPATH": pack_dir,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _prctl(option: int, value: int) -> None:
    if _LIBC is not None:
        _LIBC.prctl(option, value, 0, 0, 0)


def _protect_service() -> None:
    """Make this process non-dumpable, once: a test running as the same user can then not read
    our memory or ``/proc/<pid>/environ`` (where the database URL lives). Root still can."""
    global _PROTECTED
    if not _PROTECTED:
        _prctl(PR_SET_DUMPABLE, 0)
        _PROTECTED = True


def _limit_child() -> None:  # runs in the child between fork and exec
    # If the registry dies (even by SIGKILL), the supervisor hears of it (see SUPERVISOR).
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    cap = MAX_FILE_BYTES if hard == resource.RLIM_INFINITY else min(MAX_FILE_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


# The test runs under a small supervisor that leads its process group: if the registry dies,
# even by SIGKILL, the supervisor is told (PR_SET_PDEATHSIG) and kills the whole group.
SUPERVISOR = [sys.executable, "-I", str(Path(__file__).parent / "child" / "supervise.py")]

_live_groups: set[int] = set()
_live_lock = threading.Lock()


def kill_all() -> None:
    """Kill every test process group still running (the registry is being interrupted)."""
    with _live_lock:
        groups = list(_live_groups)
    for pgid in groups:
        _kill_group(pgid)


def run_process(argv: list[str], *, cwd: str, env: dict[str, str], timeout: float,
                output_limit: int = OUTPUT_LIMIT_BYTES) -> ProcessOutcome:
    """Run ``argv`` to completion or until ``timeout``; then kill its whole process group.

    Output is drained concurrently (a chatty test never blocks on a full pipe) and capped, so
    memory stays flat however much a test prints.
    """
    _protect_service()
    started = time.monotonic()
    process = subprocess.Popen(
        [*SUPERVISOR, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_limit_child,
    )
    with _live_lock:
        _live_groups.add(process.pid)
    stdout, stderr = CappedOutput(output_limit), CappedOutput(output_limit)
    assert process.stdout is not None and process.stderr is not None
    readers = [threading.Thread(target=_drain, args=(process.stdout, stdout), daemon=True),
               threading.Thread(target=_drain, args=(process.stderr, stderr), daemon=True)]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Also after a normal exit: children the test left running in its group die with it.
        _kill_group(process.pid)
        process.wait()
        with _live_lock:
            _live_groups.discard(process.pid)
    for reader in readers:
        reader.join(timeout=5)
    process.stdout.close()
    process.stderr.close()
    return ProcessOutcome(
        exit_code=None if timed_out else process.returncode,
        timed_out=timed_out,
        duration_ms=int((time.monotonic() - started) * 1000),
        stdout=stdout.text(),
        stderr=stderr.text(),
    )


def _drain(stream: IO[bytes], sink: CappedOutput) -> None:
    try:
        while chunk := stream.read1(READ_CHUNK):  # type: ignore[attr-defined]
            sink.feed(chunk)
    except (OSError, ValueError):
        pass  # the pipe was closed under us after a kill


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
