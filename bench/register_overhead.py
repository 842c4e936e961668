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

Usage: python bench/register_overhead.py [--suite networkx|networkx-classes|simplejson]
                                         [--rounds N] [--parallel]
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

import yaml

ATTUNE = str(Path(sys.executable).parent / "attune")

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


def timed_serial(argvs: list[list[str]], cwd: Path, env: dict[str, str]) -> float:
    return sum(timed(argv, cwd, env) for argv in argvs)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="networkx-classes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", action="store_true",
                        help="two suites with --jobs 2 against the two run one after the other")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.parallel:
            pack = build_parallel_pack(root)
            direct_argvs = [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             folder] for folder in PARALLEL]
            register_flags = ["--jobs", "2"]
            label = "networkx classes + generators, --jobs 2 vs one after the other"
        else:
            pack = build_pack(root, args.suite)
            direct_argvs = [[sys.executable, *SUITES[args.suite][3]]]
            register_flags = []
            label = args.suite
        direct_copy = root / "direct"
        shutil.copytree(pack, direct_copy)
        # As the registry runs suites: no bytecode written, no third-party pytest plugins
        # (whatever else is installed next to pytest would otherwise load in the direct run).
        direct_env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
                      "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                      "PYTHONPATH": str(direct_copy), "HOME": scratch}
        direct, registered = [], []
        for round_no in range(args.rounds):
            home = root / f"home{round_no}"
            env = {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""}
            direct.append(timed_serial(direct_argvs, direct_copy, direct_env))
            registered.append(timed([ATTUNE, "pack", "register", str(pack), "--force", "-q",
                                     *register_flags], root, env))
        ref = pack.name.removesuffix("-pack").replace("-", "_")
        check = subprocess.run([ATTUNE, "pack", "test-history", ref], env=env,
                               capture_output=True, text=True)
    d, r = statistics.median(direct), statistics.median(registered)
    print(f"suite: {label} ({args.rounds} rounds, alternating)")
    print(f"direct runner   median {d:7.2f} s   all: {' '.join(f'{x:.2f}' for x in direct)}")
    print(f"attune register median {r:7.2f} s   all: {' '.join(f'{x:.2f}' for x in registered)}")
    print(f"ratio register/direct: {r / d:.3f}")
    print(check.stdout.strip().splitlines()[1] if check.stdout else check.stderr)


if __name__ == "__main__":
    main()
