"""The long-running projector: exactly once across kills, and one active projector at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from attune_registry.domain.manifest import parse_manifest

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import ATTUNE
from tests.packs import manifest


def record_registrations(registry, count: int) -> None:
    """Write many committed registrations straight to the log, without projecting them."""
    app = registry.app
    now = datetime.now(UTC)
    for n in range(count):
        parsed = parse_manifest(manifest(f"bulk{n % 40}", f"1.0.{n}", testing=None))
        registration_id = app.request_registration(
            RegisterCommand(path="/packs/bulk", force=True, skip_tests=True,
                            requested_by="bench"),
            manifest=parsed, components=[], source_path="/packs/bulk", content_digest="d",
            lease_expires=now + timedelta(minutes=5), now=now)
        app.commit_registration(registration_id, result=None, forced=False)


class ProjectorProcess:
    """``attune projector`` in a subprocess, its stderr collected line by line."""

    def __init__(self, settings, *args: str) -> None:
        env = {**os.environ, "ATTUNE_HOME": str(settings.home),
               "ATTUNE_DATABASE_URL": settings.database_url}
        self.process = subprocess.Popen([ATTUNE, "projector", "--idle", "0.05", *args], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        return "".join(self.lines)


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


class TestProjector:
    def test_killed_mid_run_and_restarted_it_loses_and_duplicates_nothing(self, registry,
                                                                          settings):
        record_registrations(registry, 400)  # about 1,600 events
        head = registry.projection_status().log_head

        first = ProjectorProcess(settings, "--batch-size", "10")
        wait_until(lambda: registry.projection_status().position > 0, "the first batches")
        first.kill()
        killed_at = registry.projection_status().position

        second = ProjectorProcess(settings, "--batch-size", "10")
        try:
            wait_until(lambda: registry.projection_status().position == head, "catching up")
        finally:
            second.stop()
        projected = registry.view.snapshot()
        registry.rebuild()

        assert 0 < killed_at <= head
        assert registry.view.snapshot() == projected
        assert len(projected["pack_registration"]) == 400

    def test_a_second_projector_stands_by_and_takes_over(self, registry, settings):
        active = ProjectorProcess(settings)
        wait_until(lambda: active.said("projector: active"), "the first projector")
        standby = ProjectorProcess(settings)
        try:
            wait_until(lambda: standby.said("standing by"), "the standby")
            assert not standby.said("projector: active")
            active.stop()
            wait_until(lambda: standby.said("projector: active"), "the standby taking over")
            record_registrations(registry, 5)
            wait_until(lambda: registry.projection_status().lag == 0, "the new events")
        finally:
            active.stop()
            standby.stop()
        assert len(registry.view.registrations("bulk4")) == 1
