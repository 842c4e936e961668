"""The release store on a real directory: what a registration tested, kept by digest, private
and read-only; drift checks; adopting the recorded files of registrations from before it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from attune_registry.adapters.packs.loader import FilesystemPackLoader, snapshot_of
from attune_registry.adapters.packs.releases import ReleaseFilesError, ReleaseStore, check_drift

from tests.packs import manifest, write_pack


@pytest.fixture
def store(tmp_path: Path) -> ReleaseStore:
    return ReleaseStore(tmp_path / "releases", tmp_path / "work", tmp_path / "installed")


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    directory = write_pack(tmp_path / "src", manifest("lamp"))
    (directory / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(directory / "run.sh", 0o755)
    (directory / "secret.txt").write_text("only mine")
    os.chmod(directory / "secret.txt", 0o600)
    (directory / "link").symlink_to("run.sh")
    return directory


def kept(store: ReleaseStore, pack: Path, tmp_path: Path) -> tuple[Path, bool, str]:
    with snapshot_of(pack, "lamp", tmp_path / "work") as snapshot:
        return Path(store.path_of(snapshot.content_digest)), store.keep(snapshot), \
            snapshot.content_digest


class TestKeep:
    def test_copies_the_snapshot_read_only_and_private_under_its_digest(self, store, pack,
                                                                        tmp_path):
        path, created, digest = kept(store, pack, tmp_path)
        assert created and path == tmp_path / "releases" / digest
        assert (path / "tests" / "test_math.py").read_text() == \
            (pack / "tests" / "test_math.py").read_text()
        assert os.readlink(path / "link") == "run.sh"
        modes = {name: stat.S_IMODE((path / name).stat().st_mode)
                 for name in ("", "tests", "pack.yaml", "run.sh", "secret.txt")}
        # Only the owner's bits, never write: a 0600 file does not become world-readable.
        assert modes == {"": 0o500, "tests": 0o500, "pack.yaml": 0o400, "run.sh": 0o500,
                         "secret.txt": 0o400}
        assert stat.S_IMODE((tmp_path / "releases").stat().st_mode) == 0o700
        assert stat.S_IMODE(Path(f"{path}.files").stat().st_mode) == 0o600
        assert check_drift(str(path), digest).status == "ok"
        assert store.digests() == [digest]
        assert list((tmp_path / "work").iterdir()) == []  # the incoming copy was moved away

    def test_the_same_content_again_is_reused_and_not_ours_to_remove(self, store, pack,
                                                                     tmp_path):
        path, _, _ = kept(store, pack, tmp_path)
        before = path.stat().st_ino
        again, created, _ = kept(store, pack, tmp_path)
        assert (again, created, again.stat().st_ino) == (path, False, before)

    def test_a_damaged_release_of_the_same_content_is_replaced_whole(self, store, pack,
                                                                     tmp_path):
        path, _, digest = kept(store, pack, tmp_path)
        os.chmod(path, 0o700)
        (path / "extra.txt").write_text("left behind")
        again, created, _ = kept(store, pack, tmp_path)
        assert (again, created) == (path, False)
        assert not (path / "extra.txt").exists()
        assert check_drift(str(path), digest).status == "ok"

    def test_discard_removes_the_release_and_its_listing(self, store, pack, tmp_path):
        _, _, digest = kept(store, pack, tmp_path)
        store.discard(digest)
        assert list((tmp_path / "releases").iterdir()) == []

    def test_a_digest_is_never_a_path(self, store):
        with pytest.raises(ValueError, match="not a content digest"):
            store.path_of("../../etc")

    def test_a_store_that_cannot_be_written_is_one_clear_error_and_leaves_nothing(
            self, tmp_path, pack):
        (tmp_path / "releases").write_text("not a folder")
        store = ReleaseStore(tmp_path / "releases", tmp_path / "work")
        with snapshot_of(pack, "lamp", tmp_path / "work") as snapshot, \
                pytest.raises(ReleaseFilesError) as caught:
            store.keep(snapshot)
        assert str(caught.value).startswith(f"Cannot keep the release at {tmp_path}/releases/")
        assert list((tmp_path / "work").iterdir()) == []


class TestRestore:
    """Registrations from before releases recorded a path only: their files become the
    release on first use, if they still have the recorded digest."""

    def test_an_existing_release_is_used_whatever_the_recorded_path_holds(self, store, pack,
                                                                          tmp_path):
        path, _, digest = kept(store, pack, tmp_path)
        (pack / "pack.yaml").write_text("changed")
        assert store.restore(digest, str(pack)) == str(path)

    def test_unchanged_recorded_files_are_adopted(self, store, pack, tmp_path):
        with snapshot_of(pack, "lamp", tmp_path / "work") as snapshot:
            digest = snapshot.content_digest
        assert store.digests() == []
        restored = store.restore(digest, str(pack))
        assert restored == store.path_of(digest)
        assert check_drift(restored, digest).status == "ok"

    @pytest.mark.parametrize("damage", ["edit", "delete"])
    def test_changed_or_deleted_recorded_files_are_not(self, store, pack, tmp_path, damage):
        import shutil

        with snapshot_of(pack, "lamp", tmp_path / "work") as snapshot:
            digest = snapshot.content_digest
        if damage == "edit":
            (pack / "pack.yaml").write_text("changed")
        else:
            shutil.rmtree(pack)
        assert store.restore(digest, str(pack)) is None
        assert store.digests() == []


class TestDrift:
    def test_names_modified_added_and_removed_files(self, store, pack, tmp_path):
        path, _, digest = kept(store, pack, tmp_path)
        for folder in (path, path / "tests"):
            os.chmod(folder, 0o755)
        os.chmod(path / "pack.yaml", 0o644)
        with (path / "pack.yaml").open("a") as file:
            file.write("# edited\n")
        (path / "tests" / "test_math.py").unlink()
        (path / "notes.txt").write_text("new")
        os.chmod(path / "run.sh", 0o644)  # losing the executable bit is a change too
        drift = check_drift(str(path), digest)
        assert (drift.status, drift.listed) == ("drifted", True)
        assert (drift.modified, drift.added, drift.removed) == (
            ["pack.yaml", "run.sh"], ["notes.txt"], ["tests/test_math.py"])
        assert drift.actual_digest not in (None, digest)

    def test_a_directory_without_a_listing_compares_digests_only(self, pack, tmp_path):
        with snapshot_of(pack, "lamp", tmp_path / "work") as snapshot:
            digest = snapshot.content_digest
        assert check_drift(str(pack), digest).status == "ok"
        (pack / "pack.yaml").write_text("changed")
        drift = check_drift(str(pack), digest)
        assert (drift.status, drift.listed, drift.modified) == ("drifted", False, [])

    def test_missing_folder(self, tmp_path):
        assert check_drift(str(tmp_path / "gone"), "0" * 64).status == "missing"


def test_the_loader_snapshot_and_the_release_agree_on_the_digest(store, pack, tmp_path):
    source = FilesystemPackLoader(tmp_path / "work").load(str(pack))
    with source.snapshot() as snapshot:
        store.keep(snapshot)
        digest = snapshot.content_digest
    with snapshot_of(Path(store.path_of(digest)), "lamp", tmp_path / "work") as again:
        assert again.content_digest == digest
