"""Run a pack's test suites on a simulated slow machine: a cgroup with a CPU quota.

Burning CPU next to the tests does not reproduce a busy CI machine (the scheduler still gives
the tests their share); a quota does: every process of the run, the registry and each
sandboxed test, together get QUOTA of one core. Timing assumptions in a pack's tests then
show up as failures within a few runs.

    .venv/bin/python tests/reliability/slow_machine.py [--runs 10] [--quota 0.25] [PACK]

Each run is ``attune pack test PACK`` (``--register``: ``attune pack register PACK --force``)
with a fresh ``ATTUNE_HOME``, started inside the cgroup. Needs root (or a delegated cgroup)
and either cgroup v2 with the ``cpu`` controller or cgroup v1's ``cpu`` hierarchy.

Exit status: 0 every run passed, 1 a run failed, 2 the cgroup could not be set up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PERIOD_US = 100_000


class CgroupError(Exception):
    """Raised when no cgroup with a CPU quota can be created on this machine."""


@dataclass(frozen=True)
class Cgroup:
    """A cgroup directory whose processes share a CPU quota."""

    path: Path
    version: int

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(f"{pid}\n")

    def throttled(self) -> str:
        """How often the quota stopped the group, from cpu.stat."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        periods = stat.get("nr_periods", "?")
        throttled = stat.get("nr_throttled", "?")
        return f"throttled in {throttled} of {periods} periods of {PERIOD_US // 1000} ms"

    def remove(self) -> None:
        for _ in range(50):  # processes just killed may take a moment to leave
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
        print(f"warning: could not remove {self.path}", file=sys.stderr)


def quota_line(quota: float) -> tuple[int, int]:
    """(quota_us, period_us) for a share of one core, e.g. 0.25 -> (25000, 100000)."""
    return max(1000, round(quota * PERIOD_US)), PERIOD_US


def cpu_mounts(mounts: str) -> tuple[Path | None, Path | None]:
    """(cgroup v2 mount, cgroup v1 mount of the cpu controller) from /proc/mounts text."""
    v2 = v1 = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = Path(fields[1]), fields[2], fields[3].split(",")
        if kind == "cgroup2" and v2 is None:
            v2 = where
        elif kind == "cgroup" and "cpu" in options and v1 is None:
            v1 = where
    return v2, v1


def create_cgroup(quota: float) -> Cgroup:
    """A new cgroup limited to QUOTA of one core.

    Raises:
        CgroupError: when neither cgroup version offers the cpu controller, or it cannot
            be written (not root, read-only /sys/fs/cgroup, a container without delegation).
    """
    quota_us, period_us = quota_line(quota)
    name = f"attune-slow-machine-{os.getpid()}"
    v2, v1 = cpu_mounts(Path("/proc/mounts").read_text())
    problems = []
    if v2 is not None:
        controllers = (v2 / "cgroup.controllers").read_text().split()
        if "cpu" in controllers:
            try:
                return _create(v2 / name, 2, {"cpu.max": f"{quota_us} {period_us}"},
                               enable=v2 / "cgroup.subtree_control")
            except OSError as exc:
                problems.append(f"cgroup v2 at {v2}: {exc}")
        else:
            problems.append(f"cgroup v2 at {v2} does not offer the cpu controller (it has: "
                            f"{' '.join(controllers) or 'none'})")
    if v1 is not None:
        try:
            return _create(v1 / name, 1, {"cpu.cfs_period_us": str(period_us),
                                          "cpu.cfs_quota_us": str(quota_us)})
        except OSError as exc:
            problems.append(f"cgroup v1 at {v1}: {exc}")
    if v2 is None and v1 is None:
        problems.append("no cgroup file system is mounted (see `mount | grep cgroup`)")
    raise CgroupError("; ".join(problems))


def _create(path: Path, version: int, limits: dict[str, str], enable: Path | None = None) -> Cgroup:
    if enable is not None and "cpu" not in enable.read_text().split():
        enable.write_text("+cpu")
    path.mkdir()
    try:
        for name, value in limits.items():
            (path / name).write_text(value)
    except OSError:
        path.rmdir()
        raise
    return Cgroup(path, version)


def command(attune: str, pack: Path, register: bool) -> list[str]:
    if register:
        return [attune, "pack", "register", str(pack), "--force", "--json", "-q"]
    return [attune, "pack", "test", str(pack), "--json", "-q"]


