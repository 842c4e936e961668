#!/usr/bin/env python3
"""core.interval_timer_sensor - emit a core.intervaltimer event at a fixed interval."""
# A standalone sensor: a long-running process that prints one JSON line per event
# on stdout, {"trigger": "core.intervaltimer", "payload": {...}}, where the payload
# follows the `output` schema of triggers/intervaltimer.yaml.
#
# Parameter contract: every sensor parameter is passed as an environment
# variable ATTUNE_SENSOR_<NAME_UPPERCASE>. Unset and empty mean "use the default":
#   ATTUNE_SENSOR_UNIT        seconds, minutes or hours; default seconds
#   ATTUNE_SENSOR_DELTA       required, an integer >= 1: units between two events
#   ATTUNE_SENSOR_MAX_EVENTS  integer >= 0; stop after this many events, 0 (the
#                             default) runs until the process is stopped
#
# Events are due at start + n * interval, so delays do not accumulate; ticks missed
# while the process was suspended are skipped, not replayed in a burst.
# Invalid input prints one line to stderr naming the parameter and exits 2.
# SIGTERM and SIGINT stop the sensor quietly with exit status 0.

import json
import os
import re
import signal
import sys
import time
from datetime import datetime, timezone

TRIGGER = "core.intervaltimer"
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
DEFAULT_UNIT = "seconds"
# The longest single sleep; keep equal to poll_interval in interval_timer_sensor.yaml.
POLL_INTERVAL = 1
INTEGER = re.compile(r"[0-9]+")


class InvalidParameter(Exception):
    def __init__(self, name, problem):
        super().__init__(f"parameter '{name}' {problem}")


def parse_unit(raw):
    if not raw:
        return DEFAULT_UNIT
    if raw not in UNITS:
        raise InvalidParameter("unit", f"must be one of {', '.join(UNITS)}, got {raw!r}")
    return raw


def parse_integer(name, raw, minimum):
    if not INTEGER.fullmatch(raw) or int(raw) < minimum:
        raise InvalidParameter(name, f"must be an integer >= {minimum}, got {raw!r}")
    return int(raw)


def parse(environ):
    """(interval_seconds, max_events) from the ATTUNE_SENSOR_* variables."""
    unit = parse_unit(environ.get("ATTUNE_SENSOR_UNIT"))
    delta = environ.get("ATTUNE_SENSOR_DELTA")
    if not delta:
        raise InvalidParameter("delta", "is required (an integer >= 1)")
    interval = parse_integer("delta", delta, 1) * UNITS[unit]
    max_events = environ.get("ATTUNE_SENSOR_MAX_EVENTS")
    return interval, parse_integer("max_events", max_events, 0) if max_events else 0


def utc_now():
    """The current time as RFC 3339 in UTC, e.g. 2030-01-01T09:00:00.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(interval, count, fired_at):
    return {
        "trigger": TRIGGER,
        "payload": {
            "type": "interval",
            "interval_seconds": interval,
            "fired_at": fired_at,
            "execution_count": count,
        },
    }


def run(interval, max_events, emit, clock=time.monotonic, sleep=time.sleep, now=utc_now):
    """Emit events until max_events (0: forever); returns the number emitted."""
    start = clock()
    tick = count = 0
    while max_events == 0 or count < max_events:
        tick += 1
        due = start + tick * interval
        while (remaining := due - clock()) > 0:
            sleep(min(remaining, POLL_INTERVAL))
        late = clock() - due
        if late >= interval:  # suspended for a while: skip the ticks that were missed
            tick += int(late // interval)
        count += 1
        emit(make_event(interval, count, now()))
    return count


def print_event(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def stop(signum, frame):
    raise SystemExit(0)


def main(environ):
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        interval, max_events = parse(environ)
    except InvalidParameter as error:
        print(f"interval_timer_sensor: {error}", file=sys.stderr)
        return 2
    try:
        run(interval, max_events, print_event)
    except BrokenPipeError:  # whoever read the events went away
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(os.environ))
