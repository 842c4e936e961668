"""Log records as operators read them: one JSON object per line, or text, with the same fields.

``ATTUNE_LOG_FORMAT=json`` gives every record of ``attune serve``, ``attune worker`` and
``attune projector`` (uvicorn's access lines included) as a JSON object on stderr::

    {"time": "...Z", "level": "warning", "logger": "attune.events",
     "event": "registration.decided", "message": "...", "pid": 4242, "request_id": "...",
     "registration_id": "...", "ref": "core", "actor": "token:ci", "outcome": "forced"}

The default, ``text``, keeps uvicorn's lines as they were and writes the registry's own records
as ``LEVEL:    event: message (field=value ...)``. Either way every string a record carries is
masked here, the last place before it leaves the process: credentials in URLs (see
``adapters.redact``) and the secret part of bearer tokens.
"""

from __future__ import annotations

import copy
import json
import logging
import logging.config
import re
import time
from datetime import UTC, datetime
from typing import Any

from litestar.logging.config import BaseLoggingConfig
from litestar.types import Empty, EmptyType
from litestar.types.callable_types import GetLogger

from attune_registry.adapters.observability import context
from attune_registry.adapters.redact import MASK, redact_url
from attune_registry.adapters.tokens import PREFIX

LOG_FORMATS = ("text", "json")
# The loggers of the registry's own code: ``attune.*`` by name, ``adapters.*`` by module.
OWN_LOGGERS = ("attune", "adapters")
# Attributes every LogRecord has; anything else on a record was passed as ``extra``.
_STANDARD = {*vars(logging.LogRecord("", 0, "", 0, "", (), None)), "message", "asctime",
             "taskName", "color_message", "event"}
# A bearer token is ``attn_<id>_<secret>``: the id may be shown, never the secret.
_TOKEN = re.compile(rf"\b({PREFIX}_[0-9a-f]{{32}}_)[A-Za-z0-9_-]+")


def masked(text: str) -> str:
    """``text`` without secrets: URL credentials and token secrets replaced by ``***``."""
    return _TOKEN.sub(rf"\g<1>{MASK}", redact_url(text))


def _masked_value(value: Any) -> Any:
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {str(key): _masked_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return masked(str(value))


def event_of(record: logging.LogRecord) -> str:
    """A short, stable name for what a record reports (``registration.decided``); records of
    other libraries get one from where they come from."""
    explicit = getattr(record, "event", None)
    if isinstance(explicit, str):
        return explicit
    if record.name == "uvicorn.access":
        return "http.access"
    if record.name.startswith("uvicorn"):
        return "server"
    return "log"


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """What a record carries besides its message: the request's context (id, actor), the
    fields of an access line, and anything passed as ``extra``; unset ones left out."""
    fields: dict[str, Any] = context.current()
    if record.name == "uvicorn.access":
        fields.update(_access_fields(record))
    for name, value in vars(record).items():
        if name not in _STANDARD and not name.startswith("_") and value is not None:
            fields[name] = value
    return fields


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """uvicorn's access line, ``'%s - "%s %s HTTP/%s" %d'``, as fields; with the route it
    matched and the time until the response started, which the request's context knows."""
    fields: dict[str, Any] = {}
    args = record.args
    if isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        fields = {"client": client, "method": method, "path": path,
                  "http_version": http_version, "status": status}
    route = context.route.get()
    if route is not None:
        fields["route"] = route
    started = context.started.get()
    if started is not None:
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, use_colors: bool | None = None) -> None:
        # ``use_colors`` is what uvicorn passes to its own formatters; colours have no place here.
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        document: dict[str, Any] = {
            "time": stamp.replace("+00:00", "Z"), "level": record.levelname.lower(),
            "logger": record.name, "event": event_of(record),
            "message": masked(record.getMessage()), "pid": record.process}
        for name, value in fields_of(record).items():
            document.setdefault(name, _masked_value(value))
        if record.exc_info:
            document["exception"] = masked(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL:    event: message (field=value ...)``, aligned with uvicorn's own lines."""

    def __init__(self, use_colors: bool | None = None) -> None:
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={_masked_value(value)}"
                          for name, value in fields_of(record).items())
        line = f"{record.levelname + ':':<10}{event_of(record)}: {masked(record.getMessage())}"
        if fields:
            line += f" ({fields})"
        if record.exc_info:
            line += "\n" + masked(self.formatException(record.exc_info))
        return line


# What procrastinate's side tasks are called in its logs: it logs their errors again, each
# with its traceback, as it cancels them on the way out.
SIDE_TASKS = ("update_heartbeats", "deferrer", "poll_jobs_to_abort", "listener")
SIDE_TASK_ACTIONS = frozenset({"side_task_failed", *(f"{task}_error" for task in SIDE_TASKS)})


