"""Behaviour of the core.echo action (actions/echo.sh), run as a subprocess."""

import os
import subprocess
import unittest
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = PACK_ROOT / "actions" / "echo.sh"


def run_echo(**params):
    """Run echo.sh with params as ATTUNE_ACTION_<NAME> variables in a minimal environment.

    Values are encoded as UTF-8 bytes explicitly so the result does not depend on the
    caller's locale. Returns the CompletedProcess with stdout/stderr decoded as UTF-8.
    """
    env = {b"PATH": os.environ.get("PATH", os.defpath).encode()}
    for name, value in params.items():
        env[f"ATTUNE_ACTION_{name.upper()}".encode()] = value.encode("utf-8")
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, encoding="utf-8", timeout=10
    )


class EchoMessageTest(unittest.TestCase):
    def assertPrinted(self, result, expected_stdout):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, expected_stdout)
        self.assertEqual(result.stderr, "")

    def test_prints_message_followed_by_newline(self):
        self.assertPrinted(run_echo(message="hello world"), "hello world\n")

    def test_unset_message_prints_empty_line(self):
        self.assertPrinted(run_echo(), "\n")

    def test_explicitly_empty_message_prints_empty_line(self):
        self.assertPrinted(run_echo(message=""), "\n")

    def test_unicode_is_preserved(self):
        message = "héllo wörld – 日本語 🚀"
        self.assertPrinted(run_echo(message=message), message + "\n")

    def test_spaces_and_shell_special_characters_are_preserved(self):
        message = "  two  spaces\ttab $HOME `id` $(id) * ? [a] ; | & > < 'q' \"dq\" %s %d \\n \\\\ "
        self.assertPrinted(run_echo(message=message), message + "\n")

    def test_message_that_looks_like_an_option_is_printed_literally(self):
        for message in ("-n", "-e", "--help", "-"):
            with self.subTest(message=message):
                self.assertPrinted(run_echo(message=message), message + "\n")

    def test_multiline_message_keeps_inner_and_trailing_newlines(self):
        message = "line one\n\nline three\n"
        self.assertPrinted(run_echo(message=message), message + "\n")


class EchoUppercaseTest(unittest.TestCase):
    def test_uppercase_true_upper_cases_letters(self):
        result = run_echo(message="Hello, World 42!", uppercase="true")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "HELLO, WORLD 42!\n")
        self.assertEqual(result.stderr, "")

    def test_uppercase_false_leaves_message_unchanged(self):
        result = run_echo(message="Hello, World", uppercase="false")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "Hello, World\n")

    def test_uppercase_defaults_to_false(self):
        result = run_echo(message="MiXeD case")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "MiXeD case\n")

    def test_uppercase_changes_only_ascii_letters(self):
        # Documented behaviour: a-z are upper-cased, other characters pass through intact.
        result = run_echo(message="grüße, 日本 ok", uppercase="true")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "GRüßE, 日本 OK\n")

    def test_uppercase_keeps_trailing_newlines(self):
        result = run_echo(message="abc\n\n", uppercase="true")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "ABC\n\n\n")

    def test_uppercase_with_empty_message_prints_empty_line(self):
        result = run_echo(message="", uppercase="true")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "\n")

    def test_invalid_uppercase_value_exits_2_naming_the_parameter(self):
        for value in ("yes", "1", "TRUE", "True", " true", "maybe"):
            with self.subTest(value=value):
                result = run_echo(message="hi", uppercase=value)
                self.assertEqual(result.returncode, 2)
                self.assertEqual(result.stdout, "")
                self.assertEqual(
                    result.stderr,
                    f"echo: parameter 'uppercase' must be 'true' or 'false', got '{value}'\n",
                )


if __name__ == "__main__":
    unittest.main()
