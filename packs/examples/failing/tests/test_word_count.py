"""Tests of failing_example.word_count: 8 pass, and 2 fail on purpose.

The two tests named test_deliberately_fails_* assert something the action does not do.
They are there so that this pack shows what a rejected registration looks like:
`attune pack register` refuses the pack, and `--force` registers it with 8/10 passed.
"""

import importlib.util
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = PACK_ROOT / "actions" / "word_count.py"

spec = importlib.util.spec_from_file_location("word_count", SCRIPT)
word_count = importlib.util.module_from_spec(spec)
spec.loader.exec_module(word_count)


def run_action(**params):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update({f"ATTUNE_ACTION_{name.upper()}": value for name, value in params.items()})
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          encoding="utf-8", timeout=10)


class CountTest(unittest.TestCase):
    def test_empty_text_counts_nothing(self):
        self.assertEqual(word_count.count(""), {"words": 0, "lines": 0, "characters": 0})

    def test_runs_of_whitespace_separate_words(self):
        self.assertEqual(word_count.count("  one \t two\n\nthree  ")["words"], 3)

    def test_lines_include_a_last_line_without_newline(self):
        self.assertEqual(word_count.count("a\nb\nc")["lines"], 3)
        self.assertEqual(word_count.count("a\nb\n")["lines"], 2)

    def test_characters_are_code_points(self):
        self.assertEqual(word_count.count("héllo ✓")["characters"], 7)

    def test_punctuation_stays_with_its_word(self):
        self.assertEqual(word_count.count("Hello, world! (really)")["words"], 3)

    def test_deliberately_fails_wrong_word_count(self):
        """Deliberate failure: 'two words' has 2 words, not 3."""
        self.assertEqual(word_count.count("two words")["words"], 3)

    def test_deliberately_fails_hyphenated_words_are_not_split(self):
        """Deliberate failure: the action counts 'well-known' as one word, not two."""
        self.assertEqual(word_count.count("a well-known fact")["words"], 4)


class CommandLineTest(unittest.TestCase):
    def test_prints_one_json_object(self):
        result = run_action(text="to be or not to be\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"words": 6, "lines": 1, "characters": 19})

    def test_unset_text_counts_nothing(self):
        result = run_action()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), {"words": 0, "lines": 0, "characters": 0})

    def test_nothing_on_stderr(self):
        self.assertEqual(run_action(text="x").stderr, "")


if __name__ == "__main__":
    unittest.main()
