"""core.noop behaviour, plus consistency checks of pack.yaml and every action/trigger definition.

Deeper checks of all component files (parsed with PyYAML) live in the pytest suite under
tests/components/.

The definition checks deliberately avoid PyYAML and read the files as plain text, relying on
the simple block layout these files use (top-level `key: value` lines).
"""

import ast
import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent
ACTIONS_DIR = PACK_ROOT / "actions"
TRIGGERS_DIR = PACK_ROOT / "triggers"

EXPECTED_ACTIONS = {"echo", "noop", "sleep", "http_request"}
# The runner_type each kind of entry point needs.
RUNNER_BY_SUFFIX = {".sh": "shell", ".py": "python"}
EXPECTED_TRIGGERS = {"intervaltimer": "interval", "crontimer": "cron", "datetimetimer": "one_shot"}
ACTION_KEYS = ("name", "ref", "label", "description", "enabled", "runner_type", "entry_point",
               "parameters", "output_schema", "tags")
TRIGGER_KEYS = ("name", "ref", "label", "description", "enabled", "type", "parameters", "output")
ENV_VAR = re.compile(r"ATTUNE_ACTION_([A-Z0-9_]+)")


def minimal_env(**extra):
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    env.update(extra)
    return env


def top_level(text):
    """Map each top-level key to its inline value ('' when the value is a nested block)."""
    fields = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z_][\w-]*):(?:\s+(.*?))?\s*$", line)
        if match:
            value = match.group(2) or ""
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            fields[match.group(1)] = value
    return fields


def block(text, key):
    """The indented lines that belong to top-level `key:`."""
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith(f"{key}:")
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            lines.append(line)
    return lines


def property_names(text):
    """Names under `parameters:` -> `properties:` (empty for `properties: {}`)."""
    lines = block(text, "parameters")
    names, indent = [], None
    for position, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("properties:"):
            if stripped[len("properties:"):].strip() == "{}":
                return []
            base = len(line) - len(stripped)
            for child in lines[position + 1:]:
                depth = len(child) - len(child.lstrip())
                if depth <= base:
                    break
                if indent is None:
                    indent = depth
                if depth == indent:
                    names.append(child.strip().split(":", 1)[0])
            return names
    raise AssertionError("parameters block has no 'properties:'")


def definitions(directory):
    return sorted(directory.glob("*.yaml"))


class NoopTest(unittest.TestCase):
    script = ACTIONS_DIR / "noop.sh"

    def run_noop(self, env):
        return subprocess.run([str(self.script)], env=env, capture_output=True,
                              encoding="utf-8", timeout=10)

    def test_exits_zero_and_prints_nothing(self):
        result = self.run_noop(minimal_env())
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, "")

    def test_ignores_stray_parameters(self):
        result = self.run_noop(minimal_env(ATTUNE_ACTION_MESSAGE="x", ATTUNE_ACTION_SECONDS="abc"))
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, "")


class PackManifestTest(unittest.TestCase):
    def setUp(self):
        self.text = (PACK_ROOT / "pack.yaml").read_text(encoding="utf-8")
        self.fields = top_level(self.text)

    def test_identity_fields(self):
        self.assertEqual(self.fields["ref"], "core")
        self.assertRegex(self.fields["version"], r"^\d+\.\d+\.\d+$")
        self.assertTrue(self.fields["label"].strip())
        self.assertTrue(self.fields["description"].strip())
        self.assertEqual(self.fields["runtime_deps"], "[shell, python3]")

    def test_testing_section_runs_these_tests(self):
        testing = "\n".join(block(self.text, "testing"))
        self.assertIn('runner: "python_unittest"', testing)
        self.assertIn('working_dir: "tests"', testing)
        self.assertIn('- "test_*.py"', testing)

    def test_suites_are_declared_unit_tests_first(self):
        testing = "\n".join(block(self.text, "testing"))
        names = re.findall(r'- name: "([^"]+)"', testing)
        runners = re.findall(r'runner: "([^"]+)"', testing)
        self.assertEqual(names, ["Unit Tests", "Component Definitions", "CLI Smoke Tests"])
        self.assertEqual(runners, ["python_unittest", "pytest", "shell"])

    def test_every_declared_suite_file_exists(self):
        tests = PACK_ROOT / "tests"
        self.assertTrue(list(tests.glob("test_*.py")))
        self.assertTrue(list((tests / "components").glob("test_*.py")))
        script = tests / "run_tests.sh"
        self.assertTrue(script.is_file())
        self.assertTrue(os.access(script, os.X_OK), f"{script} is not executable")

    def test_tests_directory_is_not_a_package(self):
        self.assertFalse((PACK_ROOT / "tests" / "__init__.py").exists())


