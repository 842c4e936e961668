"""The hostile-pack corpus, refused through the CLI and through the HTTP API, on both stores.

Each refusal must be one clear message (exit 1 / HTTP 400, no stack trace), and must change
nothing: no event, no pack, not a byte of the pack, nothing written outside the store. The
stores are shared by a module's cases, so every case also shows that the store is still
healthy after the hostile ones before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app
from attune_registry.adapters.service import RegistryService
from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE, invoke
from tests.packs import manifest, write_pack
from tests.reliability.hostile_packs import CORPUS, HostilePack

pytestmark = pytest.mark.reliability

ERROR = "✗ Error: "
# What the embedded store may keep in its home; PostgreSQL keeps nothing there.
SQLITE_FILES = {"attune.db", "attune.db-wal", "attune.db-shm", "attune.db-journal"}
# Bounds "refused in seconds" without timing anything: a hang fails the test.
DEADLINE = 60
JSON_CASES = ("yaml-syntax-error", "alias-bomb-doubling", "pack-yaml-a-fifo",
              "glob-matches-nothing", "action-entry-point-dotdot")


@dataclass
class Store:
    settings: Settings
    registry: RegistryService
    root: Path  # the API's pack root
    write: dict[str, str]
    read: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Store]:
    """One store per kind for the whole corpus (a fresh one per case would triple the time)."""
    home = tmp_path_factory.mktemp("store") / "home"
    root = tmp_path_factory.mktemp("packs")
    url = ""
    if request.param == "postgres":
        url = f"{request.getfixturevalue('postgres_database')}?schema=h_{uuid.uuid4().hex[:10]}"
    settings = Settings(home=home, database_url=url, pack_roots=(root,))
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
        yield Store(settings, registry, root, {"Authorization": f"Bearer {write}"},
                    {"Authorization": f"Bearer {read}"})


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(app=create_app(store.settings)) as client:
        yield client


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Empty TMPDIR and HOME, also for the in-process API; nothing may appear in them."""
    dirs = {"TMPDIR": tmp_path / "tmp", "HOME": tmp_path / "user"}
    for name, path in dirs.items():
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["TMPDIR"]))
    return {name: str(path) for name, path in dirs.items()}


def tree(directory: Path) -> dict[str, tuple[object, ...]]:
    """Names, kinds, modes, contents and link targets below ``directory`` (FIFOs unopened)."""
    found: dict[str, tuple[object, ...]] = {}
    for folder, dirnames, filenames in os.walk(directory):
        for name in [*dirnames, *filenames]:
            path = Path(folder) / name
            info = path.lstat()
            key = path.relative_to(directory).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                found[key] = ("file", info.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[key] = ("other", info.st_mode)
    return found


def log_head(store: Store) -> int:
    return store.registry.projection_status().log_head


def assert_nothing_changed(store: Store, head: int, directory: Path,
                           before: dict[str, tuple[object, ...]], private: dict[str, str]) -> None:
    assert log_head(store) == head, "a refused pack wrote events"
    assert store.registry.list_packs() == []
    assert not store.registry.knows("hostile")
    assert tree(directory) == before, "the pack (or what it points at) was changed"
    for name, path in private.items():
        assert os.listdir(path) == [], f"something was written to {name}"
    kept = set(os.listdir(store.settings.home)) if store.settings.home.exists() else set()
    assert kept <= (SQLITE_FILES if not store.settings.database_url else set())


def cli_env(store: Store, private: dict[str, str]) -> dict[str, str | None]:
    return {**private, "ATTUNE_HOME": str(store.settings.home),
            "ATTUNE_DATABASE_URL": store.settings.database_url, "ATTUNE_API_URL": None,
            "ATTUNE_TOKEN": None}


def run_cli(store: Store, private: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    env = {key: value for key, value in {**os.environ, **cli_env(store, private)}.items()
           if value is not None}
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                          timeout=DEADLINE, check=False)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_the_cli_refuses_it_with_one_line(case: HostilePack, store: Store,
                                          private: dict[str, str], tmp_path: Path) -> None:
    directory = tmp_path / "case"
    pack = case.build(directory)
    before, head = tree(directory), log_head(store)

    # In process (the JSON cases below go through the real entry point).
    done = invoke(["pack", "register", str(pack)], cli_env(store, private))

    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(ERROR) and case.matches(line.removeprefix(ERROR)), line
    assert_nothing_changed(store, head, directory, before, private)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.id in JSON_CASES], ids=lambda c: c.id)
