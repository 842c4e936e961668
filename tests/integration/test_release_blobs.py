"""Releases kept in PostgreSQL for workers with no shared files: a round trip keeps the digest,
and a blob that was tampered with or crafted never writes outside (or anything into) the target."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from attune_registry.adapters.packs.tree import digest_of, tree_entries
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.config import StoreConfig, store_config
from attune_registry.adapters.store.release_blobs import ReleaseBlobError, ReleaseBlobs
from attune_registry.adapters.store.setup import connect, ensure_schema

from tests.packs import manifest, write_pack

pytestmark = pytest.mark.postgres


@pytest.fixture
def config(postgres_database: str, tmp_path: Path) -> StoreConfig:
    url = f"{postgres_database}?schema=t_{uuid.uuid4().hex[:10]}"
    config = store_config(Settings(home=tmp_path / "home", database_url=url))
    ensure_schema(config)
    return config


def blobs_of(config: StoreConfig, max_bytes: int = 64 * 2**20) -> ReleaseBlobs:
    blobs = ReleaseBlobs(lambda: connect(config), config.env["POSTGRES_SCHEMA"], max_bytes)
    blobs.ensure_table()
    return blobs


@pytest.fixture
def blobs(config: StoreConfig) -> ReleaseBlobs:
    return blobs_of(config)


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A pack with an executable, symlinks (to a file and to a folder) and nested folders."""
    root = write_pack(tmp_path / "pack", manifest("demo"))
    (root / "actions" / "lib" / "deep").mkdir(parents=True)
    (root / "actions" / "lib" / "deep" / "data.txt").write_text("nested\n")
    run = root / "actions" / "run.sh"
    run.write_text("#!/bin/sh\necho hi\n")
    run.chmod(0o755)
    (root / "actions" / "manifest-link").symlink_to("../pack.yaml")
    (root / "tests-link").symlink_to("tests")
    (root / "tests" / "__pycache__").mkdir()
    (root / "tests" / "__pycache__" / "test_math.cpython-311.pyc").write_bytes(b"not content")
    return root


def stored_content(config: StoreConfig, digest: str) -> bytes:
    with connect(config) as conn:
        row = conn.execute(sql.SQL("SELECT content FROM {}.attune_release_blob WHERE digest = %s")
                           .format(sql.Identifier(config.env["POSTGRES_SCHEMA"])),
                           (digest,)).fetchone()
    assert row is not None
    return bytes(row[0])


def store_raw(config: StoreConfig, digest: str, content: bytes) -> None:
    with connect(config) as conn:
        conn.execute(sql.SQL("INSERT INTO {}.attune_release_blob (digest, size, files, content) "
                             "VALUES (%s, %s, 1, %s) ON CONFLICT (digest) DO UPDATE "
                             "SET content = excluded.content, size = excluded.size")
                     .format(sql.Identifier(config.env["POSTGRES_SCHEMA"])),
                     (digest, len(content), content))


