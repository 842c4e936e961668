"""One place that turns every failure into ``{"error": str, "code": str}`` and a status."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from attune_registry.domain.errors import RegistryError

from attune_registry.application.registry import STORE_FAILURES

from attune_registry.adapters.http.schemas import ErrorBody
from attune_registry.adapters.settings import ConfigError

STATUS_BY_CODE = {"BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404,
                  "CONFLICT": 409, "NOT_IMPLEMENTED": 501,
                  # The state of other packs refuses the request: a conflict, like CONFLICT.
                  "DEPENDENCIES_UNMET": 409, "DEPENDENTS_ACTIVE": 409,
                  "RELEASE_NOT_FOUND": 404, "ALREADY_ACTIVE": 409}
CODE_BY_STATUS = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                  405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
                  415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR",
                  429: "TOO_MANY_REQUESTS", 501: "NOT_IMPLEMENTED",
                  503: "SERVICE_UNAVAILABLE"}

log = logging.getLogger("attune.http")


def documented_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries saying that these statuses answer with the error body."""
    return {status: ResponseSpec(data_container=ErrorBody, generate_examples=False,
                                 description=CODE_BY_STATUS.get(status, "Error"))
            for status in statuses}


# Every endpoint may answer these; the handlers add their own.
COMMON_ERRORS = (400, 401, 403, 404, 405, 413, 422, 503)


def error_response(status: int, message: str, code: str | None = None,
                   details: list[dict[str, Any]] | None = None) -> Response[ErrorBody]:
    return Response(ErrorBody(error=message, code=code or CODE_BY_STATUS.get(status, "ERROR"),
                              details=details), status_code=status)


def registry_error(_: Request[Any, Any, Any], exc: RegistryError) -> Response[ErrorBody]:
    # A rejection adds its evidence (registration, counts, failing cases) as ``details``.
    return error_response(STATUS_BY_CODE.get(exc.code, 400), str(exc), exc.code, exc.details)


def config_error(_: Request[Any, Any, Any], exc: ConfigError) -> Response[ErrorBody]:
    # The server is misconfigured (or its store is down): not the client's fault, no trace.
    log.error("configuration: %s", exc)
    return error_response(503, str(exc), exc.code)


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    details = exc.extra if isinstance(exc.extra, list) else None
    if details:  # well-formed but wrong: name each field
        fields = ", ".join(_problem(d) for d in details if isinstance(d, dict))
        return error_response(422, f"Invalid request: {fields}", "VALIDATION_ERROR", details)
    return error_response(400, f"Invalid request: {exc.detail}", "BAD_REQUEST")


def _problem(detail: dict[str, Any]) -> str:
    # The key `data` is the body as a whole (an unknown or a missing field, not an object):
    # msgspec's message names the field where the key cannot.
    if detail.get("key") == "data" and detail.get("source") == "body":
        return str(detail.get("message", "data"))
    return str(detail.get("key", "?"))


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    return error_response(exc.status_code, str(exc.detail))


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    if isinstance(exc, STORE_FAILURES):
        # The store broke between the service's own checks and a read: the client may retry.
        log.error("store unavailable on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        return error_response(503, "The store is unavailable; try again shortly",
                              "STORE_UNAVAILABLE")
    # Logged for operators; the client gets no stack trace and no internals.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error", "INTERNAL_SERVER_ERROR")
