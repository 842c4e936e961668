"""Behaviour of the core.sleep action (actions/sleep.sh), run as a subprocess."""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = PACK_ROOT / "actions" / "sleep.sh"


def run_sleep(seconds=None, path=None):
    """Run sleep.sh in a minimal environment; seconds=None leaves ATTUNE_ACTION_SECONDS unset."""
    env = {"PATH": path if path is not None else os.environ.get("PATH", os.defpath)}
    if seconds is not None:
        env["ATTUNE_ACTION_SECONDS"] = seconds
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, encoding="utf-8", timeout=10
    )


def range_error(value):
    return f"sleep: parameter 'seconds' must be a number between 0 and 3600, got '{value}'\n"


class SleepSuccessTest(unittest.TestCase):
    def assertSilentSuccess(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, "")

    def test_zero_seconds_succeeds_silently(self):
        self.assertSilentSuccess(run_sleep("0"))

    def test_fractional_seconds_succeed_silently(self):
        self.assertSilentSuccess(run_sleep("0.05"))

    def test_zero_with_leading_zeros_and_fraction_is_accepted(self):
        for value in ("000", "0.0", "00.000"):
            with self.subTest(value=value):
                self.assertSilentSuccess(run_sleep(value))


class SleepDelegationTest(unittest.TestCase):
    """Values up to the 3600 s limit are accepted and handed to sleep(1) verbatim.

    A stand-in `sleep` placed first on PATH records its arguments instead of waiting,
    so the upper boundary can be tested without actually sleeping for an hour.
    """

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="core-sleep-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.record = self.tmp / "args"
        fake = self.tmp / "sleep"
        fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" > "{self.record}"\n')
        fake.chmod(0o755)
        self.path = f"{self.tmp}{os.pathsep}{os.environ.get('PATH', os.defpath)}"

    def test_boundary_values_are_passed_to_sleep_unchanged(self):
        for value in ("3600", "3600.0", "03600", "1.5", "59"):
            with self.subTest(value=value):
                result = run_sleep(value, path=self.path)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertEqual(self.record.read_text(), value + "\n")

    def test_invalid_value_never_reaches_sleep(self):
        result = run_sleep("3601", path=self.path)
        self.assertEqual(result.returncode, 2)
        self.assertFalse(self.record.exists())


class SleepValidationTest(unittest.TestCase):
    def assertRejected(self, value):
        result = run_sleep(value)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, range_error(value))

    def test_missing_seconds_exits_2_naming_the_parameter(self):
        result = run_sleep(None)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertIn("parameter 'seconds' is required", result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1)

    def test_empty_seconds_is_rejected(self):
        self.assertRejected("")

    def test_non_numeric_seconds_is_rejected(self):
        self.assertRejected("abc")

    def test_negative_seconds_are_rejected(self):
        for value in ("-1", "-0.5"):
            with self.subTest(value=value):
                self.assertRejected(value)

    def test_seconds_above_limit_are_rejected(self):
        for value in ("3601", "3600.5", "3600.0001", "10000", "99999999999999999999999"):
            with self.subTest(value=value):
                self.assertRejected(value)

    def test_malformed_numbers_are_rejected(self):
        for value in ("1e3", "1.2.3", ".5", "5.", ".", " 1", "1 ", "+1", "0x10", "1s", "inf", "nan"):
            with self.subTest(value=value):
                self.assertRejected(value)


if __name__ == "__main__":
    unittest.main()
