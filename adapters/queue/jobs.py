"""The job queue: procrastinate on the store's own PostgreSQL (no broker), in its schema.

One job per suite of a queued registration (``attune.run_suite``), at most one waiting per
suite (a queueing lock). Workers send heartbeats; a periodic job hands the jobs of a worker
whose heartbeats stopped back to the queue, so a lost worker's suite runs elsewhere, and the
registry records a suite once however often it ran (``PackRegistry.complete_suite``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from attune_registry.adapters.settings import ConfigError
from attune_registry.adapters.store.config import StoreConfig
from attune_registry.adapters.store.setup import connect, conninfo

if TYPE_CHECKING:
    from psycopg import Connection

QUEUE = "suites"
RUN_SUITE = "attune.run_suite"
RETRY_STALLED = "attune.retry_stalled"
# How often the periodic job looks for jobs of lost workers (a cron with seconds).
RETRY_EVERY_SECONDS = 5


class QueueNeedsPostgresError(ConfigError):
    """Raised when a queued registration or a worker is asked of the embedded store."""

    def __init__(self) -> None:
        super().__init__(
            "Queued registrations and workers need PostgreSQL (ATTUNE_DATABASE_URL="
            "postgresql://…): the queue and the releases workers fetch live there. On the "
            "embedded SQLite store, registrations run in the process that asks for them")


@dataclass
class Handlers:
    """What the tasks call in a worker process; unset elsewhere (the API only defers)."""

    run_suite: Callable[[UUID, int], None] | None = None
    stall_seconds: float = 30.0


def queue_app(config: StoreConfig, handlers: Handlers | None = None) -> procrastinate.App:
    """The queue on the store's PostgreSQL. ``handlers`` are set in a worker process."""
    handlers = handlers or Handlers()
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(config, search_path=True), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)

    @app.task(name=RUN_SUITE, queue=QUEUE)
    def run_suite(registration_id: str, index: int) -> None:
        assert handlers.run_suite is not None, "run_suite runs in `attune worker` only"
        handlers.run_suite(UUID(registration_id), index)

    @app.periodic(cron=f"* * * * * */{RETRY_EVERY_SECONDS}")
    @app.task(name=RETRY_STALLED, queue=QUEUE, queueing_lock=RETRY_STALLED, pass_context=True)
    async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(
                seconds_since_heartbeat=handlers.stall_seconds):
            await manager.retry_job(job)

    del run_suite, retry_stalled  # registered with the app by the decorators
    return app


class SuiteJobs:
    """Implements ``application.ports.JobQueue`` with procrastinate (a sync connector: the
    API and the CLI defer from threads)."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    def defer_suites(self, registration_id: UUID, suites: int) -> None:
        with self.app.open():
            for index in range(suites):
                try:
                    self.app.configure_task(
                        RUN_SUITE, queueing_lock=f"{registration_id}:{index}").defer(
                        registration_id=str(registration_id), index=index)
                except AlreadyEnqueued:
                    pass  # queued already: one waiting job per suite


def ensure_queue_schema(config: StoreConfig) -> None:
    """Create procrastinate's tables in the store's schema unless they exist, and the list of
    workers (``adapters.queue.presence``); call under the store's set-up lock: two processes
    must not run the DDL at once."""
    from attune_registry.adapters.queue.presence import create_worker_table

    with connect(config) as conn:
        if not _has_queue_tables(conn, config.env["POSTGRES_SCHEMA"]):
            app = queue_app(config)
            with app.open():
                app.schema_manager.apply_schema()
        create_worker_table(conn, config.env["POSTGRES_SCHEMA"])


def _has_queue_tables(conn: Connection[Any], schema: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".procrastinate_jobs',)).fetchone()
    return row is not None and row[0] is not None
