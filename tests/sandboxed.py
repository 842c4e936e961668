"""What a test of the registry needs to reach into the OS sandbox its pack suites run in.

A suite sees only its pack's snapshot, a private tmp folder and the folders of
``ATTUNE_SANDBOX_SHARE``; it runs as an unprivileged uid of its own (when the registry is root)
and in a PID namespace of its own, with no network beyond its own loopback. So a test that waits
for a pack's test, or releases it, does so through a shared folder (a "gate"); and it tells
whether the suite's processes still run by their command lines, read from the host's /proc:
the pids a suite sees are not the host's.
"""

from __future__ import annotations

import os
import secrets
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SHARE = "ATTUNE_SANDBOX_SHARE"

# Python source for a pack's test: ``mark(path, text)`` makes ``path`` hold ``text``, even if a
# suite that ran before (as another uid) left a file there, which this one may not write over,
# but may replace in a shared folder. The file appears whole, at once.
MARK = """
def mark(path, text=""):
    import os, tempfile
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(str(path)))
    os.write(fd, text.encode())
    os.close(fd)
    os.replace(temporary, str(path))
"""


def with_mark(source: str) -> str:
    """The (indented) Python source of a pack's test, with ``mark`` defined before it."""
    return MARK + textwrap.dedent(source)


def shared_folder(path: Path) -> Path:
    """Create ``path`` as a folder for ``sharing``: writable by any uid (a suite runs as one
    of its own, and a shared folder is not handed to it)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


def sharing(env: Mapping[str, str], *folders: Path) -> dict[str, str]:
    """``env`` for an ``attune`` process whose suites see and may write ``folders`` (made with
    ``shared_folder``), besides whatever ``env`` shares already."""
    already = [p for p in env.get(SHARE, "").split(os.pathsep) if p]
    return {**env, SHARE: os.pathsep.join([*already, *map(str, folders)])}


@dataclass(frozen=True)
class StuckPack:
    """A pack whose one test starts a child and then waits forever (see ``stuck_pack``)."""

    path: Path
    gate: Path
    """A shared folder: run ``attune`` with ``sharing(env, gate)``."""
    started: Path
    """Created by the test once it runs (and its child was started)."""
    child: list[str]
    """The child's command line: ``running_with(child[-1])`` finds it from the host."""


def stuck_pack(folder: Path, ref: str = "stuck") -> StuckPack:
    """Write a ``StuckPack`` of ``ref`` under ``folder``. The test runs sandboxed: it sees the
    gate only because it is shared, and its pids are not the host's, so its child is known by
    a command line of its own."""
    from tests.packs import manifest, write_pack

    gate = shared_folder(folder / "gate")
    started, child = gate / "started", sleeper()
    pack = write_pack(folder / ref, manifest(ref), {"test_stuck.py": with_mark(f"""
        import subprocess, threading, unittest
        class TestStuck(unittest.TestCase):
            def test_waits_forever(self):
                subprocess.Popen({child!r})
                mark({str(started)!r})
                threading.Event().wait()
    """)})
    return StuckPack(pack, gate, started, child)


def sleeper() -> list[str]:
    """A ``sleep`` command line of its own: ``running_with(it[-1])`` finds the process from the
    host, whatever pid namespace it runs in. (``sleep`` takes fractional seconds.)"""
    return ["sleep", f"300.{secrets.randbelow(10**12):012d}"]


def running(matches: Callable[[list[str]], bool]) -> list[int]:
    """Host pids of the processes whose command line ``matches``; a zombie (dead, not yet
    reaped) does not run."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            # /proc/PID/stat: "pid (comm) state ..."; comm may contain spaces and parentheses.
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone meanwhile
        if state != "Z" and matches(argv):
            found.append(int(entry.name))
    return found


def running_with(argument: str) -> list[int]:
    """Host pids of the running processes with ``argument`` in their command line."""
    return running(lambda argv: argument in argv)


def running_under(folders: Iterable[Path]) -> list[int]:
    """Host pids of the running processes with an argument naming ``folders`` or a path in
    them: a suite's sandbox, its supervisor and its test process all name its snapshot."""
    roots = [str(f).rstrip("/") for f in folders]
    return running(lambda argv: any(arg == root or arg.startswith(root + "/")
                                    for arg in argv for root in roots))


def wait_until_gone(find: Callable[[], list[int]], what: str, timeout: float = 60) -> None:
    """Poll until ``find`` finds no process, failing naming ``what`` (and the processes) at the
    deadline. A suite's processes die with its PID namespace, which the kernel tears down once
    the sandbox's first process is dead: not necessarily before the registry moves on."""
    deadline = time.monotonic() + timeout
    while left := find():
        assert time.monotonic() < deadline, f"{what}: {describe(left)}"
        time.sleep(0.02)


def describe(pids: Iterable[int]) -> list[str]:
    """The command lines of ``pids``, for a failure message."""
    lines = []
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        lines.append(f"{pid}: " + " ".join(a.decode("utf-8", "replace") for a in argv))
    return lines
