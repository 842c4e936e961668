"""The stored shape of every event is pinned: the fields of each topic, and the keys of the
values nested in them, as the code that recorded the existing logs wrote them.

``tests/fixtures/event_shapes.json`` was written by the code before the persisted shapes got
types of their own (issue 14); typed or not, the events must come out the same. Since then
shapes changed on purpose, each with an upcaster for the old one (see test_event_upcasting.py):
``TestSuiteCompleted`` version 2 added ``isolation``, how the suite was sandboxed;
``Pack.RegistrationOpened`` version 2 added ``holder``, the process that registers; and
``RegistrationRejected`` version 2 added ``actor``, who cancelled it; ``TestSuiteCompleted``
version 3 added ``worker``, the process that ran the suite; ``RegistrationRolledBack``
version 2 and ``RegistrationRejected`` version 3 added ``note``, the reason given with
``--reason``; ``PackRegistrationRequested`` version 3 added ``skip_dependents`` and
``TestRun.TestRunRequested`` version 2 ``candidate``, the upgrade a dependent's run tested;
``TestSuiteCompleted`` version 4 added ``fingerprint`` and ``retries``, and each case's
``attempts`` and ``flaky``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attune_registry.domain.errors import TestsFailedError

from attune_registry.application.commands import InstallCommand, RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.webhooks import build_webhooks

from tests.conftest import CORE_PACK
from tests.packs import failing_tests, manifest, write_pack

PINNED = Path(__file__).resolve().parents[1] / "fixtures" / "event_shapes.json"


def shapes(registry) -> dict[str, list[str]]:
    """topic -> field names in stored order; ``topic#field`` -> keys of a nested value."""
    found: dict[str, list[str]] = {}
    for notification in registry.app.recorder.select_notifications(start=1, limit=1000):
        state = registry.app.mapper.transcoder.decode(notification.state)
        topic = notification.topic
        found.setdefault(topic, sorted(state))
        for field in ("summary", "origin", "isolation", "holder", "worker"):
            if state.get(field):
                found[f"{topic}#{field}"] = list(state[field])
        for field in ("components", "test_cases"):
            if state.get(field):
                found[f"{topic}#{field}"] = list(state[field][0])
    return found


def test_every_event_keeps_its_stored_shape(tmp_path):
    with build_registry(Settings(home=tmp_path / "home", database_url="")) as registry:
        first = write_pack(tmp_path / "v1", manifest("app", "1.0.0"))
        registry.register(RegisterCommand(path=str(first)))
        second = write_pack(tmp_path / "v2", manifest("app", "2.0.0"),
                            {"test_mixed.py": failing_tests(passed=1, failed=1)})
        with pytest.raises(TestsFailedError):
            registry.register(RegisterCommand(path=str(second), replace=True))
        registry.register(RegisterCommand(path=str(second), force=True))
        registry.test_registered("app")
        registry.roll_back("app", actor="auditor")
        registry.unregister("app", actor="auditor")
        installed = write_pack(tmp_path / "lamp", manifest("lamp"))
        registry.install(InstallCommand(source=str(installed), skip_tests=True))
        registry.register(RegisterCommand(path=str(CORE_PACK), skip_tests=True))
        registry.create_token("ci", "read", actor="auditor")
        registry.revoke_token("ci", actor="auditor")
        with build_webhooks(registry.app, Settings(home=tmp_path / "home",
                                                   database_url="")) as webhooks:
            hook = webhooks.add("https://93.184.216.34/in", ["registration.committed"],
                                actor="auditor")
            webhooks.remove(hook.webhook.id, actor="auditor")

        found = shapes(registry)

    assert found == json.loads(PINNED.read_text())
