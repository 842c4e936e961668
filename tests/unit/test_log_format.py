"""Log records as lines (``adapters.observability.logs``): the JSON and text formats, the
request's context, masking, the ids a request may bring, and the projector's lines."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from attune_registry.adapters.observability import context
from attune_registry.adapters.observability.logs import (
    JsonFormatter,
    TextFormatter,
    projector_record,
)

TOKEN = "attn_" + "0f" * 16 + "_Zx9-secret_part"


def record(name: str = "attune.events", message: str = "hello %s", args: tuple = ("world",),
           level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


@pytest.fixture
def in_request():
    """The context of a request, as ``ObservedRequests`` sets it."""
    tokens = [context.request_id.set("req-1"), context.actor.set("token:ci"),
              context.route.set("/api/v1/packs/{ref}")]
    yield
    for var, token in zip((context.request_id, context.actor, context.route), tokens,
                          strict=True):
        var.reset(token)


class TestJson:
    def test_a_record_is_one_object_with_its_event_and_fields(self):
        line = JsonFormatter().format(record(event="registration.decided", ref="core",
                                             outcome="forced", level=logging.WARNING))

        assert "\n" not in line
        document = json.loads(line)
        assert document["time"].endswith("Z") and "T" in document["time"]
        assert {k: document[k] for k in ("level", "logger", "event", "message", "ref",
                                         "outcome")} == {
            "level": "warning", "logger": "attune.events", "event": "registration.decided",
            "message": "hello world", "ref": "core", "outcome": "forced"}
        assert isinstance(document["pid"], int)

    def test_the_request_context_goes_with_every_record_of_the_request(self, in_request):
        document = json.loads(JsonFormatter().format(record(event="token.issued")))

        assert (document["request_id"], document["actor"]) == ("req-1", "token:ci")

    def test_an_access_line_becomes_fields_with_its_route(self, in_request):
        access = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d',
                        ("127.0.0.1:5000", "GET", "/api/v1/packs/core", "1.1", 200))

        document = json.loads(JsonFormatter().format(access))

        assert document["event"] == "http.access"
        assert document["message"] == '127.0.0.1:5000 - "GET /api/v1/packs/core HTTP/1.1" 200'
        assert {k: document[k] for k in ("method", "path", "status", "route", "client")} == {
            "method": "GET", "path": "/api/v1/packs/core", "status": 200,
            "route": "/api/v1/packs/{ref}", "client": "127.0.0.1:5000"}

    def test_other_libraries_records_get_a_name_from_their_logger(self):
        assert json.loads(JsonFormatter().format(record("uvicorn.error")))["event"] == "server"
        assert json.loads(JsonFormatter().format(record("procrastinate")))["event"] == "log"

    def test_secrets_are_masked_in_the_message_the_fields_and_a_traceback(self):
        try:
            raise RuntimeError(f"cannot reach postgresql://attune:hunter2@db/x with {TOKEN}")
        except RuntimeError:
            failed = record(message="%s", args=(TOKEN,), event="x",
                            url="https://bob:pw@git.example/r.git", nested={"t": [TOKEN]})
            failed.exc_info = sys.exc_info()

        line = JsonFormatter().format(failed)

        for secret in ("hunter2", "secret_part", "bob:pw"):
            assert secret not in line
        document = json.loads(line)
        assert document["message"] == "attn_" + "0f" * 16 + "_***"
        assert document["url"] == "https://***@git.example/r.git"
        assert document["nested"] == {"t": ["attn_" + "0f" * 16 + "_***"]}
        assert "postgresql://attune:***@db/x" in document["exception"]


class TestText:
    def test_a_record_reads_as_level_event_message_then_its_fields(self, in_request):
        line = TextFormatter().format(record(event="registration.requested", ref="core",
                                             message="Registration requested", args=()))

        assert line == ("INFO:     registration.requested: Registration requested "
                        "(request_id=req-1 actor=token:ci ref=core)")

    def test_secrets_are_masked_in_text_too(self):
        line = TextFormatter().format(record(message="%s", args=(TOKEN,), event="x"))

        assert "secret_part" not in line


class TestRequestIds:
    def test_a_sane_id_sent_by_a_client_or_proxy_is_kept(self):
        for sent in ("4bf92f3577b34da6a3ce929d0e0e4736", "req-42", "a.b:c/d+e=f"):
            assert context.accepted_request_id([sent]) == sent

    def test_anything_else_is_replaced_by_a_new_id(self):
        for sent in ([], ["x" * 129], ["has space"], ['quote"'], ["a\nb"], ["-leading"],
                     ["one", "two"], ["é"]):
            found = context.accepted_request_id(sent)
            assert found not in sent and len(found) == 32 and int(found, 16) >= 0


class TestProjectorLines:
    def test_each_line_of_the_projector_is_a_record_with_an_event(self):
        logger = logging.getLogger("attune.projector")
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        level = logger.level
        logger.setLevel(logging.INFO)
        try:
            for line in ("standing by: another projector is active", "active",
                         "applied 12 events (position 345)",
                         "cannot reach PostgreSQL at postgresql://a@db/x: refused; "
                         "retrying in 2 s"):
                projector_record(line)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)

        assert [(r.event, r.levelname) for r in seen] == [
            ("projector.standby", "INFO"), ("projector.active", "INFO"),
            ("projector.applied", "INFO"), ("projector.store_unavailable", "WARNING")]
        assert (seen[2].applied, seen[2].position) == (12, 345)


def test_with_json_logs_litestar_leaves_the_logging_set_up_alone(tmp_path):
    from attune_registry.adapters.http import create_app
    from attune_registry.adapters.settings import Settings

    root = logging.getLogger()
    before = list(root.handlers)

    app = create_app(Settings(home=tmp_path / "home", database_url="", log_format_setting="json"))

    # Litestar's default set-up would have replaced the root logger's handlers (the JSON ones
    # uvicorn installed); its loggers still work (the dashboard's error page logs with one).
    assert root.handlers == before
    assert app.get_logger("litestar") is logging.getLogger("litestar")
