"""Re-registering an unchanged pack with `--reuse`: what opt-in result reuse saves.

For each store (a temporary SQLite file; PostgreSQL in a fresh database dropped afterwards),
`packs/core` (by default; any pack with real suites) is registered once, its suites run; then,
rounds alternating so that the three see the same machine, the same unchanged pack is
registered again as
  skip-tests   `pack register PATH --replace --skip-tests`: no test at all, the floor
  reuse        `pack register PATH --replace --reuse`: its passing run is found and reused
  run          `pack register PATH --replace`: every suite runs again
in one process (the register use case, its events projected before it returns) and through a
fresh `attune` process per registration (a CI pipeline's view). It prints the median of each,
and the ratios reuse/skip-tests (what finding and recording the reused run costs) and
run/reuse (what reuse saves).

Usage: python bench/reuse.py [--pack packs/core] [--rounds N] [--cli-rounds N]
       [--stores sqlite,postgres] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.stores import POSTGRES_URL, throwaway_store

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

ATTUNE = str(Path(sys.executable).parent / "attune")
MODES = {"skip-tests": {"skip_tests": True}, "reuse": {"reuse": True}, "run": {}}
FLAGS = {"skip-tests": ["--skip-tests"], "reuse": ["--reuse"], "run": []}


def in_process(settings: Settings, pack: Path, rounds: int) -> dict[str, float]:
    """Median seconds of each mode, registering in this process."""
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    with build_registry(settings) as registry:
        registry.register(RegisterCommand(path=str(pack), force=True, requested_by="bench"))
        for _ in range(rounds):
            for mode, options in MODES.items():
                started = time.perf_counter()
                done = registry.register(RegisterCommand(
                    path=str(pack), replace=True, requested_by="bench", **options))
                samples[mode].append(time.perf_counter() - started)
                assert (done.outcome.reused is not None) == (mode == "reuse"), mode
    return {mode: statistics.median(values) for mode, values in samples.items()}


def through_cli(settings: Settings, pack: Path, rounds: int) -> dict[str, float]:
    """Median seconds of each mode, one `attune` process per registration."""
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode, flags in FLAGS.items():
            started = time.perf_counter()
            subprocess.run([ATTUNE, "pack", "register", str(pack), "--replace", "-q", *flags],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            samples[mode].append(time.perf_counter() - started)
    return {mode: statistics.median(values) for mode, values in samples.items()}


def report(store: str, how: str, medians: dict[str, float]) -> None:
    floor, reuse, run = medians["skip-tests"], medians["reuse"], medians["run"]
    print(f"{store:<9} {how:<11} skip-tests {floor * 1000:8.1f} ms   reuse "
          f"{reuse * 1000:8.1f} ms   run {run * 1000:8.1f} ms   reuse/skip-tests "
          f"{reuse / floor:5.2f}   run/reuse {run / reuse:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", default=str(Path(__file__).parent.parent / "packs" / "core"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cli-rounds", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        pack = Path(shutil.copytree(args.pack, Path(work) / "pack"))
        for store in args.stores.split(","):
            with throwaway_store(store, args.postgres_url) as settings:
                report(store, "in process", in_process(settings, pack, args.rounds))
                report(store, "cli", through_cli(settings, pack, args.cli_rounds))


if __name__ == "__main__":
    main()
