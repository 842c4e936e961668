"""Application events in the log (``adapters.observability.events``), on both stores: what a
registration, a rollback, an unregister, a cancel, a manual run and tokens log, and that no
secret is among it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from attune_registry.domain.errors import TestsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.observability.logs import JsonFormatter

from tests.packs import failing_tests, manifest, write_pack


class Captured(logging.Handler):
    """Keeps every record of the logger it is attached to, and each as the JSON line it makes."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[dict]:
        return [json.loads(self.format(record)) for record in self.records]

    def events(self) -> list[tuple[str, str, str | None]]:
        return [(r.event, r.levelname, getattr(r, "outcome", None)) for r in self.records]


@pytest.fixture
def logged():
    logger = logging.getLogger("attune.events")
    handler, level = Captured(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


def test_a_registration_logs_its_request_each_suite_and_its_decision(registry, logged, tmp_path):
    pack = write_pack(tmp_path / "lamp", manifest("lamp"))

    done = registry.register(RegisterCommand(path=str(pack), requested_by="cli:alice"))

    registration_id = str(done.outcome.registration_id)
    assert logged.events() == [("registration.requested", "INFO", None),
                               ("suite.completed", "INFO", "passed"),
                               ("registration.decided", "INFO", "committed")]
    requested, suite, decided = logged.lines()
    assert {k: requested[k] for k in ("logger", "registration_id", "ref", "version", "actor",
                                      "trigger", "force", "skip_tests")} == {
        "logger": "attune.events", "registration_id": registration_id, "ref": "lamp",
        "version": "1.0.0", "actor": "cli:alice", "trigger": "register", "force": False,
        "skip_tests": False}
    assert requested["message"] == ("Registration of pack 'lamp' 1.0.0 requested by cli:alice "
                                    "(register)")
    assert (suite["suite"], suite["runner"], suite["passed"], suite["total"]) == (
        "Unit Tests", "python_unittest", 2, 2)
    assert suite["registration_id"] == registration_id and suite["ref"] == "lamp"
    assert decided["message"] == "Pack 'lamp' 1.0.0 registered (2/2 passed)"
    assert (decided["registration_id"], decided["ref"], decided["actor"]) == (
        registration_id, "lamp", "cli:alice")


def test_a_forced_commit_despite_failing_tests_is_a_warning_and_a_rejection_is_not(
        registry, logged, tmp_path):
    pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                      {"test_mixed.py": failing_tests(passed=8, failed=2)})

    with pytest.raises(TestsFailedError):
        registry.register(RegisterCommand(path=str(pack), requested_by="cli:alice"))
    registry.register(RegisterCommand(path=str(pack), force=True, requested_by="cli:bob"))

    decisions = [line for line in logged.lines() if line["event"] == "registration.decided"]
    assert [(d["level"], d["outcome"], d["actor"]) for d in decisions] == [
        ("info", "rejected", "cli:alice"), ("warning", "forced", "cli:bob")]
    assert decisions[0]["reason"] == "tests_failed"
    assert (decisions[0]["passed"], decisions[0]["total"]) == (8, 10)
    assert decisions[1]["message"] == ("Pack 'mypack' 1.0.0 registered despite failing tests "
                                       "(forced): 8/10 passed")


def test_rollback_unregister_and_cancel_log_who_acted_and_why(registry, logged, tmp_path):
    registry.register(RegisterCommand(path=str(write_pack(tmp_path / "v1", manifest("lamp"))),
                                      skip_tests=True))
    registry.register(RegisterCommand(
        path=str(write_pack(tmp_path / "v2", manifest("lamp", "2.0.0"))), skip_tests=True,
        replace=True))
    logged.records.clear()

    registry.roll_back("lamp", actor="cli:dave", note="2.0.0 breaks the rules")
    registry.unregister("lamp", actor="cli:erin")
    # A registration whose process is lost, its lease running for another hour.
    stuck = write_pack(tmp_path / "stuck", manifest("stuck"))
    source = registry.cases.register_pack.loader.load(str(stuck))
    registry.app.request_registration(
        RegisterCommand(path=str(stuck), requested_by="cli:ghost"),
        manifest=source.manifest, components=[], source_path=str(stuck),
        content_digest="0" * 64, lease_expires=datetime.now(UTC) + timedelta(hours=1),
        now=datetime.now(UTC))
    registry.cancel("stuck", actor="cli:ops", force=True, note="runner lost")

    rolled, unregistered, _requested, cancelled = logged.lines()
    assert (rolled["event"], rolled["actor"], rolled["note"], rolled["version"],
            rolled["restored_version"]) == (
        "pack.rolled_back", "cli:dave", "2.0.0 breaks the rules", "2.0.0", "1.0.0")
    assert rolled["message"] == ("Pack 'lamp' rolled back from 2.0.0 to 1.0.0 by cli:dave: "
                                 "2.0.0 breaks the rules")
    assert (unregistered["event"], unregistered["actor"], unregistered["version"]) == (
        "pack.unregistered", "cli:erin", "1.0.0")
    assert (cancelled["event"], cancelled["level"], cancelled["actor"], cancelled["reason"],
            cancelled["ref"]) == (
        "registration.cancelled", "warning", "cli:ops", "abandoned", "stuck")
    assert cancelled["message"] == "Registration of pack 'stuck' 1.0.0 cancelled by cli:ops: runner lost"


def test_a_manual_run_logs_its_suites_and_its_end(registry, logged, tmp_path):
    registry.register(RegisterCommand(path=str(write_pack(tmp_path / "lamp", manifest("lamp")))))
    logged.records.clear()

    registry.test_registered("lamp", requested_by="cli:alice")

    assert [event for event, _, _ in logged.events()] == [
        "test_run.requested", "suite.completed", "test_run.completed"]
    requested, suite, completed = logged.lines()
    assert requested["test_run_id"] == suite["test_run_id"] == completed["test_run_id"]
    assert (completed["outcome"], completed["ref"], completed["actor"]) == (
        "passed", "lamp", "cli:alice")


def test_tokens_are_logged_by_name_never_with_their_secret_or_hash(registry, logged):
    token, row = registry.create_token("ci", "write", actor="cli:alice")
    registry.revoke_token("ci", actor="cli:bob")

    issued, revoked = logged.lines()
    assert (issued["event"], issued["token_name"], issued["scope"], issued["actor"]) == (
        "token.issued", "ci", "write", "cli:alice")
    assert (revoked["event"], revoked["token_name"], revoked["actor"], revoked["token_id"]) == (
        "token.revoked", "ci", "cli:bob", row.id)
    secret = token.split("_", 2)[2]  # the secret itself may hold "_"
    stored_hash = registry.app.get_token(UUID(issued["token_id"])).secret_hash
    text = json.dumps(logged.lines())
    assert secret not in text and stored_hash not in text


def test_a_secret_in_a_message_is_masked_in_the_line(logged):
    from attune_registry.adapters.observability.events import emit

    emit(logging.WARNING, "test.secret", "token attn_" + "ab" * 16 + "_s3cretpart used with "
         "postgresql://attune:hunter2@db/attune", source="https://user:pw@git.example/x.git")

    [line] = logged.lines()
    assert "s3cretpart" not in line["message"] and "hunter2" not in line["message"]
    assert line["message"] == ("token attn_" + "ab" * 16 + "_*** used with "
                               "postgresql://attune:***@db/attune")
    assert line["source"] == "https://***@git.example/x.git"
