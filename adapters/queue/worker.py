"""``attune worker``: runs queued suites in the sandbox, on any machine that reaches the store.

A worker shares no files with the host that took a registration: it unpacks the release from
the database into a private folder of its own ``ATTUNE_HOME`` for each suite. Its identity
(host, pid) is recorded with each suite it ran.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.packs.workspace import private_dir
from adapters.settings import Settings


def run_worker(settings: Settings, *, concurrency: int) -> None:
    """Run jobs until SIGTERM or SIGINT; running suites finish first (procrastinate's
    graceful stop), queued ones stay for other workers.

    Raises: QueueNeedsPostgresError on the embedded store.
    """
    from application.queued import RunQueuedSuite

    from adapters.bootstrap import build_registry, build_runner, queue_config, release_blobs
    from adapters.queue.jobs import QUEUE, Handlers, queue_app

    config = queue_config(settings)  # refuses the embedded store before anything starts
    stall = settings.worker_stall_seconds
    blobs = release_blobs(config, settings)
    identity = {"host": socket.gethostname(), "pid": os.getpid()}

    @contextmanager
    def unpacked(digest: str) -> Iterator[str]:
        with private_dir(settings.work_dir, "queued") as work:
            blobs.unpack(digest, work / "pack")
            yield str(work / "pack")

    with build_registry(settings) as registry:
        handlers = Handlers(stall_seconds=stall)
        handlers.run_suite = RunQueuedSuite(registry.app, build_runner(settings), unpacked,
                                            worker=lambda: identity)
        app = queue_app(config, handlers)
        app.run_worker(queues=[QUEUE], concurrency=concurrency,
                       name=f"{identity['host']}:{identity['pid']}",
                       update_heartbeat_interval=max(1.0, stall / 3),
                       stalled_worker_timeout=stall, install_signal_handlers=True,
                       # The event log is the history: a finished job's row has no use.
                       delete_jobs="successful")
