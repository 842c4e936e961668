"""Reading TAP (versions 12 to 14): test points, plans, directives, bail-outs and subtests.

Only top-level test points are cases. Lines indented by 4 spaces per level belong to a subtest,
which ends at the test point of the level above that follows it: that point is the subtest's
verdict, so an ``ok`` after a subtest that shows failures is a contradiction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.runners.reading import Reading, strip_ansi

TAP_VERSION = re.compile(r"^TAP version \d+$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#.*)?$")
# "ok" or "not ok" as a whole word followed by a space or the end: "ok: done" and "okay" are
# log lines. Results are lowercase; only the directives are case-insensitive.
TAP_POINT = re.compile(r"^(not ok|ok)(?:\s+(\d+))?(?:\s+|$)(?:-\s*)?(.*?)\s*"
                       r"(?:#\s*((?i:SKIP|TODO))\b\s*(.*))?$")
NUMBERED_POINT = re.compile(r"^(?:not )?ok\s+\d+(?:\s|$)")
BAIL_OUT = re.compile(r"^Bail out!\s*(.*)$")
INDENT = 4  # spaces per subtest level


@dataclass
class _Point:
    ok: bool
    number: int | None
    description: str
    directive: str  # "", "SKIP" or "TODO"
    reason: str
    subtest: _Block | None = None

    @property
    def fails(self) -> bool:
        """A failure the point states itself: ``not ok`` without a directive."""
        return not self.ok and not self.directive


@dataclass
class _Block:
    """One level of a TAP document: the document itself, or one subtest."""

    points: list[_Point] = field(default_factory=list)
    plans: list[int] = field(default_factory=list)
    orphans: list[_Block] = field(default_factory=list)  # subtests no test point closed


def is_tap(text: str) -> bool:
    """Whether ``text`` is TAP: it has a ``TAP version`` line, a plan line ``1..N`` or a
    numbered test point (``ok 1``, ``not ok 2``) at any level. Lines that merely start with
    ``ok`` are not enough."""
    for raw in strip_ansi(text).splitlines():
        body = raw.strip()
        if TAP_VERSION.match(body) or TAP_PLAN.match(body) or NUMBERED_POINT.match(body):
            return True
    return False


def read_tap(text: str, prefix: str, stream: str = "stdout") -> Reading | None:
    """The cases of a TAP document, or None if ``text`` is not TAP (see ``is_tap``).

    Tests the plan announces but the output never reports are ``error`` cases, so a script
    that dies half-way cannot look complete; more test points than planned, two plans, a
    ``Bail out!``, and a parent ``ok`` over a failing subtest are errors that say so.
    ``not ok … # TODO`` is an expected failure and counts as passed, as TAP consumers treat it.
    """
    if not is_tap(text):
        return None
    root, bail_outs = _parse(text)
    source = f"TAP on {stream}"
    cases: list[TestCaseResult] = []
    conflicts: list[str] = []
    for position, point in enumerate(root.points, 1):
        label = point.description or f"test {point.number or position}"
        case = _case(point, f"{prefix}: {label}")
        problem = _subtest_problem(point.subtest) if point.subtest else None
        if problem and point.ok and not point.directive:
            message = f"says ok, but its subtest {problem}"
            case = TestCaseResult(name=case.name, status="error", error_message=message)
            conflicts.append(f"{source}: test point {label!r} {message}")
        cases.append(case)
    errors = _plan_errors(root, prefix, source, conflicts)
    for orphan in root.orphans:
        if problem := _subtest_problem(orphan):
            message = f"a subtest {problem} but no test point follows it"
            errors.append(TestCaseResult(name=prefix, status="error", error_message=message))
            conflicts.append(f"{source}: {message}")
    errors += [TestCaseResult(name=prefix, status="error",
                              error_message=f"bailed out: {reason}" if reason else "bailed out")
               for reason in bail_outs]
    return Reading(source=source, cases=cases + errors, conflicts=conflicts,
                   reported_failures=sum(p.fails for p in root.points) + len(bail_outs))


def _case(point: _Point, name: str) -> TestCaseResult:
    reason = point.reason or None
    if point.directive == "SKIP":
        return TestCaseResult(name=name, status="skipped", error_message=reason)
    if point.ok or point.directive == "TODO":
        return TestCaseResult(name=name, status="passed")
    return TestCaseResult(name=name, status="failed", error_message=reason)


def _plan_errors(root: _Block, prefix: str, source: str,
                 conflicts: list[str]) -> list[TestCaseResult]:
    """Planned tests never reported, more tests than planned, more than one plan."""
    if not root.plans:
        return []
    if len(root.plans) > 1:
        plans = ", ".join(f"1..{n}" for n in root.plans)
        message = f"has {len(root.plans)} plans ({plans})"
        conflicts.append(f"{source} {message}")
        return [TestCaseResult(name=prefix, status="error", error_message=f"TAP {message}")]
    planned, reported = root.plans[0], len(root.points)
    if reported > planned:
        message = f"plans 1..{planned} but reports {reported} test points"
        conflicts.append(f"{source} {message}")
        return [TestCaseResult(name=prefix, status="error", error_message=f"TAP {message}")]
    if reported < planned:
        conflicts.append(f"{source} plans 1..{planned} but reports {reported} test point"
                         f"{'' if reported == 1 else 's'}")
    return [TestCaseResult(name=f"{prefix}: test {n}", status="error",
                           error_message="planned but never reported")
            for n in range(reported + 1, planned + 1)]


def _subtest_problem(block: _Block) -> str | None:
    """How a subtest shows failure, in words, or None if it does not."""
    failing = [p for p in block.points if p.fails or (
        p.ok and not p.directive and p.subtest is not None and _subtest_problem(p.subtest))]
    if failing:
        return f"has {len(failing)} failing test point{'s' if len(failing) > 1 else ''}"
    if len(block.plans) > 1:
        return f"has {len(block.plans)} plans"
    if block.plans and block.plans[0] != len(block.points):
        return f"plans 1..{block.plans[0]} but reports {len(block.points)} test points"
    if any(_subtest_problem(orphan) for orphan in block.orphans):
        return "has a failing subtest that no test point follows"
    return None


def _parse(text: str) -> tuple[_Block, list[str]]:
    """The document's tree of levels, and the reasons of its bail-outs (at any level)."""
    stack = [_Block()]
    bail_outs: list[str] = []
    yaml_indent: int | None = None  # inside a YAML diagnostics block indented this much
    last_point_indent = -1
    for raw in strip_ansi(text).splitlines():
        line = raw.replace("\r", "").rstrip()
        body = line.lstrip(" \t")
        if not body:
            continue
        indent = len(line[:len(line) - len(body)].replace("\t", " " * INDENT))
        if yaml_indent is not None:
            if indent >= yaml_indent:
                if body == "...":
                    yaml_indent = None
                continue
            yaml_indent = None  # a block that never closed ends where its indentation does
        if body == "---" and indent > last_point_indent >= 0:
            yaml_indent = indent
            continue
        last_point_indent = -1
        depth = indent // INDENT
        if bail := BAIL_OUT.match(body):
            bail_outs.append(bail.group(1).strip())
        elif plan := TAP_PLAN.match(body):
            _level(stack, depth).plans.append(int(plan.group(1)))
        elif point := TAP_POINT.match(body):
            _add_point(stack, depth, point)
            last_point_indent = indent
    while len(stack) > 1:
        stack[-2].orphans.append(stack.pop())
    return stack[0], bail_outs


def _level(stack: list[_Block], depth: int) -> _Block:
    """The open block at ``depth``, opening the levels down to it."""
    while len(stack) <= depth:
        stack.append(_Block())
    return stack[depth]


def _add_point(stack: list[_Block], depth: int, match: re.Match[str]) -> None:
    verdict, number, description, directive, reason = match.groups()
    point = _Point(ok=verdict == "ok", number=int(number) if number else None,
                   description=description, directive=(directive or "").upper(),
                   reason=(reason or "").strip())
    _level(stack, depth)
    # The levels below this point's end here: the one right below is its subtest; deeper ones
    # no test point closed.
    while len(stack) > depth + 2:
        stack[-2].orphans.append(stack.pop())
    if len(stack) == depth + 2:
        point.subtest = stack.pop()
    stack[depth].points.append(point)
