"""Reading the result lines a collector writes inside the test's own process."""

from __future__ import annotations

import json

from attune_registry.adapters.runners.follow import MAX_MESSAGE, report_of


def test_cases_a_running_case_and_the_end_are_read_in_order(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(json.dumps(r) for r in [
        {"name": "t.a", "status": "passed", "duration_ms": 3},
        {"name": "t.b", "status": "failed", "error_message": "boom"},
        {"started": "t.c"},
    ]) + "\n{\"name\": \"t.d\", \"sta")  # a last line cut short by a kill

    report = report_of(results.read_bytes().split(b"\n"))

    assert [(c.name, c.status, c.duration_ms) for c in report.cases] == [
        ("t.a", "passed", 3), ("t.b", "failed", 0)]
    assert (report.running, report.done) == ("t.c", False)


def test_a_status_that_is_none_of_ours_counts_as_an_error(tmp_path):
    # The file is written inside the test's process, which may be hostile: "passed!" or
    # "PASSED" must neither pass nor vanish from the counts.
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps({"name": f"t.{n}", "status": status}) + "\n"
                               for n, status in enumerate(["passed!", "PASSED", 7, None])))

    assert [c.status for c in report_of(results.read_text().splitlines()).cases] == ["error"] * 4


def test_names_messages_and_durations_are_bounded_whatever_the_test_writes():
    record = {"name": "n" * 5000, "status": "failed", "error_message": "m" * 100_000,
              "duration_ms": "forever"}

    [case] = report_of([json.dumps(record)]).cases

    assert len(case.name) < 1100 and len(case.error_message) < MAX_MESSAGE + 10
    assert case.duration_ms == 0
