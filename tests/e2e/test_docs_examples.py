"""The CLI examples in the docs run, and print what the docs say they print (issue 6).

A fenced block whose info string is ``console`` is a checked example. Its ``$ `` lines are
commands; the lines up to the next ``$ `` line are that command's expected output, stdout and
stderr merged as a terminal shows them. The commands of one document run in order, each with
``bash -c``, from the repository root, in one fresh data directory (``ATTUNE_HOME``, SQLite),
so later examples see what earlier ones did. Before comparing, both sides are normalised:
times, durations, UUIDs, SHA-256 digests, tokens and temporary directories become
placeholders, the repository root reads ``/opt/attune``, and runs of spaces inside a line
count as one. A line holding only ``…`` stands for any number of lines. docs/cli.md
("Checked examples in the docs") describes the convention for doc writers.

The HTTP examples are console blocks too (issue 18): the first command of a document that
runs ``curl`` or uses ``$TOKEN`` starts a real ``attune serve`` on a free port, over the
document's data directory. Such commands get a write token in ``$TOKEN``, and the server's
address in place of the docs' ``http://127.0.0.1:8080``.
"""

from __future__ import annotations

import difflib
import os
import pwd
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.doc_server import DocServer, doc_server

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# How the docs spell the repository root in paths the CLI prints (e.g. `Source:`).
DOC_REPO = "/opt/attune"
# The server the HTTP examples talk to, as the docs spell it; the test's own server answers.
DOC_URL = "http://127.0.0.1:8080"
# A command that talks to that server. Others may name the address: `attune --api-url
# http://127.0.0.1:8080 token list` shows a refusal that needs no server.
USES_SERVER = re.compile(r"(?<![\w-])curl\s|\$\{?TOKEN\b")
ANY = "…"  # an expected line holding only this matches any number of lines
COMMAND_TIMEOUT = 300

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
# Order matters: tokens contain hex that would otherwise look like a UUID or a digest.
PLACEHOLDERS = [
    (re.compile(r"\battn_[0-9a-f]{32}_[A-Za-z0-9_-]+"), "<TOKEN>"),
    (UUID, "<UUID>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<SHA256>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
     "<TIME>"),
    # `0.22 s`, `1 min 3 s`; not whole seconds such as `timeout 60 s`, which are settings.
    (re.compile(r"\b\d+ min \d+ s\b|\b\d+\.\d+ s\b"), "<DURATION>"),
    # The same in the API's JSON: `"duration_ms": 139`.
    (re.compile(r'(?<="duration_ms": )\d+'), "<DURATION>"),
    # mktemp -d (`/tmp/tmp.v53cgBlNVs`) and Python's tempfile (`/tmp/tmpk1x2_9ab`).
    (re.compile(r"/(?:var/)?tmp/tmp[.\w-]*"), "<TMP>"),
    # The sandbox mechanism: bubblewrap where it is installed, else the built-in one.
    (re.compile(r"\b(?:bwrap|namespaces)\b"), "<SANDBOX>"),
    # Run as root without bubblewrap, the built-in sandbox keeps uid 0 (without capabilities)
    # and says so by leaving "identity" out: the docs hold either way.
    (re.compile(r"(?<=ipc), identity(?=[;,])"), ""),
    # Nor does it limit the processes then: the kernel does not count uid 0 against the limit.
    *([(re.compile(r"(?<=MiB of memory), \d+ processes(?=,)"), "")] if os.geteuid() == 0 else []),
]
# The docs' actor is `cli:root`: the account of the process, which is root in CI.
ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name
if ACCOUNT != "root":
    PLACEHOLDERS.append((re.compile(rf"\bcli:{re.escape(ACCOUNT)}\b"), "cli:root"))
SPACES = re.compile(r"(?<=\S) {2,}")


@dataclass
class Example:
    line: int  # 1-based line of the `$ ` line in the document
    command: str
    expected: list[str] = field(default_factory=list)


def parse_examples(path: Path) -> list[Example]:
    """The commands of the ``console`` blocks of ``path``, in order."""
    examples: list[Example] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    name = path.relative_to(REPO)
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        checked = opening["info"] == "console"
        block_start = index
        current: Example | None = None
        while True:
            if index == len(lines):
                raise AssertionError(f"{name}:{block_start}: code block is never closed")
            line = lines[index]
            index += 1
            closing = FENCE.match(line)
            if closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence) \
                    and not closing["info"]:
                break
            if not checked:
                continue
            text = line[indent:] if not line[:indent].strip() else line.lstrip()
            if text.startswith("$ "):
                current = Example(index, text[2:])
                examples.append(current)
                while current.command.endswith("\\") and index < len(lines):
                    current.command = current.command[:-1] + lines[index][indent:].removeprefix("> ")
                    index += 1
            elif current is None:
                if text.strip():
                    raise AssertionError(
                        f"{name}:{index}: a console block must start with a `$ ` command line")
            else:
                current.expected.append(text)
    return examples


