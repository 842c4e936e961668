"""unittest tests of upstream_example.add (the "python" runner in pack.yaml)."""

import os
import subprocess
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "actions" / "add.sh"


def add(**params):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update({f"ATTUNE_ACTION_{name.upper()}": value for name, value in params.items()})
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, encoding="utf-8",
                          timeout=10)


class AddTest(unittest.TestCase):
    def assertSum(self, a, b, expected):
        result = add(a=a, b=b)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, f"{expected}\n", ""))

    def test_adds_two_integers(self):
        self.assertSum("2", "3", 5)

    def test_negative_numbers(self):
        self.assertSum("-7", "10", 3)
        self.assertSum("-7", "-8", -15)

    def test_leading_zeros_are_decimal_not_octal(self):
        self.assertSum("0012", "08", 20)

    def test_largest_accepted_values(self):
        self.assertSum("999999999999999", "999999999999999", 1999999999999998)

    def test_invalid_input_exits_2_naming_the_parameter(self):
        cases = [({"a": "x", "b": "1"}, "add: parameter 'a' must be an integer, got 'x'\n"),
                 ({"a": "1"}, "add: parameter 'b' must be an integer, got ''\n"),
                 ({"a": "1", "b": "1.5"}, "add: parameter 'b' must be an integer, got '1.5'\n"),
                 ({"a": "1" * 16, "b": "1"},
                  f"add: parameter 'a' must have at most 15 digits, got '{'1' * 16}'\n")]
        for params, stderr in cases:
            with self.subTest(params=params):
                result = add(**params)
                self.assertEqual((result.returncode, result.stdout, result.stderr), (2, "", stderr))


if __name__ == "__main__":
    unittest.main()
