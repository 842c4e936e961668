"""procrastinate's report of a failed side task (the store went away) becomes one line."""

from __future__ import annotations

import io
import logging

from attune_registry.adapters.observability.logs import TextFormatter, quiet_side_task_failures


def logged(action: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    worker_log = logging.getLogger("procrastinate.worker.test-side-task")
    worker_log.addHandler(handler)
    worker_log.propagate = False
    quiet_side_task_failures("test-side-task")
    quiet_side_task_failures("test-side-task")  # once is enough: no second filter
    try:
        try:
            raise ConnectionError("server closed the connection unexpectedly")
        except ConnectionError as exc:
            worker_log.error("Side task deferrer failed with exception: %s, stopping worker",
                             exc, extra={"action": action}, exc_info=exc)
    finally:
        worker_log.removeHandler(handler)
    assert len(worker_log.filters) == 1
    return stream.getvalue()


def test_a_side_task_failure_is_one_line_naming_the_exception():
    text = logged("side_task_failed")

    assert "Traceback" not in text
    assert text.count("\n") == 1
    assert "Side task deferrer failed" in text
    assert "(ConnectionError: server closed the connection unexpectedly)" in text


def test_other_errors_keep_their_traceback():
    text = logged("job_error")

    assert "Traceback (most recent call last)" in text
