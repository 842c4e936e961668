"""A pack whose texts carry terminal escape sequences, through the real ``attune``: text output
shows them as visible escapes, never as raw bytes; ``--json`` keeps them exactly."""

from __future__ import annotations

import json

import pytest

from tests.packs import manifest, write_pack

TITLE = "\x1b]0;owned\x07"  # set the window title (OSC: not stripped by click when piped)
CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"  # write the clipboard (OSC 52)
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
LABEL = f"Evil {TITLE}Pack"
DESCRIPTION = f"Copies {CLIPBOARD}, clears {CLEAR}, flips \u202eexe.txt, CSI \x9b31m"
MESSAGE = f"boom {CLIPBOARD}{CLEAR}"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")

EVIL_TESTS = f"""
import unittest

class TestEvil(unittest.TestCase):
    def test_passes(self):
        pass

    def test_fails(self):
        self.fail({MESSAGE!r})
"""


@pytest.fixture
def evil_pack(tmp_path):
    pack = write_pack(tmp_path / "evil", manifest("evil", label=LABEL, description=DESCRIPTION),
                      {"test_evil.py": EVIL_TESTS})
    (pack / "actions").mkdir()
    (pack / "actions" / "run.yaml").write_text(json.dumps(
        {"description": f"Runs {TITLE}{CLEAR}", "entry_point": "run.py"}))
    return pack


def assert_no_raw_controls(*streams: str) -> None:
    for stream in streams:
        assert [c for c in RAW if c in stream] == []


def test_text_output_shows_escapes_and_json_keeps_the_data(attune, evil_pack):
    registered = attune("pack", "register", str(evil_pack), "--force")
    shown = attune("pack", "show", "evil")
    listed = attune("pack", "list")
    tested = attune("pack", "test", "evil", "-v", "-q")
    as_json = attune("pack", "show", "evil", "--json")

    assert registered.returncode == 0, registered.stderr
    assert_no_raw_controls(registered.stdout, registered.stderr, shown.stdout, shown.stderr,
                           listed.stdout, tested.stdout, tested.stderr, as_json.stdout)
    # The failing case's message, in the progress on stderr and in the verbose result.
    assert "AssertionError: boom \\x1b]52;c;ZWNobyBvd25lZA==\\x07\\x1b[2J\\x1b[H" in (
        registered.stderr)
    assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07\\x1b[2J" in tested.stdout
    lines = shown.stdout.splitlines()
    assert "Label: Evil \\x1b]0;owned\\x07Pack" in lines
    assert ("Description: Copies \\x1b]52;c;ZWNobyBvd25lZA==\\x07, clears \\x1b[2J\\x1b[H, "
            "flips \\u202eexe.txt, CSI \\x9b31m") in lines
    assert any(line.strip().endswith("Runs \\x1b]0;owned\\x07\\x1b[2J\\x1b[H") for line in lines)
    assert "Evil \\x1b]0;owned\\x07Pack" in listed.stdout
    # JSON: the data as stored, escape characters included.
    pack = json.loads(as_json.stdout)["data"]["pack"]
    assert (pack["label"], pack["description"]) == (LABEL, DESCRIPTION)


def test_register_json_keeps_the_test_message(attune, evil_pack):
    done = attune("pack", "register", str(evil_pack), "--force", "--json", "-q")

    assert done.returncode == 0, done.stderr
    assert_no_raw_controls(done.stdout)
    body = json.loads(done.stdout)["data"]
    cases = body["test_result"]["test_suites"][0]["test_cases"]
    assert body["pack"]["label"] == LABEL
    assert any(MESSAGE in (case["error_message"] or "") for case in cases)
