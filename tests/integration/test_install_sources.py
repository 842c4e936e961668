"""Install sources: safe archive extraction and git fetches, on real archives and repositories."""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from attune_registry.domain.text import quoted

from attune_registry.adapters.install.archives import (
    DEFAULT_LIMITS,
    ArchiveError,
    ArchiveLimits,
    extract_archive,
)
from attune_registry.adapters.install.git import GitSourceError, fetch_git
from attune_registry.adapters.redact import redact_url

from tests.remote_packs import git

PACK_YAML = b"ref: lamp\nversion: 1.0.0\nlabel: Lamp\ndescription: A tiny pack\n"
SMALL = ArchiveLimits(max_total_bytes=2**20, max_members=5, max_file_bytes=2**20,
                      max_path_chars=60, max_depth=4)

def file_member(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def special_member(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
    return info, None


def make_tar(path: Path, members: list, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as bundle:
        for info, data in members:
            bundle.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members:
            bundle.writestr(name, data)
    return path


def zip_link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16  # how Info-ZIP stores a symlink
    return info, target.encode()


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class TestGoodArchives:
    def test_a_tarball_with_one_top_level_folder_is_stripped_like_a_github_archive(self, tmp_path):
        archive = make_tar(tmp_path / "lamp-1.0.0.tar.gz", [
            file_member("lamp-1.0.0/pack.yaml", PACK_YAML),
            file_member("lamp-1.0.0/actions/on.sh", b"#!/bin/sh\n", mode=0o4755),
        ])

        extracted = extract_archive(archive, tmp_path / "out")

        assert extracted.root == tmp_path / "out"
        assert extracted.stripped_folder == "lamp-1.0.0"
        assert files_under(extracted.root) == {"pack.yaml": PACK_YAML,
                                               "actions/on.sh": b"#!/bin/sh\n"}
        # The user's execute bit survives; setuid and the group/other bits do not.
        assert stat.S_IMODE((extracted.root / "actions/on.sh").stat().st_mode) == 0o700
        assert stat.S_IMODE((extracted.root / "pack.yaml").stat().st_mode) == 0o600

    def test_a_zip_with_files_at_the_top_is_extracted_as_is_into_an_empty_directory(self, tmp_path):
        archive = make_zip(tmp_path / "lamp.zip", [("pack.yaml", PACK_YAML), ("tests/", b""),
                                                   ("tests/test_on.py", b"def test(): pass\n")])
        (tmp_path / "out").mkdir()

        extracted = extract_archive(archive, tmp_path / "out")

        assert extracted.stripped_folder is None
        assert files_under(tmp_path / "out") == {"pack.yaml": PACK_YAML,
                                                 "tests/test_on.py": b"def test(): pass\n"}

    def test_a_top_folder_holding_an_entry_of_its_own_name_is_stripped(self, tmp_path):
        archive = make_tar(tmp_path / "a.tar", [file_member("lamp/pack.yaml", PACK_YAML),
                                               file_member("lamp/lamp", b"inner")], mode="w")

        extracted = extract_archive(archive, tmp_path / "out")

        assert files_under(extracted.root) == {"pack.yaml": PACK_YAML, "lamp": b"inner"}

    def test_an_xz_tarball_with_a_dot_slash_prefix_is_read(self, tmp_path):
        archive = make_tar(tmp_path / "a.tar.xz", [special_member("./", tarfile.DIRTYPE),
                                                  file_member("./pack.yaml", PACK_YAML)], "w:xz")

        assert files_under(extract_archive(archive, tmp_path / "out").root) == {
            "pack.yaml": PACK_YAML}


def refused(archive: Path, target: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(ArchiveError) as caught:
        extract_archive(archive, target, limits)
    assert caught.value.code == "BAD_REQUEST"
    return str(caught.value)


def tar_bomb(path: Path) -> Path:
    return make_tar(path, [file_member("pack.yaml", PACK_YAML),
                           file_member("blob", bytes(20 * 2**20))])


def pax_padding(path: Path) -> Path:
    # A 3 MiB pax comment: header payload, not file content, that tarfile reads into memory.
    info, data = file_member("pack.yaml", PACK_YAML)
    info.pax_headers = {"comment": "x" * (3 * 2**20)}
    return make_tar(path, [(info, data)], mode="w")  # uncompressed: no ratio to trip on


def huge_declared(path: Path) -> Path:
    info = tarfile.TarInfo("pack.yaml")
    info.size = 10 * 2**30  # the header claims 10 GiB; no data follows
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as bundle:
        bundle.addfile(info)
    return path


# (archive builder, limits, exact message after "Refused archive '<name>': ")
HOSTILE = {
    "absolute path": (lambda p: make_tar(p, [file_member("/etc/evil", b"x")]), ArchiveLimits(),
                      "member '/etc/evil' has an absolute path"),
    "dot-dot traversal": (lambda p: make_tar(p, [file_member("pack.yaml", PACK_YAML),
                                                 file_member("../evil", b"x")]),
                          ArchiveLimits(), "member '../evil' has a '..' component"),
    "dot-dot inside a zip": (lambda p: make_zip(p, [("a/../../evil", b"x")]), ArchiveLimits(),
                             "member 'a/../../evil' has a '..' component"),
    "backslash path": (lambda p: make_zip(p, [("..\\evil", b"x")]), ArchiveLimits(),
                       "member '..\\\\evil' has a backslash in its name (a Windows path?)"),
    "symlink to /etc": (lambda p: make_tar(p, [special_member("etc", tarfile.SYMTYPE, "/etc")]),
                        ArchiveLimits(),
                        "member 'etc' is a symbolic link to '/etc' (links are not accepted)"),
    "symlink inside a zip": (lambda p: make_zip(p, [zip_link("etc", "/etc")]), ArchiveLimits(),
                             "member 'etc' is a symbolic link (links are not accepted)"),
    "hard link": (lambda p: make_tar(p, [file_member("pack.yaml", PACK_YAML),
                                         special_member("h", tarfile.LNKTYPE, "pack.yaml")]),
                  ArchiveLimits(),
                  "member 'h' is a hard link to 'pack.yaml' (links are not accepted)"),
    "FIFO": (lambda p: make_tar(p, [special_member("pipe", tarfile.FIFOTYPE)]), ArchiveLimits(),
             "member 'pipe' is a FIFO"),
    "device node": (lambda p: make_tar(p, [special_member("null", tarfile.CHRTYPE)]),
                    ArchiveLimits(), "member 'null' is a device file"),
    "too many tar members": (lambda p: make_tar(p, [file_member(f"f{i}") for i in range(6)]),
                             SMALL, "has more than 5 members"),
    "too many zip members": (lambda p: make_zip(p, [(f"f{i}", b"x") for i in range(6)]), SMALL,
                             "has more than 5 members"),
    "zip bomb": (lambda p: make_zip(p, [("pack.yaml", PACK_YAML), ("blob", bytes(20 * 2**20))]),
                 ArchiveLimits(),
                 "member 'blob' expands more than 200 times its size (a compression bomb?)"),
    "tar.gz bomb": (tar_bomb, ArchiveLimits(),
                    "expands more than 200 times its size (a compression bomb?)"),
    "huge declared size": (huge_declared, ArchiveLimits(), "member 'pack.yaml' is larger than 50 MiB"),
    "too large in total": (lambda p: make_tar(p, [file_member("a", bytes(600_000)),
                                                  file_member("b", bytes(600_000))], mode="w"),
                           SMALL, "expands to more than 1 MiB"),
    "oversized pax header": (pax_padding, SMALL, "expands to more than 1.01953 MiB of tar data"),
    "too deep": (lambda p: make_tar(p, [file_member("a/b/c/d/e", b"x")]), SMALL,
                 "member 'a/b/c/d/e' is nested more than 4 folders deep"),
    "too long a path": (lambda p: make_tar(p, [file_member("n" * 61, b"x")]), SMALL,
                        f"member {quoted('n' * 61)} has a path longer than 60 characters"),
    "duplicate member": (lambda p: make_tar(p, [file_member("pack.yaml", PACK_YAML),
                                                file_member("pack.yaml", b"swapped")]),
                         ArchiveLimits(), "member 'pack.yaml' appears more than once in the archive"),
    "no pack.yaml": (lambda p: make_tar(p, [file_member("top/readme", b"x")]), ArchiveLimits(),
                     "has no pack.yaml at its top level or in its single top-level folder"),
}


class TestHostileArchives:
    @pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
    def test_is_refused_with_a_clear_message_and_leaves_nothing_behind(self, tmp_path, case):
        build, limits, problem = HOSTILE[case]
        archive = build(tmp_path / "hostile.archive")

        message = refused(archive, tmp_path / "out", limits)

        assert message == f"Refused archive 'hostile.archive': {problem}"
        assert not (tmp_path / "out").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.archive"]

    def test_a_target_that_existed_is_emptied_after_a_refusal_half_way(self, tmp_path):
        # Two files are written before the traversal is met: both must go.
        archive = make_tar(tmp_path / "a.tgz", [file_member("top/pack.yaml", PACK_YAML),
                                               file_member("top/actions/on.sh", b"x"),
                                               file_member("../evil", b"x")])
        (tmp_path / "out").mkdir()

        refused(archive, tmp_path / "out")

        assert list((tmp_path / "out").iterdir()) == []
        assert not (tmp_path / "evil").exists()

    def test_a_target_that_is_not_empty_is_refused_and_left_alone(self, tmp_path):
        archive = make_zip(tmp_path / "a.zip", [("pack.yaml", PACK_YAML)])
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "mine").write_text("keep")

        message = refused(archive, tmp_path / "out")

        assert message == f"Refused archive 'a.zip': target '{tmp_path}/out' is not an empty directory"
        assert files_under(tmp_path / "out") == {"mine": b"keep"}

    def test_bytes_that_are_no_archive_and_a_truncated_tarball_are_refused(self, tmp_path):
        (tmp_path / "junk.tgz").write_bytes(b"not an archive at all" * 40)
        good = tar_bomb(tmp_path / "good.tgz").read_bytes()
        (tmp_path / "cut.tgz").write_bytes(good[: len(good) // 2])

        assert refused(tmp_path / "junk.tgz", tmp_path / "a").startswith(
            "Refused archive 'junk.tgz': is not a valid .tar, .tar.gz or .zip archive")
        assert "is not a valid .tar, .tar.gz or .zip archive, or is truncated" in refused(
            tmp_path / "cut.tgz", tmp_path / "b", ArchiveLimits(max_ratio=10**6))
        assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> dict[str, str]:
    """A bare repository: v1.0.0 (annotated tag) then a second commit on main, and a branch
    `feature` with a third commit; returns its path and the commit of each."""
    root = tmp_path_factory.mktemp("git")
    bare, work = root / "lamp.git", root / "work"
    git("init", "-q", "--bare", str(bare), cwd=root)
    git("init", "-q", str(work), cwd=root)
    commits = {"path": str(bare)}
    for label, version, branch in (("v1", "1.0.0", "main"), ("main", "1.1.0", "main"),
                                   ("feature", "2.0.0-rc1", "feature")):
        if branch == "feature":
            git("checkout", "-q", "-b", "feature", cwd=work)
        (work / "pack.yaml").write_text(f"ref: lamp\nversion: {version}\n")
        git("add", "pack.yaml", cwd=work)
        git("commit", "-q", "-m", version, cwd=work)
        commits[label] = git("rev-parse", "HEAD", cwd=work)
        if label == "v1":
            git("tag", "-a", "v1.0.0", "-m", "first release", cwd=work)
    git("push", "-q", str(bare), "main", "feature", "v1.0.0", cwd=work)
    return commits


def version_in(path: Path) -> str:
    return (path / "pack.yaml").read_text().splitlines()[1]


class TestGitSources:
    def test_the_remote_head_by_default(self, origin, tmp_path):
        fetched = fetch_git(origin["path"], tmp_path / "out")

        assert fetched.commit == origin["main"]
        assert version_in(fetched.path) == "version: 1.1.0"
        assert sorted(p.name for p in fetched.path.iterdir()) == ["pack.yaml"]  # no .git

    def test_an_annotated_tag_over_file_url_resolves_to_its_commit(self, origin, tmp_path):
        fetched = fetch_git(f"file://{origin['path']}", tmp_path / "out", ref="v1.0.0")

        assert fetched.commit == origin["v1"]
        assert version_in(fetched.path) == "version: 1.0.0"
        assert not (fetched.path / ".git").exists()

    def test_a_branch_from_a_plain_path(self, origin, tmp_path):
        fetched = fetch_git(origin["path"], tmp_path / "out", ref="feature")

        assert fetched.commit == origin["feature"]
        assert version_in(fetched.path) == "version: 2.0.0-rc1"

    @pytest.mark.parametrize("length", [40, 7])
    def test_a_commit_that_is_no_tip_by_full_and_short_sha(self, origin, tmp_path, length):
        fetched = fetch_git(f"file://{origin['path']}", tmp_path / "out",
                            ref=origin["v1"][:length])

        assert fetched.commit == origin["v1"]
        assert version_in(fetched.path) == "version: 1.0.0"

    def test_an_unknown_ref_is_a_clear_error_and_leaves_nothing(self, origin, tmp_path):
        with pytest.raises(GitSourceError, match="^git fetch failed: ref 'v9' not found$"):
            fetch_git(origin["path"], tmp_path / "out", ref="v9")
        with pytest.raises(GitSourceError,
                           match="^" + re.escape(f"Git ref 'deadbee' not found in "
                                                 f"{quoted(origin['path'])}") + "$"):
            fetch_git(origin["path"], tmp_path / "out", ref="deadbee")

        assert not (tmp_path / "out").exists()

    def test_a_password_in_the_url_never_shows_in_the_error(self, tmp_path):
        # Port 9 (discard) refuses at once; the credentials must not come back in the message.
        url = "https://alice:s3cr%40t@127.0.0.1:9/lamp.git"
        with pytest.raises(GitSourceError) as caught:
            fetch_git(url, tmp_path / "out", ref="main", timeout=30)

        message = str(caught.value)
        assert message.startswith("git fetch failed: ")
        assert "s3cr" not in message and "alice" not in message
        assert not (tmp_path / "out").exists()

    def test_an_ssh_user_is_no_secret_and_git_s_message_stays_readable(self, tmp_path):
        # Masking the user "git" wherever it appears turned "git fetch" into "*** fetch".
        with pytest.raises(GitSourceError) as caught:
            fetch_git("ssh://git@127.0.0.1:1/lamp.git", tmp_path / "out", timeout=30)

        message = str(caught.value)
        assert message.startswith("git fetch failed: ssh: connect to host 127.0.0.1 port 1"), \
            message
        assert "***" not in message

    def test_other_transports_and_option_like_input_are_refused_before_git_runs(self, tmp_path):
        for source, problem in (
                ("ext::sh -c touch% /tmp/pwned", "it reads as git's host:path form"),
                ("http://bob:pw@example.com/x.git",
                 "Unsupported git source 'http://***@example.com/x.git'"),
                ("--upload-pack=touch /tmp/pwned", "Invalid install source"),
                (str(tmp_path / "absent"), "is neither a URL nor a local repository")):
            with pytest.raises(GitSourceError, match=re.escape(problem)):
                fetch_git(source, tmp_path / "out")
        with pytest.raises(GitSourceError, match="^Invalid git ref '--orphan'$"):
            fetch_git(str(tmp_path), tmp_path / "out", ref="--orphan")

        assert not (tmp_path / "out").exists()

    def test_a_spent_timeout_kills_git_and_leaves_nothing(self, origin, tmp_path):
        with pytest.raises(GitSourceError, match="^git init timed out after 0 seconds$"):
            fetch_git(origin["path"], tmp_path / "out", timeout=0)

        assert not (tmp_path / "out").exists()

    def test_the_repository_hooks_and_user_config_are_not_used(self, origin, tmp_path,
                                                              monkeypatch):
        # A global config that would run a hook on checkout: the fetch must ignore it.
        hooks = tmp_path / "hooks"
        hooks.mkdir()
        (hooks / "post-checkout").write_text(f"#!/bin/sh\ntouch {tmp_path}/hook-ran\n")
        (hooks / "post-checkout").chmod(0o755)
        (tmp_path / "gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))

        fetch_git(origin["path"], tmp_path / "out")

        assert not (tmp_path / "hook-ran").exists()


class TestRedactUrl:
    @pytest.mark.parametrize(("text", "shown"), [
        ("https://alice:s3cret@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r", "https://***@github.com/o/r"),
        ("fatal: unable to access 'https://u:p@h/r/': refused",
         "fatal: unable to access 'https://***@h/r/': refused"),
        # An ssh user names an account, not a secret; its password is one.
        ("ssh://git@host:22/r.git", "ssh://git@host:22/r.git"),
        ("ssh://git:hunter2@host/r.git", "ssh://git:***@host/r.git"),
        ("git+ssh://deploy:pw@host/r.git", "git+ssh://***@host/r.git"),
        ("https://github.com/o/r@v1", "https://github.com/o/r@v1"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ])
    def test_masks_every_secret(self, text, shown):
        assert redact_url(text) == shown