def normalise(line: str) -> str:
    for pattern, placeholder in PLACEHOLDERS:
        line = pattern.sub(placeholder, line)
    return SPACES.sub(" ", line.rstrip())


def trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    return lines


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line equality, where an ``…`` line in ``expected`` matches any run of lines."""
    i = j = 0
    star, mark = -1, 0
    while j < len(actual):
        if i < len(expected) and expected[i] == ANY:
            star, mark = i, j
            i += 1
        elif i < len(expected) and expected[i] == actual[j]:
            i += 1
            j += 1
        elif star >= 0:
            i, mark = star + 1, mark + 1
            j = mark
        else:
            return False
    while i < len(expected) and expected[i] == ANY:
        i += 1
    return i == len(expected)


def environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATTUNE_")}
    env.update(
        ATTUNE_HOME=str(home), ATTUNE_DATABASE_URL="",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}",
        # The actor is the account the test runs as, whatever these say (see PLACEHOLDERS).
        LOGNAME="root", USER="root",
        # Output lines reach the pipe in the order they were written, as on a terminal.
        PYTHONUNBUFFERED="1", LC_ALL="C.UTF-8",
    )
    return env


@dataclass
class Outcome:
    example: Example
    command: str  # as run: UUIDs of earlier outputs mapped to this run's
    output: str  # as printed, with the data directory and the repository root replaced
    expected: list[str]  # normalised
    actual: list[str]  # normalised
    ok: bool


def run_document(path: Path, home: Path) -> Iterator[Outcome]:
    """Runs the examples of ``path`` in order in the fresh data directory ``home``. The first
    command that uses the server starts it, for the rest of the document; its log is
    ``server.log`` beside ``home``."""
    home.mkdir()
    env = environment(home)
    replacements = tuple((str(p), "/tmp/tmp.home") for p in {home.resolve(), home}) + \
        tuple((str(p), DOC_REPO) for p in {REPO, REPO.resolve()})
    uuids: dict[str, str] = {}  # a UUID the docs show -> the one this run printed there
    with ExitStack() as cleanup:
        server: DocServer | None = None
        for example in parse_examples(path):
            command = UUID.sub(lambda m: uuids.get(m[0], m[0]), example.command)
            command_env = env
            if USES_SERVER.search(command):
                if server is None:
                    server = cleanup.enter_context(doc_server(env, home.parent / "server.log"))
                    replacements = ((server.url, DOC_URL), *replacements)
                command = command.replace(DOC_URL, server.url)
                command_env = {**env, "TOKEN": server.token}
            yield run_example(example, command, command_env, replacements, uuids)


def run_example(example: Example, command: str, env: dict[str, str],
                replacements: tuple[tuple[str, str], ...], uuids: dict[str, str]) -> Outcome:
    """Runs one command and compares its output; records the UUIDs it printed in ``uuids``."""
    try:
        result = subprocess.run(["bash", "-c", command], check=False, cwd=REPO, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT)
        output = result.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        output = f"<timed out after {COMMAND_TIMEOUT} s>\n"
    for literal, replacement in replacements:
        output = output.replace(literal, replacement)
    expected = trim([normalise(line) for line in example.expected])
    expected = [ANY if line.strip() == ANY else line for line in expected]
    actual = trim([normalise(line) for line in output.splitlines()])
    # Lines that agree pair the UUIDs the docs show with the ones printed, so that a
    # later command can name a registration that an earlier output showed.
    raw = output.splitlines()
    blocks = difflib.SequenceMatcher(None, expected, actual, autojunk=False)
    for block in blocks.get_matching_blocks():
        for offset in range(block.size):
            shown = UUID.findall(example.expected[block.a + offset])
            printed = UUID.findall(raw[block.b + offset])
            if len(shown) == len(printed):
                uuids.update(zip(shown, printed, strict=True))
    return Outcome(example, command, output, expected, actual, matches(expected, actual))


def report(path: Path, outcome: Outcome) -> str:
    """What a doc writer needs to fix an example: where it is, the diff, the real output."""
    example = outcome.example
    where = f"{path.relative_to(REPO)}:{example.line}"
    diff = "\n".join(difflib.unified_diff(
        outcome.expected, outcome.actual, f"{where} (expected, normalised)",
        "actual (normalised)", lineterm=""))
    raw = outcome.output.splitlines()
    shown = "\n".join(raw[:80]) + (f"\n… ({len(raw) - 80} more lines)" if len(raw) > 80 else "")
    return f"{where}: $ {outcome.command}\n{diff}\n--- actual output, as printed:\n{shown}\n"


def documents_with_examples() -> list[Path]:
    return [path for path in DOCS if "```console" in path.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", documents_with_examples(),
                         ids=lambda path: str(path.relative_to(REPO)))
def test_examples_print_what_the_docs_say(path: Path, tmp_path: Path) -> None:
    failures = [report(path, outcome) for outcome in run_document(path, tmp_path / "home")
                if not outcome.ok]
    server_log = tmp_path / "server.log"
    log = server_log.read_text(encoding="utf-8", errors="replace").splitlines() \
        if server_log.exists() else []
    if failures and log:
        failures.append("--- the server's log (warnings and errors):\n" + "\n".join(log[-60:]))
    if failures:
        pytest.fail(f"{len(failures)} example(s) of {path.relative_to(REPO)} differ:\n\n"
                    + "\n".join(failures), pytrace=False)


def test_the_docs_have_checked_examples() -> None:
    """A renamed info string or a broken fence must not silently turn the checks off."""
    names = {str(path.relative_to(REPO)) for path in documents_with_examples()}
    assert {"docs/quickstart.md", "docs/cli.md", "docs/api.md", "docs/operations.md"} <= names
    for path in DOCS:
        examples = parse_examples(path)  # raises on a malformed block
        assert all(example.command.strip() for example in examples), path
    assert any(USES_SERVER.search(example.command) for example in parse_examples(REPO / "docs/api.md"))


def curl_commands(path: Path) -> Iterator[tuple[int, str]]:
    """Every ``curl`` command in a code block of ``path``, checked or not, with its line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    in_block, start, command = False, 0, ""
    for number, line in enumerate(lines, 1):
        if FENCE.match(line):
            in_block, command = not in_block, ""
            continue
        if not in_block:
            continue
        start = start if command else number
        command += line.strip().removeprefix("$ ").removeprefix("> ")
        if command.endswith("\\"):
            command = command[:-1] + " "
            continue
        if re.search(r"(^|[\s;|&(])curl\s", command):
            yield start, command
        command = ""