def test_the_cli_refuses_it_in_json(case: HostilePack, store: Store, private: dict[str, str],
                                    tmp_path: Path) -> None:
    directory = tmp_path / "case"
    pack = case.build(directory)
    before, head = tree(directory), log_head(store)

    done = run_cli(store, private, "pack", "register", str(pack), "--json")

    assert (done.returncode, done.stderr) == (1, "")
    body = json.loads(done.stdout)
    assert body["code"] == "BAD_REQUEST" and case.matches(body["error"]), body
    assert_nothing_changed(store, head, directory, before, private)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_the_api_refuses_it_with_a_400(case: HostilePack, store: Store, client: TestClient,
                                       private: dict[str, str]) -> None:
    directory = store.root / case.id
    pack = case.build(directory)
    before, head = tree(directory), log_head(store)

    done = client.post("/api/v1/packs/register", json={"path": str(pack)},
                       headers=store.write, timeout=DEADLINE)

    assert done.status_code == 400, done.text
    body = done.json()
    assert set(body) == {"error", "code"} and body["code"] == "BAD_REQUEST"
    assert case.matches(body["error"]), body["error"]
    assert client.get("/api/v1/packs", headers=store.read).json()["data"] == []
    assert_nothing_changed(store, head, directory, before, private)


def test_the_corpus_covers_the_issue() -> None:
    """At least 30 distinct cases (the issue's floor), each with a unique id."""
    ids = [case.id for case in CORPUS]
    assert len(ids) == len(set(ids)) >= 30


class TestWhatIsStillAccepted:
    """The refusals above are targeted: the nearby valid forms still register."""

    def test_yaml_only_values_are_stored_as_text(self, attune, tmp_path):
        # Dates, binary, sets and non-string keys (YAML's `on:` is true) once crashed the
        # store's JSON encoding; they are kept as JSON would spell them.
        pack = write_pack(tmp_path / "typed", manifest("typed", meta={"a": {True: 1}}))
        (pack / "actions").mkdir()
        (pack / "actions" / "dated.yaml").write_text(
            "released: 2024-01-31\nblob: !!binary aGk=\ncodes: {200: ok, on: yes}\n")

        done = attune("pack", "register", str(pack), "--skip-tests")
        shown = json.loads(attune("pack", "show", "typed", "--json").stdout)["data"]

        assert done.returncode == 0, done.stderr
        assert shown["pack"]["meta"] == {"a": {"true": 1}}
        [action] = shown["components"]
        assert action["definition"] == {"released": "2024-01-31", "blob": "aGk=",
                                        "codes": {"200": "ok", "true": True}}

    def test_skip_tests_still_checks_test_paths(self, attune, tmp_path):
        # Like every other suite rule, a pattern that matches nothing is a manifest error
        # whether or not the tests are about to run.
        data = manifest("globs")
        data["testing"]["test_suites"][0]["test_files"] = ["check_*.py"]
        pack = write_pack(tmp_path / "globs", data)

        done = attune("pack", "register", str(pack), "--skip-tests")

        assert (done.returncode, done.stderr.splitlines()) == (1, [(
            f"{ERROR}Invalid pack.yaml: testing.test_suites[0].test_files[0]: 'check_*.py' "
            "matches no file in 'tests'")])

    def test_a_store_inside_the_pack_is_not_copied_into_its_own_snapshot(self, sqlite_settings,
                                                                        tmp_path):
        pack = write_pack(tmp_path / "nested", manifest("nested"))
        settings = replace(sqlite_settings, home=pack / "data")
        env = {**os.environ, "ATTUNE_HOME": str(settings.home), "ATTUNE_DATABASE_URL": ""}

        done = subprocess.run([ATTUNE, "pack", "register", str(pack), "-q"], env=env,
                              capture_output=True, text=True, timeout=DEADLINE, check=False)

        assert done.returncode == 0, done.stderr
        assert "Tests: 2/2 passed" in done.stdout
