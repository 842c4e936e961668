"""Building packs on disk for tests: memorable manifests and real unittest files."""

from __future__ import annotations

import hashlib
import os
import stat
import textwrap
from pathlib import Path

import yaml

PASSING_TEST = """
import unittest

class TestMath(unittest.TestCase):
    def test_adds(self):
        self.assertEqual(1 + 1, 2)

    def test_multiplies(self):
        self.assertEqual(2 * 3, 6)
"""


def failing_tests(passed: int, failed: int) -> str:
    """A test module with ``passed`` passing and ``failed`` failing cases."""
    lines = ["import unittest", "", "class TestMixed(unittest.TestCase):"]
    for n in range(passed):
        lines += [f"    def test_pass_{n}(self):", "        self.assertTrue(True)", ""]
    for n in range(failed):
        lines += [f"    def test_fail_{n}(self):",
                  f"        self.assertEqual({n}, {n + 1}, 'deliberate failure {n}')", ""]
    return "\n".join(lines)


def manifest(ref: str, version: str = "1.0.0", *, testing: object = "default",
             **extra: object) -> dict:
    data: dict = {"ref": ref, "version": version, "label": f"{ref.title()} Pack",
                  "description": f"The {ref} test pack"}
    if testing == "default":
        data["testing"] = {"enabled": True, "test_suites": [{
            "name": "Unit Tests", "runner": "python_unittest", "working_dir": "tests",
            "test_files": ["test_*.py"], "timeout_seconds": 60}]}
    elif testing is not None:
        data["testing"] = testing
    data.update(extra)
    return data


def write_pack(directory: Path, data: dict | str, tests: dict[str, str] | None = None) -> Path:
    """Write ``pack.yaml`` (a dict is dumped as YAML, a str written as is) and test files."""
    directory.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    (directory / "pack.yaml").write_text(text)
    for name, source in (tests if tests is not None else {"test_math.py": PASSING_TEST}).items():
        path = directory / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return directory


def tree_digest(root: Path) -> str:
    """Names, kinds, modes and contents of everything under ``root``: equal digests, equal trees."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{stat.filemode(info.st_mode)}\0".encode())
        if stat.S_ISREG(info.st_mode):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        elif stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode())
    return digest.hexdigest()
