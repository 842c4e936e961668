"""Supervisor of one test process: runs it, and kills its whole process group if the registry
dies. Executed as a script (standard library only) as the leader of the test's process group.

The registry starts this process with PR_SET_PDEATHSIG=SIGTERM, so the kernel sends SIGTERM here
when the registry dies, even by SIGKILL; the handler then SIGKILLs the group: the test and
everything it started. Unlike a shell, this leaves the test's own signal handling untouched
(a background job of ``sh`` would start with SIGINT and SIGQUIT ignored).

Usage: supervise.py COMMAND [ARG ...]; exits as the command did (a signal re-raised as such).
"""

import os
import signal
import subprocess
import sys


def main(argv):
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
    # Tests start with default signal handling even when the registry itself runs with SIGINT
    # or SIGQUIT ignored (as a background job of a shell, under nohup, ...).
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    child = subprocess.Popen(argv)
    code = child.wait()
    if code < 0:  # killed by a signal: end the same way, so the registry sees that signal
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
