"""``application.ports.ReusableRuns`` on the local store: the test history of the read models,
brought up to the head of the log first (a run recorded a moment ago counts)."""

from __future__ import annotations

from collections.abc import Sequence

from attune_registry.domain.results import TestResult

from attune_registry.application.ports import ReusableRun

from attune_registry.adapters.reads.current import CurrentReads, current


class ReadModelRuns:
    """Finds reusable runs in ``pack_test_execution``."""

    def __init__(self, reads: CurrentReads) -> None:
        self.reads = reads

    def find(self, ref: str, digest: str, fingerprint: str,
             suites: Sequence[str]) -> ReusableRun | None:
        return _find(self.reads, ref, digest, fingerprint, suites)


@current
def _find(reads: CurrentReads, ref: str, digest: str, fingerprint: str,
          suites: Sequence[str]) -> ReusableRun | None:
    row = reads.view.reusable_run(ref, digest, fingerprint, suites)
    if row is None:
        return None
    return ReusableRun(run_id=row["run_id"], registration_id=row["registration_id"],
                       pack_version=row["pack_version"], fingerprint=row["fingerprint"],
                       result=TestResult.from_dict(row["result"]))
