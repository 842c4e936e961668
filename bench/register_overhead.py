"""Overhead of `attune pack register` over running the same suite directly with its runner.

Wraps a real third-party suite as a pack (networkx's tests run by pytest, simplejson's by
unittest), then alternates, in the same run on the same interpreter:
  direct:   python -m pytest / python -m unittest discover   (in a copy of the pack)
  register: attune pack register PACK --force -q             (fresh store each time)
and prints the median wall times and their ratio. Both sides pay interpreter start-up.

With --parallel, the pack holds two independent suites (networkx's classes and generators
tests) and the comparison is against running the two directly one after the other:
  direct:   python -m pytest networkx/classes; python -m pytest networkx/generators
  register: attune pack register PACK --force -q --jobs 2
(the target is a ratio below 1: parallel suites beat the serial direct runs).

With --copies N, every test file of the suite is there N times (test_x.py, test_x_copy2.py,
...) on both sides: suites of thousands of small tests, where the per-case costs show.

CPU: the user and system time of each side's whole process tree (less sensitive than wall
time to other work on a shared machine), medians and their ratio.

Memory: the peak resident memory of each side's whole process tree (the registry, the
sandbox, the supervisor and the test process; the runner alone), summed over its processes
and sampled every 10 ms; medians over the rounds, and their ratio.

Fixed cost: after the rounds, --breakdown-rounds registrations (default 1) run through
bench/support/register_phases.py, the same command in a process that times its phases:
start-up, snapshot and digest, sandbox (its check, plus the start of one sandboxed process
against an unsandboxed one, measured here), environment, events, projection, and what is
left outside the suites. The suites' own time is the runner's.

Each registration has a fresh store (ATTUNE_HOME); they share one environment cache, as the
registrations of a host do. Before the rounds, one warm-up round of each side (not counted)
fills the page cache, that environment cache and the registry's bytecode cache
(PYTHONPYCACHEPREFIX in the scratch folder, as an installed wheel has its bytecode; the
suites themselves never write bytecode, on either side).

Usage: python bench/register_overhead.py [--suite networkx|networkx-classes|simplejson]
                                         [--rounds N] [--parallel] [--copies N]
                                         [--breakdown-rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ATTUNE = str(Path(sys.executable).parent / "attune")
PHASES = str(Path(__file__).resolve().parent / "support" / "register_phases.py")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY = 0.01

SUITES = {
    # name: (package, working_dir, runner, direct command)
    "networkx": ("networkx", "networkx", "pytest",
                 ["-m", "pytest", "-q", "-p", "no:cacheprovider", "networkx"]),
    "networkx-classes": ("networkx", "networkx/classes", "pytest",
                         ["-m", "pytest", "-q", "-p", "no:cacheprovider", "networkx/classes"]),
    "simplejson": ("simplejson", "simplejson/tests", "python_unittest",
                   ["-m", "unittest", "discover", "-s", "simplejson/tests", "-t", ".",
                    "-p", "test_*.py"]),
}


def build_pack(root: Path, suite: str) -> Path:
    package, working_dir, runner, _ = SUITES[suite]
    module = __import__(package)
    pack = root / f"{suite}-pack"
    shutil.copytree(Path(module.__file__).parent, pack / package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    manifest = {"ref": suite.replace("-", "_"), "version": "1.0.0", "label": suite,
                "description": f"{package}'s own test suite",
                "testing": {"enabled": True, "test_suites": [{
                    "name": suite, "runner": runner, "working_dir": working_dir,
                    "test_files": ["test_*.py"], "timeout_seconds": 3600}]}}
    (pack / "pack.yaml").write_text(yaml.safe_dump(manifest))
    return pack


PARALLEL = ("networkx/classes", "networkx/generators")


def build_parallel_pack(root: Path) -> Path:
    """networkx as a pack with two pytest suites that can run at the same time."""
    import networkx

    pack = root / "networkx-parallel-pack"
    shutil.copytree(Path(networkx.__file__).parent, pack / "networkx",
                    ignore=shutil.ignore_patterns("__pycache__"))
    suites = [{"name": folder, "runner": "pytest", "working_dir": folder,
               "test_files": ["test_*.py"], "timeout_seconds": 3600} for folder in PARALLEL]
    manifest = {"ref": "networkx_parallel", "version": "1.0.0", "label": "networkx",
                "description": "two of networkx's test folders as independent suites",
                "testing": {"enabled": True, "test_suites": suites}}
    (pack / "pack.yaml").write_text(yaml.safe_dump(manifest))
    return pack


def multiply(folder: Path, copies: int) -> None:
    """Every test_*.py under ``folder`` ``copies`` times over (test_x_copy2.py, ...)."""
    for path in sorted(folder.rglob("test_*.py")):
        for copy in range(2, copies + 1):
            shutil.copy(path, path.with_name(f"{path.stem}_copy{copy}.py"))


class Run:
    """One timed process: wall time, CPU time and the peak memory of its tree (sampled)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0  # user + system seconds of the whole tree (each process waits its own)
        self.peak_tree = 0  # bytes: the most the tree held at once, all processes summed
        self.peak_process = 0  # bytes: its largest single process


def tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of ``root`` and its descendants: summed, and the largest. Children
    are listed per thread (a process started from a thread is that thread's child)."""
    total = largest = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/statm") as statm:
                rss = int(statm.read().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        total += rss
        largest = max(largest, rss)
    return total, largest


def timed(argv: list[str], cwd: Path, env: dict[str, str], run: Run | None = None) -> Run:
    run = run or Run()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_EVERY):
            total, largest = tree_rss(process.pid)
            run.peak_tree = max(run.peak_tree, total)
            run.peak_process = max(run.peak_process, largest)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    process.wait()
    run.seconds += time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    sampler.join()
    return run


def timed_serial(argvs: list[list[str]], cwd: Path, env: dict[str, str]) -> Run:
    run = Run()
    for argv in argvs:  # one after the other: the peak is the larger of the two
        timed(argv, cwd, env, run)
    return run


def sandbox_start() -> float:
    """Seconds one sandboxed process takes to start beyond an unsandboxed one (medians of 5,
    as bench/sandbox_startup.py measures it, with the mechanism registrations use here)."""
    from sandbox_startup import once

    from attune_registry.adapters.sandbox import Jail, SandboxPolicy
    from attune_registry.adapters.sandbox.mechanism import choose
    from attune_registry.adapters.sandbox.policy import DEFAULT_LIMITS

    mechanism, executable = choose(SandboxPolicy().mode)  # as Sandbox.ready chooses
    if mechanism == "off":
        return 0.0
    jail = Jail.create(mechanism, network=False, limits={**DEFAULT_LIMITS, "cpu_seconds": 60},
                       bwrap=executable)
    with tempfile.TemporaryDirectory() as top:
        times: dict[bool, list[float]] = {False: [], True: []}
        for index, sandboxed in enumerate((False, True) * 6):
            pack, private = Path(top) / f"pack{index}", Path(top) / f"private{index}"
            pack.mkdir()
            private.mkdir()
            times[sandboxed].append(once(jail if sandboxed else None, str(pack), str(private)))
    # The first of each is a warm-up.
    return statistics.median(times[True][1:]) - statistics.median(times[False][1:])


def breakdown(pack: Path, root: Path, env: dict[str, str], flags: list[str],
              rounds: int) -> dict[str, float]:
    """The median seconds of each phase of a registration (see register_phases.py)."""
    samples: dict[str, list[float]] = {}
    for round_no in range(rounds):
        out = root / f"phases{round_no}.json"
        phase_env = {**env, "ATTUNE_HOME": str(root / f"phases-home{round_no}"),
                     "ATTUNE_BENCH_PHASES": str(out),
                     "ATTUNE_BENCH_SPAWNED_AT": repr(time.monotonic())}
        subprocess.run([sys.executable, PHASES, "pack", "register", str(pack), "--force", "-q",
                        *flags], cwd=root, env=phase_env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for name, seconds in json.loads(out.read_text()).items():
            samples.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def print_breakdown(phases: dict[str, float], sandbox_added: float) -> None:
    fixed = ("start_up", "snapshot", "sandbox", "environment", "events", "projection")
    rest = phases["process"] - phases.get("suites", 0.0) - sum(phases.get(n, 0.0) for n in fixed)
    sandbox = phases.get("sandbox", 0.0) + sandbox_added
    total = sum(phases.get(n, 0.0) for n in fixed) + sandbox_added + rest
    print("fixed cost per registration (ms, beyond the suites):")
    print(f"  start-up (interpreter, imports, store)  {phases['start_up'] * 1000:8.1f}")
    print(f"  snapshot and digest (and release)       {phases.get('snapshot', 0) * 1000:8.1f}")
    print(f"  sandbox (check {phases.get('sandbox', 0) * 1000:.1f} + start of one "
          f"process {sandbox_added * 1000:.1f})  {sandbox * 1000:8.1f}")
    print(f"  environment (cache lookup)              {phases.get('environment', 0) * 1000:8.1f}")
    print(f"  events (commands, aggregates, writes)   {phases.get('events', 0) * 1000:8.1f}")
    print(f"  projection (catch-up)                   {phases.get('projection', 0) * 1000:8.1f}")
    print(f"  rest (output, exit, between phases)     {rest * 1000:8.1f}")
    print(f"  total                                   {total * 1000:8.1f}"
          f"   (suites, runners included: {phases.get('suites', 0) * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="networkx-classes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", action="store_true",
                        help="two suites with --jobs 2 against the two run one after the other")
    parser.add_argument("--copies", type=int, default=1,
                        help="each test file this many times, on both sides (default 1)")
    parser.add_argument("--breakdown-rounds", type=int, default=1,
                        help="registrations timed phase by phase after the rounds (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.parallel:
            pack = build_parallel_pack(root)
            folders = [pack / folder for folder in PARALLEL]
            direct_argvs = [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             folder] for folder in PARALLEL]
            register_flags = ["--jobs", "2"]
            label = "networkx classes + generators, --jobs 2 vs one after the other"
        else:
            pack = build_pack(root, args.suite)
            folders = [pack / SUITES[args.suite][1]]
            direct_argvs = [[sys.executable, *SUITES[args.suite][3]]]
            register_flags = []
            label = args.suite
        if args.copies > 1:
            for folder in folders:
                multiply(folder, args.copies)
            label += f", test files x{args.copies}"
        direct_copy = root / "direct"
        shutil.copytree(pack, direct_copy)
        # As the registry runs suites: no bytecode written, no third-party pytest plugins
        # (whatever else is installed next to pytest would otherwise load in the direct run).
        direct_env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
                      "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                      "PYTHONPATH": str(direct_copy), "HOME": scratch}
        # The registry's own modules from bytecode, as installed (a shell that sets
        # PYTHONDONTWRITEBYTECODE would have every registration compile them again).
        base_env = {name: value for name, value in os.environ.items()
                    if name != "PYTHONDONTWRITEBYTECODE"}
        base_env |= {"ATTUNE_DATABASE_URL": "", "PYTHONPYCACHEPREFIX": str(root / "pycache"),
                     # A fresh store each round, but one environment cache, as on a host:
                     # the pack's (empty) environment is made once, by the warm-up.
                     "ATTUNE_ENVIRONMENTS": str(root / "environments")}

        def register(home: Path) -> Run:
            return timed([ATTUNE, "pack", "register", str(pack), "--force", "-q",
                          *register_flags], root, {**base_env, "ATTUNE_HOME": str(home)})

        timed_serial(direct_argvs, direct_copy, direct_env)  # warm-up, not counted
        register(root / "home-warm-up")
        direct, registered = [], []
        for round_no in range(args.rounds):
            home = root / f"home{round_no}"
            direct.append(timed_serial(direct_argvs, direct_copy, direct_env))
            registered.append(register(home))
        ref = pack.name.removesuffix("-pack").replace("-", "_")
        check = subprocess.run([ATTUNE, "pack", "test-history", ref],
                               env={**base_env, "ATTUNE_HOME": str(home)},
                               capture_output=True, text=True)
        phases = (breakdown(pack, root, base_env, register_flags, args.breakdown_rounds)
                  if args.breakdown_rounds > 0 else None)
        sandbox_added = sandbox_start() if phases else 0.0
    d = statistics.median(run.seconds for run in direct)
    r = statistics.median(run.seconds for run in registered)
    print(f"suite: {label} ({args.rounds} rounds, alternating, after a warm-up round)")
    print(f"direct runner   median {d:7.2f} s   all: "
          f"{' '.join(f'{run.seconds:.2f}' for run in direct)}")
    print(f"attune register median {r:7.2f} s   all: "
          f"{' '.join(f'{run.seconds:.2f}' for run in registered)}")
    print(f"ratio register/direct: {r / d:.3f}")
    dc = statistics.median(run.cpu for run in direct)
    rc = statistics.median(run.cpu for run in registered)
    print(f"CPU (user + system, whole tree) median: direct {dc:.2f} s, register {rc:.2f} s, "
          f"ratio {rc / dc:.3f}")
    mib = 1024 * 1024
    for what, attribute in (("process tree", "peak_tree"), ("largest process", "peak_process")):
        dm = statistics.median(getattr(run, attribute) for run in direct) / mib
        rm = statistics.median(getattr(run, attribute) for run in registered) / mib
        print(f"peak memory, {what}: direct {dm:.1f} MiB, register {rm:.1f} MiB, "
              f"ratio {rm / dm:.3f}")
    print(check.stdout.strip().splitlines()[1] if check.stdout else check.stderr)
    if phases:
        print_breakdown(phases, sandbox_added)


if __name__ == "__main__":
    main()
