"""The pack index (``ATTUNE_PACK_INDEX``): real files on disk and over HTTPS, good and bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from attune_registry.domain.resolution import IndexEntry

from attune_registry.adapters.install.download import DownloadError
from attune_registry.adapters.install.index import (
    ConfiguredIndex,
    IndexNotConfiguredError,
    PackIndexError,
    judged_sources,
    load_index,
)
from attune_registry.adapters.packs.yamlfile import MAX_FILE_BYTES
from attune_registry.adapters.settings import Settings

from tests.remote_packs import HttpsServer, https_server  # noqa: F401 (a fixture)

DIGEST = "ab" * 32
GOOD = f"""
packs:
  core:
    "1.2.0": {{source: "https://example.org/core-1.2.0.tar.gz", digest: "sha256:{DIGEST.upper()}"}}
    "1.3.0": {{source: "https://git.example.org/core.git", git_ref: v1.3.0}}
  net:
    "0.1.0": {{source: "./net.git", git_ref: main}}
    "0.2.0": {{source: "git@git.example.org:acme/net.git"}}
"""


def write(tmp_path: Path, text: str, name: str = "index.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(path: Path) -> dict[str, dict[str, IndexEntry]]:
    return dict(load_index(str(path), path.parent / "work", 10.0))


class TestGoodIndexes:
    def test_entries_are_read_with_their_sources_refs_and_digests(self, tmp_path):
        found = load(write(tmp_path, GOOD))
        assert found["core"]["1.2.0"] == IndexEntry(
            "core", "1.2.0", "https://example.org/core-1.2.0.tar.gz", None, DIGEST)
        assert found["core"]["1.3.0"] == IndexEntry(
            "core", "1.3.0", "https://git.example.org/core.git", "v1.3.0", None)
        # A relative path is relative to the index's folder, not to the current directory.
        assert found["net"]["0.1.0"].source == str(tmp_path / "net.git")
        assert found["net"]["0.2.0"].source == "git@git.example.org:acme/net.git"

    def test_json_is_read_as_well(self, tmp_path):
        path = write(tmp_path, '{"packs": {"core": {"1.0.0": {"source": "/srv/core.git"}}}}',
                     "index.json")
        assert load(path)["core"]["1.0.0"].source == "/srv/core.git"

    def test_a_link_to_an_index_elsewhere_is_followed_and_paths_start_at_the_link(self,
                                                                                 tmp_path):
        (tmp_path / "real").mkdir()
        link = tmp_path / "index.yaml"
        link.symlink_to(write(tmp_path / "real", GOOD))
        assert load(link)["net"]["0.1.0"].source == str(tmp_path / "net.git")

    def test_a_file_url_names_a_local_index(self, tmp_path):
        path = write(tmp_path, GOOD)
        found = load_index(path.as_uri(), tmp_path / "work", 10.0)
        assert found["net"]["0.1.0"].source == str(tmp_path / "net.git")

    def test_an_index_over_https_is_downloaded_and_may_name_remote_sources(
            self, tmp_path, https_server: HttpsServer, monkeypatch):  # noqa: F811
        monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
        https_server.files["/index.yaml"] = GOOD.replace('"./net.git"', '"ssh://g.example/n"').encode()
        found = load_index(f"{https_server.url}/index.yaml", tmp_path / "work", 10.0)
        assert found["net"]["0.1.0"].source == "ssh://g.example/n"
        assert list((tmp_path / "work").iterdir()) == []  # the download is not kept

    def test_an_index_over_https_may_not_name_local_sources(
            self, tmp_path, https_server: HttpsServer, monkeypatch):  # noqa: F811
        monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
        https_server.files["/index.yaml"] = GOOD.encode()
        with pytest.raises(PackIndexError, match=r"packs\.net\.0\.1\.0: source: a pack index "
                                                 r"read from a URL may name remote sources"):
            load_index(f"{https_server.url}/index.yaml", tmp_path / "work", 10.0)

    def test_a_missing_download_says_so(self, tmp_path, https_server: HttpsServer,  # noqa: F811
                                        monkeypatch):
        monkeypatch.setenv("SSL_CERT_FILE", str(https_server.ca_file))
        with pytest.raises(DownloadError, match="HTTP 404"):
            load_index(f"{https_server.url}/missing.yaml", tmp_path / "work", 10.0)


BAD = {
    "not-yaml": ("packs: [", "not valid YAML at line 1"),
    "no-packs": ("core: {}", "expected a mapping with one key, 'packs'"),
    "extra-top-key": ("packs: {}\nmirrors: []", "expected a mapping with one key, 'packs'"),
    "bad-ref": ('packs: {Core: {"1.0.0": {source: /x}}}', "packs.Core: 'Core' is not a pack ref"),
    "no-versions": ("packs: {core: {}}", "packs.core: expected a mapping of versions"),
    "not-semver": ('packs: {core: {"1.2": {source: /x}}}',
                   "packs.core.1.2: '1.2' is not a semantic version"),
    "float-version": ("packs: {core: {1.2: {source: /x}}}",
                      "packs.core.1.2: '1.2' is not a semantic version"),
    "unknown-key": ('packs: {core: {"1.0.0": {source: /x, sha: y}}}',
                    "packs.core.1.0.0: unknown key 'sha' (an entry has source, git_ref, digest)"),
    "no-source": ('packs: {core: {"1.0.0": {git_ref: v1}}}', "packs.core.1.0.0: source: required"),
    "entry-not-mapping": ('packs: {core: {"1.0.0": /x}}',
                          "packs.core.1.0.0: expected a mapping such as {source: URL}"),
    "plain-http": ('packs: {core: {"1.0.0": {source: "http://example.org/core.git"}}}',
                   "packs.core.1.0.0: source: http:// is not an install source"),
    "dot-segment": ('packs: {core: {"1.0.0": {source: "https://h.example/a/../b.git"}}}',
                    "packs.core.1.0.0: source: Invalid install source"),
    "git-ref-on-archive": ('packs: {core: {"1.0.0": {source: "https://h.example/c.tar.gz", '
                           'git_ref: v1}}}', "git_ref applies to git sources only"),
    "bad-digest": ('packs: {core: {"1.0.0": {source: /x, digest: "sha256:12"}}}',
                   "packs.core.1.0.0: digest: expected sha256:<64 hex digits>, got 'sha256:12'"),
    "bad-git-ref": ('packs: {core: {"1.0.0": {source: /x, git_ref: "--upload-pack=x"}}}',
                    "packs.core.1.0.0: git_ref: expected a git tag, branch or commit"),
}


class TestBadIndexes:
    @pytest.mark.parametrize("case", sorted(BAD))
    def test_is_refused_naming_the_entry(self, tmp_path, case):
        text, expected = BAD[case]
        path = write(tmp_path, text)
        with pytest.raises(PackIndexError) as caught:
            load(path)
        message = str(caught.value)
        assert message.startswith("Pack index '") and "index.yaml': " in message
        assert expected in message

    def test_a_file_over_the_size_limit_is_refused(self, tmp_path):
        path = write(tmp_path, "packs: {}\n" + "#" * MAX_FILE_BYTES)
        with pytest.raises(PackIndexError, match="over the limit"):
            load(path)

    def test_a_missing_file_is_refused(self, tmp_path):
        with pytest.raises(PackIndexError, match="cannot be read: No such file"):
            load(tmp_path / "nowhere.yaml")

    def test_plain_http_for_the_index_itself_is_refused(self, tmp_path):
        with pytest.raises(PackIndexError, match="must be a path or an https:// URL"):
            load_index("http://example.org/index.yaml", tmp_path, 10.0)


class TestConfiguredIndex:
    def test_the_setting_is_read_from_the_environment(self, tmp_path):
        path = write(tmp_path, GOOD)
        settings = Settings.from_env({"ATTUNE_HOME": str(tmp_path / "home"),
                                      "ATTUNE_PACK_INDEX": f" {path} "})
        index = ConfiguredIndex(settings.pack_index, settings.work_dir, lambda: 10.0)
        assert index.configured
        assert sorted(index.entries()) == ["core", "net"]

    def test_without_the_setting_install_deps_says_what_to_set(self, tmp_path):
        index = ConfiguredIndex("", tmp_path, lambda: 10.0)
        assert not index.configured
        with pytest.raises(IndexNotConfiguredError, match="set ATTUNE_PACK_INDEX"):
            index.entries()

    def test_a_judge_decides_each_source_while_it_is_set(self, tmp_path):
        index = ConfiguredIndex(str(write(tmp_path, GOOD)), tmp_path, lambda: 10.0)
        entry = index.entries()["core"]["1.3.0"]

        def refuse(source: str) -> str:
            raise PackIndexError(f"refused {source}")

        assert index.source_of(entry) == "https://git.example.org/core.git"
        with judged_sources(refuse), pytest.raises(PackIndexError, match="refused https://"):
            index.source_of(entry)
        assert index.source_of(entry) == "https://git.example.org/core.git"
