"""``domain.resolution``: which index versions ``--install-deps`` installs, in which order, and
how it explains what it cannot do. Pure: manifests of index entries are given as dicts."""

from __future__ import annotations

import pytest

from attune_registry.domain.resolution import (
    DependencyConflictError,
    IndexEntry,
    Resolution,
    Root,
    resolve,
)


def index(**packs: dict[str, dict[str, str]]) -> dict[str, dict[str, IndexEntry]]:
    """ref -> version -> the entry's dependencies; sources are made up from the names."""
    return {ref: {version: IndexEntry(ref, version, f"https://git.example/{ref}.git",
                                      git_ref=f"v{version}")
                  for version in versions}
            for ref, versions in packs.items()}


def manifests(**packs: dict[str, dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(ref, version): deps for ref, versions in packs.items()
            for version, deps in versions.items()}


def plan(root: Root, active: dict[str, str], packs: dict[str, dict[str, dict[str, str]]]
         ) -> list[tuple[str, str]]:
    """Drive ``resolve`` as the use case does: read what it asks for until the plan is
    complete; the (ref, version) installs in order."""
    entries = index(**packs)
    everything = manifests(**packs)
    known: dict[tuple[str, str], dict[str, str]] = {}
    reads = 0
    while True:
        found = resolve(root, active, entries, known)
        if not found.unread:
            return [(entry.ref, entry.version) for entry in found.installs]
        for entry in found.unread:
            assert (entry.ref, entry.version) not in known  # never asked twice
            known[(entry.ref, entry.version)] = everything[(entry.ref, entry.version)]
            reads += 1
        assert reads < 100


def conflict_lines(root: Root, active: dict[str, str],
                   packs: dict[str, dict[str, dict[str, str]]]) -> list[str]:
    with pytest.raises(DependencyConflictError) as caught:
        plan(root, active, packs)
    return [conflict.describe() for conflict in caught.value.conflicts]


WEB = Root("web", "2.0.0", {"core": "^1.2"})


class TestChoosing:
    def test_the_highest_version_the_range_allows_is_chosen(self):
        packs = {"core": {"1.0.3": {}, "1.2.0": {}, "1.3.0": {}, "2.0.0": {}}}
        assert plan(WEB, {}, packs) == [("core", "1.3.0")]

    def test_an_entry_is_read_before_the_plan_is_final(self):
        entries = index(core={"1.3.0": {}})
        first = resolve(WEB, {}, entries, {})
        assert first == Resolution(unread=(entries["core"]["1.3.0"],))
        final = resolve(WEB, {}, entries, {("core", "1.3.0"): {}})
        assert final == Resolution(installs=(entries["core"]["1.3.0"],))

    def test_an_active_version_that_satisfies_is_kept_and_nothing_is_read(self):
        packs = {"core": {"1.2.5": {}, "1.9.0": {}}}
        assert resolve(WEB, {"core": "1.2.5"}, index(**packs), {}) == Resolution()

    def test_no_dependencies_install_nothing(self):
        assert plan(Root("web", "1.0.0", {}), {}, {}) == []

    def test_dependencies_of_dependencies_come_first_in_dependency_order(self):
        root = Root("web", "1.0.0", {"report": "*", "core": "^1"})
        packs = {"report": {"1.0.0": {"charts": "~2.1", "core": ">=1.1"}},
                 "charts": {"2.1.4": {"core": "*"}, "2.2.0": {}},
                 "core": {"1.0.0": {}, "1.4.0": {}}}
        assert plan(root, {}, packs) == [("core", "1.4.0"), ("charts", "2.1.4"),
                                          ("report", "1.0.0")]

    def test_a_transitive_range_narrows_an_earlier_choice(self):
        # web allows any core 1.x; report (chosen with it) needs ~1.1: 1.1.7, not 1.4.0.
        root = Root("web", "1.0.0", {"core": "^1", "report": "*"})
        packs = {"report": {"1.0.0": {"core": "~1.1"}},
                 "core": {"1.1.7": {}, "1.4.0": {}}}
        assert plan(root, {}, packs) == [("core", "1.1.7"), ("report", "1.0.0")]

    def test_a_dependency_satisfied_by_an_active_pack_is_not_installed(self):
        root = Root("web", "1.0.0", {"report": "*"})
        packs = {"report": {"1.0.0": {"core": "^1.2"}}, "core": {"1.9.0": {}}}
        assert plan(root, {"core": "1.2.0"}, packs) == [("report", "1.0.0")]

    def test_an_entry_may_need_the_pack_being_registered_at_its_version(self):
        root = Root("web", "1.0.0", {"theme": "*"})
        assert plan(root, {}, {"theme": {"1.0.0": {"web": "^1"}}}) == [("theme", "1.0.0")]


class TestConflicts:
    def test_two_ranges_no_index_version_satisfies_name_who_needs_what(self):
        root = Root("web", "1.0.0", {"core": "^1.2", "report": "*"})
        packs = {"report": {"2.0.0": {"core": "~1.0"}},
                 "core": {"1.0.3": {}, "1.2.0": {}, "1.3.1": {}}}
        assert conflict_lines(root, {}, packs) == [
            "core: web needs ^1.2, report 2.0.0 needs ~1.0; it is not active and no version "
            "in the index satisfies all of them (index has 1.0.3, 1.2.0, 1.3.1)"]

    def test_an_active_version_that_does_not_satisfy_is_not_upgraded(self):
        lines = conflict_lines(WEB, {"core": "1.0.0"}, {"core": {"1.3.1": {}}})
        assert lines == [
            "core: active core 1.0.0 does not satisfy web's ^1.2; the index has 1.3.1, but an "
            "active pack is not replaced here: upgrade core on its own first (attune pack "
            "install SOURCE --replace), so that the packs that depend on it are tested "
            "against it"]

    def test_an_active_version_no_index_version_could_replace(self):
        assert conflict_lines(WEB, {"core": "1.0.0"}, {"core": {"1.1.0": {}}}) == [
            "core: active core 1.0.0 does not satisfy web's ^1.2; no version in the index "
            "does (index has 1.1.0)"]

    def test_a_pack_the_index_does_not_have(self):
        assert conflict_lines(WEB, {}, {}) == [
            "core: web needs ^1.2; it is not active and the index has no pack 'core'"]

    def test_every_conflict_is_listed_and_the_error_installs_nothing(self):
        root = Root("web", "1.0.0", {"core": "^2", "net": "*"})
        with pytest.raises(DependencyConflictError) as caught:
            plan(root, {}, {"core": {"1.0.0": {}}})
        error = caught.value
        assert [c.ref for c in error.conflicts] == ["core", "net"]
        assert str(error).startswith("Cannot install the dependencies of pack 'web' from the "
                                     "pack index; nothing was installed:\n  core: web needs ^2")
        assert error.code == "CONFLICT"
        assert error.details is not None
        assert error.details[0] == {"ref": "core", "needed_by": {"web": "^2"},
                                    "active_version": None, "index_versions": ["1.0.0"],
                                    "problem": error.conflicts[0].problem}

    def test_an_entry_that_needs_another_version_of_the_pack_being_registered(self):
        root = Root("web", "1.0.0", {"theme": "*"})
        assert conflict_lines(root, {}, {"theme": {"1.0.0": {"web": ">=2"}}}) == [
            "web: theme 1.0.0 needs >=2, but version 1.0.0 is the one being registered"]

    def test_an_active_pack_an_entry_needs_at_another_version(self):
        root = Root("web", "1.0.0", {"report": "*"})
        packs = {"report": {"1.0.0": {"core": "^2"}}, "core": {"2.0.0": {}}}
        assert conflict_lines(root, {"core": "1.5.0"}, packs)[0].startswith(
            "core: active core 1.5.0 does not satisfy report 1.0.0's ^2; the index has 2.0.0")

    def test_a_cycle_among_entries_cannot_be_ordered(self):
        root = Root("web", "1.0.0", {"a-pack": "*"})
        packs = {"a-pack": {"1.0.0": {"b-pack": "*"}}, "b-pack": {"1.0.0": {"a-pack": "*"}}}
        assert conflict_lines(root, {}, packs) == [
            "a-pack: waits for b-pack: packs that depend on each other in a cycle (a-pack, "
            "b-pack) cannot be installed one after the other",
            "b-pack: waits for a-pack: packs that depend on each other in a cycle (a-pack, "
            "b-pack) cannot be installed one after the other"]

    def test_a_long_version_list_shows_the_newest(self):
        versions = {f"1.{minor}.0": {} for minor in range(12)}
        line = conflict_lines(Root("web", "1.0.0", {"core": "^2"}), {}, {"core": versions})[0]
        assert line.endswith("(index has 4 older, 1.4.0, 1.5.0, 1.6.0, 1.7.0, 1.8.0, 1.9.0, "
                             "1.10.0, 1.11.0)")
