"""Keeping the registry's own processes out of reach of anything running as the same user."""

from __future__ import annotations

import ctypes
import sys

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
# The C library is already loaded into the interpreter: no lookup (find_library runs a
# compiler or ldconfig).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def prctl(option: int, value: int) -> int:
    return int(_LIBC.prctl(option, value, 0, 0, 0)) if _LIBC is not None else -1


def undumpable() -> None:
    """Make this process non-dumpable: no other process of the same user can then read its
    memory, its ``/proc/<pid>/environ`` (the database URL) or take its descriptors with
    ``pidfd_getfd`` (a listening socket). Reset by exec, so every server process calls it."""
    prctl(PR_SET_DUMPABLE, 0)


def is_dumpable() -> bool:
    return prctl(PR_GET_DUMPABLE, 0) == 1
