"""pytest plugin loaded into pack test runs: one JSON line per finished test, for live progress.

Standard library and pytest hooks only; the file to write comes from PACK_TEST_PROGRESS_FILE. The
JUnit report stays the source of truth for results; this only drives the progress display.
"""

import json
import os

_sink = None


def pytest_configure(config):
    global _sink
    path = os.environ.get("PACK_TEST_PROGRESS_FILE")
    if path:
        _sink = open(path, "a", encoding="utf-8")  # noqa: SIM115


def pytest_runtest_logreport(report):
    if _sink is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        status = "passed" if report.passed else "skipped" if report.skipped else (
            "failed" if report.when == "call" else "error")
        _sink.write(json.dumps({"name": report.nodeid, "status": status}) + "\n")
        _sink.flush()


def pytest_unconfigure(config):
    if _sink is not None:
        _sink.close()
