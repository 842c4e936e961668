"""``/api/v1/registrations/{id}`` for auditors, and ``/api/v1/health``."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.contract import ServedRegistry
from adapters.http.auth import requires
from adapters.http.errors import COMMON_ERRORS, documented_errors
from adapters.http.schemas import HealthEnvelope, RegistrationEnvelope


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


@get("/health", responses=documented_errors(*COMMON_ERRORS), tags=["health"],
     sync_to_thread=True, operation_id="health",
     summary="Store reachable and projection lag (no token needed)")
def health(registry: NamedDependency[ServedRegistry]) -> HealthEnvelope:
    return HealthEnvelope(data=registry.health())
