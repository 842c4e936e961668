"""pytest plugin loaded into pack test runs: one JSON line per test as it starts and ends.

Standard library and pytest hooks only; the lines go to the pipe whose descriptor is in
PACK_TEST_PROGRESS_FD (the registry reads the other end: never a file a test could replace).
The JUnit report is the source of truth for results; these lines drive the progress display and
stand in for the report when the run is killed before pytest could write it.
"""

import json
import os

MAX_MESSAGE = 8000
_sink = None


def pytest_configure(config):
    global _sink
    fd = os.environ.pop("PACK_TEST_PROGRESS_FD", "")
    if fd.isdigit():
        os.set_inheritable(int(fd), False)  # not for the processes the tests start
        _sink = open(int(fd), "w", encoding="utf-8")  # noqa: SIM115


def _name(nodeid):
    """``tests/test_x.py::TestC::test_y[a]`` -> ``tests.test_x.TestC.test_y[a]`` (as in JUnit
    XML: a parameter's ``::`` or ``/`` stays as it is)."""
    address, bracket, params = nodeid.partition("[")
    path, _, rest = address.partition("::")
    module = path[:-3] if path.endswith(".py") else path
    return ".".join([module.replace("/", "."), *filter(None, rest.split("::"))]) + bracket + params


def pytest_collection_modifyitems(session, config, items):
    """On a rerun of a suite's failed cases (ATTUNE_RERUN_CASES: their names, one a line, as
    the registry read them from the JUnit report), only those run."""
    listed = os.environ.pop("ATTUNE_RERUN_CASES", None)
    if listed is None:
        return
    wanted = set(listed.split("\n"))
    kept = [item for item in items if _name(item.nodeid) in wanted]
    dropped = [item for item in items if _name(item.nodeid) not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def _write(record):
    if _sink is not None:
        _sink.write(json.dumps(record) + "\n")
        _sink.flush()


def pytest_runtest_logstart(nodeid, location):
    _write({"started": _name(nodeid)})


def pytest_runtest_logreport(report):
    failed_outside_call = report.failed and report.when != "call"
    if report.when == "call" or failed_outside_call or (report.when == "setup" and report.skipped):
        if report.passed:
            status = "passed"
        elif report.skipped:
            status = "skipped"
        else:
            status = "failed" if report.when == "call" else "error"
        message = None if report.passed else str(report.longrepr)[-MAX_MESSAGE:]
        _write({"name": _name(report.nodeid), "status": status,
                "duration_ms": int(report.duration * 1000), "error_message": message})


def pytest_unconfigure(config):
    if _sink is not None:
        _sink.close()
