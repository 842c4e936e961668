"""Supervisor of one test process: runs it, and kills everything it started when it ends, times
out, or the registry dies. Executed as a script (standard library only) as the leader of the
test's process group.

The supervisor is the test tree's subreaper (PR_SET_CHILD_SUBREAPER): a process the test
daemonises (double fork, ``setsid``) leaves the process group but is re-parented here, not to
init, so it can still be found and killed. Every descendant is killed when the command exits,
and on SIGTERM: the registry sends it on a timeout or Ctrl-C, and the kernel sends it when the
registry dies, even by SIGKILL (PR_SET_PDEATHSIG, set by the registry before exec). Unlike a
shell, this leaves the test's own signal handling untouched (a background job of ``sh`` would
start with SIGINT and SIGQUIT ignored).

Usage: supervise.py COMMAND [ARG ...]; exits as the command did (a signal re-raised as such).
"""

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children(parent):
    """Pids whose parent is ``parent``, zombies included (read from /proc/PID/stat, since
    /proc/PID/task/TID/children is not built into every kernel)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            found.append(int(entry))
    return found


def kill_descendants():
    """SIGKILL and reap every descendant. The children of a killed process are re-parented
    here (we are their subreaper), so repeat until no child at all is left."""
    if not os.path.isdir("/proc"):
        return  # no subreaper either: the registry's kill of the group is all there is
    me = os.getpid()
    while True:
        for pid in children(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def stop(*_):
    kill_descendants()
    os.killpg(0, signal.SIGKILL)  # ourselves, and anything that slipped through


def main(argv):
    become_subreaper()
    signal.signal(signal.SIGTERM, stop)
    # Tests start with default signal handling even when the registry itself runs with SIGINT
    # or SIGQUIT ignored (as a background job of a shell, under nohup, ...).
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    child = subprocess.Popen(argv)
    code = child.wait()
    # The test is over: what it left running, daemons included, must not outlive it.
    kill_descendants()
    if code < 0:  # killed by a signal: end the same way, so the registry sees that signal
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
