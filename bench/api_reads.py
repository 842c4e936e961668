"""API read throughput: GET /api/v1/packs/{ref}/tests vs a minimal Litestar endpoint.

Starts, in the same run and on the same server stack (uvicorn, one worker):
  baseline  bench/support/minimal_app.py, a handler returning the registry's response bytes
  registry  `attune serve` on a fresh SQLite store holding 20 test runs of pack `core`
then drives each with an asyncio HTTP client at 1 and at 16 concurrent clients and prints
requests/s, p50/p99 latency and the registry/baseline throughput ratio.

Usage: python bench/api_reads.py [--requests N] [--concurrency 1,16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
URL_PATH = "/api/v1/packs/core/tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


async def drive(url: str, headers: dict[str, str], requests: int,
                concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = requests

    async def client(session: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await session.get(url, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] * 1000


def capture_body(home: Path, token: str, body_file: Path) -> None:
    """Serve the registry once and keep its answer: the baseline sends the same bytes."""
    port = free_port()
    env = {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""}
    process = subprocess.Popen([str(BIN / "attune"), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}{URL_PATH}"
        headers = {"Authorization": f"Bearer {token}"}
        wait_ready(url, headers)
        body_file.write_bytes(httpx.get(url, headers=headers).content)
    finally:
        process.terminate()
        process.wait()


def prepare_registry(home: Path) -> str:
    env = {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""}
    root = home / "packs"
    shutil.copytree(HERE.parent / "packs" / "core", root / "core")
    attune = str(BIN / "attune")
    token = subprocess.run([attune, "token", "create", "bench", "--scope", "read"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([attune, "pack", "register", str(root / "core"), "-q"], env=env, check=True,
                   capture_output=True)
    for _ in range(19):
        subprocess.run([attune, "pack", "test", "core", "-q"], env=env, check=True,
                       capture_output=True)
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        token = prepare_registry(home)
        body_file = home / "body.json"
        capture_body(home, token, body_file)
        print(f"response body: {body_file.stat().st_size} bytes (20 test runs of pack core)")
        servers = {
            "baseline": ([str(BIN / "uvicorn"), "minimal_app:app", "--log-level", "warning"],
                         {**os.environ, "PYTHONPATH": str(HERE / "support"),
                          "BENCH_BODY_FILE": str(body_file)}, {}),
            "registry": ([str(BIN / "attune"), "serve", "--log-level", "warning"],
                         {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""},
                         {"Authorization": f"Bearer {token}"}),
        }
        results: dict[tuple[str, int], tuple[float, list[float]]] = {}
        for name, (argv, env, headers) in servers.items():
            port = free_port()
            process = subprocess.Popen([*argv, "--port", str(port)], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}{URL_PATH}"
                wait_ready(url, headers)
                asyncio.run(drive(url, headers, 200, 4))  # warm up
                for level in levels:
                    results[(name, level)] = asyncio.run(
                        drive(url, headers, args.requests, level))
            finally:
                process.terminate()
                process.wait()
    for level in levels:
        base_rps, base_lat = results[("baseline", level)]
        reg_rps, reg_lat = results[("registry", level)]
        print(f"{level:>2} clients: baseline {base_rps:7.0f} req/s (p50 "
              f"{statistics.median(base_lat) * 1000:.1f} ms,"
              f" p99 {percentile(base_lat, .99):.1f} ms)"
              f" | registry {reg_rps:7.0f} req/s (p50 {statistics.median(reg_lat) * 1000:.1f} ms,"
              f" p99 {percentile(reg_lat, .99):.1f} ms) | ratio {reg_rps / base_rps:.2f}")


if __name__ == "__main__":
    main()
