"""The data directory's own files stay private to its user, whatever the umask.

The registry creates ``ATTUNE_HOME`` (and the folder of a ``sqlite://`` store) as 0700 and the
SQLite file as 0600 before the library opens it: SQLite gives the ``-wal``, ``-shm`` and
``-journal`` files it creates later the database file's mode. A directory that exists already
keeps its mode (it may be shared on purpose, or be someone's home); what the registry puts in
it is private anyway. Store files an older version left readable are tightened to 0600.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# The files SQLite keeps next to a database.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> None:
    """Create ``path`` as a 0700 directory if it is missing (its missing parents as
    ``mkdir -p`` would); an existing directory is left as it is."""
    if path.is_dir():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_DIR_MODE)
        os.chmod(path, PRIVATE_DIR_MODE)  # the umask may have taken bits the owner needs
    except OSError:
        return  # made meanwhile by another process, or cannot be: what uses it will say


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite store's file empty as 0600 (an empty file is an empty database), or
    tighten the store's files to 0600 if they are ours and more open."""
    make_private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         PRIVATE_FILE_MODE))
        os.chmod(path, PRIVATE_FILE_MODE)
    except FileExistsError:
        pass
    except OSError:
        return  # a folder that cannot be written: the library reports it when it opens
    for file in (path, *(path.with_name(path.name + end) for end in SQLITE_COMPANIONS)):
        _tighten(file)


def _tighten(file: Path) -> None:
    with suppress(OSError):  # missing, or not ours to change
        info = os.lstat(file)
        if (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
                and info.st_mode & 0o077):
            os.chmod(file, stat.S_IMODE(info.st_mode) & ~0o077 | PRIVATE_FILE_MODE)
