"""The `attune serve` process that the HTTP examples of one document talk to."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE

START_TIMEOUT = 90  # seconds; generous, CI machines are shared
STOP_TIMEOUT = 30


@dataclass(frozen=True)
class DocServer:
    url: str  # http://127.0.0.1:PORT, without /api/v1
    token: str  # a write token called `ci`


@contextmanager
def doc_server(env: Mapping[str, str], log: Path) -> Iterator[DocServer]:
    """``attune serve`` on a free port of 127.0.0.1, in the environment the examples run in
    (the same store and default settings), with its stderr in ``log``.

    The token is made as ``attune token create ci --scope write`` would make it.
    """
    with build_registry(Settings.from_env(env)) as registry:
        token, _ = registry.create_token("ci", "write", actor="cli:root")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [ATTUNE, "serve", "--port", str(port), "--log-level", "warning"], env=dict(env),
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process, log)
        yield DocServer(url, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            httpx.get(f"{url}/api/v1/health", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(encoding="utf-8", errors="replace")
                raise AssertionError(f"`attune serve` did not start:\n{output}") from None
            time.sleep(0.05)