class ActionDefinitionsTest(unittest.TestCase):
    def test_expected_actions_are_defined(self):
        self.assertEqual({path.stem for path in definitions(ACTIONS_DIR)}, EXPECTED_ACTIONS)

    def test_required_keys_present(self):
        for path in definitions(ACTIONS_DIR):
            fields = top_level(path.read_text(encoding="utf-8"))
            for key in ACTION_KEYS:
                with self.subTest(action=path.name, key=key):
                    self.assertIn(key, fields)

    def test_ref_and_name_match_file_name(self):
        for path in definitions(ACTIONS_DIR):
            fields = top_level(path.read_text(encoding="utf-8"))
            with self.subTest(action=path.name):
                self.assertEqual(fields["ref"], f"core.{path.stem}")
                self.assertEqual(fields["name"], path.stem)

    def test_enabled_actions_with_runner_matching_the_script(self):
        for path in definitions(ACTIONS_DIR):
            fields = top_level(path.read_text(encoding="utf-8"))
            suffix = Path(fields["entry_point"]).suffix
            with self.subTest(action=path.name):
                self.assertEqual(fields["enabled"], "true")
                self.assertIn(suffix, RUNNER_BY_SUFFIX)
                self.assertEqual(fields["runner_type"], RUNNER_BY_SUFFIX[suffix])

    def test_entry_point_exists_and_is_executable(self):
        for path in definitions(ACTIONS_DIR):
            entry = top_level(path.read_text(encoding="utf-8"))["entry_point"]
            script = ACTIONS_DIR / entry
            with self.subTest(action=path.name, entry_point=entry):
                self.assertNotIn("/", entry)
                self.assertTrue(script.is_file(), f"{script} is missing")
                self.assertTrue(os.access(script, os.X_OK), f"{script} is not executable")

    def scripts(self, suffix):
        found = []
        for path in definitions(ACTIONS_DIR):
            script = ACTIONS_DIR / top_level(path.read_text(encoding="utf-8"))["entry_point"]
            if script.suffix == suffix:
                found.append(script)
        self.assertTrue(found, f"no {suffix} actions")
        return found

    def test_scripts_are_strict_posix_shell(self):
        for script in self.scripts(".sh"):
            lines = script.read_text(encoding="utf-8").splitlines()
            with self.subTest(script=script.name):
                self.assertEqual(lines[0], "#!/bin/sh")
                self.assertIn("set -eu", (line.strip() for line in lines))

    def test_scripts_parse_with_sh(self):
        for script in self.scripts(".sh"):
            with self.subTest(script=script.name):
                result = subprocess.run(["sh", "-n", str(script)], env=minimal_env(),
                                        capture_output=True, encoding="utf-8", timeout=10)
                self.assertEqual(result.returncode, 0, result.stderr)

    def test_python_scripts_compile_and_run_with_env_python3(self):
        for script in self.scripts(".py"):
            source = script.read_text(encoding="utf-8")
            with self.subTest(script=script.name):
                self.assertEqual(source.splitlines()[0], "#!/usr/bin/env python3")
                compile(source, str(script), "exec")

    def test_python_scripts_import_only_the_standard_library(self):
        for script in self.scripts(".py"):
            tree = ast.parse(script.read_text(encoding="utf-8"))
            modules = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    modules.add((node.module or "").split(".")[0])
            with self.subTest(script=script.name):
                self.assertTrue(modules)
                self.assertLessEqual(modules, set(sys.stdlib_module_names))

    def test_parameters_match_environment_contract(self):
        # Each declared parameter is read by the script as ATTUNE_ACTION_<NAME>, the script
        # reads no undeclared ones, and both the YAML and the script document the contract.
        for path in definitions(ACTIONS_DIR):
            text = path.read_text(encoding="utf-8")
            script = ACTIONS_DIR / top_level(text)["entry_point"]
            source = script.read_text(encoding="utf-8")
            code = "\n".join(line for line in source.splitlines()
                             if not line.lstrip().startswith("#"))
            comments = "\n".join(line for line in source.splitlines()
                                 if line.lstrip().startswith("#"))
            declared = {name.upper() for name in property_names(text)}
            with self.subTest(action=path.name):
                self.assertEqual(set(ENV_VAR.findall(code)), declared)
                self.assertIn("ATTUNE_ACTION_", comments)
                self.assertIn("ATTUNE_ACTION_", text)

    def test_parameters_and_output_are_object_schemas(self):
        for path in definitions(ACTIONS_DIR):
            text = path.read_text(encoding="utf-8")
            for key in ("parameters", "output_schema"):
                with self.subTest(action=path.name, key=key):
                    lines = block(text, key)
                    self.assertEqual(lines[0].strip(), "type: object")
                    self.assertTrue(any(line.lstrip().startswith("properties:") for line in lines))
            with self.subTest(action=path.name, key="parameters.required"):
                self.assertTrue(any(line.strip().startswith("required:")
                                    for line in block(text, "parameters")))


class TriggerDefinitionsTest(unittest.TestCase):
    def test_expected_triggers_are_defined(self):
        self.assertEqual({path.stem for path in definitions(TRIGGERS_DIR)}, set(EXPECTED_TRIGGERS))

    def test_trigger_fields(self):
        for path in definitions(TRIGGERS_DIR):
            fields = top_level(path.read_text(encoding="utf-8"))
            with self.subTest(trigger=path.name):
                for key in TRIGGER_KEYS:
                    self.assertIn(key, fields)
                self.assertEqual(fields["ref"], f"core.{path.stem}")
                self.assertEqual(fields["name"], path.stem)
                self.assertEqual(fields["enabled"], "true")
                self.assertEqual(fields["type"], EXPECTED_TRIGGERS[path.stem])

    def test_trigger_parameters(self):
        expected = {"intervaltimer": ["unit", "delta"], "crontimer": ["expression"],
                    "datetimetimer": ["date"]}
        for path in definitions(TRIGGERS_DIR):
            with self.subTest(trigger=path.name):
                self.assertEqual(property_names(path.read_text(encoding="utf-8")),
                                 expected[path.stem])

    def test_interval_unit_enum(self):
        text = (TRIGGERS_DIR / "intervaltimer.yaml").read_text(encoding="utf-8")
        self.assertIn("enum: [seconds, minutes, hours]", text)
        self.assertIn("minimum: 1", "\n".join(block(text, "parameters")))


if __name__ == "__main__":
    unittest.main()
