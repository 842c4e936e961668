"""``/api/v1/registrations/{id}`` for auditors, with its progress as a stream of events, and
``/api/v1/health``."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter
from litestar.response import ServerSentEvent

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.http.schemas import HealthEnvelope, RegistrationEnvelope
from attune_registry.adapters.http.stream import progress_stream

LastEventId = Annotated[int | None, HeaderParameter(
    name="Last-Event-ID", ge=0, le=2**63 - 1, required=False,  # the store's 64-bit range
    description="Resume after the event with this `id:` (sent by `EventSource` on reconnect).")]


class RegistrationController(Controller):
    path = "/registrations"
    tags = ["registrations"]
    security = [{"BearerToken": []}]

    @get("/{registration_id:uuid}", responses=documented_errors(*COMMON_ERRORS),
         guards=[requires("read")], sync_to_thread=True, operation_id="getRegistration",
         summary="A registration and its events, as stored")
    def get_registration(self, registration_id: FromPath[UUID],
                         registry: NamedDependency[ServedRegistry]) -> RegistrationEnvelope:
        return RegistrationEnvelope(data=registry.registration(registration_id))

    @get("/{registration_id:uuid}/events", responses=documented_errors(*COMMON_ERRORS),
         guards=[requires("read")], sync_to_thread=True, operation_id="followRegistration",
         media_type="text/event-stream",
         response_description="`event:` requested, suite or decided; `id:` the event's "
                              "version; `data:` its JSON (with `event` repeated)",
         summary="A registration's progress as Server-Sent Events, until it is decided")
    def follow_registration(self, registration_id: FromPath[UUID],
                            registry: NamedDependency[ServedRegistry],
                            last_event_id: LastEventId = None) -> ServerSentEvent:
        """One event per step as it is recorded (``requested``, ``suite``, then ``decided``,
        which ends the stream), each with ``id:`` its event version; ``Last-Event-ID``
        resumes after it. A decided registration replays its steps at once."""
        after = last_event_id or 0
        first = registry.updates(registration_id, after=after)  # unknown: 404, not a stream
        return progress_stream(lambda since: registry.updates(registration_id, after=since),
                               first, after=after)


@get("/health", responses=documented_errors(*COMMON_ERRORS), tags=["health"],
     sync_to_thread=True, operation_id="health",
     summary="Store reachable, projection lag, queue figures (no token needed)")
def health(registry: NamedDependency[ServedRegistry]) -> HealthEnvelope:
    return HealthEnvelope(data=registry.health())
