"""Reading the results file a unittest collector writes inside the test's own process."""

from __future__ import annotations

import json

from adapters.runners.follow import read_report


def test_cases_a_running_case_and_the_end_are_read_in_order(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(json.dumps(r) for r in [
        {"name": "t.a", "status": "passed", "duration_ms": 3},
        {"name": "t.b", "status": "failed", "error_message": "boom"},
        {"started": "t.c"},
    ]) + "\n{\"name\": \"t.d\", \"sta")  # a last line cut short by a kill

    report = read_report(results)

    assert [(c.name, c.status, c.duration_ms) for c in report.cases] == [
        ("t.a", "passed", 3), ("t.b", "failed", 0)]
    assert (report.running, report.done) == ("t.c", False)


def test_a_status_that_is_none_of_ours_counts_as_an_error(tmp_path):
    # The file is written inside the test's process, which may be hostile: "passed!" or
    # "PASSED" must neither pass nor vanish from the counts.
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps({"name": f"t.{n}", "status": status}) + "\n"
                               for n, status in enumerate(["passed!", "PASSED", 7, None])))

    assert [c.status for c in read_report(results).cases] == ["error"] * 4
