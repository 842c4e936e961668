"""The data directory is private to its user whatever the umask: ATTUNE_HOME and what the
registry creates in it are 0700 (folders) and 0600 (files), through the real ``attune``."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.config import store_config

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack

# A command that records something, and so creates the store (reading commands create none).
CREATES_STORE = ("token", "create", "ci", "--scope", "read")


def attune(home: Path, umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATTUNE_HOME": str(home), "ATTUNE_DATABASE_URL": ""}
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=lambda: os.umask(umask))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def open_to_others(home: Path) -> list[str]:
    """Everything under ``home`` that its group or other users could read, write or enter."""
    return [f"{p.relative_to(home)} {oct(mode(p))}" for p in [home, *home.rglob("*")]
            if not p.is_symlink() and mode(p) & 0o077]


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_registration_leaves_nothing_open_to_other_users(tmp_path, umask):
    home = tmp_path / "data" / "attune"
    pack = write_pack(tmp_path / "mypack", manifest("mypack"))

    done = attune(home, umask, "pack", "register", str(pack), "-q")

    assert done.returncode == 0, done.stderr
    assert mode(home) == 0o700
    assert mode(home / "attune.db") == 0o600
    assert {p.name for p in home.iterdir()} >= {"attune.db", "work", "releases"}
    assert open_to_others(home) == []


def test_files_sqlite_adds_later_take_the_store_files_mode(tmp_path):
    home = tmp_path / "home"
    assert attune(home, 0o000, *CREATES_STORE).returncode == 0

    # Another process writing while this one reads: SQLite creates the -wal and -shm files,
    # with the database file's mode, whatever the umask of whoever opens it.
    old = os.umask(0o000)
    try:
        with sqlite3.connect(home / "attune.db") as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE scratch (x)")
            companions = [home / "attune.db-wal", home / "attune.db-shm"]
            assert all(p.exists() for p in companions)
            assert [mode(p) for p in companions] == [0o600, 0o600]
    finally:
        os.umask(old)


def test_an_existing_data_directory_keeps_its_mode_but_the_store_is_private(tmp_path):
    # ATTUNE_HOME may be shared on purpose, or be a home directory: it is not changed.
    home = tmp_path / "shared"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)

    done = attune(home, 0o022, *CREATES_STORE)

    assert done.returncode == 0, done.stderr
    assert mode(home) == 0o755
    assert open_to_others(home) == [". 0o755"]


def test_a_store_file_an_older_version_left_readable_is_tightened(tmp_path):
    home = tmp_path / "home"
    assert attune(home, 0o022, *CREATES_STORE).returncode == 0
    os.chmod(home / "attune.db", 0o644)
    (home / "attune.db-journal").touch(mode=0o644)
    os.chmod(home / "attune.db-journal", 0o644)

    pack = write_pack(tmp_path / "mypack", manifest("mypack"))

    # The next command that opens the store (quick reads only look, read-only).
    assert attune(home, 0o022, "pack", "register", str(pack), "--skip-tests").returncode == 0

    assert mode(home / "attune.db") == 0o600
    assert mode(home / "attune.db-journal") == 0o600


def test_a_sqlite_url_in_a_new_folder_gets_a_private_folder_and_file(tmp_path):
    folder = tmp_path / "elsewhere" / "store"
    old = os.umask(0o000)
    try:
        store_config(Settings(home=tmp_path / "home", database_url=f"sqlite:///{folder}/a.db"))
    finally:
        os.umask(old)

    assert (mode(tmp_path / "home"), mode(folder), mode(folder / "a.db")) == (
        0o700, 0o700, 0o600)
