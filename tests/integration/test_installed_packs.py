"""Install sources: how SOURCE is classified, links in fetched packs, fetch failures (the
release store they are kept in: test_releases.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attune_registry.domain.origin import DirectoryOrigin

from attune_registry.adapters.install.sources import (
    InstallSourceError,
    classify,
    local_path,
    shown_source,
)

from tests.packs import manifest, write_pack
from tests.remote_packs import git


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    directory = write_pack(tmp_path / "src", manifest("lamp"))
    (directory / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(directory / "run.sh", 0o755)
    (directory / "link").symlink_to("run.sh")
    return directory


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
        from attune_registry.adapters.install.sources import SourceFetcher

        (pack / "here").symlink_to(".")
        (pack / name).symlink_to(target)
        fetcher = SourceFetcher(tmp_path / "work", lambda: 30.0)
        with pytest.raises(InstallSourceError) as caught, fetcher.fetch(str(pack), None):
            pass
        assert str(caught.value) == (f"Refused install source {shown_source(str(pack))}: '{name}' is "
                                     f"a symbolic link to '{target}', outside the pack")

    def test_refused_from_git_and_nothing_is_left(self, tmp_path, pack):
        from attune_registry.adapters.install.sources import SourceFetcher

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
        from attune_registry.adapters.install.sources import SourceFetcher

        (pack / "tests" / "again.py").symlink_to("test_math.py")
        (pack / "top").symlink_to("tests/../pack.yaml")
        with SourceFetcher(tmp_path / "work", lambda: 30.0).fetch(str(pack), None) as fetched:
            assert fetched.origin == DirectoryOrigin(source=str(pack))


class TestStoreFailures:
    def test_git_missing_from_the_path_is_named(self, tmp_path, monkeypatch):
        from attune_registry.adapters.install.git import GitSourceError, fetch_git

        monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no git on it
        with pytest.raises(GitSourceError) as caught:
            fetch_git("https://example.org/lamp.git", tmp_path / "out", timeout=30)
        assert str(caught.value) == ("git is not installed (it is needed for git sources; "
                                     "archives and directories need nothing else)")
        assert not (tmp_path / "out").exists()


def test_allowed_install_sources_are_read_from_the_environment():
    from attune_registry.adapters.settings import Settings

    env = {"HOME": "/nonexistent", "ATTUNE_INSTALL_SOURCES": " https://a.example/x/ , ,"
                                                             "ssh://git@b.example/ "}
    assert Settings.from_env(env).install_sources == ("https://a.example/x/",
                                                      "ssh://git@b.example/")
    assert Settings.from_env({"HOME": "/nonexistent"}).install_sources == ()
