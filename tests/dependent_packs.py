"""Two packs for the tests of upgrades against their dependents: `core`, whose `lib/corelib.py`
has a function, and `web`, which depends on `core ^1` and whose test imports that function
through `$PACKS_PATH`."""

from __future__ import annotations

from pathlib import Path

from tests.packs import PASSING_TEST, manifest, write_pack

GREETING = "def greet(name):\n    return 'hello ' + name\n"
BROKEN_GREETING = "def greet(name):\n    return 'bye ' + name\n"

WEB_TEST = """
import os, sys, unittest

sys.path.insert(0, os.path.join(os.environ["PACKS_PATH"], "core", "lib"))
import corelib


class TestWeb(unittest.TestCase):
    def test_greets_through_core(self):
        self.assertEqual(corelib.greet("web"), "hello web")

    def test_reads_cores_manifest(self):
        with open(os.environ["PACKS_PATH"] + "/core/pack.yaml") as handle:
            self.assertIn("ref: core", handle.read())
"""


def core(folder: Path, version: str, greeting: str = GREETING) -> Path:
    """`core` at ``version`` in ``folder/core-<version>``; ``BROKEN_GREETING`` breaks web."""
    pack = write_pack(folder / f"core-{version}", manifest("core", version),
                      {"test_core.py": PASSING_TEST})
    (pack / "lib").mkdir()
    (pack / "lib" / "corelib.py").write_text(greeting)
    return pack


def web(folder: Path) -> Path:
    """`web` 1.0.0, depending on `core ^1`, in ``folder/web``."""
    return write_pack(folder / "web", manifest("web", dependencies={"core": "^1"}),
                      {"test_web.py": WEB_TEST})
