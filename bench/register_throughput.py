"""Registrations per second end to end with tests skipped, on SQLite and PostgreSQL.

For each store, in the same run, alternating in rounds (a share of the registrations each; the
figures are the medians of the rounds, the ratio the median of each round's own ratio):
  baseline   the same events appended straight to the log, one registration per transaction,
             nothing else (no pack files, no lease checks, no projection): the floor set by the
             event store itself, in registrations/s (and the events/s that makes)
  register   the register use case as `attune pack register PATH --force --skip-tests` runs
             it, in one process: read and validate pack.yaml, snapshot and digest the files,
             take the lease, request, commit, project the read models before returning
  cli        the same through a fresh `attune` process per registration (a CI pipeline's view)
and prints registrations/s and the ratio of each to the baseline. PostgreSQL runs in a fresh
database, dropped afterwards.

Usage: python bench/register_throughput.py [--registrations N] [--rounds R]
       [--stores sqlite,postgres]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import yaml
from projection_throughput import write_history

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

ATTUNE = str(Path(sys.executable).parent / "attune")


def make_packs(root: Path, count: int) -> list[Path]:
    """``count`` small packs (one action, one test file) with distinct refs."""
    packs = []
    for n in range(count):
        pack = root / f"pack{n}"
        (pack / "actions").mkdir(parents=True)
        (pack / "tests").mkdir()
        (pack / "pack.yaml").write_text(yaml.safe_dump({
            "ref": f"pack{n}", "version": "1.0.0", "label": f"Pack {n}",
            "description": "throughput benchmark", "testing": {"enabled": True, "test_suites": [
                {"name": "unit", "runner": "python_unittest", "working_dir": "tests",
                 "test_files": ["test_*.py"], "timeout_seconds": 60}]}}))
        (pack / "actions" / "echo.yaml").write_text(yaml.safe_dump({
            "name": "echo", "runner_type": "shell", "entry_point": "echo.sh"}))
        (pack / "actions" / "echo.sh").write_text("#!/bin/sh\necho \"$1\"\n")
        (pack / "tests" / "test_echo.py").write_text("def test_nothing():\n    pass\n")
        packs.append(pack)
    return packs


def measure(settings: Settings, packs: list[Path], cli_sample: int,
            rounds: int) -> dict[str, float]:
    count = len(packs)
    share = -(-count // rounds)
    baselines: list[float] = []
    registers: list[float] = []
    baseline_events = events = 0
    with build_registry(settings) as registry:
        for start in range(0, count, share):
            chunk = packs[start:start + share]
            head = registry.projection_status().log_head
            started = time.perf_counter()
            write_history(registry, len(chunk), batch=1, prefix=f"bench{start}-")
            baselines.append(len(chunk) / (time.perf_counter() - started))
            registry.catch_up()  # the next registrations project their own events only
            middle = registry.projection_status().log_head
            baseline_events += middle - head

            started = time.perf_counter()
            for pack in chunk:
                registry.register(RegisterCommand(path=str(pack), force=True, skip_tests=True,
                                                  requested_by="bench"))
            registers.append(len(chunk) / (time.perf_counter() - started))
            events += registry.projection_status().log_head - middle

    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    started = time.perf_counter()
    for pack in packs[:cli_sample]:
        subprocess.run([ATTUNE, "pack", "register", str(pack), "--force", "--skip-tests"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    cli = cli_sample / (time.perf_counter() - started)
    return {"baseline": statistics.median(baselines), "register": statistics.median(registers),
            "cli": cli,
            "ratio": statistics.median([r / b for r, b in zip(registers, baselines, strict=True)]),
            "baseline_events": baseline_events / count, "register_events": events / count,
            "rounds": len(baselines)}


@contextmanager
def store(kind: str, home: Path, postgres_url: str):
    if kind == "sqlite":
        yield Settings(home=home, database_url="")
        return
    import psycopg

    name = f"attune_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(home=home, database_url=postgres_url.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=300)
    parser.add_argument("--cli-sample", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        packs = make_packs(Path(scratch) / "packs", args.registrations)
        for kind in args.stores.split(","):
            with store(kind, Path(scratch) / f"home-{kind}", args.postgres_url) as settings:
                figures = measure(settings, packs, min(args.cli_sample, len(packs)),
                                  max(1, args.rounds))
            base = figures["baseline"]
            print(f"[{kind}] {len(packs)} registrations, tests skipped,"
                  f" {figures['rounds']:.0f} rounds (medians)")
            print(f"  baseline (events appended only): {base:8.1f} registrations/s"
                  f"  ({base * figures['baseline_events']:.0f} events/s,"
                  f" {figures['baseline_events']:.2f} events each)")
            print(f"  {'register (in process)':32} {figures['register']:8.1f} registrations/s"
                  f"  ({figures['ratio']:.2f} of baseline, median of the rounds' ratios;"
                  f" {figures['register_events']:.2f} events each)")
            print(f"  {'cli (a process each)':32} {figures['cli']:8.1f} registrations/s"
                  f"  ({figures['cli'] / base:.3f} of baseline)")


if __name__ == "__main__":
    main()
