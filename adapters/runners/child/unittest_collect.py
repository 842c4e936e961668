"""Runs a pack's unittest suite and reports every test case as a JSON line.

Executed as a script inside the sandboxed test process, with the standard library only: it
must not import the registry (the pack's own modules could shadow ours). Each case is written
and flushed as soon as it finishes, so a suite that is killed still reports what it ran.

Usage: unittest_collect.py RESULTS_FD START_DIR TOP_DIR PATTERN [PATTERN ...]
RESULTS_FD is the write end of a pipe the registry reads (never a file the test could replace).
"""

import json
import os
import pathlib
import sys
import time
import traceback
import unittest

MAX_MESSAGE = 8000


class CaseReporter(unittest.TextTestResult):
    """A unittest result that also writes one JSON line per finished test case."""

    def __init__(self, stream, descriptions, verbosity, *, sink, **kwargs):
        super().__init__(stream, descriptions, verbosity, **kwargs)
        self.sink = sink
        self.started = {}
        self.sub_failures = {}
        self.emitted = set()
        self._current = None  # (test, its id, its case name or None) while it runs

    def startTest(self, test):
        key = self._key(test)
        self.started[key] = time.monotonic()
        # Announced before it runs, so a test that hangs or kills the process can be named.
        self.sink.write(started_line(self._name(test, key)))
        self.sink.flush()
        super().startTest(test)

    def stopTest(self, test):
        key = self._key(test)
        # A test whose subtests failed gets no addSuccess/addFailure call of its own.
        failures = self.sub_failures.pop(key, None)
        if failures and key not in self.emitted:
            status = "error" if any(kind == "error" for kind, _ in failures) else "failed"
            self._emit(test, status, "\n".join(text for _, text in failures))
        super().stopTest(test)
        self._current = None

    def _key(self, test):
        """``test.id()``, computed once for the test that is running (it is called for each
        hook: on a suite of thousands of tiny tests, that shows)."""
        current = self._current
        if current is not None and current[0] is test:
            return current[1]
        key = test.id()
        self._current = (test, key, None)
        return key

    def _name(self, test, key):
        current = self._current
        if current is not None and current[0] is test and current[2] is not None:
            return current[2]
        name = case_name(test)
        if current is not None and current[0] is test:
            self._current = (test, key, name)
        return name

    def _emit(self, test, status, message=None):
        key = self._key(test)
        if key in self.emitted:
            return
        self.emitted.add(key)
        name = self._name(test, key)
        if key not in self.started:  # a class or module fixture failed: never started
            self.sink.write(started_line(name))
        begun = self.started.pop(key, None)
        duration = int((time.monotonic() - begun) * 1000) if begun else 0
        if message and len(message) > MAX_MESSAGE:
            message = "[...]\n" + message[-MAX_MESSAGE:]
        self.sink.write(case_line(name, status, duration, message))
        self.sink.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, "failed", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(test, "passed", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(test, "failed", "unexpected success (the test is marked expectedFailure)")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failed" if issubclass(err[0], test.failureException) else "error"
            # unittest.TestResult formats tracebacks so; the method is private but stable.
            text = f"{subtest.id()}\n{self._exc_info_to_string(err, test)}"  # type: ignore[attr-defined]
            self.sub_failures.setdefault(test.id(), []).append((kind, text))


def started_line(name):
    """``json.dumps({"started": name})`` and a newline, without the encoder's per-call
    set-up (two lines per case: on thousands of tiny tests, json.dumps shows)."""
    if type(name) is not str:
        return json.dumps({"started": name}) + "\n"
    return '{"started": ' + _quoted(name) + "}\n"


def case_line(name, status, duration, message):
    """``json.dumps`` of a finished case's record and a newline, as ``started_line``."""
    if type(name) is not str or type(message) not in (str, type(None)):
        return json.dumps({"name": name, "status": status, "duration_ms": duration,
                           "error_message": message}) + "\n"
    text = "null" if message is None else _quoted(message)
    return (f'{{"name": {_quoted(name)}, "status": "{status}", "duration_ms": {duration}, '
            f'"error_message": {text}}}\n')


# What json.dumps quotes strings with (ensure_ascii): the same bytes, minus its overhead.
_quoted = json.encoder.encode_basestring_ascii


def case_name(test):
    """``module.Class.test``; import and fixture failures are named for what failed."""
    if type(test).__name__ == "_FailedTest":
        return f"{test._testMethodName} (failed to import)"
    if type(test).__name__ == "_ErrorHolder":
        return test.description
    return test.id()


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def collect(start, top, patterns):
    """Discover as ``python -m unittest discover -s START -p PATTERN -t TOP``, per pattern."""
    suite = unittest.TestSuite()
    seen = set()
    for pattern in patterns:
        if "/" in pattern:
            tests = load_by_path(start, top, pattern)
        else:
            tests = unittest.TestLoader().discover(start, pattern=pattern, top_level_dir=top)
        for test in iter_tests(tests):
            if test.id() not in seen:
                seen.add(test.id())
                suite.addTest(test)
    return suite


def load_by_path(start, top, pattern):
    """A pattern with a directory part: import exactly the matching files as modules."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    if top not in sys.path:
        sys.path.insert(0, top)
    for path in sorted(pathlib.Path(start).glob(pattern)):
        if path.suffix == ".py" and path.is_file():
            module = os.path.relpath(path, top)[:-3].replace(os.sep, ".")
            suite.addTests(loader.loadTestsFromName(module))
    return suite


def rerun_only(suite, listed):
    """The tests of ``suite`` named in ``listed`` (ATTUNE_RERUN_CASES: one case name per line,
    as this collector reports them), when the registry reruns a suite's failed cases."""
    wanted = set(listed.split("\n"))
    chosen = unittest.TestSuite()
    chosen.addTests(test for test in iter_tests(suite) if case_name(test) in wanted)
    return chosen


def main(argv):
    results_fd, start, top, *patterns = argv
    # Read and removed before any test runs: the tests' own processes need not see it.
    rerun = os.environ.pop("ATTUNE_RERUN_CASES", None)
    # This script's own folder is sys.path[0]; the pack's modules must win over anything here.
    del sys.path[0]
    os.set_inheritable(int(results_fd), False)  # not for the processes the tests start
    with open(int(results_fd), "w", encoding="utf-8") as sink:
        try:
            suite = collect(start, top, patterns)
            if rerun is not None:
                suite = rerun_only(suite, rerun)
        except Exception:
            sink.write(json.dumps({"started": "test discovery"}) + "\n")
            sink.write(json.dumps({"name": "test discovery", "status": "error", "duration_ms": 0,
                                   "error_message": traceback.format_exc()}) + "\n")
            return 1
        runner = unittest.TextTestRunner(
            stream=sys.stderr, verbosity=1, buffer=True,
            resultclass=lambda *args, **kwargs: CaseReporter(*args, sink=sink, **kwargs),
        )
        result = runner.run(suite)
        # The registry checks this count against the cases it read (see follow.CaseStream).
        sink.write(json.dumps({"done": True, "tests_run": len(result.emitted)}) + "\n")  # type: ignore[attr-defined]
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
