"""``attune pack init``: the files of a new pack, and writing them all or nothing.

A new pack has a pack.yaml, one action (``hello``) and a test suite of the chosen runner
that runs the action, so that it registers as it is and shows what to replace. The texts
are templates with ``__REF__`` standing for the pack's ref (plain replacement: YAML flow
maps and shell ``${...}`` need their braces).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from attune_registry.domain.refs import REF_PATTERN

RUNNERS = ("python_unittest", "pytest", "shell")
DEFAULT_RUNNER = "python_unittest"
REF_RULE = ("a lowercase letter first, then at least one of a-z, 0-9, '_' or '-' "
            f"(pattern {REF_PATTERN.pattern})")


class ScaffoldError(Exception):
    """The pack cannot be written where asked; nothing was written."""


def problem_with_ref(ref: str) -> str | None:
    """Why ``ref`` cannot name a pack, or None when it can."""
    if REF_PATTERN.fullmatch(ref):
        return None
    return f"'{ref}' is not a valid pack ref: it needs {REF_RULE}"


def pack_files(ref: str, runner: str) -> dict[str, str]:
    """Relative path -> text of every file of a new pack ``ref`` tested by ``runner``."""
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}")
    python = runner != "shell"
    files = {
        "pack.yaml": _PACK_YAML.replace("__SUITE__", _SUITES[runner]),
        "README.md": _README.replace("__TESTS__", _README_TESTS[runner]),
        "actions/hello.yaml": _ACTION_YAML.replace(
            "__RUNNER__", "python" if python else "shell").replace(
            "__ENTRY__", "hello.py" if python else "hello.sh"),
        **_RUNNER_FILES[runner],
    }
    return {path: text.replace("__REF__", ref) for path, text in files.items()}


def is_executable(path: str) -> bool:
    """Entry points and shell test scripts are run directly, so they get the execute bit."""
    return path.endswith((".sh", "actions/hello.py"))


def write_pack(target: Path, ref: str, runner: str) -> list[str]:
    """Write the pack into ``target`` (absent or an empty directory) and return its files.

    The files go into a hidden directory beside ``target`` first, which is then renamed into
    place: an error on the way leaves nothing behind.

    Raises:
        ScaffoldError: ``target`` exists and is not an empty directory, or its parent is
            missing or not writable.
    """
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise ScaffoldError(f"{target} already exists and is not an empty directory; "
                            "choose another --path or remove it")
    parent = target.parent
    if not parent.is_dir():
        raise ScaffoldError(f"the parent directory {parent} does not exist")
    files = pack_files(ref, runner)
    staging = parent / f".{target.name}.init-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if is_executable(relative):
                mode = path.stat().st_mode
                path.chmod(mode | (mode & 0o444) >> 2)  # execute wherever it can be read
        os.rename(staging, target)  # replaces an empty directory, refuses anything else
    except OSError as exc:
        import shutil  # only on failure: every CLI call imports this module

        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"cannot write {target}: {exc.strerror or exc}") from None
    return sorted(files)


_PACK_YAML = """\
# The pack's identity and how the registry tests it. Reference: docs/pack-yaml.md.
ref: __REF__
label: "__REF__"
description: "What __REF__ does, in one sentence."
version: "0.1.0"
author: "Your Name"
email: "you@example.com"
tags: []
runtime_deps: []
testing:
  enabled: true
  min_pass_rate: 1.0
  on_failure: block
  test_suites:
__SUITE__"""

_SUITES = {
    "python_unittest": """\
    - name: "unit"
      runner: "python_unittest"
      working_dir: "tests"
      test_files:
        - "test_*.py"
      timeout_seconds: 60
""",
    "pytest": """\
    - name: "pytest"
      runner: "pytest"
      working_dir: "tests"
      test_files:
        - "test_*.py"
      timeout_seconds: 60
""",
    "shell": """\
    - name: "tap"
      runner: "shell"
      working_dir: "tests"
      test_files:
        - "run_tests.sh"
      timeout_seconds: 30
""",
}

_ACTION_YAML = """\
name: hello
ref: __REF__.hello
label: "Hello"
description: >-
  Print "Hello, NAME!". The parameter arrives as the environment variable
  ATTUNE_ACTION_NAME (default "world").
enabled: true
runner_type: __RUNNER__
entry_point: __ENTRY__
parameters:
  type: object
  properties:
    name:
      type: string
      description: "Who to greet."
      default: "world"
  required: []
