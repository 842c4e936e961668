"""The long-running projector: follows the event log and keeps the read models current.

Only one projector is active per store: it holds a lock (a PostgreSQL session advisory lock,
or a lock file next to the SQLite database); others wait as hot standbys and take over when
the lock is released, e.g. because the active one died. Each batch is applied under the
view's own transaction lock as well, so even a split-brain moment cannot apply a batch twice.

When PostgreSQL goes away (a restart, cut connections), the projector reports it in one line,
waits with backoff, connects again and carries on from the recorded position.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.persistence import InterfaceError, OperationalError

from attune_registry.adapters.service import RegistryService
from attune_registry.adapters.store.config import StoreConfig, StoreUnavailableError
from attune_registry.adapters.store.setup import connect

# Fixed key of the session advisory lock the active projector holds (distinct from the
# per-batch transaction lock of the view).
ACTIVE_PROJECTOR_LOCK_KEY = 0x6174746E7072  # "attnpr"

# Seconds between attempts to reach a store that went away: doubling, then every 30 s.
RECONNECT_DELAYS = (1, 2, 4, 8, 15, 30)


class ProjectorLock(Protocol):
    def try_acquire(self) -> bool: ...

    def wait_for_events(self, timeout: float) -> None:
        """Return when new events may have been recorded, or after ``timeout`` seconds."""
        ...

    def check(self) -> None:
        """Raise StoreUnavailableError if the lock is no longer held."""
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
    """PostgreSQL: a session advisory lock on a dedicated connection that also LISTENs.

    The lock lives as long as the session: any failure of the connection means it is lost,
    and is raised as StoreUnavailableError.
    """

    def __init__(self, config: StoreConfig, channel: str) -> None:
        from psycopg import sql

        self.config = config
        with self._session():
            self.connection = connect(config)
            self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def try_acquire(self) -> bool:
        with self._session():
            row = self.connection.execute("SELECT pg_try_advisory_lock(%s)",
                                          (ACTIVE_PROJECTOR_LOCK_KEY,)).fetchone()
        return bool(row and row[0])

    def wait_for_events(self, timeout: float) -> None:
        with self._session():
            for _ in self.connection.notifies(timeout=timeout, stop_after=1):
                pass

    def check(self) -> None:
        with self._session():
            self.connection.execute("SELECT 1")

    def release(self) -> None:
        self.connection.close()  # ends the session and with it the advisory lock

    @contextmanager
    def _session(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise self.config.unavailable(exc) from None


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
        applied = 0
        try:
            while not stop.is_set():
                # Between any two batches: is the lock still ours (its session alive)?
                self.lock.check()
                batch = self.service.catch_up(batch_size=self.batch_size, max_batches=1)
                applied += batch
                if batch:
                    continue
                if applied:
                    status = self.service.projection_status()
                    report(f"applied {applied} events (position {status.position})")
                    applied = 0
                self.lock.wait_for_events(self.idle_seconds)
        finally:
            self.lock.release()


def run_projector(config: StoreConfig, open_registry: Callable[[], RegistryService],
                  stop: threading.Event, report: Callable[[str], None], *,
                  batch_size: int = 500, idle_seconds: float = 1.0) -> None:
    """Run a projector until ``stop`` is set, outliving the store's outages.

    Whenever the store cannot be reached or drops the connection (at start-up too), report
    one line, wait (1, 2, 4 … 30 s), and connect from scratch: new pools, a new lock session.
    A batch interrupted by the failure was rolled back, so the next one starts where the
    recorded position says, and nothing is applied twice or skipped.
    """
    failures = 0
    while not stop.is_set():
        try:
            with open_registry() as service:
                lock = projector_lock(config, service, stop)
                failures = 0  # connected: the next outage starts the backoff afresh
                Projector(service, lock, batch_size=batch_size,
                          idle_seconds=idle_seconds).run(stop, report)
            return
        except (StoreUnavailableError, OperationalError, InterfaceError) as exc:
            error = exc if isinstance(exc, StoreUnavailableError) else config.unavailable(exc)
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            report(f"{error}; retrying in {delay} s")
            stop.wait(delay)


def projector_lock(config: StoreConfig, service: RegistryService,
                   stop: threading.Event) -> ProjectorLock:
    if config.is_postgres:
        from eventsourcing.postgres import PostgresApplicationRecorder

        recorder = service.app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        return PostgresProjectorLock(config, recorder.channel_name)
    db_path = Path(config.env["SQLITE_DBNAME"])
    return FileProjectorLock(db_path.with_name(db_path.name + ".projector.lock"), stop)
