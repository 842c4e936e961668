"""Private working directories: created locked, removed after use, swept after a crash."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from attune_registry.adapters.holder import process_exists


@contextmanager
def private_dir(work_dir: Path | None, name: str) -> Iterator[Path]:
    """A fresh directory ``attune-<pid>-<name>-XXXXXXXX`` under ``work_dir``, removed on exit.

    It is locked (flock) while in use; a process killed with SIGKILL cannot remove it, so each
    new one first removes those of dead processes from ``work_dir`` (see
    :func:`sweep_snapshots`).
    """
    if work_dir is not None:
        work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        sweep_snapshots(work_dir)
    staging = tempfile.mkdtemp(prefix=f"attune-{os.getpid()}-{name[:64]}-", dir=work_dir)
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield Path(staging)
    finally:
        remove_tree(Path(staging))
        os.close(lock)


def sweep_snapshots(work_dir: Path) -> None:
    """Remove the snapshots that processes killed before their cleanup left in ``work_dir``.

    Only when the pid in the name is gone and the directory's lock is free: with a data
    directory shared across pid namespaces (containers), a live owner's pid can look dead.
    """
    for entry in work_dir.iterdir():
        owner = entry.name.split("-")[1] if entry.name.startswith("attune-") else ""
        if not owner.isdigit() or process_exists(int(owner)):
            continue
        try:
            lock = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # removed meanwhile by another sweep, or not a directory
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its owner still runs
        else:
            remove_tree(entry)
        finally:
            os.close(lock)


def claim_empty_dir(target: Path) -> bool | None:
    """Make ``target`` a directory to fill: True if created here, False if it was an empty
    directory already, None if it cannot be used (a file, a link, or not empty)."""
    try:
        target.mkdir(mode=0o700)
        return True
    except FileExistsError:
        if not target.is_dir() or target.is_symlink() or any(target.iterdir()):
            return None
        return False


def clear_dir(target: Path, created: bool) -> None:
    """Undo a failed fill of ``target``: remove it if it was created, else empty it."""
    if created:
        remove_tree(target)
        return
    for child in target.iterdir():
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)
        else:
            child.unlink()


def remove_tree(path: Path) -> None:
    """Remove a snapshot, also when the tests took permissions away from its directories."""
    with suppress(OSError):
        os.chmod(path, 0o700)
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):  # chmod follows links: never touch their targets
                with suppress(OSError):
                    os.chmod(child, 0o700)
    shutil.rmtree(path, ignore_errors=True)
