"""A pack's requirements file: where it is, what it may say, and its digest.

pip runs outside the sandbox, as the registry's own user, so the file may say only what
cannot reach beyond installing published wheels: requirement specifiers (``name[extra]
>=1.2; marker``), each with optional ``--hash=`` options. Options that read other files or
folders (``-r``, ``-c``, ``-e``, ``--find-links``), choose another index, or name a local path
or a URL (``name @ file:///...``, ``./src``) are refused, naming the line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from attune_registry.domain.errors import ManifestError
from attune_registry.domain.manifest import TestingConfig
from attune_registry.domain.text import quoted

REQUIREMENTS_FILE = "requirements.txt"
MAX_REQUIREMENTS_BYTES = 256 * 1024
MAX_REQUIREMENT_LINES = 2000
# pip's own rule: a comment starts at a '#' at the start of a line or after whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"--hash[=\s]+(?P<value>\S+)")
_HASH_VALUE = re.compile(r"(sha256|sha384|sha512):[0-9a-fA-F]+")


class RequirementsError(Exception):
    """What is wrong with a requirements file, in a sentence naming the line."""


@dataclass(frozen=True)
class Requirements:
    """The requirements a pack's suites need installed (none: an empty environment)."""

    name: str | None
    """The file, relative to the pack (None: the pack has none)."""
    content: bytes = b""

    @property
    def digest(self) -> str | None:
        return hashlib.sha256(self.content).hexdigest() if self.name is not None else None

    @property
    def hashed(self) -> bool:
        """Whether the file pins hashes: pip then runs in hash-checking mode."""
        return _HASH.search(self.content.decode("utf-8", "replace")) is not None


def requirements_path(root: Path, testing: TestingConfig) -> Path | None:
    """The requirements file of the pack at ``root``: the one ``testing.requirements`` names,
    else ``requirements.txt`` when the pack has one, else None.

    Raises:
        ManifestError: the named file is missing, not a file, or leads outside the pack.
    """
    field = "testing.requirements"
    name = testing.requirements or REQUIREMENTS_FILE
    candidate = root / name
    if testing.requirements is None and not candidate.exists() and not candidate.is_symlink():
        return None
    try:
        resolved = candidate.resolve()
    except RuntimeError:  # Python 3.11's report of a symlink loop
        raise ManifestError(f"{quoted(name)} is a symbolic link loop", field) from None
    if not resolved.is_relative_to(root.resolve()):
        raise ManifestError(f"{quoted(name)} leads outside the pack", field)
    if not resolved.is_file():
        raise ManifestError(f"{quoted(name)} is not a file in the pack", field)
    return resolved


def check_requirements(root: Path, testing: TestingConfig) -> None:
    """Refuse, before anything is recorded, a requirements file pip would not be given.

    Raises:
        ManifestError: naming the file and the line.
    """
    try:
        read_requirements(root, testing)
    except RequirementsError as exc:
        raise ManifestError(str(exc), source=testing.requirements or REQUIREMENTS_FILE) from None


def read_requirements(root: Path, testing: TestingConfig) -> Requirements:
    """The pack's requirements, checked.

    Raises:
        ManifestError: as ``requirements_path``.
        RequirementsError: too large, not UTF-8, or a line pip may not be given.
    """
    path = requirements_path(root, testing)
    if path is None:
        return Requirements(None)
    name = testing.requirements or REQUIREMENTS_FILE
    if path.stat().st_size > MAX_REQUIREMENTS_BYTES:
        raise RequirementsError(f"{quoted(name)} is larger than {MAX_REQUIREMENTS_BYTES} bytes")
    content = path.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise RequirementsError(f"{quoted(name)} is not UTF-8 text") from None
    lines = logical_lines(text)
    if len(lines) > MAX_REQUIREMENT_LINES:
        raise RequirementsError(f"more than {MAX_REQUIREMENT_LINES} requirements")
    for number, line in lines:
        check_line(line, number)
    return Requirements(name, content)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(number of its first physical line, text) of each requirement, as pip reads the file:
    comments removed, lines ending in a backslash joined with the next."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, physical in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        physical = _COMMENT.sub("", physical)
        if physical.endswith("\\"):
            pending += physical[:-1] + " "
            continue
        line = (pending + physical).strip()
        pending = ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def check_line(line: str, number: int) -> None:
    """Raises RequirementsError unless ``line`` is a requirement with only ``--hash``
    options."""
    spec, _, options = line.partition(" --")
    options = f"--{options}" if options else ""
    if spec.startswith("-"):
        raise RequirementsError(
            f"line {number}: {quoted(spec.split()[0])}: only requirement specifiers (with "
            "--hash options) are allowed; pip options, other files and local paths are not")
    rest = _HASH.sub("", options).strip()
    if rest:
        raise RequirementsError(f"line {number}: {quoted(rest.split()[0])}: only --hash "
                                "options may follow a requirement")
    for match in _HASH.finditer(options):
        if not _HASH_VALUE.fullmatch(match["value"]):
            raise RequirementsError(f"line {number}: {quoted(match['value'])} is not a hash "
                                    "(sha256:<hex>, sha384:<hex> or sha512:<hex>)")
    try:
        requirement = Requirement(spec.strip())
    except InvalidRequirement as exc:
        raise RequirementsError(f"line {number}: {quoted(spec.strip())} is not a requirement "
                                f"specifier ({exc})") from None
    if requirement.url:
        raise RequirementsError(f"line {number}: {quoted(spec.strip())} names a URL or a path; "
                                "only packages from the index (or the wheelhouse) are "
                                "installed")
