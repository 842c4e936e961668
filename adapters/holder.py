"""Which process holds a registration's lease, and whether it is gone (for ``pack cancel``).

A holder is the host name, the pid and the pid's start time (clock ticks since boot, from
``/proc``), so a pid the kernel gave to another process since does not pass for the holder.
Only the host that recorded it can tell: a holder on another machine is never judged gone.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _start_ticks(pid)}


def is_gone(holder: dict[str, Any] | None) -> bool:
    """Whether the process ``holder`` names has certainly ended; False when unknown (no holder
    recorded, another host). A queued registration is held by the queue, not a process: its
    workers check it before they record anything, so it may be ended at any time."""
    if holder and holder.get("queued") is True:
        return True
    if not holder or holder.get("host") != socket.gethostname():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    started = _start_ticks(pid)
    if started is None:
        return not process_exists(pid)
    return holder.get("started") is not None and started != holder["started"]


def _start_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Field 22 of stat(5), counted after the command name's closing parenthesis.
    return int(fields[19]) if len(fields) > 19 else None


def process_exists(pid: int) -> bool:
    """Whether ``pid`` names a process (perhaps another user's) in our pid namespace."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
