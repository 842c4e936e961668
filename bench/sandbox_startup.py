"""What the sandbox adds to each suite: the start-up cost of one sandboxed process against the
same process run without a sandbox, measured in the same run, interleaved round by round.

Each round runs ``python -c pass`` through the registry's own process runner
(``adapters.runners.process.run_process``: supervisor, result pipes, limits) with
ATTUNE_SANDBOX=off (the baseline), then under bubblewrap and under the built-in namespaces
launcher (each where it works here). It prints the median of each, the median cost the
sandbox adds per suite in milliseconds (target: at most 50 ms) and the ratio to the baseline.

Usage: python bench/sandbox_startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attune_registry.adapters.runners.process import run_process, sandbox_env
from attune_registry.adapters.sandbox import Jail, SandboxUnavailable
from attune_registry.adapters.sandbox.mechanism import choose
from attune_registry.adapters.sandbox.policy import DEFAULT_LIMITS

TARGET_MS = 50.0


def once(jail: Jail | None, pack: str, private: str) -> float:
    started = time.perf_counter()
    outcome = run_process([sys.executable, "-c", "pass"], cwd=pack,
                          env=sandbox_env(pack, private), timeout=60, jail=jail,
                          write=[pack, private])
    elapsed = time.perf_counter() - started
    if outcome.exit_code != 0:
        raise SystemExit(f"the probe failed ({outcome.exit_code}): {outcome.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    limits = {**DEFAULT_LIMITS, "cpu_seconds": 60}
    kinds: dict[str, Jail | None] = {"off (baseline)": None}
    for mode in ("bwrap", "namespaces"):
        try:
            mechanism, executable = choose(mode)
        except SandboxUnavailable as exc:
            print(f"{mode}: skipped ({exc})")
            continue
        kinds[mode] = Jail.create(mechanism, network=False, limits=limits, bwrap=executable)
    times: dict[str, list[float]] = {name: [] for name in kinds}
    with tempfile.TemporaryDirectory() as top:
        # Each kind its own folders, as each suite has its own snapshot (a jail hands them
        # to its uid).
        folders = {}
        for index, name in enumerate(kinds):
            pack, private = Path(top) / f"pack{index}", Path(top) / f"private{index}"
            pack.mkdir()
            private.mkdir()
            folders[name] = (str(pack), str(private))
        for name, jail in kinds.items():  # warm-up: imports, page cache
            once(jail, *folders[name])
        for _ in range(rounds):
            for name, jail in kinds.items():
                times[name].append(once(jail, *folders[name]))
    base = statistics.median(times["off (baseline)"])
    print(f"{'runner':<16} {'median':>10} {'added':>10} {'ratio':>7}")
    worst = 0.0
    for name, samples in times.items():
        median = statistics.median(samples)
        added = (median - base) * 1000
        if name != "off (baseline)":
            worst = max(worst, added)
        print(f"{name:<16} {median * 1000:>8.1f} ms {added:>7.1f} ms {median / base:>6.2f}x")
    verdict = "within" if worst <= TARGET_MS else "OVER"
    print(f"sandbox start-up per suite: {worst:.1f} ms added at most, {verdict} the "
          f"{TARGET_MS:.0f} ms target ({rounds} rounds)")


if __name__ == "__main__":
    main()
