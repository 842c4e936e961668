"""The dependency rules of the use cases: a pack registers only when what it declares is
active at a version its range allows."""

from __future__ import annotations

from attune_registry.domain.dependencies import NOTHING_ACTIVE, ActivePacks
from attune_registry.domain.errors import DependenciesUnmetError
from attune_registry.domain.manifest import PackManifest

from attune_registry.application.ports import ActivePackReader


class NoActivePacks:
    """An ``ActivePackReader`` for a registry that has none (tests of the use cases alone)."""

    def active_packs(self) -> ActivePacks:
        return NOTHING_ACTIVE


def check_dependencies(manifest: PackManifest, active: ActivePackReader) -> None:
    """Refuse ``manifest`` unless every dependency it declares is active at a satisfying
    version. Checked before anything is recorded; ``force`` does not bypass it (a forced
    registration accepts failing tests, not a missing pack its code imports).

    Raises:
        DependenciesUnmetError: listing each unmet dependency and what is active.
    """
    if not manifest.dependencies:
        return  # no read of the active packs for the common case
    unmet = active.active_packs().unmet(manifest.dependencies)
    if unmet:
        raise DependenciesUnmetError(
            manifest.ref, [(u.ref, u.wanted, u.active_version) for u in unmet])
