"""How much work resolving a suite's paths may do, and the errors of resolving them.

A manifest's glob patterns are matched before anything is recorded, also with
``--skip-tests``: a hostile one must not cost more than real packs ever need.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# What one pattern may ask for. Matching costs grow with the number of "**" parts (each is a
# state the matcher carries down the tree) and of wildcards; real packs use one or two of each.
MAX_PATTERN_CHARS = 512
MAX_PATTERN_PARTS = 32
MAX_RECURSIVE_PARTS = 4
MAX_WILDCARDS = 16
# What matching all of a pack's patterns may cost together (see GlobLimits).
MAX_VISITED_ENTRIES = 200_000
MAX_MATCH_STEPS = 5_000_000
MAX_MATCH_SECONDS = 30.0
# How often (in steps) the deadline is looked at: often enough to stop within a few ms.
_CLOCK_EVERY = 4096


class SuitePathError(Exception):
    """Raised when a suite's directory is missing or leaves the pack."""


class GlobLimitError(SuitePathError):
    """Raised when a pattern, or matching the patterns, goes past a limit of the glob budget;
    ``pattern`` names the pattern being matched (None while listing a folder)."""

    def __init__(self, problem: str, pattern: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.pattern = pattern


@dataclass(frozen=True)
class GlobLimits:
    """The most work one validation (every pattern of every suite of a manifest) may do."""

    entries: int = MAX_VISITED_ENTRIES
    """Directory entries listed, over every folder a suite searches."""
    steps: int = MAX_MATCH_STEPS
    """Matching steps: one name tested against one pattern part, or one path part resolved."""
    seconds: float = MAX_MATCH_SECONDS
    """Time from the first listing to the last match (slow disks count too)."""
    clock: Callable[[], float] = time.monotonic
    """Where time comes from (tests pass a fake one)."""


@dataclass
class GlobBudget:
    """What is left of :class:`GlobLimits`; one budget is shared by a whole validation."""

    limits: GlobLimits = field(default_factory=GlobLimits)
    entries: int = 0
    steps: int = 0
    deadline: float | None = None

    def visit(self, count: int) -> None:
        """Count ``count`` directory entries listed."""
        self.entries += count
        if self.entries > self.limits.entries:
            raise GlobLimitError(f"the search visited more than {self.limits.entries} directory "
                                 "entries (the validation budget)")
        self._check_clock()

    def step(self, count: int = 1) -> None:
        """Count ``count`` matching steps."""
        before, self.steps = self.steps, self.steps + count
        if self.steps > self.limits.steps:
            raise GlobLimitError(f"matching took more than {self.limits.steps} steps "
                                 "(the validation budget)")
        if before // _CLOCK_EVERY != self.steps // _CLOCK_EVERY:
            self._check_clock()

    def _check_clock(self) -> None:
        now = self.limits.clock()
        if self.deadline is None:
            self.deadline = now + self.limits.seconds
        elif now > self.deadline:
            raise GlobLimitError(f"matching ran past the {self.limits.seconds:g}-second "
                                 "validation deadline")


def check_pattern(pattern: str) -> None:
    """Refuse a pattern whose matching could cost more than any real pack needs.

    Raises:
        GlobLimitError: naming the limit the pattern goes past.
    """
    def refuse(problem: str) -> GlobLimitError:
        return GlobLimitError(problem, pattern)

    if len(pattern) > MAX_PATTERN_CHARS:
        raise refuse(f"a pattern may have at most {MAX_PATTERN_CHARS} characters, "
                     f"this one has {len(pattern)}")
    parts = pattern_parts(pattern)
    if len(parts) > MAX_PATTERN_PARTS:
        raise refuse(f"a pattern may have at most {MAX_PATTERN_PARTS} path parts, "
                     f"this one has {len(parts)}")
    # "**/**" means "**" (see Listing): count runs of them once.
    recursive = sum(1 for index, part in enumerate(parts)
                    if part == "**" and (index == 0 or parts[index - 1] != "**"))
    if recursive > MAX_RECURSIVE_PARTS:
        raise refuse(f"a pattern may have at most {MAX_RECURSIVE_PARTS} '**' parts, "
                     f"this one has {recursive}")
    wildcards = sum(part.count("*") + part.count("?") + part.count("[")
                    for part in parts if part != "**")
    if wildcards > MAX_WILDCARDS:
        raise refuse(f"a pattern may have at most {MAX_WILDCARDS} wildcards ('*', '?', '['), "
                     f"this one has {wildcards}")


def pattern_parts(pattern: str) -> list[str]:
    return [part for part in PurePosixPath(pattern).parts if part != "/"]
