"""Each case's outcomes per content and environment, and the flaky cases they reveal.

A run's inputs are its pack's content (the digest) and the environment its suites ran in (the
suite's fingerprint). A case that both passed and failed with the same two had the same inputs
as far as the registry can tell, so its outcome depends on something else: it is flaky. So is
a case that failed and then passed on a retry within one run. Runs of a dependent against an
upgrade candidate (trigger ``dependency``) are left out: they test the dependent with another
pack's candidate, not the dependent's own inputs. Suites recorded before fingerprints have none
and are left out too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import msgspec

from attune_registry.domain.results import summary_line

from attune_registry.projections.sql import Writer, from_timestamp

# The failure line kept per row: enough to recognise it, bounded whatever a runner reports.
MAX_FAILURE_CHARS = 300

_COLUMNS = ("pack_ref, content_digest, fingerprint, suite, case_name, pack_version, passed,"
            " failed, flaky_retries, first_seen, last_seen, last_failed_at, last_failed_run_id,"
            " last_failure")
_ADD = (" ON CONFLICT (pack_ref, content_digest, fingerprint, suite, case_name) DO UPDATE SET"
        " passed = s.passed + excluded.passed, failed = s.failed + excluded.failed,"
        " flaky_retries = s.flaky_retries + excluded.flaky_retries,"
        " pack_version = excluded.pack_version, last_seen = excluded.last_seen,"
        " last_failed_at = COALESCE(excluded.last_failed_at, s.last_failed_at),"
        " last_failed_run_id = COALESCE(excluded.last_failed_run_id, s.last_failed_run_id),"
        " last_failure = CASE WHEN excluded.last_failed_at IS NOT NULL"
        " THEN excluded.last_failure"
        " ELSE s.last_failure END")
# SQLite: one prepared statement run over every case's parameters (executemany).
_UPSERT_ROWS = (f"INSERT INTO {{t}}pack_case_stat AS s ({_COLUMNS}) VALUES (:ref, :digest,"
                " :fingerprint, :suite, :case, :version, :passed, :failed, :flaky, :at, :at,"
                " :failed_at, :failed_run, :failure)" + _ADD)
# PostgreSQL: the cases as arrays, one statement and one round trip for the whole suite.
_UPSERT_ARRAYS = (
    f"INSERT INTO {{t}}pack_case_stat AS s ({_COLUMNS}) SELECT :ref, :digest, :fingerprint,"
    " :suite, c.name, :version, c.passed, c.failed, c.flaky, :at, :at,"
    " CASE WHEN c.failed + c.flaky > 0 THEN CAST(:at AS TIMESTAMPTZ) END,"
    " CASE WHEN c.failed + c.flaky > 0 THEN CAST(:run AS TEXT) END, c.failure"
    " FROM unnest(CAST(:names AS TEXT[]), CAST(:passed AS INTEGER[]), CAST(:failed AS INTEGER[]),"
    " CAST(:flaky AS INTEGER[]), CAST(:failures AS TEXT[]))"
    " AS c(name, passed, failed, flaky, failure)" + _ADD)


class _Tally(msgspec.Struct):
    passed: int = 0
    failed: int = 0
    flaky: int = 0
    failure: str | None = None


def record_case_outcomes(w: Writer, run: dict[str, Any], e: Any) -> None:
    """Add the cases of suite event ``e`` to their rows; ``run`` is its pack_test_execution
    row (``pack_ref``, ``pack_version``, ``content_digest``, ``trigger_reason``)."""
    if run["trigger_reason"] == "dependency" or not e.fingerprint or not run["content_digest"]:
        return
    tallies = _tally(e.test_cases)
    if not tallies:
        return
    at = w.timestamp(e.timestamp)
    common = {"ref": run["pack_ref"], "digest": run["content_digest"],
              "fingerprint": e.fingerprint, "suite": e.name, "version": run["pack_version"],
              "at": at, "run": str(e.originator_id)}
    if w.dialect.postgres:
        w.execute(_UPSERT_ARRAYS, {
            **common, "names": list(tallies), "passed": [t.passed for t in tallies.values()],
            "failed": [t.failed for t in tallies.values()],
            "flaky": [t.flaky for t in tallies.values()],
            "failures": [t.failure for t in tallies.values()]})
        return
    w.execute_many(_UPSERT_ROWS, [
        {**common, "case": name, "passed": t.passed, "failed": t.failed, "flaky": t.flaky,
         "failed_at": at if t.failed + t.flaky else None,
         "failed_run": common["run"] if t.failed + t.flaky else None,
         "failure": t.failure}
        for name, t in tallies.items()])


def _tally(cases: list[dict[str, Any]]) -> dict[str, _Tally]:
    """Passes (a pass on a retry among them) and failures (errors too) by case name; skipped
    cases say nothing. One entry per name: a statement may touch each row only once."""
    tallies: dict[str, _Tally] = {}
    for case in cases:
        status = case["status"]
        if status == "skipped":
            continue
        tally = tallies.setdefault(case["name"], _Tally())
        if status == "passed":
            tally.passed += 1
            if not case.get("flaky"):
                continue
            tally.flaky += 1  # its message is the failure of its first attempt
        else:
            tally.failed += 1
        tally.failure = _failure_line(case.get("error_message"))
    return tallies


def _failure_line(message: str | None) -> str | None:
    line = summary_line(message or "")
    if not line:
        return None
    # PostgreSQL's text refuses U+0000, which free-form test output may hold.
    line = line.replace("\x00", "\ufffd")
    return line if len(line) <= MAX_FAILURE_CHARS else line[: MAX_FAILURE_CHARS - 1] + "…"


class FlakyCase(msgspec.Struct, frozen=True, kw_only=True):
    """A case that both passed and failed with one content digest and one environment
    fingerprint, or passed only on a retry: its counts over every such content and
    environment."""

    suite: str
    case: str
    passed: int
    """Runs it passed in (those it passed on a retry included)."""
    failed: int
    """Runs it failed or errored in."""
    passed_on_retry: int
    """Runs it failed in first, then passed on a retry (``retries`` in pack.yaml)."""
    versions: int
    """How many versions of the pack it was flaky in."""
    digests: int
    """How many contents (digests) it was flaky in."""
    environments: int
    """How many environments (fingerprints) it was flaky in."""
    latest_version: str
    """The newest version it was flaky in."""
    first_seen: str
    last_seen: str
    """When a run flaky for it last recorded it (ISO 8601)."""
    last_failure: str | None
    """The line that says what failed, the last time it failed (a failed attempt before a
    passing retry included); None if no failure had a message."""
    last_failed_run_id: str | None


class CaseStatQueries(ABC):
    """The flaky cases of a ref, on any read-model connection."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def flaky_cases(self, ref: str) -> list[FlakyCase]:
        """The flaky cases of ``ref``, most recently seen first."""
        rows = self._select(
            "SELECT * FROM {t}pack_case_stat WHERE pack_ref = :ref"
            " AND ((passed > 0 AND failed > 0) OR flaky_retries > 0)"
            " ORDER BY last_seen DESC, suite, case_name, content_digest, fingerprint",
            {"ref": ref})
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:  # newest first: each group's first row is its latest
            groups.setdefault((row["suite"], row["case_name"]), []).append(row)
        return [_flaky_case(group) for group in groups.values()]


def _flaky_case(rows: list[dict[str, Any]]) -> FlakyCase:
    failures = [row for row in rows if row["last_failed_at"] is not None]
    last_failed = max(failures, key=lambda row: row["last_failed_at"]) if failures else None
    return FlakyCase(
        suite=rows[0]["suite"], case=rows[0]["case_name"],
        passed=sum(row["passed"] for row in rows), failed=sum(row["failed"] for row in rows),
        passed_on_retry=sum(row["flaky_retries"] for row in rows),
        versions=len({row["pack_version"] for row in rows}),
        digests=len({row["content_digest"] for row in rows}),
        environments=len({row["fingerprint"] for row in rows}),
        latest_version=rows[0]["pack_version"],
        first_seen=str(from_timestamp(min(row["first_seen"] for row in rows))),
        last_seen=str(from_timestamp(rows[0]["last_seen"])),
        last_failure=last_failed["last_failure"] if last_failed else None,
        last_failed_run_id=last_failed["last_failed_run_id"] if last_failed else None)