def crafted(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info


def is_empty(target: Path) -> bool:
    return not target.exists() or not any(target.iterdir())


class TestRoundTrip:
    def test_unpacked_files_have_the_digest_modes_and_links_of_the_pack(self, blobs, pack, tmp_path):
        digest = digest_of(tree_entries(pack))

        assert blobs.put(digest, pack) is True
        target = tmp_path / "worker" / "release"
        blobs.unpack(digest, target)

        assert digest_of(tree_entries(target)) == digest
        assert os.access(target / "actions" / "run.sh", os.X_OK)
        assert not os.access(target / "pack.yaml", os.X_OK)
        assert os.readlink(target / "actions" / "manifest-link") == "../pack.yaml"
        assert os.readlink(target / "tests-link") == "tests"
        assert (target / "actions" / "lib" / "deep" / "data.txt").read_text() == "nested\n"
        assert not (target / "tests" / "__pycache__").exists()  # not content: not carried
        assert blobs.has(digest) and blobs.digests() == [digest]

    def test_an_existing_empty_directory_is_a_valid_target(self, blobs, pack, tmp_path):
        digest = digest_of(tree_entries(pack))
        blobs.put(digest, pack)
        target = tmp_path / "empty"
        target.mkdir()

        blobs.unpack(digest, target)

        assert digest_of(tree_entries(target)) == digest

    def test_a_target_with_files_is_refused_and_left_alone(self, blobs, pack, tmp_path):
        digest = digest_of(tree_entries(pack))
        blobs.put(digest, pack)
        target = tmp_path / "busy"
        target.mkdir()
        (target / "mine.txt").write_text("keep")

        with pytest.raises(ReleaseBlobError, match="not an empty directory"):
            blobs.unpack(digest, target)

        assert [p.name for p in target.iterdir()] == ["mine.txt"]

    def test_put_twice_stores_once_and_the_same_files_give_the_same_bytes(
            self, config, blobs, pack):
        digest = digest_of(tree_entries(pack))

        assert blobs.put(digest, pack) is True
        first = stored_content(config, digest)
        assert blobs.put(digest, pack) is False
        assert blobs.digests() == [digest]
        blobs.delete(digest)
        assert not blobs.has(digest) and blobs.digests() == []
        for path in pack.rglob("*"):
            os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
        assert blobs.put(digest, pack) is True

        assert stored_content(config, digest) == first

    def test_ensure_table_twice_is_harmless(self, config, blobs, pack):
        digest = digest_of(tree_entries(pack))
        blobs.put(digest, pack)

        blobs_of(config).ensure_table()

        assert blobs.digests() == [digest]


class TestRefusedOnPut:
    def test_files_that_do_not_have_the_digest_are_not_stored(self, blobs, pack):
        other = "0" * 64

        with pytest.raises(ReleaseBlobError, match=f"are not the release sha256:{other}"):
            blobs.put(other, pack)

        assert blobs.digests() == []

    @pytest.mark.parametrize("digest", ["ABC", "A" * 64, "sha256:" + "a" * 64, "../" + "a" * 61])
    def test_a_digest_that_is_not_64_lowercase_hex_is_refused(self, blobs, pack, digest):
        with pytest.raises(ReleaseBlobError, match="not a content digest"):
            blobs.put(digest, pack)

    def test_a_release_over_the_cap_is_refused_naming_the_setting(self, config, tmp_path):
        pack = write_pack(tmp_path / "big", manifest("big"))
        (pack / "noise.bin").write_bytes(os.urandom(2 * 2**20))  # does not compress
        digest = digest_of(tree_entries(pack))
        blobs = blobs_of(config, max_bytes=2**20)

        with pytest.raises(ReleaseBlobError) as caught:
            blobs.put(digest, pack)

        assert str(caught.value) == (
            f"the release of sha256:{digest} is 2 MiB compressed, more than the 1 MiB "
            "a queued registration may carry (ATTUNE_RELEASE_BLOB_MAX_MB)")
        assert not blobs.has(digest)


class TestRefusedOnUnpack:
    def test_an_unknown_digest_is_a_clear_error(self, blobs, tmp_path):
        digest = "e" * 64

        with pytest.raises(ReleaseBlobError) as caught:
            blobs.unpack(digest, tmp_path / "out")

        assert str(caught.value) == f"no release sha256:{digest} in the database"
        assert not (tmp_path / "out").exists()

    def test_a_blob_over_this_workers_cap_is_refused(self, config, tmp_path):
        pack = write_pack(tmp_path / "big", manifest("big"))
        (pack / "noise.bin").write_bytes(os.urandom(2 * 2**20))
        digest = digest_of(tree_entries(pack))
        blobs_of(config).put(digest, pack)

        with pytest.raises(ReleaseBlobError, match="is 2 MiB compressed, more than the 1 MiB this worker accepts"):
            blobs_of(config, max_bytes=2**20).unpack(digest, tmp_path / "out")

        assert not (tmp_path / "out").exists()

    def test_a_corrupted_blob_is_refused_with_nothing_left_in_the_target(
            self, config, blobs, pack, tmp_path):
        digest = digest_of(tree_entries(pack))
        blobs.put(digest, pack)
        content = bytearray(stored_content(config, digest))
        content[len(content) // 2] ^= 0xFF
        store_raw(config, digest, bytes(content))
        target = tmp_path / "out"

        with pytest.raises(ReleaseBlobError, match=f"the release sha256:{digest} from the database (was not unpacked|does not match)"):
            blobs.unpack(digest, target)

        assert is_empty(target)

    def test_a_blob_replaced_by_other_files_does_not_match_its_digest(
            self, config, blobs, pack, tmp_path):
        digest = digest_of(tree_entries(pack))
        blobs.put(digest, pack)
        (pack / "pack.yaml").write_text("ref: changed\n")
        other = digest_of(tree_entries(pack))
        blobs.put(other, pack)
        store_raw(config, digest, stored_content(config, other))
        target = tmp_path / "out"
        target.mkdir()

        with pytest.raises(ReleaseBlobError) as caught:
            blobs.unpack(digest, target)

        assert str(caught.value).startswith(
            f"the release sha256:{digest} from the database does not match its digest; ")
        assert target.is_dir() and is_empty(target)

    @pytest.mark.parametrize("members, problem", [
        ([(member("../evil"), b"x")], "outside its folder"),
        ([(member("a/../../evil"), b"x")], "outside its folder"),
        ([(member("ABSOLUTE"), b"x")], "outside its folder"),
        ([(member("fifo", tarfile.FIFOTYPE), b"")], "not a file, folder or symlink"),
        ([(member("dev", tarfile.CHRTYPE), b"")], "not a file, folder or symlink"),
        ([(member("pack.yaml"), b"x"), (member("hard", tarfile.LNKTYPE, "pack.yaml"), b"")],
         "not a file, folder or symlink"),
        ([(member("link", tarfile.SYMTYPE, "."), b""), (member("link/evil"), b"x")],
         "'link/evil' is not inside a folder it holds"),
        ([(member("link", tarfile.SYMTYPE, "OUTSIDE"), b""), (member("link/evil"), b"x")],
         "'link/evil' is not inside a folder it holds"),
        ([(member("a", tarfile.DIRTYPE), b""), (member("a", tarfile.SYMTYPE, "OUTSIDE"), b""),
          (member("a/evil"), b"x")], "the entry 'a' twice"),
    ], ids=["dotdot", "nested-dotdot", "absolute", "fifo", "device", "hardlink",
            "below-inner-link", "below-outer-link", "dir-then-link"])
    def test_a_crafted_blob_is_refused_and_writes_nothing(
            self, config, blobs, tmp_path, members, problem):
        outside = tmp_path / "outside"
        outside.mkdir()
        for info, _ in members:  # names that must point outside the target, made concrete
            info.name = info.name.replace("ABSOLUTE", str(outside / "evil"))
            info.linkname = info.linkname.replace("OUTSIDE", str(outside))
        digest = "d" * 64
        store_raw(config, digest, crafted(*members))
        target = tmp_path / "work" / "out"

        with pytest.raises(ReleaseBlobError, match=problem):
            blobs.unpack(digest, target)

        assert not target.exists()
        assert list(outside.iterdir()) == []
        assert not (tmp_path / "work" / "evil").exists()

    @pytest.mark.parametrize("limit, value, problem", [
        ("_MAX_TAR_BYTES", 2**20 // 10, "it is larger than 0.1 MiB unpacked"),
        ("MAX_PACK_BYTES", 2**20 // 10, "its files add up to more than 0.1 MiB"),
        ("MAX_PACK_FILES", 3, "it has more than 3 files"),
    ])
    def test_a_blob_past_the_unpacked_limits_is_refused_while_extracting(
            self, config, blobs, tmp_path, monkeypatch, limit, value, problem):
        from attune_registry.adapters.store import release_blobs

        monkeypatch.setattr(release_blobs, limit, value)
        bomb = [(member(f"f{n}"), b"\0" * 30_000) for n in range(4)]  # compresses to little
        store_raw(config, "b" * 64, crafted(*bomb))

        with pytest.raises(ReleaseBlobError, match=problem):
            blobs.unpack("b" * 64, tmp_path / "out")

        assert not (tmp_path / "out").exists()
