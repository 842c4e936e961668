"""Reading commands on the embedded store skip the event-sourced application when they can."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import CORE_PACK

# What a read must not load: the web stack, the runners, the event store and the domain model.
HEAVY = ("litestar", "uvicorn", "eventsourcing", "attune_registry.adapters.http",
         "attune_registry.adapters.runners", "attune_registry.application",
         "attune_registry.domain.pack", "attune_registry.domain.registration")
PROBE = """
import sys
from attune_registry.adapters.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = sorted(m for m in sys.modules if m.startswith({prefixes}) or m in {heavy})
print("HEAVY", heavy, file=sys.stderr)
"""


def loaded_heavy(attune, *args: str) -> list[str]:
    prefixes = tuple(f"{m}." for m in HEAVY)
    done = subprocess.run([sys.executable, "-c", PROBE.format(prefixes=prefixes, heavy=HEAVY),
                           *args], env=attune.env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return eval(done.stderr.rsplit("HEAVY ", 1)[1])  # a list literal printed by the probe


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
class TestQuickReads:
    @pytest.mark.parametrize("command", [("pack", "list"), ("pack", "show", "core"),
                                         ("pack", "test-history", "core"),
                                         ("pack", "history", "core")])
    def test_reads_load_neither_the_web_stack_nor_runners_nor_the_event_store(
            self, attune, command):
        assert attune("pack", "register", str(CORE_PACK), "--skip-tests").returncode == 0

        assert loaded_heavy(attune, *command) == []

    def test_a_read_behind_the_log_takes_the_full_path_and_sees_every_event(self, attune,
                                                                             settings):
        with build_registry(settings) as registry:
            # The use case alone records events without projecting them.
            registry.cases.register_pack(RegisterCommand(path=str(CORE_PACK), skip_tests=True))

        assert "eventsourcing" in loaded_heavy(attune, "pack", "list")  # caught up first
        listed = attune("pack", "list", "--json")

        assert [p["ref"] for p in json.loads(listed.stdout)["data"]] == ["core"]
        assert loaded_heavy(attune, "pack", "list") == []  # current again: the quick path

    def test_read_models_of_another_version_are_rebuilt_before_reading(self, attune, settings):
        assert attune("pack", "register", str(CORE_PACK), "--skip-tests").returncode == 0
        with sqlite3.connect(settings.sqlite_path) as db:
            db.execute("UPDATE read_model_meta SET value = '0' WHERE key = 'version'")
            db.execute("DELETE FROM pack")

        listed = attune("pack", "list", "--json")

        assert [p["ref"] for p in json.loads(listed.stdout)["data"]] == ["core"]

    def test_a_store_that_does_not_exist_is_reported_not_created(self, attune, settings):
        listed = attune("pack", "list")

        assert (listed.returncode, listed.stdout) == (1, "")
        assert str(settings.sqlite_path) in listed.stderr
        assert not settings.home.exists()

    def test_an_empty_store_lists_no_packs(self, attune, settings):
        build_registry(settings).close()

        listed = attune("pack", "list")

        assert (listed.returncode, listed.stdout.strip()) == (0, "No packs registered.")
