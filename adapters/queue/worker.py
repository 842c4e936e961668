"""``attune worker``: runs queued suites in the sandbox, on any machine that reaches the store.

A worker shares no files with the host that took a registration: it unpacks the release from
the database into a private folder of its own ``ATTUNE_HOME`` for each suite. Its identity
(host, pid) is recorded with each suite it ran, and it keeps its row in the list of workers
(``adapters.queue.presence``) while it runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from uuid import UUID

from attune_registry.adapters.packs.workspace import private_dir
from attune_registry.adapters.settings import Settings

if TYPE_CHECKING:
    from attune_registry.application.registry import PackRegistry


def run_worker(settings: Settings, *, concurrency: int) -> None:
    """Run jobs until SIGTERM or SIGINT; running suites finish first (procrastinate's
    graceful stop), queued ones stay for other workers. A store that goes away for a while
    stops nothing: the worker starts again when it is back (``adapters.queue.restarts``).

    Raises: QueueNeedsPostgresError on the embedded store.
    """
    import psycopg

    from attune_registry.application.queued import RunQueuedSuite

    from attune_registry.adapters.bootstrap import (
        build_dependents,
        build_registry,
        build_runner,
        queue_config,
        release_blobs,
    )
    from attune_registry.adapters.environments.cache import EnvironmentCache
    from attune_registry.adapters.packs.loader import FilesystemPackLoader
    from attune_registry.adapters.packs.releases import ReleaseStore
    from attune_registry.adapters.queue.jobs import QUEUE, Handlers, queue_app
    from attune_registry.adapters.queue.presence import WorkerPresence
    from attune_registry.adapters.queue.restarts import run_until_stopped
    from attune_registry.adapters.queue.worker_releases import WorkerReleases
    from attune_registry.adapters.store.setup import connect

    config = queue_config(settings)  # refuses the embedded store before anything starts
    stall = settings.worker_stall_seconds
    blobs = release_blobs(config, settings)
    host, pid = socket.gethostname(), os.getpid()
    identity = {"host": host, "pid": pid}

    @contextmanager
    def unpacked(digest: str) -> Iterator[str]:
        with private_dir(settings.work_dir, "queued") as work:
            blobs.unpack(digest, work / "pack")
            yield str(work / "pack")

    with build_registry(settings) as registry:
        handlers = Handlers(stall_seconds=stall)
        runner = build_runner(settings)
        # The packs a suite depends on, and an upgrade's dependents, come from the database
        # too; the worker that decides an upgrade runs its dependents' suites.
        folders, dependents = build_dependents(
            registry.app, settings, FilesystemPackLoader(work_dir=settings.work_dir), runner,
            WorkerReleases(ReleaseStore.of(settings), blobs), registry)
        run = RunQueuedSuite(registry.app, runner, unpacked,
                             worker=lambda: identity,
                             environments=EnvironmentCache.of(settings),
                             folders=folders, dependents=dependents)
        presence = WorkerPresence(lambda: connect(config), config.env["POSTGRES_SCHEMA"],
                                  host=host, pid=pid, concurrency=concurrency,
                                  stall_seconds=stall)

        def run_suite(registration_id: UUID, index: int) -> None:
            name = _suite_name(registry.app, registration_id, index)
            with presence.running(registration_id, index, name):
                run(registration_id, index)

        handlers.run_suite = run_suite
        app = queue_app(config, handlers)
        try:
            presence.start()
        except psycopg.Error as exc:
            raise config.unavailable(exc) from None
        try:
            # Started again whenever it stops on its own, as it does when the store is away.
            run_until_stopped(app, presence.name, queues=[QUEUE], concurrency=concurrency,
                              update_heartbeat_interval=max(1.0, stall / 3),
                              stalled_worker_timeout=stall,
                              # The event log is the history: a finished job's row has no use.
                              delete_jobs="successful")
        finally:
            presence.stop()  # a killed worker stays listed, then shows as lost


def _suite_name(registry: PackRegistry, registration_id: UUID, index: int) -> str:
    """The name of suite ``index`` of a registration, as the list of workers shows it."""
    from attune_registry.domain.manifest import PackManifest, required_testing

    manifest = registry.get_registration(registration_id).manifest
    suites = required_testing(PackManifest.from_dict(manifest)).test_suites
    return suites[index].name if 0 <= index < len(suites) else f"#{index}"
