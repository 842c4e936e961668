"""`attune examples` and `--example` through the real entry point: the packs shipped in the
package are listed, copied out all or nothing, and registered or tested where installed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from attune_registry.adapters.packs.examples import copy_examples
from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE, REPO

import attune_registry

# Where the package has its packs (in a checkout, a link to the repository's packs/).
INSTALLED = (Path(attune_registry.__file__).parent / "packs").resolve()
SOURCES = {"core": REPO / "packs" / "core", **{
    path.name: path for path in sorted((REPO / "packs" / "examples").iterdir())
    if (path / "pack.yaml").is_file()}}
CACHES = ("__pycache__", ".pyc", ".pyo")


def attune(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    return subprocess.run([ATTUNE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def pack_files(folder: Path) -> dict[str, tuple[bytes, bool]]:
    """Relative path -> (content, executable) of each file, leaving interpreter caches out."""
    return {str(path.relative_to(folder)): (path.read_bytes(), bool(path.stat().st_mode & 0o100))
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not any(part.endswith(CACHES) for part in path.parts)}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<dir>"
            for path in sorted(folder.rglob("*"))}


def test_the_shipped_packs_are_the_repositorys():
    assert list(SOURCES) == ["core", "failing", "pytest-suite", "tap-suite", "upstream-runners"]
    assert (REPO / "packs").resolve() == INSTALLED


def test_list_names_each_pack_with_its_manifest(sqlite_settings, tmp_path):
    listed = attune(sqlite_settings, tmp_path, "examples", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["path"] == str(INSTALLED)
    assert [item["name"] for item in document["examples"]] == list(SOURCES)
    for item in document["examples"]:
        manifest = yaml.safe_load((SOURCES[item["name"]] / "pack.yaml").read_text())
        assert (item["ref"], item["version"]) == (manifest["ref"], manifest["version"])
        assert item["description"] == " ".join(manifest["description"].split())
        assert Path(item["path"]).resolve() == SOURCES[item["name"]].resolve()

    text = attune(sqlite_settings, tmp_path, "examples", "list")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["NAME", "REF", "VERSION", "DEMONSTRATES"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:] if line[:1].strip()}
    assert rows.pop("Installed") == ["in", str(INSTALLED)]
    assert rows.pop("Copy")[:2] == ["them", "out"]
    assert rows == {item["name"]: [item["ref"], item["version"]]
                    for item in document["examples"]}
    assert "2 deliberate" in text.stdout  # the descriptions, wrapped under their column
    assert not list(tmp_path.iterdir())  # reading the packs creates no store


def test_copy_writes_every_pack_as_it_is(sqlite_settings, tmp_path):
    copied = attune(sqlite_settings, tmp_path, "examples", "copy")
    assert copied.returncode == 0, copied.stderr
    target = tmp_path / "attune-examples"
    assert sorted(path.name for path in target.iterdir()) == sorted(SOURCES)
    for name, source in SOURCES.items():
        assert pack_files(target / name) == pack_files(source), name
        assert f"  attune pack register attune-examples/{name}\n" in copied.stdout
    assert [path for path in target.rglob("*") if path.name.endswith(CACHES)] == []
    assert copied.stdout.startswith(f"✓ Copied 5 packs to {target}:\n")
    assert [path.name for path in tmp_path.iterdir()] == ["attune-examples"]  # no staging left


def test_copy_one_with_json(sqlite_settings, tmp_path):
    (tmp_path / "out").mkdir()  # an empty directory is filled
    copied = attune(sqlite_settings, tmp_path, "examples", "copy", "tap-suite", "tap-suite",
                    "--path", "out", "--json")
    assert copied.returncode == 0, copied.stderr
    files = sorted(pack_files(SOURCES["tap-suite"]))
    assert json.loads(copied.stdout) == {"path": str(tmp_path / "out"), "examples": [
        {"name": "tap-suite", "path": str(tmp_path / "out" / "tap-suite"), "files": files}]}
    assert pack_files(tmp_path / "out" / "tap-suite") == pack_files(SOURCES["tap-suite"])
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["tap-suite"]


def test_caches_in_the_installed_packs_are_not_copied(tmp_path):
    """A pack whose tests ran in place holds __pycache__ and .pyc files: they stay behind."""
    root = tmp_path / "packs"
    pack = root / "examples" / "demo"
    (pack / "tests" / "__pycache__").mkdir(parents=True)
    (pack / "pack.yaml").write_text("ref: demo\n")
    (pack / "tests" / "test_x.py").write_text("pass\n")
    (pack / "tests" / "__pycache__" / "test_x.cpython-312.pyc").write_bytes(b"\0")
    (pack / "stale.pyc").write_bytes(b"\0")

    copied = copy_examples(["demo"], tmp_path / "out", root)

    assert [item.files for item in copied] == [["pack.yaml", "tests/test_x.py"]]
    assert sorted(str(path.relative_to(tmp_path / "out"))
                  for path in (tmp_path / "out").rglob("*")) == [
        "demo", "demo/pack.yaml", "demo/tests", "demo/tests/test_x.py"]


@pytest.mark.parametrize("as_json", [False, True])
def test_a_target_in_the_way_is_left_unchanged(sqlite_settings, tmp_path, as_json):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("also mine")
    before = snapshot(tmp_path)
    for target in ("mine", "file"):
        done = attune(sqlite_settings, tmp_path, "examples", "copy", "--path", target,
                      *(["--json"] if as_json else []))
        assert done.returncode == 1
        message = json.loads(done.stdout)["error"] if as_json else done.stderr
        assert f"{tmp_path / target} already exists and is not an empty directory" in message
    assert snapshot(tmp_path) == before


def test_an_unknown_name_is_a_usage_error_naming_the_known_ones(sqlite_settings, tmp_path):
    done = attune(sqlite_settings, tmp_path, "examples", "copy", "tap-suite", "nope")
    assert done.returncode == 2
    assert "no shipped pack 'nope'" in done.stderr
    assert f"the shipped packs are {', '.join(SOURCES)}" in done.stderr
    assert list(tmp_path.iterdir()) == []
    register = attune(sqlite_settings, tmp_path, "pack", "register", "--example", "nope")
    assert register.returncode == 2
    assert f"the shipped packs are {', '.join(SOURCES)}" in register.stderr


def test_a_copied_example_registers(settings, tmp_path):
    assert attune(settings, tmp_path, "examples", "copy", "pytest-suite", "--path", "ex"
                  ).returncode == 0
    register = attune(settings, tmp_path, "pack", "register", "ex/pytest-suite", "-q", "--json")
    assert register.returncode == 0, register.stderr
    data = json.loads(register.stdout)["data"]
    assert (data["pack"]["ref"], data["test_result"]["status"]) == ("pytest_example", "passed")
    assert (data["test_result"]["passed"], data["test_result"]["total_tests"]) == (7, 8)
    assert data["pack"]["source_path"] == str(tmp_path / "ex" / "pytest-suite")


def test_register_example_uses_the_installed_directory(settings, tmp_path):
    register = attune(settings, tmp_path, "pack", "register", "--example", "tap-suite", "-q")
    assert register.returncode == 0, register.stderr
    assert "✓ Pack 'tap_example' registered successfully" in register.stdout
    assert "Tests: 5/6 passed" in register.stdout
    shown = attune(settings, tmp_path, "pack", "show", "tap_example", "--json")
    pack = json.loads(shown.stdout)["data"]["pack"]
    assert pack["source_path"] == str(INSTALLED / "examples" / "tap-suite")
    assert pack["origin"] is None  # as for any directory given as PATH


def test_path_and_example_exclude_each_other(sqlite_settings, tmp_path):
    for command in ("register", "test"):
        both = attune(sqlite_settings, tmp_path, "pack", command, "packs/x", "--example",
                      "tap-suite")
        assert both.returncode == 2, both.stderr
        assert "or --example NAME, not both" in both.stderr
        neither = attune(sqlite_settings, tmp_path, "pack", command)
        assert neither.returncode == 2, neither.stderr
        assert "(or --example NAME)" in neither.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any store is created


def test_pack_test_example_tests_without_recording(sqlite_settings, tmp_path):
    tested = attune(sqlite_settings, tmp_path, "pack", "test", "--example", "tap-suite", "-q")
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith(
        "Testing pack 'tap_example' 0.1.0 (directory, not recorded)\n")
    assert "✓ All tests passed: 5/6" in tested.stdout


def test_names_complete_in_the_shell(sqlite_settings, tmp_path):
    env = {**os.environ, "ATTUNE_HOME": str(sqlite_settings.home),
           "_ATTUNE_COMPLETE": "bash_complete"}
    for words, expected in (("attune pack register --example t", "plain,tap-suite"),
                            ("attune examples copy core p", "plain,pytest-suite")):
        done = subprocess.run([ATTUNE], env={**env, "COMP_WORDS": words, "COMP_CWORD": "4"},
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == [expected], done.stderr