def test_curl_examples_that_send_a_body_say_it_is_json() -> None:
    """Without the header the API answers 415, as the quickstart's first example once did."""
    sending = re.compile(r"\s(?:-d|--data(?:-\w+)?)[\s=]")
    missing = [f"{path.relative_to(REPO)}:{line}: {command}" for path in DOCS
               for line, command in curl_commands(path)
               if sending.search(command) and "Content-Type: application/json" not in command]
    assert not missing, "\n".join(missing)


def test_normalisation_and_wildcards() -> None:
    assert normalise("2026-11-25 12:05:59Z  0.2.0    register  166/166  100.0%     6.48 s") == \
        "<TIME> 0.2.0 register 166/166 100.0% <DURATION>"
    assert normalise("  ✓ Unit Tests: 98/98 passed in 1 min 3 s (timeout 60 s)") == \
        "  ✓ Unit Tests: 98/98 passed in <DURATION> (timeout 60 s)"
    assert normalise("Registration c985e6a0-d467-4068-bf5d-f5d4df5cb146: 2026-11-25T12:46:12.5+00:00") \
        == "Registration <UUID>: <TIME>"
    assert normalise("attn_ed7444dfe3cd4bee90d002e1ad158185_5ZfG0Bqtn-XrEm_nT") == "<TOKEN>"
    assert normalise("Digest: sha256:" + "ab" * 32) == "Digest: sha256:<SHA256>"
    assert normalise("Source: /tmp/tmp.v53cgBlNVs/core") == "Source: <TMP>/core"
    assert normalise('            "duration_ms": 5610,') == '            "duration_ms": <DURATION>,'
    assert matches(["a", ANY, "d"], ["a", "b", "c", "d"])
    assert matches(["a", ANY, "d"], ["a", "d"])
    assert matches([ANY], [])
    assert not matches(["a", ANY, "d"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a", "b", "c"])