tags: []
"""

_HELLO_PY = '''\
#!/usr/bin/env python3
"""__REF__.hello - print "Hello, NAME!"."""
# Parameter contract: ATTUNE_ACTION_NAME, default "world" when unset or empty.

import os


def greeting(name):
    return f"Hello, {name or 'world'}!"


if __name__ == "__main__":
    print(greeting(os.environ.get("ATTUNE_ACTION_NAME", "")))
'''

_UNITTEST = '''\
"""Tests of __REF__.hello: the function, and the script run as the registry runs it."""

import importlib.util
import os
import subprocess
import sys
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "actions" / "hello.py"

spec = importlib.util.spec_from_file_location("hello", SCRIPT)
hello = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hello)


def run_action(**params):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update({f"ATTUNE_ACTION_{name.upper()}": value for name, value in params.items()})
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          encoding="utf-8", timeout=30)


class HelloTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(hello.greeting("Ada"), "Hello, Ada!")

    def test_greets_the_world_without_a_name(self):
        self.assertEqual(hello.greeting(""), "Hello, world!")

    def test_the_script_reads_its_parameter_from_the_environment(self):
        done = run_action(name="Grace")
        self.assertEqual((done.returncode, done.stdout), (0, "Hello, Grace!\\n"))


if __name__ == "__main__":
    unittest.main()
'''

_PYTEST = '''\
"""Tests of __REF__.hello: the function, and the script run as the registry runs it."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "actions" / "hello.py"

spec = importlib.util.spec_from_file_location("hello", SCRIPT)
hello = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hello)


@pytest.mark.parametrize(("name", "expected"), [("Ada", "Hello, Ada!"), ("", "Hello, world!")])
def test_greeting(name, expected):
    assert hello.greeting(name) == expected


def test_the_script_reads_its_parameter_from_the_environment():
    env = {"PATH": os.environ.get("PATH", os.defpath), "ATTUNE_ACTION_NAME": "Grace"}
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          encoding="utf-8", timeout=30)
    assert (done.returncode, done.stdout) == (0, "Hello, Grace!\\n")
'''

_PYTEST_INI = """\
[pytest]
# These tests need no third-party plugins; the registry's environment may have slow-loading
# ones installed, so they are blocked here (blocking one that is not installed is harmless).
addopts = -p no:faker -p no:hypothesispytest -p no:schemathesis -p no:anyio
"""

_HELLO_SH = """\
#!/bin/sh
# __REF__.hello - print "Hello, NAME!".
# Parameter contract: ATTUNE_ACTION_NAME, default "world" when unset or empty.
set -eu

printf 'Hello, %s!\\n' "${ATTUNE_ACTION_NAME:-world}"
"""

_RUN_TESTS_SH = """\
#!/bin/sh
# TAP tests of __REF__.hello: a plan, then one `ok`/`not ok` line per case.
# Exit status: 0 when nothing failed.
set -u

hello=$(cd "$(dirname "$0")/.." && pwd)/actions/hello.sh
n=0
failed=0

# check DESCRIPTION EXPECTED ACTUAL
check() {
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        failed=$((failed + 1))
        echo "not ok $n - $1"
        echo "#   expected: '$2'"
        echo "#   got:      '$3'"
    fi
}

echo "1..2"
check "greets by name" "Hello, Ada!" "$(env -i ATTUNE_ACTION_NAME=Ada "$hello")"
check "greets the world by default" "Hello, world!" "$(env -i "$hello")"

[ "$failed" -eq 0 ]
"""

_RUNNER_FILES = {
    "python_unittest": {"actions/hello.py": _HELLO_PY, "tests/test_hello.py": _UNITTEST},
    "pytest": {"actions/hello.py": _HELLO_PY, "tests/test_hello.py": _PYTEST,
               "pytest.ini": _PYTEST_INI},
    "shell": {"actions/hello.sh": _HELLO_SH, "tests/run_tests.sh": _RUN_TESTS_SH},
}

_README_TESTS = {
    "python_unittest": "`tests/test_hello.py` (unittest)",
    "pytest": "`tests/test_hello.py` (pytest; `pytest.ini` blocks slow third-party plugins)",
    "shell": "`tests/run_tests.sh` (a shell script printing TAP)",
}

_README = """\
# __REF__

A new Attune pack, written by `attune pack init`. It registers as it is; then make it yours:

1. `pack.yaml`: set `label`, `description`, `author` and `email`; raise `version` with each
   release (semantic versioning).
2. `actions/`: replace the `hello` action (its YAML and its entry point) with yours.
3. __TESTS__: test what your actions do. Registration runs these tests and is refused when
   one fails.

Then, from this directory:

    attune pack test .        # run the tests without registering anything
    attune pack register .    # run them and register the pack
"""
