#!/usr/bin/env python3
"""failing_example.word_count - count words, lines and characters, like wc."""
# Parameter contract: ATTUNE_ACTION_TEXT holds the text (unset counts an empty text).
# Output: one JSON object on stdout, {"words": N, "lines": N, "characters": N}.

import json
import os
import sys


def count(text):
    """Words are runs of non-whitespace; lines are newline-terminated or final lines."""
    return {
        "words": len(text.split()),
        "lines": len(text.splitlines()),
        "characters": len(text),
    }


if __name__ == "__main__":
    print(json.dumps(count(os.environ.get("ATTUNE_ACTION_TEXT", ""))))
    sys.exit(0)
