"""Facts about the docs that no example run checks: the curl examples and the synopsis."""

from __future__ import annotations

import re
from pathlib import Path

import click

from attune_registry.adapters.cli import main

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SENDS_DATA = re.compile(r"\s(-d|--data(-raw|-binary)?)(\s|=)")


def curl_commands(text: str) -> list[str]:
    """Each ``curl`` command of a document, its continuation lines joined."""
    commands, current = [], None
    for line in text.splitlines():
        body = line.strip().removeprefix("$ ")
        if current is not None:
            current += " " + body
        elif body.startswith("curl "):
            current = body
        if current is not None and not current.endswith("\\"):
            commands.append(current)
            current = None
    return commands


def test_every_curl_that_posts_json_says_so():
    found = {path.name: curl_commands(path.read_text()) for path in DOCS if path.exists()}
    posting = [(name, c) for name, commands in found.items() for c in commands
               if SENDS_DATA.search(f" {c}")]

    assert len(posting) >= 3  # quickstart and api.md post JSON
    assert [(name, c) for name, c in posting
            if "Content-Type: application/json" not in c] == []


def test_the_synopsis_lists_every_pack_command_and_install_digest():
    synopsis = (REPO / "docs" / "cli.md").read_text().split("```", 2)[1]
    ctx = click.Context(main)
    pack = main.get_command(ctx, "pack")
    assert isinstance(pack, click.Group)

    assert pack.list_commands(ctx) == sorted(
        {m.group(1) for m in re.finditer(r"^attune pack ([\w-]+)", synopsis, re.M)})
    install = next(line for line in synopsis.splitlines()
                   if line.startswith("attune pack install "))
    history = next(line for line in synopsis.splitlines()
                   if line.startswith("attune pack test-history "))
    assert "[--digest sha256:HEX]" in install
    assert all(option in history for option in ("--status", "--trigger", "-v|--verbose"))
