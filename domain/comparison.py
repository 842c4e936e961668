"""Two test runs side by side, case by case: what newly fails, what was fixed, what appeared,
disappeared, got slower or faster, and which cases passed only on a retry.

Pure: it takes the ``test_suites`` lists of the two runs' result documents, as stored, and
returns plain values. A case is known by its suite's name and its own name; a name that occurs
twice in one suite (a runner may report it so) is told apart by its order.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from attune_registry.domain.errors import InvalidRunSelectorError
from attune_registry.domain.refs import SEMVER_PATTERN
from attune_registry.domain.results import TestCaseResult, summary_line
from attune_registry.domain.vocabulary import CaseStatus, SuiteStatus

DEFAULT_THRESHOLD_PCT = 50
"""A case is slower (faster) when it took at least this much longer (less): 50 means 1.5
times as long."""
DEFAULT_MIN_MS = 100
"""... and the difference is at least this many milliseconds: noise on short cases is not a
change."""
MAX_THRESHOLD_PCT = 100_000
MAX_MIN_MS = 86_400_000  # a day
MAX_MESSAGE_CHARS = 300
FAILING: frozenset[str] = frozenset({"failed", "error"})
# A test run's id (as the test history shows it), up to what both stores' integers hold.
RUN_ID_PATTERN = re.compile(r"[0-9]{1,19}")
MAX_SELECTOR_CHARS = 100


class RunSelector(msgspec.Struct, frozen=True):
    """Which run of a ref: one by its id, or the newest finished run of a version."""

    run_id: int | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> RunSelector:
        """All digits: a run's id; otherwise a semantic version.

        Raises: InvalidRunSelectorError.
        """
        if len(text) <= MAX_SELECTOR_CHARS and RUN_ID_PATTERN.fullmatch(text):
            run_id = int(text)
            if 1 <= run_id < 2**63:
                return cls(run_id=run_id)
        elif len(text) <= MAX_SELECTOR_CHARS and SEMVER_PATTERN.fullmatch(text):
            return cls(version=text)
        raise InvalidRunSelectorError(text)

    def describe(self) -> str:
        return f"run {self.run_id}" if self.run_id is not None else f"version {self.version}"


class Thresholds(msgspec.Struct, frozen=True):
    """When a duration changed enough to be reported: by ``percent`` and ``min_ms`` both."""

    percent: float = DEFAULT_THRESHOLD_PCT
    min_ms: int = DEFAULT_MIN_MS

    def changed(self, before_ms: int, after_ms: int) -> bool:
        """Whether the longer of the two is at least ``percent`` more than the shorter and
        ``min_ms`` longer."""
        low, high = sorted((before_ms, after_ms))
        return high - low >= self.min_ms and high * 100 >= low * (100 + self.percent)


class CaseChange(msgspec.Struct, frozen=True, kw_only=True):
    """One case whose outcome differs between the runs (or is in one run only)."""

    suite: str
    name: str
    from_status: CaseStatus | None
    """None: the case is not in the ``from`` run."""
    to_status: CaseStatus | None
    """None: the case is not in the ``to`` run."""
    message: str | None = None
    """The line of the failure that says what failed (the ``to`` run's, else the ``from``
    run's); None when it did not fail."""


class DurationChange(msgspec.Struct, frozen=True, kw_only=True):
    """A case that passed in both runs and took notably longer, or shorter."""

    suite: str
    name: str
    from_ms: int
    to_ms: int
    change_pct: float | None
    """How much longer (negative: shorter), in percent of the ``from`` duration; None when
    that was 0 ms."""


class FlakyCase(msgspec.Struct, frozen=True, kw_only=True):
    """A case of the ``to`` run that failed, then passed on a retry."""

    suite: str
    name: str
    attempts: int
    message: str | None
    """What its first failure said."""


class SuiteChange(msgspec.Struct, frozen=True, kw_only=True):
    """A suite whose status differs, or that is in one run only: a suite that could not run
    has no cases, and this says why its cases seem to be gone."""

    name: str
    from_status: SuiteStatus | None
    to_status: SuiteStatus | None
    message: str | None = None


class CaseCounts(msgspec.Struct, frozen=True, kw_only=True):
    newly_failing: int
    fixed: int
    still_failing: int
    now_skipped: int
    no_longer_skipped: int
    added: int
    removed: int
    slower: int
    faster: int
    flaky: int
    unchanged: int
    """In both runs with the same outcome: passed, or skipped, in both."""


class CaseDiff(msgspec.Struct, frozen=True, kw_only=True):
    """The per-case differences from one run to the next.

    A skipped case neither passes nor fails: a case that failed, then was skipped, is in
    ``now_skipped`` (not ``fixed``); one skipped, then failing, in ``newly_failing``; one
    skipped, then passing, in ``no_longer_skipped``."""

    counts: CaseCounts
    newly_failing: list[CaseChange]
    """Failing (failed or error) in ``to``; passed or skipped in ``from``."""
    fixed: list[CaseChange]
    """Failing in ``from``; passed in ``to`` (a pass on a retry too: see ``flaky``)."""
    still_failing: list[CaseChange]
    now_skipped: list[CaseChange]
    """Ran (passed or failed) in ``from``; skipped in ``to``."""
    no_longer_skipped: list[CaseChange]
    """Skipped in ``from``; passed in ``to``."""
    added: list[CaseChange]
    """In ``to`` only."""
    removed: list[CaseChange]
    """In ``from`` only."""
    slower: list[DurationChange]
    faster: list[DurationChange]
    flaky: list[FlakyCase]
    """Cases of ``to`` that passed only on a retry (whatever they did in ``from``)."""
    suites: list[SuiteChange]
    """Suites whose status changed, appeared or disappeared."""

    @property
    def has_new_failures(self) -> bool:
        return bool(self.newly_failing) or any(
            change.to_status in FAILING for change in self.added)


class _Suite(msgspec.Struct, frozen=True):
    name: str
    status: SuiteStatus
    message: str | None = None
    test_cases: list[TestCaseResult] = msgspec.field(default_factory=list)


Key = tuple[str, str, int]
Pair = tuple[str, str, TestCaseResult | None, TestCaseResult | None]
Category = Literal["newly_failing", "fixed", "still_failing", "now_skipped",
                   "no_longer_skipped", "unchanged"]


def compare(from_suites: list[dict[str, Any]], to_suites: list[dict[str, Any]],
            thresholds: Thresholds | None = None) -> CaseDiff:
    """The differences from the run with ``from_suites`` to the run with ``to_suites`` (each a
    result document's ``test_suites``), in the ``to`` run's order, then the removed ones."""
    thresholds = thresholds or Thresholds()
    before_suites = _suites(from_suites)
    after_suites = _suites(to_suites)
    before, after = _cases(before_suites), _cases(after_suites)
    lists: dict[str, list[CaseChange]] = {name: [] for name in (
        "newly_failing", "fixed", "still_failing", "now_skipped", "no_longer_skipped",
        "added", "removed")}
    slower: list[DurationChange] = []
    faster: list[DurationChange] = []
    unchanged = 0
    for key, new in after.items():
        old = before.get(key)
        if old is None:
            lists["added"].append(_change(key, None, new))
            continue
        category = _category(old.status, new.status)
        if category == "unchanged":
            unchanged += 1
        else:
            lists[category].append(_change(key, old, new))
        if old.status == new.status == "passed" and \
                thresholds.changed(old.duration_ms, new.duration_ms):
            moved = _duration(key, old, new)
            (slower if new.duration_ms > old.duration_ms else faster).append(moved)
    lists["removed"] = [_change(key, old, None) for key, old in before.items()
                        if key not in after]
    slower.sort(key=lambda d: d.from_ms - d.to_ms)
    faster.sort(key=lambda d: d.to_ms - d.from_ms)
    flaky = [FlakyCase(suite=key[0], name=case.name, attempts=case.attempts,
                       message=_line(case.error_message))
             for key, case in after.items() if case.flaky]
    counts = CaseCounts(**{name: len(found) for name, found in lists.items()},
                        slower=len(slower), faster=len(faster), flaky=len(flaky),
                        unchanged=unchanged)
    return CaseDiff(counts=counts, slower=slower, faster=faster, flaky=flaky,
                    suites=_suite_changes(before_suites, after_suites), **lists)


def _category(old: CaseStatus, new: CaseStatus) -> Category:
    if new in FAILING:
        return "still_failing" if old in FAILING else "newly_failing"
    if new == "skipped":
        return "unchanged" if old == "skipped" else "now_skipped"
    if old in FAILING:
        return "fixed"
    return "no_longer_skipped" if old == "skipped" else "unchanged"


def _suites(stored: list[dict[str, Any]]) -> list[_Suite]:
    return msgspec.convert(stored or [], type=list[_Suite])


def _cases(suites: list[_Suite]) -> dict[Key, TestCaseResult]:
    """Every case by (suite, name, occurrence), in the run's order."""
    found: dict[Key, TestCaseResult] = {}
    for suite in suites:
        seen: dict[str, int] = {}
        for case in suite.test_cases:
            seen[case.name] = seen.get(case.name, 0) + 1
            found[(suite.name, case.name, seen[case.name])] = case
    return found


def _change(key: Key, old: TestCaseResult | None, new: TestCaseResult | None) -> CaseChange:
    failure = next((case.error_message for case in (new, old)
                    if case is not None and case.status in FAILING), None)
    return CaseChange(suite=key[0], name=key[1], from_status=old.status if old else None,
                      to_status=new.status if new else None, message=_line(failure))


def _duration(key: Key, old: TestCaseResult, new: TestCaseResult) -> DurationChange:
    change = (round(100 * (new.duration_ms - old.duration_ms) / old.duration_ms, 1)
              if old.duration_ms else None)
    return DurationChange(suite=key[0], name=key[1], from_ms=old.duration_ms,
                          to_ms=new.duration_ms, change_pct=change)


def _suite_changes(before: list[_Suite], after: list[_Suite]) -> list[SuiteChange]:
    old = {suite.name: suite for suite in before}
    new = {suite.name: suite for suite in after}
    changes = [SuiteChange(name=name, from_status=old[name].status if name in old else None,
                           to_status=suite.status,
                           message=_line(suite.message) if suite.status != "passed" else None)
               for name, suite in new.items()
               if name not in old or old[name].status != suite.status]
    changes += [SuiteChange(name=name, from_status=suite.status, to_status=None)
                for name, suite in old.items() if name not in new]
    return changes


def _line(message: str | None) -> str | None:
    if not message:
        return None
    line = summary_line(message)
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return line or None