def run_once(cgroup: Cgroup, argv: list[str]) -> tuple[bool, float, list[str]]:
    """(passed, seconds, report lines) of one run inside the cgroup, with a fresh ATTUNE_HOME."""
    home = tempfile.mkdtemp(prefix="attune-slow-machine-")
    env = {**os.environ, "ATTUNE_HOME": home}
    env.pop("ATTUNE_DATABASE_URL", None)
    env.pop("ATTUNE_API_URL", None)
    started = time.monotonic()
    try:
        # The child joins the cgroup before exec; the registry and every sandboxed test it
        # starts are its descendants, so they all share the quota.
        result = subprocess.run(argv, env=env, capture_output=True, encoding="utf-8",
                                errors="replace", preexec_fn=lambda: cgroup.add(os.getpid()))
    finally:
        seconds = time.monotonic() - started
        shutil.rmtree(home, ignore_errors=True)
    return result.returncode == 0, seconds, report(result)


def report(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Each suite's time against its timeout, then every failed suite and test case."""
    try:
        body = json.loads(result.stdout)
    except ValueError:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return [f"exit {result.returncode}, no JSON result", *tail] if result.returncode else []
    suites = _suites(body)
    lines = ["; ".join(f"{suite['name']} {suite.get('duration_ms', 0) / 1000:.1f} s"
                       for suite in suites)] if suites else []
    for suite in suites:
        if suite.get("status") != "passed":
            timed_out = ", timed out" if suite.get("timed_out") else ""
            lines.append(f"suite {suite['name']!r}: {suite.get('status')}{timed_out}: "
                         f"{suite.get('message') or ''}")
            for case in suite.get("test_cases", []):
                if case.get("status") in ("failed", "error"):
                    # The last lines of a traceback say what was asserted.
                    message = (case.get("error_message") or "").strip().splitlines()[-2:]
                    lines += [f"  {case['name']}:", *(f"      {line}" for line in message)]
    if result.returncode and len(lines) <= 1:
        lines.append(f"exit {result.returncode}: {result.stderr.strip()[-300:] or body}")
    return lines


def _suites(body: object) -> list[dict[str, Any]]:
    """The suite results anywhere in the JSON body (`pack test` and `pack register` nest them
    differently)."""
    if isinstance(body, dict):
        suites = body.get("test_suites")
        if isinstance(suites, list):
            return [suite for suite in suites if isinstance(suite, dict)]
        return next((found for value in body.values() if (found := _suites(value))), [])
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pack", nargs="?", default=str(REPO / "packs" / "core"),
                        help="pack directory (default: packs/core)")
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--quota", type=float, default=0.25,
                        help="share of one core for the whole run (default 0.25)")
    parser.add_argument("--register", action="store_true",
                        help="run `attune pack register PACK --force` instead of `pack test`")
    parser.add_argument("--attune", default=str(Path(sys.executable).with_name("attune")),
                        help="the attune command to run (default: the one next to this Python)")
    args = parser.parse_args(argv)
    if args.runs < 1 or not 0 < args.quota <= 64:
        parser.error("--runs must be at least 1 and --quota between 0 and 64")
    try:
        cgroup = create_cgroup(args.quota)
    except (CgroupError, OSError) as exc:
        print(f"slow_machine: cannot create a cgroup with a CPU quota here: {exc}\n"
              "It needs root (or a delegated cgroup) and a writable cgroup file system with "
              "the cpu controller.", file=sys.stderr)
        return 2
    percent = f"{args.quota * 100:g}%"
    print(f"{cgroup.path} (cgroup v{cgroup.version}): {percent} of one core", flush=True)
    passed = 0
    try:
        for number in range(1, args.runs + 1):
            argv = command(args.attune, Path(args.pack).resolve(), args.register)
            ok, seconds, lines = run_once(cgroup, argv)
            passed += ok
            print(f"run {number}/{args.runs}: {'passed' if ok else 'FAILED'} in {seconds:.1f} s",
                  flush=True)
            for line in lines:
                print(f"    {line}", flush=True)
        print(f"quota {cgroup.throttled()}")
    finally:
        cgroup.remove()
    print(f"{passed}/{args.runs} passed under a {percent} CPU quota")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
