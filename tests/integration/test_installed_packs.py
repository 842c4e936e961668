"""The managed pack store on a real directory, drift checks, and how SOURCE is classified."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from domain.origin import DirectoryOrigin

from adapters.install.managed_store import InstalledPackStore, check_drift
from adapters.install.sources import InstallSourceError, classify, local_path, shown_source
from adapters.packs.loader import FilesystemPackLoader, snapshot_of

from tests.packs import manifest, write_pack
from tests.remote_packs import git


@pytest.fixture
def store(tmp_path: Path) -> InstalledPackStore:
    return InstalledPackStore(tmp_path / "installed", tmp_path / "work")


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    directory = write_pack(tmp_path / "src", manifest("lamp"))
    (directory / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(directory / "run.sh", 0o755)
    (directory / "link").symlink_to("run.sh")
    return directory


def kept(store: InstalledPackStore, pack: Path, tmp_path: Path) -> tuple[Path, bool, str]:
    source = FilesystemPackLoader(tmp_path / "work").load(str(pack))
    with source.snapshot() as snapshot:
        path = store.path_for(source, snapshot)
        return Path(path), store.keep(snapshot, path), snapshot.content_digest


class TestKeep:
    def test_copies_the_snapshot_read_only_under_a_content_named_folder(self, store, pack,
                                                                         tmp_path):
        path, created, digest = kept(store, pack, tmp_path)
        assert created and path == tmp_path / "installed" / "lamp" / f"1.0.0-{digest[:16]}"
        assert (path / "tests" / "test_math.py").read_text() == \
            (pack / "tests" / "test_math.py").read_text()
        assert os.readlink(path / "link") == "run.sh"
        assert os.access(path / "run.sh", os.X_OK)
        for entry in (path, path / "tests", path / "pack.yaml"):
            assert not stat.S_IMODE(entry.stat().st_mode) & 0o222, entry
        assert check_drift(str(path), digest).status == "ok"
        assert Path(f"{path}.files").is_file()
        assert list((tmp_path / "work").iterdir()) == []  # the incoming copy was moved away

    def test_the_same_content_again_is_reused_and_not_ours_to_remove(self, store, pack,
                                                                     tmp_path):
        path, _, _ = kept(store, pack, tmp_path)
        before = path.stat().st_ino
        again, created, _ = kept(store, pack, tmp_path)
        assert (again, created, again.stat().st_ino) == (path, False, before)

    def test_drifted_files_of_the_same_content_are_replaced_whole(self, store, pack, tmp_path):
        path, _, digest = kept(store, pack, tmp_path)
        os.chmod(path, 0o755)
        (path / "extra.txt").write_text("left behind")
        again, created, _ = kept(store, pack, tmp_path)
        assert (again, created) == (path, False)
        assert not (path / "extra.txt").exists()
        assert check_drift(str(path), digest).status == "ok"

    def test_discard_removes_the_folder_its_listing_and_an_empty_ref_folder(self, store, pack,
                                                                            tmp_path):
        path, _, _ = kept(store, pack, tmp_path)
        store.discard(str(path))
        assert list((tmp_path / "installed").iterdir()) == []


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


class TestClassify:
    @pytest.mark.parametrize(("source", "kind"), [
        ("https://example.org/packs/lamp-1.0.0.tar.gz", "archive_url"),
        ("https://example.org/packs/lamp.ZIP", "archive_url"),
        ("https://example.org/org/lamp.git", "git"),
        ("https://example.org/org/lamp", "git"),
        ("ssh://git@example.org/org/lamp.git", "git"),
        ("git@example.org:org/lamp.git", "git"),
    ])
    def test_urls(self, source, kind):
        assert classify(source, None).kind == kind

    def test_local_kinds(self, tmp_path, pack):
        archive = tmp_path / "lamp.tgz"
        archive.write_bytes(b"\x1f\x8b")
        bare = tmp_path / "bare.git"
        git("init", "-q", "--bare", str(bare), cwd=tmp_path)
        assert classify(str(archive), None).kind == "archive_file"
        assert classify(archive.as_uri(), None).kind == "archive_file"
        assert classify(str(pack), None).kind == "directory"
        assert classify(str(pack), "main").kind == "git"  # --ref asks for git
        assert classify(str(bare), None).kind == "git"
        assert classify(bare.as_uri(), None).kind == "git"

    def test_a_file_url_too_long_for_the_file_system(self):
        source = "file:///" + "a" * 5000
        with pytest.raises(InstallSourceError) as caught:
            classify(source, None)
        assert str(caught.value) == (f"Install source {shown_source(source)} cannot be used: "
                                     "File name too long")

    @pytest.mark.parametrize(("source", "ref", "message"), [
        ("http://example.org/lamp.tar.gz", None,
         "Refused install source 'http://example.org/lamp.tar.gz': plain http:// is not "
         "accepted, use https://"),
        ("https://u:pw@example.org/lamp.zip", "v1",
         "A ref (--ref, ref_spec) applies to git sources only, and this source is an "
         "archive"),
        ("ftp://example.org/lamp.tar.gz", None,
         "Unsupported install source 'ftp://example.org/lamp.tar.gz': use an https://, "
         "ssh:// or file:// URL, user@host:path, an archive or a directory"),
        ("-c core.sshCommand=x", None, "Invalid install source '-c core.sshCommand=x'"),
        ("", None, "Invalid install source ''"),
        ("no/such/place", None, "Install source 'no/such/place' not found: give a git URL, "
         "an archive (a path or an https:// URL) or a pack directory"),
        ("http://user:hunter2@example.org/x.git", None,
         "Refused install source 'http://***@example.org/x.git': plain http:// is not "
         "accepted, use https://"),
    ])
    def test_refusals(self, source, ref, message):
        with pytest.raises(InstallSourceError) as caught:
            classify(source, ref)
        assert str(caught.value) == message

    def test_local_path_is_what_the_api_confines_to_its_pack_roots(self, tmp_path, pack):
        assert local_path("https://example.org/lamp.tar.gz") is None
        assert local_path("https://example.org/lamp.git") is None
        assert local_path("git@example.org:lamp.git") is None
        assert local_path(str(pack)) == str(pack)
        assert local_path(pack.as_uri()) == str(pack)
        assert local_path(str(tmp_path / "absent")) == str(tmp_path / "absent")  # no lookup


class TestEscapingLinks:
    """Installed files are kept by digest, and a link's digest is its target text: links that
    leave the pack would let one digest mean different files, so installs refuse them."""

    @pytest.mark.parametrize(("name", "target"), [
        ("passwd", "/etc/passwd"),
        ("up", "../outside"),
        ("through", "here/.."),  # `here` is the pack itself: `..` after it leaves
        ("loop", "loop"),
    ])
    def test_refused_from_a_directory(self, tmp_path, pack, name, target):
        from adapters.install.sources import SourceFetcher

        (pack / "here").symlink_to(".")
        (pack / name).symlink_to(target)
        fetcher = SourceFetcher(tmp_path / "work", lambda: 30.0)
        with pytest.raises(InstallSourceError) as caught, fetcher.fetch(str(pack), None):
            pass
        assert str(caught.value) == (f"Refused install source {shown_source(str(pack))}: '{name}' is "
                                     f"a symbolic link to '{target}', outside the pack")

    def test_refused_from_git_and_nothing_is_left(self, tmp_path, pack):
        from adapters.install.sources import SourceFetcher

        (pack / "tests" / "data").symlink_to("/etc")
        git("init", "-q", str(pack), cwd=tmp_path)
        git("add", "-A", cwd=pack)
        git("commit", "-q", "-m", "one", cwd=pack)
        fetcher = SourceFetcher(tmp_path / "work", lambda: 30.0)
        with pytest.raises(InstallSourceError) as caught, fetcher.fetch(pack.as_uri(), "main"):
            pass
        assert str(caught.value).endswith("'tests/data' is a symbolic link to '/etc', outside "
                                          "the pack")
        assert list((tmp_path / "work").iterdir()) == []

    def test_links_within_the_pack_are_kept(self, tmp_path, pack):
        from adapters.install.sources import SourceFetcher

        (pack / "tests" / "again.py").symlink_to("test_math.py")
        (pack / "top").symlink_to("tests/../pack.yaml")
        with SourceFetcher(tmp_path / "work", lambda: 30.0).fetch(str(pack), None) as fetched:
            assert fetched.origin == DirectoryOrigin(source=str(pack))


class TestStoreFailures:
    def test_a_store_that_cannot_be_written_is_one_clear_error_and_leaves_nothing(
            self, tmp_path, pack):
        from adapters.install.managed_store import InstalledFilesError

        (tmp_path / "installed").write_text("not a folder")
        store = InstalledPackStore(tmp_path / "installed", tmp_path / "work")
        source = FilesystemPackLoader(tmp_path / "work").load(str(pack))
        with source.snapshot() as snapshot, pytest.raises(InstalledFilesError) as caught:
            store.keep(snapshot, store.path_for(source, snapshot))
        assert str(caught.value).startswith(f"Cannot install the files at {tmp_path}/installed/")
        assert str(caught.value).endswith(": Not a directory")
        assert list((tmp_path / "work").iterdir()) == []

    def test_git_missing_from_the_path_is_named(self, tmp_path, monkeypatch):
        from adapters.install.git import GitSourceError, fetch_git

        monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no git on it
        with pytest.raises(GitSourceError) as caught:
            fetch_git("https://example.org/lamp.git", tmp_path / "out", timeout=30)
        assert str(caught.value) == ("git is not installed (it is needed for git sources; "
                                     "archives and directories need nothing else)")
        assert not (tmp_path / "out").exists()


def test_allowed_install_sources_are_read_from_the_environment():
    from adapters.settings import Settings

    env = {"HOME": "/nonexistent", "ATTUNE_INSTALL_SOURCES": " https://a.example/x/ , ,"
                                                             "ssh://git@b.example/ "}
    assert Settings.from_env(env).install_sources == ("https://a.example/x/",
                                                      "ssh://git@b.example/")
    assert Settings.from_env({"HOME": "/nonexistent"}).install_sources == ()
