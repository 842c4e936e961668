"""Reading pack directories: hostile pack.yaml files, component files, snapshots and digests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attune_registry.domain.errors import (
    ManifestError,
    ManifestNotFoundError,
    PackDirectoryNotFoundError,
)

from attune_registry.adapters.packs.loader import FilesystemPackLoader

from tests.conftest import CORE_PACK
from tests.packs import manifest, write_pack

load = FilesystemPackLoader().load


def error_of(path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        load(str(path))
    return str(caught.value)


class TestLocatingTheManifest:
    def test_missing_directory_and_missing_manifest_use_the_spec_messages(self, tmp_path):
        with pytest.raises(PackDirectoryNotFoundError,
                           match=f"^Pack directory does not exist: {tmp_path}/nope$"):
            load(str(tmp_path / "nope"))
        with pytest.raises(ManifestNotFoundError,
                           match=f"^pack.yaml not found in directory: {tmp_path}$"):
            load(str(tmp_path))

    def test_a_file_instead_of_a_directory_is_not_a_pack_directory(self, tmp_path):
        (tmp_path / "file").write_text("x")
        with pytest.raises(PackDirectoryNotFoundError):
            load(str(tmp_path / "file"))

    def test_pack_yaml_that_is_a_directory(self, tmp_path):
        (tmp_path / "pack.yaml").mkdir()
        assert error_of(tmp_path) == "Invalid pack.yaml: not a regular file"

    def test_pack_yaml_that_is_a_fifo_is_refused_without_blocking(self, tmp_path):
        os.mkfifo(tmp_path / "pack.yaml")
        assert error_of(tmp_path) == "Invalid pack.yaml: not a regular file"

    def test_pack_yaml_linking_outside_the_pack(self, tmp_path):
        outside = write_pack(tmp_path / "elsewhere", manifest("other"))
        (tmp_path / "pack").mkdir()
        (tmp_path / "pack" / "pack.yaml").symlink_to(outside / "pack.yaml")
        assert error_of(tmp_path / "pack") == "Invalid pack.yaml: a link to a file outside the pack"

    def test_dangling_symlink(self, tmp_path):
        (tmp_path / "pack.yaml").symlink_to(tmp_path / "gone.yaml")
        assert error_of(tmp_path).startswith("Invalid pack.yaml: cannot be read")


class TestHostileYaml:
    def test_syntax_errors_give_line_and_column(self, tmp_path):
        write_pack(tmp_path, "ref: x\nversion: [1.0\nlabel: y\n")
        assert error_of(tmp_path).startswith("Invalid pack.yaml: not valid YAML at line ")

    def test_alias_bombs_are_refused_before_expansion(self, tmp_path):
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 12)]
        write_pack(tmp_path, "\n".join(lines) + "\n")
        assert error_of(tmp_path) == ("Invalid pack.yaml: more than 100 YAML aliases "
                                      "(refusing an alias bomb)")

    def test_deep_nesting(self, tmp_path):
        write_pack(tmp_path, "ref: " + "[" * 200 + "]" * 200 + "\n")
        assert error_of(tmp_path) == "Invalid pack.yaml: nesting deeper than 64 levels"

    def test_bytes_that_are_not_utf8(self, tmp_path):
        (tmp_path / "pack.yaml").write_bytes(b"ref: caf\xe9\n")
        assert error_of(tmp_path) == "Invalid pack.yaml: not valid UTF-8 (byte offset 8)"

    def test_a_multi_megabyte_manifest(self, tmp_path):
        (tmp_path / "pack.yaml").write_text("ref: x\n" + "#" * (2 * 1024 * 1024))
        assert "over the limit of 1048576" in error_of(tmp_path)

    def test_python_tags_are_not_executed(self, tmp_path):
        write_pack(tmp_path, "ref: !!python/object/apply:os.system ['touch pwned']\n")
        assert error_of(tmp_path).startswith("Invalid pack.yaml: not valid YAML")
        assert not (tmp_path / "pwned").exists()


class TestComponents:
    def test_the_core_pack_components_are_read_in_a_stable_order(self):
        source = load(str(CORE_PACK))
        refs = [(c.kind, c.ref) for c in source.components]
        assert ("action", "core.echo") in refs and ("trigger", "core.intervaltimer") in refs
        assert refs == sorted(refs, key=lambda r: (
            ["action", "trigger", "sensor", "rule", "workflow"].index(r[0]), r[1]))

    def test_an_invalid_component_file_names_the_file(self, tmp_path):
        write_pack(tmp_path, manifest("comp"))
        (tmp_path / "actions").mkdir()
        (tmp_path / "actions" / "bad.yaml").write_text("- just\n- a list\n")
        assert error_of(tmp_path) == ("Invalid actions/bad.yaml: a component definition must "
                                      "be a mapping")


class TestSnapshots:
    def test_the_snapshot_is_a_copy_and_is_removed_afterwards(self, tmp_path):
        pack = write_pack(tmp_path / "p", manifest("snap"))
        source = load(str(pack))

        with source.snapshot() as snapshot:
            copy = Path(snapshot.path)
            assert (copy / "tests" / "test_math.py").read_text() == (
                pack / "tests" / "test_math.py").read_text()
            (copy / "tests" / "test_math.py").write_text("changed in the copy")

        assert not copy.exists()
        assert "changed" not in (pack / "tests" / "test_math.py").read_text()

    def test_the_digest_depends_on_content_paths_and_modes_only(self, tmp_path):
        one = write_pack(tmp_path / "one", manifest("dig"))
        two = write_pack(tmp_path / "two", manifest("dig"))
        (two / "__pycache__").mkdir()
        (two / "__pycache__" / "x.pyc").write_bytes(b"cache")

        def digest(path: Path) -> str:
            with load(str(path)).snapshot() as snapshot:
                return snapshot.content_digest

        assert digest(one) == digest(two)
        (two / "tests" / "test_math.py").chmod(0o755)
        assert digest(one) != digest(two)
        (two / "tests" / "test_math.py").chmod(0o644)
        (two / "extra.txt").write_text("")
        assert digest(one) != digest(two)

    def test_fifos_in_the_pack_are_skipped_not_read(self, tmp_path):
        pack = write_pack(tmp_path / "p", manifest("fifo"))
        os.mkfifo(pack / "pipe")
        with load(str(pack)).snapshot() as snapshot:
            assert not (Path(snapshot.path) / "pipe").exists()
