"""Declared dependencies: both upstream forms of ``dependencies:`` read into ref -> range,
what is refused and how, and the checks against the active packs."""

from __future__ import annotations

import pytest

from attune_registry.domain.dependencies import (
    ActivePacks,
    Unmet,
    dependents_broken_by,
    dependents_of,
    unmet_dependencies,
)
from attune_registry.domain.errors import (
    DependenciesUnmetError,
    DependentsActiveError,
    ManifestError,
)
from attune_registry.domain.manifest import PackManifest, parse_manifest

from tests.packs import manifest


def declared(value: object) -> dict[str, str]:
    return parse_manifest(manifest("web", testing=None, dependencies=value)).dependencies


def refusal(value: object) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        declared(value)
    return caught.value


class TestListForm:
    @pytest.mark.parametrize(("entry", "expected"), [
        ("core", ("core", "*")),
        ("core=1.2.3", ("core", "==1.2.3")),  # StackStorm's exact pin
        ("core = 1.2.3", ("core", "==1.2.3")),
        ("core==1.2.3", ("core", "==1.2.3")),
        ("core@^1.2", ("core", "^1.2")),
        ("core@ >=1.2,<2", ("core", ">=1.2,<2")),
        ("core>=1.2,<2", ("core", ">=1.2,<2")),
        ("core^1.2", ("core", "^1.2")),
        ("core~1.2", ("core", "~1.2")),
        ("core ^1.2", ("core", "^1.2")),
        ("core <2", ("core", "<2")),
        ("my_pack-2@*", ("my_pack-2", "*")),
    ], ids=lambda v: v if isinstance(v, str) else "")
    def test_each_way_of_writing_an_entry(self, entry, expected):
        assert declared([entry]) == dict([expected])

    def test_entries_keep_their_declared_order(self):
        assert list(declared(["net", "core@^1.2", "aws"])) == ["net", "core", "aws"]

    @pytest.mark.parametrize("entry", [
        "https://github.com/StackStorm-Exchange/stackstorm-core.git",
        "git@github.com:StackStorm-Exchange/stackstorm-core.git",
        "file:///opt/packs/core",
        "./core",
        "core.git",
    ], ids=["https", "ssh", "file", "path", "dot-git"])
    def test_a_source_is_refused_with_what_to_write(self, entry):
        error = refusal(["core", entry])
        assert error.field == "dependencies[1]"
        assert "is a source, not a pack ref" in error.problem
        assert "'core@^1.2'" in error.problem

    @pytest.mark.parametrize(("entry", "words"), [
        ("Core", "is not a pack ref"),
        ("c", "is not a pack ref"),
        ("core#1.2", "is not a pack ref with a version range"),
        ("core@", "an empty version range"),
        ("core@bogus", "'bogus' is not a version range"),
        ("core >= 1.2", "is not a version range"),
        ("core=^1.2", "'=' pins one version (core=1.2.3); write a range after '@' instead"),
    ], ids=["upper", "short", "hash", "empty-range", "bad-range", "spaces-in-range",
            "pin-of-a-range"])
    def test_a_bad_entry_names_its_position(self, entry, words):
        error = refusal(["net", entry])
        assert error.field == "dependencies[1]"
        assert words in error.problem

    def test_an_entry_that_is_not_a_string(self):
        error = refusal(["core", {"ref": "net"}])
        assert (error.field, error.problem) == (
            "dependencies[1]", "expected a string such as 'core@^1.2', got a mapping")

    def test_a_pack_listed_twice_is_refused(self):
        error = refusal(["core@^1", "net", "core~1.2"])
        assert error.field == "dependencies[2]"
        assert "'core' is listed twice" in error.problem


class TestMappingForm:
    def test_ranges_by_ref(self):
        assert declared({"core": "^1.2", "net": "*", "aws": ">=2,<3"}) == {
            "core": "^1.2", "net": "*", "aws": ">=2,<3"}

    def test_an_empty_mapping_as_upstream_packs_write_it(self):
        assert declared({}) == {}

    def test_a_null_range_means_any_version(self):
        assert declared({"core": None}) == {"core": "*"}

    def test_absent_and_null_declare_none(self):
        data = manifest("web", testing=None)
        assert parse_manifest(data).dependencies == {}
        assert declared(None) == {}

    def test_a_bad_range_names_the_ref(self):
        error = refusal({"core": "^1.2", "net": "latest"})
        assert error.field == "dependencies.net"
        assert "'latest' is not a version range" in error.problem

    def test_a_number_must_be_quoted(self):
        # YAML reads an unquoted 1.10 as the number 1.1.
        error = refusal({"core": 1.1})
        assert error.field == "dependencies.core"
        assert "quote it" in error.problem

    def test_a_key_that_is_not_a_ref(self):
        error = refusal({"Core": "*"})
        assert error.field == "dependencies"
        assert "'Core' is not a valid pack ref" in error.problem

    def test_something_else_entirely(self):
        error = refusal("core")
        assert error.field == "dependencies"
        assert "expected a list" in error.problem and "got a string" in error.problem


