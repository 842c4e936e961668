"""``/api/v1/workers``: the ``attune worker`` processes serving the queue."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from attune_registry.adapters.contract import ServedRegistry, WorkerRow
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors


class WorkersEnvelope(msgspec.Struct):
    data: list[WorkerRow]
    queue: str | None
    """``postgres``, where the queue lives; null on the embedded store, which has no queue
    (``data`` is then empty)."""


class WorkerController(Controller):
    path = "/workers"
    tags = ["workers"]
    security = [{"BearerToken": []}]

    @get("/", responses=documented_errors(*COMMON_ERRORS), guards=[requires("read")],
         sync_to_thread=True, operation_id="listWorkers",
         summary="The workers of queued registrations, alive or lost, and what they run")
    def list_workers(self, registry: NamedDependency[ServedRegistry]) -> WorkersEnvelope:
        from attune_registry.adapters.queue.jobs import QueueNeedsPostgresError

        try:
            return WorkersEnvelope(data=registry.workers(), queue="postgres")
        except QueueNeedsPostgresError:
            return WorkersEnvelope(data=[], queue=None)