class SideTaskFailureInOneLine(logging.Filter):
    """procrastinate stops a worker whose side task (its periodic deferrer, its listener)
    failed, and logs the failure with a traceback. The caller starts the worker again; when
    the store went away for a moment, one line that names the exception says all there is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "action", None) in SIDE_TASK_ACTIONS and record.exc_info:
            exc = record.exc_info[1]
            # procrastinate's own exception says "Database error."; its cause says which.
            cause = (exc.__cause__ or exc) if exc is not None else None
            said = " ".join(f"{record.getMessage()} ({type(cause).__name__}: {cause})".split())
            record.msg = said
            record.args = None
            record.exc_info = record.exc_text = None
        return True


def quiet_side_task_failures(worker_name: str) -> None:
    """Log the side-task failures of procrastinate's worker ``worker_name`` in one line."""
    for logger in (logging.getLogger(f"procrastinate.worker.{worker_name}"),
                   logging.getLogger("procrastinate.utils")):
        if not any(isinstance(f, SideTaskFailureInOneLine) for f in logger.filters):
            logger.addFilter(SideTaskFailureInOneLine())


def _handler(formatter: str) -> dict[str, Any]:
    return {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}


def uvicorn_log_config(log_format: str, level: str) -> dict[str, Any]:
    """The ``log_config`` of ``attune serve``, applied by uvicorn in every worker process.

    Text: uvicorn's own configuration, plus the registry's loggers in text. JSON: every logger
    (uvicorn's error and access logs, the registry's, and through the root logger any other
    library's warnings) on stderr as JSON.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["disable_existing_loggers"] = False
    upper = level.upper()
    if log_format == "json":
        # uvicorn looks its formatters up by these names.
        config["formatters"] = {"default": {"()": JsonFormatter},
                                "access": {"()": JsonFormatter}}
        config["handlers"] = {"default": _handler("default")}
        config["loggers"]["uvicorn.access"]["handlers"] = ["default"]
        config["root"] = {"handlers": ["default"], "level": "WARNING"}
        own = "default"
    else:
        config["formatters"]["attune"] = {"()": TextFormatter}
        config["handlers"]["attune"] = _handler("attune")
        own = "attune"
    for name in OWN_LOGGERS:
        config["loggers"][name] = {"handlers": [own], "level": upper, "propagate": False}
    return config


def configure_logging(log_format: str, level: str = "info") -> None:
    """Logging of a long-running command other than ``serve`` (``worker``, ``projector``).

    Text: the registry's own records; other libraries as before (warnings on stderr). JSON:
    every record, the root logger's warnings included.
    """
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    config: dict[str, Any] = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"attune": {"()": formatter}},
        "handlers": {"attune": _handler("attune")},
        "loggers": {name: {"handlers": ["attune"], "level": level.upper(), "propagate": False}
                    for name in OWN_LOGGERS},
    }
    if log_format == "json":
        config["root"] = {"handlers": ["attune"], "level": "WARNING"}
    logging.config.dictConfig(config)


class AsConfigured(BaseLoggingConfig):
    """Litestar's logging as the process's set-up has it: nothing configured of its own (its
    default would replace the root logger's handlers with its own, in its own format)."""

    def __init__(self) -> None:
        self.log_exceptions = "never"  # as Litestar's default outside debug mode
        self.traceback_line_limit = -1
        self.exception_logging_handler = None
        self.disable_stack_trace = set()

    def configure(self) -> GetLogger:
        return logging.getLogger

    @staticmethod
    def set_level(logger: Any, level: int) -> None:
        logger.setLevel(level)


def litestar_logging_config(log_format: str) -> BaseLoggingConfig | EmptyType:
    """Litestar's own logging set-up: its default for text; for JSON, the set-up uvicorn
    applied (``uvicorn_log_config``), which Litestar's default would undo at the root logger."""
    return AsConfigured() if log_format == "json" else Empty


_APPLIED = re.compile(r"applied (\d+) events \(position (\d+)\)")


def projector_record(message: str) -> None:
    """One line of ``attune projector``'s progress as a record of ``attune.projector``
    (``projector.standby``, ``projector.active``, ``projector.applied`` with the events
    applied and the position, ``projector.store_unavailable``)."""
    fields: dict[str, Any] = {}
    level = logging.INFO
    if message == "active":
        event = "projector.active"
    elif message.startswith("standing by"):
        event = "projector.standby"
    elif applied := _APPLIED.fullmatch(message):
        event = "projector.applied"
        fields = {"applied": int(applied[1]), "position": int(applied[2])}
    else:  # the store cannot be reached: it retries
        event, level = "projector.store_unavailable", logging.WARNING
    logging.getLogger("attune.projector").log(level, message, extra={"event": event, **fields})
