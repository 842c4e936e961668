"""The registry as its front ends use it: commands, read-your-writes, and queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.ports import Progress
from application.register import RegisterPack, RegistrationOutcome
from application.registry import PackRegistry
from application.test_pack import TestPack, TestRunOutcome
from projections.rows import PackRow, TestExecutionRow
from projections.view import RegistryView


@dataclass(frozen=True)
class Registered:
    """A committed registration together with the pack row it produced."""

    outcome: RegistrationOutcome
    pack: PackRow


class RegistryService:
    """Runs use cases and returns only after their events are in the read models."""

    def __init__(self, app: PackRegistry, view: RegistryView, register_pack: RegisterPack,
                 test_pack: TestPack, closers: list[Any], *, jobs: int = 1) -> None:
        self.app = app
        self.view = view
        self.register_pack = register_pack
        self.test_pack = test_pack
        self.jobs = jobs
        self._closers = closers

    def register(self, path: str, *, force: bool = False, replace: bool = False,
                 skip_tests: bool = False,
                 requested_by: str = "cli", progress: Progress | None = None,
                 jobs: int | None = None) -> Registered:
        try:
            outcome = self.register_pack(path, force=force, replace=replace,
                                         skip_tests=skip_tests,
                                         requested_by=requested_by, progress=progress,
                                         jobs=jobs or self.jobs)
        finally:
            # Rejections are history too: project whatever the attempt recorded.
            self.catch_up()
        pack = self.view.get_pack(outcome.pack_ref)
        assert pack is not None, f"pack {outcome.pack_ref!r} missing after its commit"
        return Registered(outcome=outcome, pack=pack)

    def test_registered(self, ref: str, *, requested_by: str = "cli",
                        progress: Progress | None = None,
                        jobs: int | None = None) -> TestRunOutcome:
        """Run an active pack's suites again; the run joins its test history."""
        try:
            return self.test_pack.registered(ref, requested_by=requested_by, progress=progress,
                                             jobs=jobs or self.jobs)
        finally:
            self.catch_up()

    def test_directory(self, path: str, *, progress: Progress | None = None,
                       jobs: int | None = None) -> TestRunOutcome:
        """Run the suites of a pack directory without registering or recording anything."""
        return self.test_pack.directory(path, progress=progress, jobs=jobs or self.jobs)

    def catch_up(self) -> int:
        """Bring the read models up to the head of the event log."""
        return self.view.project(self.app)

    def list_packs(self) -> list[PackRow]:
        self.catch_up()
        return self.view.list_packs()

    def test_history(self, ref: str, *, limit: int = 50) -> list[TestExecutionRow]:
        self.catch_up()
        return self.view.test_history(ref, limit=limit)

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted for registration."""
        return self.view.has_history(ref)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def __enter__(self) -> RegistryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
