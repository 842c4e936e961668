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

Inside a sandbox's PID namespace the supervisor is PID 1: when it leaves, the kernel kills
every process of the namespace, however they fork; it kills them itself first.

Usage: supervise.py [--as-uid N] [--cwd DIR] [--status-fd N] [--pass-fd=N ...] -- COMMAND ...
  --as-uid N     run the command as uid and gid N (no groups): the sandbox runs as root only
                 to set itself up
  --cwd DIR      the command's working directory, entered as that uid (a sandbox's folders
                 belong to it alone)
  --status-fd N  write the command's exit status there (a negative number for a signal):
                 the only status the registry trusts, since a wrapper's exit code cannot tell
                 a signal from an exit
  --pass-fd=N    descriptors the command inherits (its result pipes)
Exits as the command did (a signal re-raised as such, where it can be).
"""

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


def prctl(option, value):
    if sys.platform == "linux":
        # The C library is already loaded: no lookup (find_library runs a compiler).
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def become_subreaper():
    prctl(PR_SET_CHILD_SUBREAPER, 1)


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


def kill_namespace():
    """As PID 1 of a namespace: SIGKILL every other process of it at once (the kernel walks
    them under its task-list lock, so a fork chain cannot outrun it), then reap them."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def stop(*_):
    if os.getpid() == 1:
        kill_namespace()
        os._exit(128 + signal.SIGTERM)
    kill_descendants()
    os.killpg(0, signal.SIGKILL)  # ourselves, and anything that slipped through


def drop_to(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # every uid at once: no capability is left


def enter(uid, cwd):  # in the command's process, before exec
    if uid is not None:
        drop_to(uid)
    if cwd is not None:
        os.chdir(cwd)  # as that uid: the suite's folders are its own, and no one else's


def parse(argv):
    uid, cwd, status_fd, pass_fds = None, None, None, []
    while argv and argv[0] != "--":
        option, _, value = argv[0].partition("=")
        if not value:
            value, argv = argv[1], argv[1:]
        argv = argv[1:]
        if option == "--as-uid":
            uid = int(value)
        elif option == "--cwd":
            cwd = value
        elif option == "--status-fd":
            status_fd = int(value)
        elif option == "--pass-fd":
            pass_fds.append(int(value))
        else:
            raise SystemExit(f"supervise.py: unknown option {option}")
    return uid, cwd, status_fd, pass_fds, argv[1:] if argv else argv


def main(argv):
    uid, cwd, status_fd, pass_fds, command = parse(argv)
    # The test may run as our uid: it must not open our descriptors through /proc.
    prctl(PR_SET_DUMPABLE, 0)
    become_subreaper()
    signal.signal(signal.SIGTERM, stop)
    # Tests start with default signal handling even when the registry itself runs with SIGINT
    # or SIGQUIT ignored (as a background job of a shell, under nohup, ...).
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    # Only the command drops to the suite's uid: a change of credentials would clear the
    # parent-death signal that ties this supervisor to the sandbox's (and the registry's) life.
    child = subprocess.Popen(command, pass_fds=pass_fds,
                             preexec_fn=lambda: enter(uid, cwd))
    for fd in pass_fds:
        os.close(fd)  # the command has them; holding them would keep its pipes open
    code = child.wait()
    # The test is over: what it left running, daemons included, must not outlive it.
    if os.getpid() == 1:
        kill_namespace()
    else:
        kill_descendants()
    if status_fd is not None:
        try:
            os.write(status_fd, str(code).encode())
            os.close(status_fd)
        except OSError:
            pass
    if os.getpid() == 1:  # a namespace's init cannot signal itself: exit as a shell would
        return code if code >= 0 else 128 - code
    if code < 0:  # killed by a signal: end the same way, so the registry sees that signal
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
