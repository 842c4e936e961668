"""The registry's own figures for Prometheus, folded from the event log at scrape time.

Counters of what the log recorded: registrations requested and decided (by outcome and
trigger), rejections by reason, rollbacks and unregisters, suites by runner and status with
their durations (a histogram per runner), and test cases by runner and status.

Why from the log, and not counted where things happen: registrations are decided by whichever
process runs them (an API worker, ``attune worker`` on another machine, the CLI), and the log
is where all of them meet. Each server process folds the log from its last position on each
scrape, so every process answers with the same totals at the same log head (whichever of
``--workers N`` Prometheus reaches), totals that survive restarts and never go down (the log
only grows). A restart reads the log from the start once; then a scrape reads only what is new.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import product
from typing import TYPE_CHECKING, Any, get_args
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from attune_registry.domain.registration import Registration
from attune_registry.domain.test_run import TestRun
from attune_registry.domain.vocabulary import (
    SUITE_STATUSES,
    RejectReason,
    RollbackReason,
    RunnerType,
)

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

# Seconds: pack suites run from well under a second to their timeout (at most an hour).
SUITE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                 1800.0, 3600.0)
BATCH = 500
# The labels' values: a registration's triggers, its decision's outcomes, the case counts.
TRIGGERS = ("register", "install")
OUTCOMES = ("committed", "forced", "rejected")
RUNNERS: tuple[str, ...] = get_args(RunnerType)
CASE_COUNTS = ("passed", "failed", "skipped")


# Only the fields the figures need; msgspec skips the rest of each stored event unread.
class _Requested(msgspec.Struct):
    trigger_reason: str = "register"


class _Suite(msgspec.Struct):
    runner_type: str
    status: str
    duration_ms: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0


class _Committed(msgspec.Struct):
    forced: bool = False


class _Rejected(msgspec.Struct):
    reason: str = "tests_failed"


class _RolledBack(msgspec.Struct):
    reason: str = "rollback"


REQUESTED = get_topic(Registration.PackRegistrationRequested)
SUITES = (get_topic(Registration.TestSuiteCompleted), get_topic(TestRun.TestSuiteCompleted))
COMMITTED = get_topic(Registration.RegistrationCommitted)
REJECTED = get_topic(Registration.RegistrationRejected)
ROLLED_BACK = get_topic(Registration.RegistrationRolledBack)
TOPICS = (REQUESTED, *SUITES, COMMITTED, REJECTED, ROLLED_BACK)


class LogFigures:
    """The figures of one event log, brought up to date by ``update``; thread-safe."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self.position = 0
        # One update at a time; the figures themselves change a batch at a time, so that a
        # scrape during a long update shows them as of the last batch folded (a true total of
        # the log up to ``position``) rather than wait.
        self._updating = threading.Lock()
        self._lock = threading.Lock()
        self._closed = False
        # The trigger of each registration still undecided, for its decision's label.
        self._triggers: dict[UUID, str] = {}
        # Every series that can exist starts at 0, so that an alert on ``increase()`` sees
        # the first forced registration (a series born at 1 has no increase to show).
        self.requested = Counter(dict.fromkeys(TRIGGERS, 0))
        self.decided = Counter(dict.fromkeys(product(OUTCOMES, TRIGGERS), 0))
        self.rejections = Counter(dict.fromkeys(get_args(RejectReason), 0))
        self.rollbacks = Counter(dict.fromkeys(get_args(RollbackReason), 0))
        self.suites: Counter[tuple[str, str]] = Counter(
            dict.fromkeys(product(RUNNERS, SUITE_STATUSES), 0))
        self.cases = Counter(dict.fromkeys(product(RUNNERS, CASE_COUNTS), 0))
        self._buckets = {runner: [0] * (len(SUITE_BUCKETS) + 1) for runner in RUNNERS}
        self._seconds = dict.fromkeys(RUNNERS, 0.0)

    def update(self) -> int:
        """Fold the events recorded since the last call; returns how many were read.

        Raises: the store's errors (PersistenceError) when it cannot be read.
        """
        read = 0
        with self._updating:
            while not self._closed:
                found = self.recorder.select_notifications(
                    start=self.position, limit=BATCH, topics=TOPICS, inclusive_of_start=False)
                with self._lock:
                    for notification in found:
                        self._fold(notification.topic, notification.originator_id,
                                   notification.state)
                        self.position = notification.id
                read += len(found)
                if len(found) < BATCH:
                    break
        return read

    def close(self) -> None:
        """Stop folding before the store is closed: an update in progress ends after its
        batch, none starts again. Returns once none runs: SQLite's module crashes the
        process when a connection is closed under a query another thread runs."""
        self._closed = True
        with self._updating:
            pass

    def _fold(self, topic: str, originator_id: Any, state: bytes) -> None:
        if topic == REQUESTED:
            trigger = msgspec.json.decode(state, type=_Requested).trigger_reason
            self._triggers[originator_id] = trigger
            self.requested[trigger] += 1
        elif topic in SUITES:
            self._suite(msgspec.json.decode(state, type=_Suite))
        elif topic == COMMITTED:
            forced = msgspec.json.decode(state, type=_Committed).forced
            self._decided(originator_id, "forced" if forced else "committed")
        elif topic == REJECTED:
            self.rejections[msgspec.json.decode(state, type=_Rejected).reason] += 1
            self._decided(originator_id, "rejected")
        elif topic == ROLLED_BACK:
            self.rollbacks[msgspec.json.decode(state, type=_RolledBack).reason] += 1

    def _decided(self, registration_id: Any, outcome: str) -> None:
        self.decided[outcome, self._triggers.pop(registration_id, "register")] += 1

    def _suite(self, suite: _Suite) -> None:
        runner = suite.runner_type
        self.suites[runner, suite.status] += 1
        for status, count in zip(CASE_COUNTS, (suite.passed, suite.failed, suite.skipped),
                                 strict=True):
            self.cases[runner, status] += count
        seconds = suite.duration_ms / 1000
        buckets = self._buckets.setdefault(runner, [0] * (len(SUITE_BUCKETS) + 1))
        buckets[bisect.bisect_left(SUITE_BUCKETS, seconds)] += 1  # `le`: the bound included
        self._seconds[runner] = self._seconds.get(runner, 0.0) + seconds

    def families(self) -> list[Metric]:
        """The figures as Prometheus metric families (names without ``_total``: the exposition
        adds it to counters), as of the last batch folded."""
        with self._lock:
            return list(self._families())

    def _families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("attune_figures_log_position",
                                "Notification id of the newest event the attune_registrations*, "
                                "attune_rollbacks, attune_suite* and attune_test_cases figures "
                                "count (compare attune_event_log_head).", value=self.position)
        yield _counter("attune_registrations_requested", "Registrations requested.",
                       ["trigger"], (((t,), n) for t, n in self.requested.items()))
        yield _counter("attune_registrations",
                       "Registrations decided, by outcome (committed, forced: committed "
                       "despite failing tests, rejected) and trigger (register, install).",
                       ["outcome", "trigger"], self.decided.items())
        yield _counter("attune_registration_rejections", "Rejected registrations by reason.",
                       ["reason"], (((r,), n) for r, n in self.rejections.items()))
        yield _counter("attune_rollbacks",
                       "Active registrations ended by a rollback or an unregister.",
                       ["reason"], (((r,), n) for r, n in self.rollbacks.items()))
        yield _counter("attune_suites", "Test suites run, by runner and status.",
                       ["runner", "status"], self.suites.items())
        yield _counter("attune_test_cases",
                       "Test cases run, by runner and status (failed includes errors).",
                       ["runner", "status"], self.cases.items())
        yield self._durations()

    def _durations(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily("attune_suite_duration_seconds",
                                       "How long test suites ran, by runner.", labels=["runner"])
        for runner, counts in sorted(self._buckets.items()):
            cumulative, total = [], 0
            for bound, count in zip([*map(str, SUITE_BUCKETS), "+Inf"], counts, strict=True):
                total += count
                cumulative.append((bound, float(total)))
            family.add_metric([runner], cumulative, sum_value=self._seconds[runner])
        return family


def _counter(name: str, documentation: str, labels: list[str],
             values: Iterable[tuple[tuple[str, ...], int]]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values):
        family.add_metric(list(key), float(value))
    return family
