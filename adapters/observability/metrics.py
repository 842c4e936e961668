"""Prometheus metrics of ``GET /metrics``: what this server measured, and the registry's figures.

Two sources, each counted where it is correct across processes:

- **HTTP latency** (``attune_http_request_duration_seconds``, by method, route template and
  status) is measured in the process that served the request. ``attune serve`` gives its
  worker processes a private directory (``PROMETHEUS_MULTIPROC_DIR``, new and empty at each
  start, removed at exit) where prometheus-client's multiprocess mode keeps each worker's
  figures; any worker's scrape adds them all up. Without it (a single process, tests) they
  stay in memory.
- **The registry's figures** are computed at scrape time from the store: the event log's
  counters (``adapters.observability.figures``), and the read models' lag and, on PostgreSQL,
  the queue's depth and age (the same figures as ``/api/v1/health``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from attune_registry.adapters.contract import Health

if TYPE_CHECKING:
    from attune_registry.adapters.observability.figures import LogFigures

# Seconds: reads answer in milliseconds; a registration waits for its pack's tests.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                120.0, 300.0, 900.0, 3600.0)
# A client may send any method; those the API knows are labels, the others count as one.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

_local = CollectorRegistry(auto_describe=True)
HTTP_DURATION = Histogram(
    "attune_http_request_duration_seconds",
    "HTTP requests by method, route template (`unmatched` when none) and status, until the "
    "response ended.", ["method", "route", "status"], buckets=HTTP_BUCKETS, registry=_local)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_DURATION.labels(method if method in METHODS else "OTHER", route,
                         str(status)).observe(seconds)


def is_multiprocess() -> bool:
    """Whether prometheus-client keeps figures in the shared directory (decided when it was
    first imported, from the environment ``attune serve`` gives its workers)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class _Families:
    """A collector of metric families computed beforehand."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class _Local:
    """This process's own HTTP figures (when there is no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        return iter(_local.collect())


def exposition(health: Health | None, figures: LogFigures | None,
               accept: str = "") -> tuple[bytes, str]:
    """The body and content type of a scrape, in the format ``accept`` prefers (Prometheus'
    text format, or OpenMetrics).

    ``health`` is None when the store could not be read: the scrape still answers, with
    ``attune_store_up 0``, the HTTP figures and the log's as far as they were folded.
    """
    registry = CollectorRegistry(auto_describe=False)
    if is_multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Local())
    registry.register(_Families(store_families(health, figures)))
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type


# How long a scrape waits for the store: within Prometheus' default scrape timeout (10 s),
# where the store's own retries ride out an outage for about 20 s.
STORE_WAIT_SECONDS = 5.0


class SingleFlight:
    """Runs a call in a thread of its own, one at a time: a caller starts it, or joins the one
    running, and waits for it up to a deadline; a call that outlives the wait carries on, and
    a later caller finds it (no pile of threads behind a store that does not answer)."""

    def __init__(self, call: Callable[[], object], name: str) -> None:
        self.call = call
        self.name = name
        self._lock = threading.Lock()
        self._running: _Flight | None = None

    def start(self) -> _Flight:
        with self._lock:
            if self._running is None:
                self._running = _Flight()
                threading.Thread(target=self._run, args=(self._running,), name=self.name,
                                 daemon=True).start()
            return self._running

    def settle(self, deadline: float) -> None:
        """Wait, until ``deadline`` at most, for the call running now (if any) to end."""
        with self._lock:
            running = self._running
        if running is not None:
            running.done.wait(max(0.0, deadline - time.monotonic()))

    def _run(self, flight: _Flight) -> None:
        try:
            flight.value = self.call()
        except Exception as exc:  # told to whoever waits, as "no answer"
            flight.error = exc
        finally:
            with self._lock:
                self._running = None
            flight.done.set()


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: Exception | None = None

    def answer(self, deadline: float) -> object | None:
        """The call's value, or None if it failed or is still running at ``deadline``."""
        if not self.done.wait(max(0.0, deadline - time.monotonic())) or self.error is not None:
            return None
        return self.value


class StoreReads:
    """What a scrape reads from the store: the log's new events into ``figures``, and the
    health figures; each read once at a time, and waited for ``STORE_WAIT_SECONDS`` at most."""

    def __init__(self, figures: LogFigures | None, read_health: Callable[[], Health]) -> None:
        self.figures = figures
        self._fold = SingleFlight(figures.update, "metrics-fold") if figures else None
        self._health = SingleFlight(read_health, "metrics-health")

    def close(self, wait: float = STORE_WAIT_SECONDS) -> None:
        """Before the store closes (the server stops): the fold stops after its batch, and a
        health read still running is waited for, ``wait`` seconds at most."""
        deadline = time.monotonic() + wait
        if self.figures is not None:
            self.figures.close()
        self._health.settle(deadline)

    def warm_up(self) -> None:
        """Start folding the log (a new process reads all of it once)."""
        if self._fold is not None:
            self._fold.start()

    def read(self, wait: float = STORE_WAIT_SECONDS) -> Health | None:
        """The health figures, None when the store did not answer in time; ``figures`` are
        then as current as the fold got (true totals up to their position, never ahead)."""
        deadline = time.monotonic() + wait
        fold = self._fold.start() if self._fold is not None else None
        health = self._health.start().answer(deadline)
        if fold is not None:
            fold.answer(deadline)
        return health if isinstance(health, Health) else None


def store_families(health: Health | None, figures: LogFigures | None) -> list[Metric]:
    """The store's figures: whether it answered, the log's counters (as far as they got),
    and the health figures when it answered."""
    up = GaugeMetricFamily("attune_store_up", "1 when the store answered this scrape, else 0.",
                           value=0 if health is None else 1)
    found: list[Metric] = [up, *(figures.families() if figures is not None else ())]
    if health is None:
        return found
    found.append(_gauge("attune_event_log_head", "Notification id of the newest event.",
                        health.log_head))
    found.append(_gauge("attune_projection_position",
                        "Notification id of the newest event in the read models.",
                        health.projection_position))
    found.append(_gauge("attune_projection_lag_events",
                        "Events recorded but not yet in the read models.",
                        health.projection_lag))
    if health.queue_depth is not None:  # PostgreSQL: workers and their queue
        found.append(_gauge("attune_queue_depth",
                            "Suites of queued registrations waiting for a worker.",
                            health.queue_depth))
        found.append(_gauge("attune_queue_oldest_age_seconds",
                            "How long the longest-waiting queued suite has waited (0: none).",
                            health.oldest_queued_seconds or 0.0))
        found.append(_gauge("attune_workers_alive",
                            "Workers that showed signs of life within their stall time.",
                            health.workers_alive or 0))
    return found


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
