"""A real `attune serve` process for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

from tests.cluster import Cluster
from tests.conftest import ATTUNE


@dataclass
class Server:
    url: str
    write_token: str
    read_token: str
    root: Path
    env: dict[str, str]


@pytest.fixture
def server(settings, tmp_path):
    """`attune serve` on a free port over this test's store, with pack root tmp/packs."""
    with serving(settings, tmp_path) as running:
        yield running


@contextmanager
def serving(settings: Settings, tmp_path: Path, **extra_env: str) -> Iterator[Server]:
    """`attune serve` (two worker processes) over ``settings``' store, with a writer and a
    reader token, pack root tmp/packs and ``extra_env`` set."""
    root = tmp_path / "packs"
    root.mkdir()
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url, "ATTUNE_PACK_ROOTS": str(root),
           **extra_env}
    process = subprocess.Popen([ATTUNE, "serve", "--port", str(port), "--workers", "2"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # generous: CI machines are shared
        while True:
            try:
                httpx.get(f"{url}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "no server"
                time.sleep(0.05)
        yield Server(url, write, read, root, env)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def cluster(postgres_database: str, tmp_path: Path) -> Iterator[Cluster]:
    """A ``Cluster`` on a schema of its own; its workers are stopped at the end."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    cluster = Cluster(tmp_path, f"{postgres_database}?schema={schema}")
    # The store is set up, as the first command that records something or a server does:
    # reading commands (`attune workers`) create none.
    build_registry(Settings(home=tmp_path / "api", database_url=cluster.database_url)).close()
    try:
        yield cluster
    finally:
        cluster.stop()
