"""The long-running projector: follows the event log and keeps the read models current.

Only one projector is active per store: it holds a lock (a PostgreSQL session advisory lock,
or a lock file next to the SQLite database); others wait as hot standbys and take over when
the lock is released, e.g. because the active one died. Each batch is applied under the
view's own transaction lock as well, so even a split-brain moment cannot apply a batch twice.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from adapters.service import RegistryService
from adapters.settings import Settings
from adapters.store import StoreConfig

# Fixed key of the session advisory lock the active projector holds (distinct from the
# per-batch transaction lock of the view).
ACTIVE_PROJECTOR_LOCK_KEY = 0x6174746E7072  # "attnpr"


class ProjectorLockLost(Exception):
    """Raised when the active projector's lock (its database session) is gone."""


class ProjectorLock(Protocol):
    def try_acquire(self) -> bool: ...

    def wait_for_events(self, timeout: float) -> None:
        """Return when new events may have been recorded, or after ``timeout`` seconds."""
        ...

    def check(self) -> None:
        """Raise ProjectorLockLost if the lock is no longer held."""
        ...

    def release(self) -> None: ...


class FileProjectorLock:
    """SQLite: an exclusive lock on a file next to the database; polling for new events."""

    def __init__(self, path: Path, stop: threading.Event) -> None:
        self.path = path
        self.stop = stop
        self.handle: Any = None

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+")  # noqa: SIM115 - held for as long as we are active
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def wait_for_events(self, timeout: float) -> None:
        self.stop.wait(timeout)

    def check(self) -> None:
        pass  # a file lock dies only with its process

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing drops the lock
            self.handle = None


class PostgresProjectorLock:
    """PostgreSQL: a session advisory lock on a dedicated connection that also LISTENs."""

    def __init__(self, config: StoreConfig, channel: str) -> None:
        import psycopg
        from psycopg import sql

        env = config.env
        self.connection = psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], autocommit=True,
            connect_timeout=10)
        self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def try_acquire(self) -> bool:
        row = self.connection.execute("SELECT pg_try_advisory_lock(%s)",
                                      (ACTIVE_PROJECTOR_LOCK_KEY,)).fetchone()
        return bool(row and row[0])

    def wait_for_events(self, timeout: float) -> None:
        for _ in self.connection.notifies(timeout=timeout, stop_after=1):
            pass

    def check(self) -> None:
        try:
            self.connection.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means the session is gone
            raise ProjectorLockLost(f"lost the projector's database session: {exc}") from None

    def release(self) -> None:
        self.connection.close()  # ends the session and with it the advisory lock


class Projector:
    """Keeps one store's read models current until told to stop."""

    def __init__(self, service: RegistryService, lock: ProjectorLock, *, batch_size: int = 500,
                 idle_seconds: float = 1.0) -> None:
        self.service = service
        self.lock = lock
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds

    def run(self, stop: threading.Event, report: Callable[[str], None]) -> None:
        """Stand by until the lock is ours, then project until ``stop`` is set."""
        announced = False
        while not self.lock.try_acquire():
            if not announced:
                report("standing by: another projector is active")
                announced = True
            if stop.wait(self.idle_seconds):
                return
        report("active")
        try:
            while not stop.is_set():
                self.lock.check()
                applied = self.service.view.project(self.service.app,
                                                    batch_size=self.batch_size)
                if applied:
                    status = self.service.projection_status()
                    report(f"applied {applied} events (position {status.position})")
                self.lock.wait_for_events(self.idle_seconds)
        finally:
            self.lock.release()


def projector_lock(settings: Settings, config: StoreConfig, service: RegistryService,
                   stop: threading.Event) -> ProjectorLock:
    if config.is_postgres:
        return PostgresProjectorLock(config, service.app.recorder.channel_name)
    db_path = Path(config.env["SQLITE_DBNAME"])
    return FileProjectorLock(db_path.with_name(db_path.name + ".projector.lock"), stop)
