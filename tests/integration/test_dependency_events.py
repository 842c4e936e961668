"""Manifests recorded when ``dependencies`` was a list of strings still load, replay and
project as the ref -> range mapping; dependents read from them are protected."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import DependentsActiveError
from attune_registry.domain.manifest import PackManifest

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.integration.test_event_upcasting import REQUESTED, old_events, store
from tests.packs import manifest, write_pack


def with_dependencies(value: object) -> list[dict]:
    events = old_events()
    for event in events:
        if event["topic"] == REQUESTED:
            assert event["state"]["manifest"]["dependencies"] == []  # as recorded then
            event["state"]["manifest"]["dependencies"] = value
    return events


def test_an_old_empty_list_loads_and_projects_as_no_dependencies(settings):
    with build_registry(settings) as registry:
        registration_id = store(registry, with_dependencies([]))
        registration = registry.app.get_registration(registration_id)
        assert PackManifest.from_dict(registration.manifest).dependencies == {}
        assert registry.show("lamp").pack.dependencies == {}
        found = registry.dependencies("lamp")
        assert (found.version, found.dependencies, found.dependents) == ("1.0.0", [], [])
        pack = registry.show("lamp").pack
        registry.rebuild()
        assert registry.show("lamp").pack == pack


def test_old_list_entries_become_ranges_and_protect_what_they_name(settings, tmp_path):
    core = write_pack(tmp_path / "core", manifest("core", "1.0.0"))
    with build_registry(settings) as registry:
        registry.register(RegisterCommand(path=str(core), skip_tests=True))
        store(registry, with_dependencies(["core", "https://example.org/net.git"]))
        registry.catch_up()

        assert registry.show("lamp").pack.dependencies == {
            "core": "*", "https://example.org/net.git": "*"}
        assert [(d.ref, d.satisfied) for d in registry.dependencies("lamp").dependencies] == [
            ("core", True), ("https://example.org/net.git", False)]
        with pytest.raises(DependentsActiveError) as refused:
            registry.unregister("core", actor="test")
        assert refused.value.dependents == [("lamp", "*")]
