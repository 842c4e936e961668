"""Which versions of a pack's missing dependencies to install from a pack index, and in which
order; or why none can be, naming who needs what.

An index maps refs and versions to sources (``IndexEntry``). A chosen entry's own
dependencies are known only once its ``pack.yaml`` has been read, so resolving is a loop
the caller drives: ``resolve`` answers either a complete plan or the chosen entries it still
has to read (``Resolution.unread``); the caller fetches those, adds their dependencies to
``manifests`` and asks again. Every answer depends on its arguments only.

Rules:

- each dependency that is not active is installed at the highest index version that every
  pack needing it allows (the pack being registered, and the chosen entries that need it);
- an active pack is never replaced here, even when a higher version would satisfy: replacing
  it is an upgrade that its own dependents' tests must judge, so a range it does not satisfy
  is a conflict that says to upgrade it on its own first;
- installs come in dependency order (a pack after what it depends on), ties by ref.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.versions import VersionRange, VersionRangeError, newest_first

# A choice that changes what the chosen entries need may change other choices: the loop
# stops after this many rounds (real graphs settle in a few).
MAX_ROUNDS = 50
# How many index versions a conflict lists (the newest).
SHOWN_VERSIONS = 8


@dataclass(frozen=True)
class IndexEntry:
    """One version of a pack in the index: where to install it from, as
    ``attune pack install SOURCE [--ref GIT_REF] [--digest sha256:DIGEST]`` would."""

    ref: str
    version: str
    source: str
    git_ref: str | None = None
    digest: str | None = None
    """The content's sha256 (64 lowercase hex digits) the install must find, or None."""


PackIndexEntries = Mapping[str, Mapping[str, IndexEntry]]
"""ref -> version -> entry."""


@dataclass(frozen=True)
class Need:
    """``by`` needs ``ref`` at a version in ``wanted`` (range text)."""

    ref: str
    wanted: str
    by: str


@dataclass(frozen=True)
class Conflict:
    """A dependency no install can satisfy; ``describe()`` says who needs what."""

    ref: str
    needs: tuple[Need, ...]
    active_version: str | None
    index_versions: tuple[str, ...]
    """The index's versions of ``ref``, newest first."""
    problem: str
    """What is wrong, in words: the rest of the line ``describe`` prints."""

    def describe(self) -> str:
        return f"{self.ref}: {self.problem}"

    def as_detail(self) -> dict[str, Any]:
        """The conflict for programs (the API's ``details``)."""
        return {"ref": self.ref, "needed_by": {need.by: need.wanted for need in self.needs},
                "active_version": self.active_version,
                "index_versions": list(self.index_versions), "problem": self.problem}


class DependencyConflictError(RegistryError):
    """Raised when the index cannot satisfy a pack's dependencies; nothing was installed."""

    code = "CONFLICT"

    def __init__(self, pack_ref: str, conflicts: Iterable[Conflict]) -> None:
        self.pack_ref = pack_ref
        self.conflicts = tuple(conflicts)
        lines = "\n".join(f"  {conflict.describe()}" for conflict in self.conflicts)
        super().__init__(f"Cannot install the dependencies of pack '{pack_ref}' from the "
                         f"pack index; nothing was installed:\n{lines}")
        self.details = [conflict.as_detail() for conflict in self.conflicts]


@dataclass(frozen=True)
class Resolution:
    """Either a plan (``unread`` empty: ``installs`` in order, possibly none) or the chosen
    entries whose ``pack.yaml`` must be read before the plan is known."""

    installs: tuple[IndexEntry, ...] = ()
    unread: tuple[IndexEntry, ...] = ()


@dataclass(frozen=True)
class Root:
    """The pack being registered: its ref, version and declared dependencies."""

    ref: str
    version: str
    dependencies: Mapping[str, str]


def resolve(root: Root, active: Mapping[str, str], index: PackIndexEntries,
            manifests: Mapping[tuple[str, str], Mapping[str, str]]) -> Resolution:
    """The installs that make every dependency of ``root`` (and of what is installed for it)
    satisfied, given the ``active`` packs (ref -> version) and the dependencies of the index
    entries read so far (``manifests``: (ref, version) -> ref -> range text).

    Raises:
        DependencyConflictError: naming every dependency that cannot be satisfied.
    """
    chosen: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        unread = [index[ref][version] for ref, version in sorted(chosen.items())
                  if (ref, version) not in manifests]
        if unread:
            return Resolution(unread=tuple(unread))
        needs = _needs(root, chosen, manifests)
        choice, conflicts = _choose(root, needs, active, index)
        if conflicts:
            raise DependencyConflictError(root.ref, conflicts)
        if choice == chosen:
            return Resolution(installs=_in_order(root.ref, chosen, index, manifests))
        chosen = choice
    raise DependencyConflictError(root.ref, [Conflict(
        ref, (), None, (), f"no stable choice of versions after {MAX_ROUNDS} rounds (the "
        "chosen versions keep changing what the others need)") for ref in sorted(chosen)])


