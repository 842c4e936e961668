"""The pack.yaml model: what it accepts, how it normalises, and how it names what is wrong."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import ManifestError
from attune_registry.domain.manifest import parse_manifest

from tests.packs import manifest


def error_of(data: object) -> str:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    return str(caught.value)


class TestValidManifests:
    def test_the_spec_dialect_is_parsed_into_ordered_suites(self):
        data = manifest("mypack")
        data["testing"]["test_suites"].append(
            {"name": "More", "runner": "unittest", "test_files": ["check_*.py"]})

        parsed = parse_manifest(data)

        assert [s.name for s in parsed.testing.test_suites] == ["Unit Tests", "More"]
        assert parsed.testing.test_suites[1].runner == "python_unittest"  # alias normalised
        assert parsed.testing.test_suites[1].timeout_seconds == 300
        assert parsed.testing.min_pass_rate == 1.0 and parsed.testing.on_failure == "block"

    def test_legacy_aliases_fill_the_canonical_fields(self):
        data = manifest("legacy", testing=None)
        data.pop("label")
        data.update(name="Legacy", config_schema={"type": "object"}, metadata={"a": 1},
                    keywords=["x"])

        parsed = parse_manifest(data)

        assert (parsed.label, parsed.conf_schema, parsed.meta, parsed.tags) == (
            "Legacy", {"type": "object"}, {"a": 1}, ["x"])

    def test_an_alias_equal_to_its_canonical_field_is_accepted(self):
        assert parse_manifest(manifest("same", name="Same Pack")).label == "Same Pack"

    def test_semver_with_pre_release_and_build_metadata_is_valid(self):
        assert parse_manifest(manifest("sv", "2.0.0-rc.1+build.5")).version == "2.0.0-rc.1+build.5"

    def test_round_trip_through_the_event_form_is_lossless(self):
        parsed = parse_manifest(manifest("trip"))
        assert type(parsed).from_dict(parsed.to_dict()) == parsed


class TestInvalidManifests:
    @pytest.mark.parametrize(("data", "expected"), [
        ([1, 2], "Invalid pack.yaml: the manifest must be a mapping of fields, got a list"),
        ("text", "Invalid pack.yaml: the manifest must be a mapping of fields, got a string"),
        (None, "Invalid pack.yaml: the manifest must be a mapping of fields, got nothing (empty file)"),
    ])
    def test_a_manifest_that_is_not_a_mapping(self, data, expected):
        assert error_of(data) == expected

    def test_missing_required_field_is_named(self):
        data = manifest("x1")
        del data["description"]
        assert error_of(data) == "Invalid pack.yaml: description: required field is missing"

    @pytest.mark.parametrize("ref", ["Core", "1pack", "a", "my.pack", "pack name", ""])
    def test_bad_refs(self, ref):
        assert error_of(manifest(ref)).startswith(f"Invalid pack.yaml: ref: {ref!r} is not")

    @pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0.0", "latest"])
    def test_non_semver_versions(self, version):
        assert error_of(manifest("ok", version)) == (
            f"Invalid pack.yaml: version: {version!r} is not a semantic version "
            "(MAJOR.MINOR.PATCH, e.g. 1.0.0)")

    @pytest.mark.parametrize(("field", "value", "expected"), [
        ("version", 1.0, "version: expected str, got float"),
        ("tags", "a,b", "tags: expected array, got str"),
        ("system", "yes", "system: expected bool, got str"),
        ("conf_schema", [1], "conf_schema: expected object, got array"),
    ])
    def test_wrong_types_name_the_field(self, field, value, expected):
        assert error_of(manifest("ok", **{field: value})) == f"Invalid pack.yaml: {expected}"

    def test_conflicting_alias_names_both_fields(self):
        assert "'label' and its legacy alias 'name' have different values" in error_of(
            manifest("ok", name="Other"))

    @pytest.mark.parametrize(("suite", "expected"), [
        ({"runner": "mocha"}, "testing.test_suites[0].runner: unknown runner 'mocha'"),
        ({"timeout_seconds": 0}, "testing.test_suites[0].timeout_seconds: must be between 1 and 3600"),
        ({"timeout_seconds": 86400}, "testing.test_suites[0].timeout_seconds: must be between 1 and 3600"),
        ({"timeout_seconds": "60"}, "testing.test_suites[0].timeout_seconds: expected int, got str"),
        ({"timeout_seconds": True}, "testing.test_suites[0].timeout_seconds: expected int, got bool"),
        ({"working_dir": "../outside"}, "testing.test_suites[0].working_dir: '../outside' must be a relative path inside the pack"),
        ({"working_dir": "/etc"}, "testing.test_suites[0].working_dir: '/etc' must be a relative path"),
        ({"test_files": ["../../*.py"]}, "testing.test_suites[0].test_files[0]: '../../*.py' must be a relative path"),
        ({"test_files": []}, "testing.test_suites[0].test_files: at least one file pattern is required"),
        ({"timeout": 5}, "testing.test_suites[0].timeout: unknown field"),
    ])
    def test_suite_errors_carry_a_field_path(self, suite, expected):
        data = manifest("ok")
        data["testing"]["test_suites"][0].update(suite)
        assert error_of(data).startswith(f"Invalid pack.yaml: {expected}")

    def test_duplicate_suite_names(self):
        data = manifest("ok")
        data["testing"]["test_suites"].append(dict(data["testing"]["test_suites"][0]))
        assert error_of(data) == ("Invalid pack.yaml: testing.test_suites[1].name: "
                                  "duplicate suite name 'Unit Tests'")

    def test_enabled_testing_needs_a_suite(self):
        assert error_of(manifest("ok", testing={"enabled": True, "test_suites": []})) == (
            "Invalid pack.yaml: testing.test_suites: at least one suite is required when "
            "testing is enabled")

    def test_policy_fields_are_checked(self):
        assert "testing.min_pass_rate: must be between 0.0 and 1.0" in error_of(
            manifest("ok", testing={"test_suites": [{"name": "a", "runner": "unittest"}],
                                    "min_pass_rate": 1.5}))
        assert "testing.on_failure: must be one of block, warn, ignore" in error_of(
            manifest("ok", testing={"test_suites": [{"name": "a", "runner": "unittest"}],
                                    "on_failure": "shrug"}))


class TestUpstreamRunnersDialect:
    def upstream(self, runners: object, **testing: object) -> dict:
        return manifest("core", testing={"enabled": True, "runners": runners, **testing})

    def test_runners_become_suites_in_declared_order(self):
        parsed = parse_manifest(self.upstream({
            "shell": {"type": "script", "entry_point": "tests/run_tests.sh", "timeout": 60},
            "python": {"type": "unittest", "entry_point": "tests/test_actions.py"},
            "py": {"type": "pytest", "entry_point": "tests"},
            "all": {"type": "unittest", "entry_point": "tests"},
        }, discovery={"method": "directory"}, result_path="r/", min_pass_rate=0.9))

        suites = [(s.name, s.runner, s.working_dir, s.test_files, s.timeout_seconds)
                  for s in parsed.testing.test_suites]
        assert suites == [
            ("shell", "shell", ".", ["tests/run_tests.sh"], 60),
            ("python", "python_unittest", "tests", ["test_actions.py"], 300),
            ("py", "pytest", ".", ["tests"], 300),
            ("all", "python_unittest", "tests", ["test*.py"], 300),
        ]
        assert parsed.testing.min_pass_rate == 0.9

    @pytest.mark.parametrize(("runners", "expected"), [
        ({"x": {"type": "jest", "entry_point": "a"}},
         "testing.runners.x.type: unknown runner type 'jest'"),
        ({"x": {"type": "script"}}, "testing.runners.x.entry_point: required field is missing"),
        ({"x": {"type": "script", "entry_point": "t.sh", "timeout": -5}},
         "testing.runners.x.timeout: must be between 1 and 3600"),
        ({"x": {"type": "script", "entry_point": "/bin/true"}},
         "testing.runners.x.entry_point: '/bin/true' must be a relative path"),
        ({"x": {"type": "script", "entry_point": "t.sh", "retry_count": 3}},
         "testing.runners.x.retry_count: unknown field"),
        ({"x": "tests/run.sh"}, "testing.runners.x: expected object, got str"),
        (["not", "a", "map"], "testing.runners: expected object, got a list"),
    ])
    def test_bad_runner_entries_name_their_field(self, runners, expected):
        assert error_of(self.upstream(runners)).startswith(f"Invalid pack.yaml: {expected}")

    def test_both_dialects_at_once_are_refused(self):
        data = manifest("core")
        data["testing"]["runners"] = {"x": {"type": "script", "entry_point": "t.sh"}}
        assert error_of(data) == ("Invalid pack.yaml: testing: use either test_suites or "
                                  "runners, not both")

    @pytest.mark.parametrize("field", ["ref", "version"])
    def test_a_trailing_newline_is_not_a_valid_ref_or_version(self, field):
        data = manifest("nlpack")
        data[field] += "\n"
        assert error_of(data).startswith(f"Invalid pack.yaml: {field}: ")


class TestResultFormat:
    """``result_format`` is read or refused, never ignored."""

    def upstream(self, runner: dict, **testing: object) -> dict:
        return manifest("core", testing={"enabled": True, "runners": {"sh": {
            "type": "script", "entry_point": "tests/run.sh", **runner}}, **testing})

    def test_a_json_script_runner_becomes_a_json_suite(self):
        parsed = parse_manifest(self.upstream({"result_format": "json"}))

        assert parsed.testing.test_suites[0].result_format == "json"

    def test_the_default_is_simple_in_both_dialects(self):
        assert parse_manifest(self.upstream({})).testing.test_suites[0].result_format == "simple"
        assert parse_manifest(manifest("ok")).testing.test_suites[0].result_format == "simple"

    def test_the_section_format_is_the_default_of_runners_that_set_none(self):
        parsed = parse_manifest(manifest("core", testing={
            "result_format": "json", "runners": {
                "a": {"type": "script", "entry_point": "a.sh"},
                "b": {"type": "script", "entry_point": "b.sh", "result_format": "simple"}}}))

        assert [s.result_format for s in parsed.testing.test_suites] == ["json", "simple"]

    def test_a_shell_suite_of_the_spec_dialect_may_ask_for_json(self):
        data = manifest("ok")
        data["testing"]["test_suites"][0].update(runner="shell", test_files=["run.sh"],
                                                 result_format="json")

        assert parse_manifest(data).testing.test_suites[0].result_format == "json"

    @pytest.mark.parametrize(("data", "expected"), [
        ({"runner": {"result_format": "junit-xml"}},
         "testing.runners.sh.result_format: unknown result format 'junit-xml' (known: simple, "
         "json)"),
        ({"section": {"result_format": "tap"}},
         "testing.result_format: unknown result format 'tap' (known: simple, json)"),
        ({"section": {"result_format": 3}}, "testing.result_format: expected str, got a number"),
        ({"runner": {"type": "unittest", "result_format": "json"}},
         "testing.runners.sh.result_format: result format 'json' is read from shell (script) "
         "runners only, not python_unittest"),
        ({"runner": {"type": "pytest"}, "section": {"result_format": "json"}},
         "testing.result_format: result format 'json' is read from shell (script) runners "
         "only, not pytest"),
        ({"runner": {"result_format": "json"}, "section": {"result_path": "tests/results/"}},
         "testing.result_path: is not read: a runner with result_format json prints its JSON "
         "report on its stdout (runner 'sh'); remove result_path"),
    ])
    def test_formats_that_would_be_ignored_are_refused(self, data, expected):
        manifest_data = self.upstream(data.get("runner", {}), **data.get("section", {}))

        assert error_of(manifest_data) == f"Invalid pack.yaml: {expected}"

    @pytest.mark.parametrize(("suite", "expected"), [
        ({"result_format": "xml"},
         "testing.test_suites[0].result_format: unknown result format 'xml'"),
        ({"result_format": "json"},
         "testing.test_suites[0].result_format: result format 'json' is read from shell"),
    ])
    def test_the_spec_dialect_checks_the_format_too(self, suite, expected):
        data = manifest("ok")
        data["testing"]["test_suites"][0].update(suite)

        assert error_of(data).startswith(f"Invalid pack.yaml: {expected}")

    def test_a_result_path_beside_simple_runners_is_still_accepted(self):
        parsed = parse_manifest(self.upstream({}, result_path="tests/results/"))

        assert parsed.testing.test_suites[0].result_format == "simple"


def test_an_empty_runners_map_names_the_runners_field():
    data = manifest("core", testing={"enabled": True, "runners": {}})
    assert error_of(data) == ("Invalid pack.yaml: testing.runners: at least one runner is "
                              "required when testing is enabled")
