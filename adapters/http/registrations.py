"""``/api/v1/registrations/{id}`` for auditors, and ``/api/v1/health``."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from domain.errors import RegistrationNotFoundError

from adapters.http.auth import requires
from adapters.http.errors import COMMON_ERRORS, documented_errors
from adapters.http.schemas import (
    Health,
    HealthEnvelope,
    RegistrationDetails,
    RegistrationEnvelope,
    StoredEvent,
)
from adapters.service import RegistryService


class RegistrationController(Controller):
    path = "/registrations"
    tags = ["registrations"]
    security = [{"BearerToken": []}]

    @get("/{registration_id:uuid}", responses=documented_errors(*COMMON_ERRORS), guards=[requires("read")], sync_to_thread=True,
         operation_id="getRegistration", summary="A registration and its events, as stored")
    def get_registration(self, registration_id: FromPath[UUID],
                         registry: NamedDependency[RegistryService]) -> RegistrationEnvelope:
        events = registry.audit(registration_id)
        registry.catch_up()
        row = registry.view.get_registration(str(registration_id))
        if row is None:
            raise RegistrationNotFoundError(registration_id)
        return RegistrationEnvelope(data=RegistrationDetails(
            registration=row, events=[StoredEvent(**event) for event in events]))


@get("/health", responses=documented_errors(*COMMON_ERRORS), tags=["health"], sync_to_thread=True, operation_id="health",
     summary="Store reachable and projection lag (no token needed)")
def health(registry: NamedDependency[RegistryService]) -> HealthEnvelope:
    status = registry.projection_status()
    store = "postgres" if "Postgres" in type(registry.view).__name__ else "sqlite"
    return HealthEnvelope(data=Health(status="ok", store=store, log_head=status.log_head,
                                      projection_position=status.position,
                                      projection_lag=status.lag))