def _needs(root: Root, chosen: Mapping[str, str],
           manifests: Mapping[tuple[str, str], Mapping[str, str]]) -> dict[str, list[Need]]:
    """Who needs what: the root's dependencies and those of every chosen entry, by ref."""
    needs: dict[str, list[Need]] = {}
    for ref, wanted in root.dependencies.items():
        needs.setdefault(ref, []).append(Need(ref, wanted, root.ref))
    for by, version in sorted(chosen.items()):
        for ref, wanted in manifests[(by, version)].items():
            needs.setdefault(ref, []).append(Need(ref, wanted, f"{by} {version}"))
    return needs


def _choose(root: Root, needs: Mapping[str, list[Need]], active: Mapping[str, str],
            index: PackIndexEntries) -> tuple[dict[str, str], list[Conflict]]:
    choice: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for ref, ref_needs in sorted(needs.items()):
        versions = tuple(newest_first(index.get(ref, {})))
        ranges, invalid = _ranges(ref_needs)
        if invalid:
            conflicts.append(Conflict(ref, tuple(ref_needs), active.get(ref), versions,
                                      f"{_who_needs(invalid)}: not a version range"))
            continue
        if ref == root.ref:  # an entry that needs the pack being registered
            if not all(r.allows(root.version) for r in ranges):
                conflicts.append(Conflict(
                    ref, tuple(ref_needs), active.get(ref), versions,
                    f"{_who_needs(ref_needs)}, but version {root.version} is the one being "
                    "registered"))
            continue
        if ref in active:
            problem = _active_problem(ref, active[ref], ref_needs, ranges, versions)
            if problem is not None:
                conflicts.append(Conflict(ref, tuple(ref_needs), active[ref], versions, problem))
            continue
        best = next((v for v in versions if all(r.allows(v) for r in ranges)), None)
        if best is not None:
            choice[ref] = best
            continue
        if not versions:
            problem = (f"{_who_needs(ref_needs)}; it is not active and the index has no pack "
                       f"'{ref}'")
        else:
            problem = (f"{_who_needs(ref_needs)}; it is not active and no version in the index "
                       f"satisfies {'all of them' if len(ref_needs) > 1 else 'it'} "
                       f"(index has {_listed(versions)})")
        conflicts.append(Conflict(ref, tuple(ref_needs), None, versions, problem))
    return choice, conflicts


def _active_problem(ref: str, version: str, needs: list[Need], ranges: list[VersionRange],
                    versions: tuple[str, ...]) -> str | None:
    """Why active ``ref`` ``version`` does not do, or None if every range allows it."""
    unmet = [need for need, allowed in zip(needs, ranges, strict=True)
             if not allowed.allows(version)]
    if not unmet:
        return None
    whose = ", ".join(f"{need.by}'s {need.wanted}" for need in unmet)
    problem = f"active {ref} {version} does not satisfy {whose}; "
    best = next((v for v in versions if all(r.allows(v) for r in ranges)), None)
    if best is None:
        listed = f"index has {_listed(versions)}" if versions else f"the index has no pack '{ref}'"
        return f"{problem}no version in the index does ({listed})"
    return problem + (f"the index has {best}, but an active pack is not replaced here: upgrade "
                      f"{ref} on its own first (attune pack install SOURCE --replace), so that "
                      "the packs that depend on it are tested against it")


def _ranges(needs: list[Need]) -> tuple[list[VersionRange], list[Need]]:
    ranges, invalid = [], []
    for need in needs:
        try:
            ranges.append(VersionRange.parse(need.wanted))
        except VersionRangeError:
            invalid.append(need)
    return ranges, invalid


def _who_needs(needs: Iterable[Need]) -> str:
    """``web needs ^1.2, report 1.0.0 needs ~1.0``."""
    return ", ".join(f"{need.by} needs {need.wanted}" for need in needs)


def _listed(versions: tuple[str, ...]) -> str:
    """Oldest first, as people read a list of versions; only the newest few."""
    shown = list(reversed(versions[:SHOWN_VERSIONS]))
    more = len(versions) - len(shown)
    return (f"{more} older, " if more else "") + ", ".join(shown)


def _in_order(root_ref: str, chosen: Mapping[str, str], index: PackIndexEntries,
              manifests: Mapping[tuple[str, str], Mapping[str, str]]) -> tuple[IndexEntry, ...]:
    """The chosen entries, each after the chosen entries it depends on, ties by ref.

    Raises:
        DependencyConflictError: chosen entries depend on each other in a cycle (none could
            be registered first: each needs the other active).
    """
    waiting = {ref: {dep for dep in manifests[(ref, version)] if dep in chosen}
               for ref, version in chosen.items()}
    ordered: list[IndexEntry] = []
    while waiting:
        ready = sorted(ref for ref, deps in waiting.items() if not deps)
        if not ready:
            cycle = ", ".join(sorted(waiting))
            raise DependencyConflictError(root_ref, [Conflict(
                ref, (), None, (), f"waits for {', '.join(sorted(deps))}: packs that depend on "
                f"each other in a cycle ({cycle}) cannot be installed one after the other")
                for ref, deps in sorted(waiting.items())])
        for ref in ready:
            ordered.append(index[ref][chosen[ref]])
            del waiting[ref]
        for deps in waiting.values():
            deps.difference_update(ready)
    return tuple(ordered)
