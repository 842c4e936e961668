"""`attune pack init` through the real entry point: the pack it writes registers as it is,
its tests exercise its action, and bad input writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from attune_registry.domain.manifest import parse_manifest

from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE


def attune(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    return subprocess.run([ATTUNE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<dir>"
            for path in sorted(folder.rglob("*"))}


EXPECTED_FILES = {
    "python_unittest": ["README.md", "actions/hello.py", "actions/hello.yaml", "pack.yaml",
                        "tests/test_hello.py"],
    "pytest": ["README.md", "actions/hello.py", "actions/hello.yaml", "pack.yaml", "pytest.ini",
               "tests/test_hello.py"],
    "shell": ["README.md", "actions/hello.sh", "actions/hello.yaml", "pack.yaml",
              "tests/run_tests.sh"],
}


@pytest.mark.parametrize("runner", ["python_unittest", "pytest", "shell"])
def test_each_runner_writes_a_pack_that_registers_as_it_is(sqlite_settings, tmp_path, runner):
    work = tmp_path / "work"
    work.mkdir()
    ref = f"demo-{runner.replace('_', '-')}"
    init = attune(sqlite_settings, work, "pack", "init", ref, "--runner", runner, "--json")
    assert init.returncode == 0, init.stderr
    written = json.loads(init.stdout)
    assert written == {"path": str(work / ref), "ref": ref, "runner": runner,
                       "files": EXPECTED_FILES[runner]}
    manifest = parse_manifest(yaml.safe_load((work / ref / "pack.yaml").read_text()))
    assert (manifest.ref, manifest.version) == (ref, "0.1.0")
    assert manifest.testing is not None
    assert [suite.runner for suite in manifest.testing.test_suites] == [runner]
    action = yaml.safe_load((work / ref / "actions" / "hello.yaml").read_text())
    assert action["ref"] == f"{ref}.hello"
    assert (work / ref / "actions" / action["entry_point"]).stat().st_mode & 0o100

    register = attune(sqlite_settings, work, "pack", "register", ref, "--json")
    assert register.returncode == 0, register.stderr
    result = json.loads(register.stdout)["data"]["test_result"]
    assert result["status"] == "passed"
    assert result["total_tests"] == result["passed"] >= 2


@pytest.mark.parametrize("runner", ["python_unittest", "pytest", "shell"])
def test_the_generated_tests_catch_a_broken_action(sqlite_settings, tmp_path, runner):
    """The suite runs the action itself: changing what it prints fails the tests."""
    assert attune(sqlite_settings, tmp_path, "pack", "init", "hi", "--runner", runner
                  ).returncode == 0
    script = next((tmp_path / "hi" / "actions").glob("hello.[ps][yh]"))
    script.write_text(script.read_text().replace("Hello, ", "Bye, "))
    tested = attune(sqlite_settings, tmp_path, "pack", "test", "./hi", "--json")
    assert tested.returncode == 1, tested.stdout + tested.stderr
    assert json.loads(tested.stdout)["data"]["failed"] >= 2


def test_init_then_register_on_both_stores(settings, tmp_path):
    """`attune pack init demo && attune pack register demo`, as the quickstart says; `--path`
    puts the pack elsewhere, and the text output lists the files and the next commands."""
    (tmp_path / "packs").mkdir()
    init = attune(settings, tmp_path, "pack", "init", "demo", "--runner", "pytest",
                  "--path", "packs/mine")
    assert init.returncode == 0, init.stderr
    assert init.stdout.splitlines()[1:4] == ["  actions/", "    hello.py", "    hello.yaml"]
    assert "attune pack register packs/mine" in init.stdout
    assert not (tmp_path / "demo").exists()
    register = attune(settings, tmp_path, "pack", "register", "packs/mine")
    assert register.returncode == 0, register.stderr
    assert "Tests: 3/3 passed" in register.stdout
    shown = attune(settings, tmp_path, "pack", "show", "demo", "--json")
    assert json.loads(shown.stdout)["data"]["pack"]["source_path"] == str(tmp_path / "packs/mine")


@pytest.mark.parametrize("name", ["Demo", "d", "1pack", "my.pack", "my pack", "-x"])
def test_an_invalid_name_is_a_usage_error_and_writes_nothing(sqlite_settings, tmp_path, name):
    done = attune(sqlite_settings, tmp_path, "pack", "init", "--", name)
    assert done.returncode == 2
    assert "is not a valid pack ref" in done.stderr
    assert "a lowercase letter first" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_runner_is_a_usage_error(sqlite_settings, tmp_path):
    done = attune(sqlite_settings, tmp_path, "pack", "init", "demo", "--runner", "tap")
    assert done.returncode == 2
    assert "'tap' is not one of 'python_unittest', 'pytest', 'shell'" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("as_json", [False, True])
def test_a_directory_in_the_way_is_left_unchanged(sqlite_settings, tmp_path, as_json):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("also mine")
    before = snapshot(tmp_path)
    for target in ("demo", "file"):
        done = attune(sqlite_settings, tmp_path, "pack", "init", "demo", "--path", target,
                      *(["--json"] if as_json else []))
        assert done.returncode == 1
        message = json.loads(done.stdout)["error"] if as_json else done.stderr
        assert f"{tmp_path / target} already exists and is not an empty directory" in message
    assert snapshot(tmp_path) == before


def test_an_empty_directory_is_filled(sqlite_settings, tmp_path):
    (tmp_path / "demo").mkdir()
    done = attune(sqlite_settings, tmp_path, "pack", "init", "demo", "--runner", "shell")
    assert done.returncode == 0, done.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        f"demo/{name}" for name in EXPECTED_FILES["shell"]]


def test_a_missing_parent_directory_writes_nothing(sqlite_settings, tmp_path):
    done = attune(sqlite_settings, tmp_path, "pack", "init", "demo", "--path", "no/such/dir")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert list(tmp_path.iterdir()) == []
