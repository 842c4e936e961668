"""``PACKS_PATH`` under each sandbox mechanism and with the sandbox off: a suite reads the
releases of the packs it depends on (kept private and read-only by the release store) through
their copies beside the copy of its pack, cannot change them, and the folder is gone after the
run."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from attune_registry.domain.manifest import TestSuite

from attune_registry.adapters.packs.loader import snapshot_of
from attune_registry.adapters.packs.packs_path import PacksPathFolders
from attune_registry.adapters.packs.releases import ReleaseStore
from attune_registry.adapters.runners import SandboxRunner
from attune_registry.adapters.sandbox import Sandbox, SandboxPolicy

from tests.conftest import _running_in_ci
from tests.packs import manifest, write_pack

PROBE = """
import os, unittest

ROOT = os.environ["PACKS_PATH"]


class Packs(unittest.TestCase):
    def test_each_dependency_is_an_entry_with_its_files(self):
        self.assertEqual(sorted(os.listdir(ROOT)), ["core", "net"])
        with open(os.path.join(ROOT, "core", "lib", "corelib.py")) as handle:
            self.assertIn("def greet", handle.read())
        with open(os.path.join(ROOT, "net", "pack.yaml")) as handle:
            self.assertIn("ref: net", handle.read())

    def test_the_dependencies_cannot_be_changed(self):
        if os.environ.get("EXPECT_WRITABLE"):
            self.skipTest("sandbox off")
        with self.assertRaises(OSError):
            open(os.path.join(ROOT, "core", "lib", "corelib.py"), "a").write("# changed")
        with self.assertRaises(OSError):
            open(os.path.join(ROOT, "planted.py"), "w").write("")
"""


@pytest.fixture(params=["bwrap", "namespaces", "off"])
def mechanism(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap" and shutil.which("bwrap") is None and not _running_in_ci():
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    return request.param


def kept_release(store: ReleaseStore, source: Path, work: Path) -> str:
    """``source`` kept in the release store, as a registration keeps it (private, read-only)."""
    with snapshot_of(source, source.name, work) as snapshot:
        store.keep(snapshot)
        return store.path_of(snapshot.content_digest)


def test_a_suite_reads_its_dependencies_and_cannot_change_them(mechanism, tmp_path):
    work = tmp_path / "home" / "work"
    store = ReleaseStore(tmp_path / "home" / "releases", work)
    core = write_pack(tmp_path / "core", manifest("core"))
    (core / "lib").mkdir()
    (core / "lib" / "corelib.py").write_text("def greet(name):\n    return 'hello ' + name\n")
    releases = {"core": kept_release(store, core, work),
                "net": kept_release(store, write_pack(tmp_path / "net", manifest("net")), work)}
    staging = tmp_path / "home" / "work" / "attune-1-web-x"  # as a snapshot's private folder
    staging.mkdir(mode=0o700)
    pack = staging / "pack"
    (pack / "tests").mkdir(parents=True)
    (pack / "tests" / "test_probe.py").write_text(textwrap.dedent(PROBE))
    runner = SandboxRunner(Sandbox(SandboxPolicy.from_settings(mechanism, "allow", "", "")))
    suite = TestSuite(name="probe", runner="python_unittest", working_dir="tests",
                      timeout_seconds=60)

    with PacksPathFolders().folder(releases, beside=str(pack)) as context:
        if mechanism == "off":
            context = type(context)(read_only=context.read_only,
                                    variables=(*context.variables, ("EXPECT_WRITABLE", "1")))
        [folder] = context.read_only
        result = runner.run(suite, str(pack), context=context)

    failures = [f"{c.name}: {c.error_message}" for c in result.test_cases if c.status != "passed"]
    assert result.status == "passed", failures or result.message
    assert result.isolation is not None and result.isolation.mechanism == mechanism
    assert dict(context.variables)["PACKS_PATH"] == folder == str(staging / "packs")
    assert not Path(folder).exists()  # removed with the run
    release = Path(releases["core"]) / "lib" / "corelib.py"
    assert release.read_text().endswith("return 'hello ' + name\n")  # untouched


def test_no_dependencies_give_an_empty_folder(tmp_path):
    with PacksPathFolders().folder({}, beside=str(tmp_path / "pack")) as context:
        [folder] = context.read_only
        assert list(Path(folder).iterdir()) == []
        assert dict(context.variables) == {"PACKS_PATH": folder}


def test_a_ref_that_is_not_a_pack_ref_never_becomes_a_path(tmp_path):
    with pytest.raises(ValueError, match="not a pack ref"), \
            PacksPathFolders().folder({"../escape": str(tmp_path)},
                                      beside=str(tmp_path / "pack")):
        pass
    assert not (tmp_path / "packs").exists()
