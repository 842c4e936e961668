"""The read side as the front ends use it: packs, details, history, on any read-model queries."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from attune_registry.domain.comparison import RunSelector, Thresholds
from attune_registry.domain.errors import NoTestResultsError, PackNotFoundError

from attune_registry.projections.activity_queries import ActivityFilter, Feed, RefState
from attune_registry.projections.case_stats import FlakyCase
from attune_registry.projections.queries import ReadModelQueries, SortKey
from attune_registry.projections.rows import (
    PackRow,
    RegistrationRow,
    TestExecutionJsonRow,
    TestExecutionRow,
)

from attune_registry.adapters.contract import (
    Dependency,
    Dependent,
    PackDependencies,
    PackDetails,
    Page,
    Verification,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from attune_registry.domain.vocabulary import RunStatus, TriggerReason

    from attune_registry.adapters.packs.releases import ReleaseStore
    from attune_registry.adapters.reads.compare import RunComparison
    from attune_registry.adapters.reads.versions import PackVersions


class Reads:
    """Queries with the registry's rules for what "not found" means."""

    def __init__(self, view: ReadModelQueries, releases: Callable[[], ReleaseStore]) -> None:
        self.view = view
        # Made on first use: listing packs never loads the release store's code.
        self._releases = releases

    @functools.cached_property
    def releases(self) -> ReleaseStore:
        return self._releases()

    def list_packs(self) -> list[PackRow]:
        return self.view.list_packs()

    def test_history(self, ref: str, *, limit: int = 50, status: RunStatus | None = None,
                     trigger_reason: TriggerReason | None = None,
                     ) -> list[TestExecutionRow]:
        return self.view.test_history(ref, limit=limit, status=status,
                                      trigger_reason=trigger_reason)

    def show(self, ref: str) -> PackDetails:
        """Raises: PackNotFoundError when ``ref`` is not active."""
        pack = self.view.get_pack(ref)
        if pack is None:
            raise PackNotFoundError(ref)
        latest = self.view.test_history(ref, limit=1)
        release = self.releases.path_of(pack.content_digest)
        return PackDetails(pack=pack, components=self.view.components(pack.id),
                           latest_test=latest[0] if latest else None,
                           release_path=release if os.path.isdir(release) else None)

    def latest_test(self, ref: str) -> TestExecutionRow:
        """Raises: PackNotFoundError, NoTestResultsError (a known ref without runs)."""
        rows = self.view.test_history(ref, limit=1)
        if not rows:
            raise NoTestResultsError(ref) if self.knows(ref) else PackNotFoundError(ref)
        return rows[0]

    def test_execution(self, ref: str, execution_id: int) -> TestExecutionRow | None:
        """Test run ``execution_id`` of ``ref``; None when ``ref`` has no such run."""
        return self.view.test_execution(ref, execution_id)

    def compare_tests(self, ref: str, from_: RunSelector | None = None,
                      to: RunSelector | None = None,
                      thresholds: Thresholds | None = None) -> RunComparison:
        """Two finished runs of ``ref`` case by case (see ``adapters.reads.compare``)."""
        from attune_registry.adapters.reads.compare import compare_runs

        return compare_runs(self.view, ref, from_, to, thresholds or Thresholds())

    def verify(self, ref: str) -> Verification:
        """Recompute the digest of active pack ``ref``'s release and compare. A registration
        from before releases gets one here if its recorded files are unchanged.

        Raises: PackNotFoundError when ``ref`` is not active.
        """
        from attune_registry.adapters.packs.releases import check_drift

        pack = self.view.get_pack(ref)
        if pack is None:
            raise PackNotFoundError(ref)
        release = (self.releases.restore(pack.content_digest, pack.source_path)
                   or self.releases.path_of(pack.content_digest))
        drift = check_drift(release, pack.content_digest)
        return Verification(ref=pack.ref, version=pack.version,
                            registration_id=pack.registration_id, source_path=pack.source_path,
                            release_path=release, origin=pack.origin, status=drift.status,
                            expected_digest=pack.content_digest,
                            actual_digest=drift.actual_digest, files_listed=drift.listed,
                            added=drift.added, removed=drift.removed, modified=drift.modified)

    def dependencies(self, ref: str) -> PackDependencies:
        """Raises: PackNotFoundError when ``ref`` was never submitted and no active pack
        depends on it."""
        # Here, not at the top: the range grammar (semantic_version) costs ~20 ms to import.
        from attune_registry.domain.dependencies import allows

        active = self.view.active_packs()
        version = active.versions.get(ref)
        dependents = active.dependents_of(ref)
        if version is None and not dependents and not self.view.has_history(ref):
            raise PackNotFoundError(ref)
        declared = active.dependencies.get(ref, {})
        return PackDependencies(
            ref=ref, version=version,
            dependencies=[Dependency(ref=dep, wanted=wanted,
                                     active_version=active.versions.get(dep),
                                     satisfied=allows(wanted, active.versions.get(dep)))
                          for dep, wanted in declared.items()],
            dependents=[Dependent(ref=other, version=active.versions[other],
                                  wanted=active.dependencies[other][ref],
                                  satisfied=allows(active.dependencies[other][ref], version))
                        for other in dependents])

    def flaky_cases(self, ref: str) -> list[FlakyCase]:
        """Raises: PackNotFoundError when ``ref`` was never submitted."""
        found = self.view.flaky_cases(ref)
        if not found and not self.view.has_history(ref):
            raise PackNotFoundError(ref)
        return found

    def registrations(self, ref: str, *, limit: int = 50) -> list[RegistrationRow]:
        """Every registration attempt of ``ref``, newest first.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        rows = self.view.registrations(ref, limit=limit)
        if not rows:
            raise PackNotFoundError(ref)
        return rows

    def knows(self, ref: str) -> bool:
        """Whether ``ref`` was ever submitted (active or not)."""
        return self.view.has_history(ref)

    def packs_page(self, *, limit: int, offset: int) -> Page[PackRow]:
        return Page(self.view.list_packs(limit=limit, offset=offset), self.view.count_packs())

    def activity(self, query: ActivityFilter) -> Feed:
        """Raises: PackNotFoundError when ``query.ref`` was never submitted."""
        return self.view.activity_page(query)

    def ref_states(self) -> list[RefState]:
        return self.view.ref_states()

    def versions(self, ref: str) -> PackVersions:
        """Raises: PackNotFoundError when ``ref`` was never submitted."""
        from attune_registry.adapters.reads.versions import pack_versions

        return pack_versions(self.view, self.releases, ref)

    def ref_states_page(self, *, limit: int, offset: int) -> Page[RefState]:
        return Page(self.view.ref_states(limit=limit, offset=offset),
                    self.view.count_ref_states())

    def test_history_page(self, ref: str, *, limit: int, offset: int = 0,
                          after: SortKey | None = None, status: RunStatus | None = None,
                          trigger_reason: TriggerReason | None = None,
                          ) -> Page[TestExecutionJsonRow]:
        """Test runs of ``ref``, newest first, with each ``result`` as stored (for responses).

        Raises: PackNotFoundError when ``ref`` has no history at all (with any filter).
        """
        total = self.view.count_test_history(ref, status=status, trigger_reason=trigger_reason)
        if total == 0 and not self.view.has_history(ref):
            raise PackNotFoundError(ref)
        # One row more than the page says whether there is a next one.
        rows = self.view.test_history_json(ref, limit=limit + 1, offset=offset, after=after,
                                           status=status, trigger_reason=trigger_reason)
        return Page(rows[:limit], total, more=len(rows) > limit)

    def registrations_page(self, ref: str, *, limit: int, offset: int = 0,
                           after: SortKey | None = None) -> Page[RegistrationRow]:
        """Registration attempts of ``ref``, newest first.

        Raises: PackNotFoundError when ``ref`` was never submitted.
        """
        total = self.view.count_registrations(ref)
        if total == 0:
            raise PackNotFoundError(ref)
        rows = self.view.registrations(ref, limit=limit + 1, offset=offset, after=after)
        return Page(rows[:limit], total, more=len(rows) > limit)
