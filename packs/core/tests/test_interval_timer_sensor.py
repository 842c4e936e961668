"""Behaviour of the core.interval_timer_sensor (sensors/interval_timer_sensor.py).

The timing logic runs in-process against a fake clock, so no test waits for a real
interval; the command line (validation, SIGTERM) runs as a subprocess. A real one-second
run is part of the shell suite (tests/run_tests.sh).
"""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import unittest
from datetime import datetime, timezone
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = PACK_ROOT / "sensors" / "interval_timer_sensor.py"
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def load_sensor():
    spec = importlib.util.spec_from_file_location("core_interval_timer_sensor", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SENSOR = load_sensor()


class FakeClock:
    """A monotonic clock that only moves when the sensor sleeps (or a test says so)."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """Collects (clock time, event); on_emit(count, clock) may move the clock or stop."""

    def __init__(self, clock, on_emit=None):
        self.clock, self.on_emit, self.events = clock, on_emit, []

    def __call__(self, event):
        self.events.append((self.clock.now, event))
        if self.on_emit:
            self.on_emit(len(self.events), self.clock)

    @property
    def times(self):
        return [round(at, 6) for at, _ in self.events]


def run_fake(interval, max_events, on_emit=None):
    clock = FakeClock()
    recorder = Recorder(clock, on_emit)
    emitted = SENSOR.run(interval, max_events, recorder, clock=clock.clock, sleep=clock.sleep,
                         now=lambda: "2030-01-01T00:00:00.000Z")
    return emitted, recorder, clock


class SensorScheduleTest(unittest.TestCase):
    def test_events_follow_the_trigger_payload_schema(self):
        emitted, recorder, _ = run_fake(5, 3)
        self.assertEqual(emitted, 3)
        for count, (_, event) in enumerate(recorder.events, start=1):
            self.assertEqual(event, {
                "trigger": "core.intervaltimer",
                "payload": {"type": "interval", "interval_seconds": 5,
                            "fired_at": "2030-01-01T00:00:00.000Z", "execution_count": count},
            })

    def test_events_are_due_at_multiples_of_the_interval(self):
        _, recorder, _ = run_fake(5, 3)
        self.assertEqual(recorder.times, [5, 10, 15])

    def test_no_single_sleep_is_longer_than_poll_interval(self):
        _, _, clock = run_fake(60, 1)
        self.assertEqual(len(clock.sleeps), 60)
        self.assertTrue(all(0 < seconds <= SENSOR.POLL_INTERVAL for seconds in clock.sleeps))

    def test_slow_event_handling_does_not_accumulate_delay(self):
        def slow(count, clock):
            clock.now += 0.4

        _, recorder, _ = run_fake(2, 4, on_emit=slow)
        self.assertEqual(recorder.times, [2, 4, 6, 8])

    def test_ticks_missed_while_suspended_are_skipped(self):
        def suspend_once(count, clock):
            if count == 1:
                clock.now += 12  # as if the process had been stopped for 12 s

        _, recorder, _ = run_fake(5, 3, on_emit=suspend_once)
        # One late event right away, then back on the original schedule (20 = 4 * 5).
        self.assertEqual(recorder.times, [5, 17, 20])
        self.assertEqual([event["payload"]["execution_count"] for _, event in recorder.events],
                         [1, 2, 3])

    def test_max_events_zero_runs_until_stopped(self):
        class Stop(Exception):
            pass

        def stop_after_five(count, clock):
            if count == 5:
                raise Stop

        with self.assertRaises(Stop):
            run_fake(1, 0, on_emit=stop_after_five)

    def test_fired_at_is_rfc3339_utc(self):
        # The stamp is "now": between two readings of the clock around the call, however
        # long the call took (milliseconds are truncated, so `before` is too).
        before = datetime.now(timezone.utc).replace(microsecond=0)
        stamp = SENSOR.utc_now()
        after = datetime.now(timezone.utc)
        self.assertRegex(stamp, RFC3339_UTC)
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        self.assertLessEqual(before, parsed)
        self.assertLessEqual(parsed, after)


class SensorParameterTest(unittest.TestCase):
    def parse(self, **params):
        return SENSOR.parse({f"ATTUNE_SENSOR_{name.upper()}": value for name, value in params.items()})

    def test_units_convert_to_seconds(self):
        self.assertEqual(self.parse(delta="30"), (30, 0))
        self.assertEqual(self.parse(unit="", delta="30"), (30, 0))
        self.assertEqual(self.parse(unit="seconds", delta="1"), (1, 0))
        self.assertEqual(self.parse(unit="minutes", delta="2"), (120, 0))
        self.assertEqual(self.parse(unit="hours", delta="3", max_events="7"), (10800, 7))

    def test_invalid_values_name_the_parameter(self):
        cases = [
            ({}, "delta", "is required"),
            ({"delta": ""}, "delta", "is required"),
            ({"delta": "0"}, "delta", "must be an integer >= 1, got '0'"),
            ({"delta": "-1"}, "delta", "must be an integer >= 1, got '-1'"),
            ({"delta": "1.5"}, "delta", "must be an integer >= 1, got '1.5'"),
            ({"delta": " 1"}, "delta", "must be an integer >= 1, got ' 1'"),
            ({"delta": "1", "unit": "days"}, "unit", "must be one of seconds, minutes, hours"),
            ({"delta": "1", "unit": "Seconds"}, "unit", "got 'Seconds'"),
            ({"delta": "1", "max_events": "-1"}, "max_events", "must be an integer >= 0"),
            ({"delta": "1", "max_events": "many"}, "max_events", "got 'many'"),
        ]
        for params, parameter, fragment in cases:
            with self.subTest(params=params):
                with self.assertRaises(SENSOR.InvalidParameter) as caught:
                    self.parse(**params)
                message = str(caught.exception)
                self.assertTrue(message.startswith(f"parameter '{parameter}' "), message)
                self.assertIn(fragment, message)


def sensor_command(**params):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update({f"ATTUNE_SENSOR_{name.upper()}": value for name, value in params.items()})
    return [sys.executable, "-I", "-S", str(SCRIPT)], env


class SensorCommandLineTest(unittest.TestCase):
    def run_sensor(self, **params):
        command, env = sensor_command(**params)
        return subprocess.run(command, env=env, capture_output=True, encoding="utf-8", timeout=10)

    def test_invalid_input_exits_2_with_one_line_naming_the_parameter(self):
        cases = [
            ({}, "interval_timer_sensor: parameter 'delta' is required (an integer >= 1)\n"),
            ({"delta": "0"}, "interval_timer_sensor: parameter 'delta' must be an integer >= 1, got '0'\n"),
            ({"delta": "5", "unit": "days"},
             "interval_timer_sensor: parameter 'unit' must be one of seconds, minutes, hours, got 'days'\n"),
        ]
        for params, stderr in cases:
            with self.subTest(params=params):
                result = self.run_sensor(**params)
                self.assertEqual(result.returncode, 2)
                self.assertEqual(result.stdout, "")
                self.assertEqual(result.stderr, stderr)

    @unittest.skipUnless(Path("/proc/self/status").exists(), "needs /proc to see the handler")
    def test_sigterm_stops_the_sensor_quietly(self):
        command, env = sensor_command(unit="hours", delta="1")
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, encoding="utf-8")
        try:
            deadline = time.monotonic() + 10
            while not self.catches_sigterm(process.pid):  # wait until its handler is in place
                self.assertIsNone(process.poll(), "the sensor exited early")
                self.assertLess(time.monotonic(), deadline, "no SIGTERM handler within 10 s")
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        self.assertEqual((process.returncode, stdout, stderr), (0, "", ""))

    @staticmethod
    def catches_sigterm(pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        caught = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE)
        return bool(caught) and bool(int(caught.group(1), 16) & (1 << (signal.SIGTERM - 1)))


if __name__ == "__main__":
    unittest.main()
