"""What an installed registry is: the wheel and the sdist hold one package, ``attune_registry``,
with every module of the four layers and the shipped packs; and a registry running beside
someone else's top-level ``domain``, ``application``, ``projections`` and ``adapters`` neither
imports theirs nor hides them. (``.ci/wheel-check`` installs the wheel with pipx as a user
would and runs it.)"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ATTUNE, REPO

LAYERS = ("domain", "application", "projections", "adapters")
FOREIGN = "raise ImportError('the foreign {name} package was imported')\n"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it (``python -m build``), in a folder of their own."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


def tracked(*folders: str) -> set[str]:
    """The files git tracks under ``folders`` (the checkout may hold caches besides)."""
    listed = subprocess.run(["git", "ls-files", "--", *folders], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()
    return {path for path in listed if (REPO / path).is_file()}


def test_the_wheel_installs_one_package_with_every_module_and_the_shipped_packs(dist):
    [wheel] = dist.glob("attune_registry-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))

    assert {name.split("/")[0] for name in names} == {
        "attune_registry", next(n.split("/")[0] for n in names if ".dist-info/" in n)}
    expected = {f"attune_registry/{path}" for path in tracked(*LAYERS, "packs")}
    assert expected >= {"attune_registry/adapters/runners/child/supervise.py",
                        "attune_registry/adapters/web/templates/base.html",
                        "attune_registry/packs/core/pack.yaml",
                        "attune_registry/packs/examples/tap-suite/tests/run_tests.sh"}
    assert expected - names == set()
    assert [name for name in names if "__pycache__" in name or name.endswith(".pyc")] == []
    assert b"attune = attune_registry.adapters.cli:run" in entry_points


def test_the_sdist_holds_copies_not_links_and_no_second_tree(dist):
    [sdist] = dist.glob("attune_registry-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = archive.getmembers()
    top = {member.name.split("/")[1] for member in members if member.name.count("/") >= 1}

    assert [member.name for member in members if member.issym() or member.islnk()] == []
    assert top.isdisjoint({*LAYERS, "packs"})
    names = {member.name.split("/", 1)[1] for member in members if "/" in member.name}
    assert {f"attune_registry/{path}" for path in tracked("domain", "packs/examples")} <= names


def test_foreign_top_level_layers_are_neither_imported_nor_hidden(tmp_path, sqlite_settings):
    """Someone else's ``domain`` (and the other three names) first on the path, each refusing
    to be imported: the registry still registers a pack through its entry point, and a bare
    ``import domain`` in the same environment still reaches theirs."""
    foreign = tmp_path / "foreign"
    for name in LAYERS:
        (foreign / name).mkdir(parents=True)
        (foreign / name / "__init__.py").write_text(FOREIGN.format(name=name))
    away = tmp_path / "elsewhere"  # not the checkout: its folders are not on the path
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": str(foreign), "ATTUNE_HOME": str(sqlite_settings.home),
           "ATTUNE_DATABASE_URL": ""}

    registered = subprocess.run(
        [ATTUNE, "pack", "register", str(REPO / "packs" / "examples" / "tap-suite")],
        env=env, cwd=away, capture_output=True, text=True, timeout=300, check=False)
    theirs = subprocess.run(
        [sys.executable, "-c", "import attune_registry.adapters.cli, attune_registry.domain.pack\n"
         "import domain"], env=env, cwd=away, capture_output=True, text=True, timeout=60,
        check=False)

    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert "✓ All tests passed" in registered.stdout
    assert "the foreign domain package was imported" in theirs.stderr
