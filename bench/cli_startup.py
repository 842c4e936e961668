"""Start-up cost of the CLI's read commands against a bare interpreter, measured in the same run.

Registers the reference pack once (tests skipped, plus one manual test run so the history has a
row), then alternates, round after round:
  baseline:  python -c pass
  reads:     attune pack list / attune pack test-history core / attune pack show core
and prints each command's median wall time and its ratio to the baseline (target: <= 4x).
The commands run against the embedded SQLite store in a private data directory, or with
``--postgres`` against a fresh PostgreSQL database the script creates and drops, and then
``python -c "import psycopg"`` runs in each round too: the floor of any read on PostgreSQL.

Usage: python bench/cli_startup.py [--rounds N]
       [--postgres [postgresql://postgres@127.0.0.1:5432/postgres]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from support.stores import POSTGRES_URL, throwaway_store

REPO = Path(__file__).resolve().parent.parent
ATTUNE = str(Path(sys.executable).parent / "attune")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "attune pack list": [ATTUNE, "pack", "list"],
    "attune pack test-history core": [ATTUNE, "pack", "test-history", "core"],
    "attune pack show core": [ATTUNE, "pack", "show", "core"],
}


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", nargs="?", const=POSTGRES_URL, metavar="ADMIN_URL",
                        help="measure on a fresh PostgreSQL database made through ADMIN_URL "
                             f"(default {POSTGRES_URL}) instead of SQLite")
    args = parser.parse_args()
    store = "postgres" if args.postgres else "sqlite"
    commands = dict(COMMANDS)
    if args.postgres:  # what the driver's import alone costs
        commands["python -c 'import psycopg'"] = [sys.executable, "-c", "import psycopg"]
    with throwaway_store(store, args.postgres or POSTGRES_URL) as settings:
        env = {**os.environ, "ATTUNE_HOME": str(settings.home),
               "ATTUNE_DATABASE_URL": settings.database_url}
        core = str(REPO / "packs" / "core")
        subprocess.run([ATTUNE, "pack", "register", core, "--skip-tests"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([ATTUNE, "pack", "test", "core"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                times[name].append(timed(argv, env))
    baseline = statistics.median(times["python -c pass"])
    print(f"{'command':32} {'median':>9} {'ratio':>7}   "
          f"({store}, {args.rounds} rounds, interleaved)")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:32} {median * 1000:7.1f}ms {median / baseline:6.2f}x")


if __name__ == "__main__":
    main()