@pytest.mark.parametrize("value", [["core", "web@^1"], {"web": "*"}], ids=["list", "mapping"])
def test_a_pack_cannot_depend_on_itself(value):
    error = refusal(value)
    assert error.field in ("dependencies[1]", "dependencies.web")
    assert "'web' cannot depend on itself" in error.problem


class TestStoredManifests:
    def test_a_manifest_of_an_old_event_with_a_list_loads(self):
        stored = parse_manifest(manifest("old")).to_dict()
        stored["dependencies"] = []
        assert PackManifest.from_dict(stored).dependencies == {}

    def test_old_list_entries_are_read_with_the_list_grammar_and_never_refused(self):
        stored = parse_manifest(manifest("old")).to_dict()
        stored["dependencies"] = ["core", "net@^1.2", "https://example.org/x.git"]
        assert PackManifest.from_dict(stored).dependencies == {
            "core": "*", "net": "^1.2", "https://example.org/x.git": "*"}

    def test_the_mapping_round_trips(self):
        parsed = parse_manifest(manifest("trip", dependencies=["core@^1.2", "net"]))
        assert PackManifest.from_dict(parsed.to_dict()) == parsed
        assert parsed.to_dict()["dependencies"] == {"core": "^1.2", "net": "*"}


class TestAgainstActivePacks:
    def test_unmet_lists_wrong_versions_and_missing_packs_in_declared_order(self):
        unmet = unmet_dependencies({"core": "^1.2", "aws": "*", "net": "~2.0"},
                                   {"core": "1.0.0", "net": "2.0.5"})
        assert unmet == [Unmet("core", "^1.2", "1.0.0"), Unmet("aws", "*", None)]
        assert [u.describe() for u in unmet] == ["core ^1.2 (active: 1.0.0)", "aws * (not active)"]

    def test_everything_satisfied(self):
        assert unmet_dependencies({"core": ">=1.2,<2", "net": "*"},
                                  {"core": "1.9.0", "net": "0.0.1"}) == []

    def test_dependents_are_the_active_packs_naming_the_ref_sorted(self):
        active = {"web": {"core": "^1"}, "api": {"core": "*", "net": "*"}, "net": {},
                  "core": {"core": "*"}}
        assert dependents_of("core", active) == ["api", "web"]
        assert dependents_of("aws", active) == []

    def test_dependents_a_version_would_break(self):
        active = {"web": {"core": "^1.2"}, "api": {"core": "*"}, "old": {"core": "<1.2"}}
        assert dependents_broken_by("core", "1.1.0", active) == [("web", "^1.2")]
        assert dependents_broken_by("core", "2.0.0", active) == [("old", "<1.2"),
                                                                 ("web", "^1.2")]

    def test_active_packs_bundle_both(self):
        active = ActivePacks({"core": "1.0.0"}, {"core": {}, "web": {"core": "^1"}})
        assert active.unmet({"core": "^1.1"}) == [Unmet("core", "^1.1", "1.0.0")]
        assert active.dependents_of("core") == ["web"]


def test_the_errors_say_what_is_wrong_and_carry_details():
    unmet = DependenciesUnmetError("web", [("core", "^1.2", "1.0.0"), ("net", "*", None)])
    assert str(unmet).startswith(
        "Pack 'web' needs packs that are not active: core ^1.2 (active: 1.0.0), "
        "net * (not active)")
    assert unmet.code == "DEPENDENCIES_UNMET"
    assert unmet.details == [{"ref": "core", "wanted": "^1.2", "active_version": "1.0.0"},
                             {"ref": "net", "wanted": "*", "active_version": None}]
    dependents = DependentsActiveError("core", "unregister", [("web", "^1.2")])
    assert str(dependents).startswith(
        "Cannot unregister 'core': active packs depend on it: web (needs core ^1.2)")
    assert dependents.details == [{"ref": "web", "wanted": "^1.2"}]
