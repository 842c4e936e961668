"""Which sandbox limit a failed suite ran into, from what the kernel left in its output."""

from __future__ import annotations

import signal

from attune_registry.domain.results import LIMIT_UNITS, SuiteResult

# What a process prints, or how it ends, when the kernel enforces each limit.
_SIGNS = (
    ("memory_mb", ("MemoryError", "Cannot allocate memory", "std::bad_alloc",
                   "out of memory")),
    ("processes", ("Resource temporarily unavailable", "can't fork", "Cannot fork",
                   "fork: retry")),
    ("open_files", ("Too many open files",)),
    ("file_size_mb", ("File too large",)),
)
_SIGNALS = {-signal.SIGXCPU: "cpu_seconds", -signal.SIGXFSZ: "file_size_mb"}


def limit_hit(result: SuiteResult, limits: dict[str, int]) -> str | None:
    """A sentence naming the limit a failed suite most likely reached, or None."""
    if result.status == "passed":
        return None
    name = _SIGNALS.get(result.exit_code) if result.exit_code is not None else None
    if name is None:
        text = "\n".join([result.stderr, result.stdout,
                          *(c.error_message or "" for c in result.test_cases)])
        name = next((limit for limit, signs in _SIGNS if any(s in text for s in signs)), None)
    if name is None or name not in limits:
        return None
    return (f"the suite may have reached its sandbox limit {name}: {limits[name]} "
            f"{LIMIT_UNITS[name]} (testing.limits in pack.yaml)")
