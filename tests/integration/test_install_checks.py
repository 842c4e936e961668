"""What an install source is judged on: one normalised text for the checks and the fetchers,
and, under an address policy, the very addresses the fetch connects to."""

from __future__ import annotations

import http.server
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from attune_registry.adapters.install.download import download
from attune_registry.adapters.install.git import GitSourceError, fetch_git
from attune_registry.adapters.install.location import InstallSourceError, parse_location
from attune_registry.adapters.install.network import (
    AddressNotAllowedError,
    AddressPolicy,
    address_policy,
    judged_addresses,
)
from attune_registry.adapters.install.sources import check_allowed_source, classify, local_path

from tests.packs import manifest, write_pack
from tests.remote_packs import archive_bytes, serving


class TestOneNormalisedText:
    @pytest.mark.parametrize("source", [
        "https://host/allowed/../evil/x.tar.gz",
        "https://host/allowed/%2e%2e/evil/x.tar.gz",
        "https://host/allowed/%2E./evil/x.tar.gz",
        "https://host/allowed/./x.tar.gz",
        "ssh://git@host/allowed/../evil.git",
        "git@host:allowed/../evil.git",
        "https://host/allowed%2f..%2fevil/x.tar.gz",
        "https://host/allowed/%252e%252e/evil/x.tar.gz",
        "https://host/allowed/%zz/x.tar.gz",
        "https://host/allowed\\..\\evil/x.tar.gz",
    ])
    def test_dot_segments_and_ambiguous_escapes_are_refused_before_any_prefix_check(
            self, source):
        with pytest.raises(InstallSourceError, match="^Invalid install source "):
            check_allowed_source(source, ("https://host/allowed/", "git@host:allowed/",
                                          "ssh://git@host/allowed/"))

    def test_a_scp_like_source_git_would_read_as_a_host_is_never_a_local_path(self):
        # It counted as remote for the pack-roots check and was fetched as a local directory.
        for source in ("x@y_z:/../../anywhere", "x@y_z:/etc"):
            with pytest.raises(InstallSourceError, match="reads as git's host:path form"):
                local_path(source)
            with pytest.raises(InstallSourceError, match="reads as git's host:path form"):
                classify(source, None)
            with pytest.raises(GitSourceError, match="reads as git's host:path form"):
                fetch_git(source, Path("/nonexistent/out"))

    @pytest.mark.parametrize(("source", "normal"), [
        ("HTTPS://Host.Example/%61cme/Lamp.tar.gz#x", "https://host.example/acme/Lamp.tar.gz"),
        ("https://u:p%40ss@host/a%3ab/x.zip?sig=%2F%25", "https://u:p%40ss@host/a%3Ab/x.zip?sig=%2F%25"),
        ("git@GitHub.com:acme/lamp.git", "git@github.com:acme/lamp.git"),
        ("/srv/packs/a/../b", "/srv/packs/b"),
    ])
    def test_normalising_twice_changes_nothing_and_the_check_returns_what_is_fetched(
            self, source, normal):
        once = parse_location(source)

        assert once.text == normal
        assert parse_location(once.text) == once
        if once.kind != "path":
            assert check_allowed_source(source, ()) == normal
            assert classify(source, None).location == normal

    def test_an_allowed_prefix_is_judged_on_the_normalised_source(self):
        allowed = ("https://host/acme/",)

        assert check_allowed_source("https://HOST/%61cme/x.tar.gz", allowed) == (
            "https://host/acme/x.tar.gz")


class TestAddressJudgement:
    @pytest.mark.parametrize(("host", "reason"), [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.0.0.1", "a private address"),
        ("192.168.1.10", "a private address"),
        ("fd00::1", "a unique-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("::ffff:169.254.169.254", "a link-local address (embedded in ::ffff:a9fe:a9fe)"),
        ("100.64.0.1", "a reserved or shared address"),
    ])
    def test_non_public_literals_are_refused_naming_why(self, host, reason):
        with pytest.raises(AddressNotAllowedError) as caught:
            judged_addresses(AddressPolicy(), host, 443)

        assert caught.value.code == "FORBIDDEN"
        assert f"it is {reason}; the server installs only from public addresses" in str(
            caught.value)

    def test_a_public_literal_passes_without_a_lookup(self):
        def no_lookup(host: str, port: int) -> list[str]:
            raise AssertionError("looked up")

        assert judged_addresses(AddressPolicy(resolver=no_lookup), "8.8.8.8", 443) == ["8.8.8.8"]
        assert judged_addresses(AddressPolicy(resolver=no_lookup), "[2606:4700::1]", 443) == [
            "2606:4700::1"]

    def test_a_name_is_judged_by_what_it_resolves_to(self):
        with pytest.raises(AddressNotAllowedError, match="'localhost': it resolves to "):
            judged_addresses(AddressPolicy(), "localhost", 443)

        assert judged_addresses(AddressPolicy(allow_private=True), "localhost", 443)

    def test_one_private_address_among_public_ones_refuses_the_name(self):
        policy = AddressPolicy(resolver=lambda host, port: ["8.8.8.8", "10.1.2.3"])

        with pytest.raises(AddressNotAllowedError, match="resolves to 10.1.2.3, a private"):
            judged_addresses(policy, "mixed.example", 443)


@dataclass
class PinnedServer:
    """HTTPS on 127.0.0.2 only, with a certificate for ``localhost``: a client reaches it by
    that name only if it connects to the address it was given, not one it looked up."""

    port: int
    ca_file: Path
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def pinned_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PinnedServer]:
    import trustme

    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state = PinnedServer(port=server.server_address[1], ca_file=ca_file)
    server.state = state  # type: ignore[attr-defined]
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serving(server):
        yield state


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state: PinnedServer = self.server.state  # type: ignore[attr-defined]
        state.requests.append(self.path)
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


PINNED = AddressPolicy(allow_private=True, resolver=lambda host, port: ["127.0.0.2"])


class TestPinnedConnections:
    def test_a_download_connects_to_the_judged_address_and_checks_tls_by_name(
            self, pinned_server, tmp_path):
        body = archive_bytes(write_pack(tmp_path / "lamp", manifest("lamp")))
        pinned_server.files["/lamp.tar.gz"] = body
        url = f"https://localhost:{pinned_server.port}/lamp.tar.gz"

        with address_policy(PINNED):
            download(url, tmp_path / "got", max_bytes=2**20, timeout=30)

        assert (tmp_path / "got").read_bytes() == body
        assert pinned_server.requests == ["/lamp.tar.gz"]

    def test_without_a_policy_the_name_is_looked_up_as_usual(self, pinned_server, tmp_path):
        # localhost is 127.0.0.1 to the system's resolver: nothing listens there on this port.
        from attune_registry.adapters.install.download import DownloadError

        with pytest.raises(DownloadError):
            download(f"https://localhost:{pinned_server.port}/lamp.tar.gz", tmp_path / "got",
                     max_bytes=2**20, timeout=30)

        assert pinned_server.requests == []

    def test_a_refused_address_is_never_connected_to(self, pinned_server, tmp_path):
        with address_policy(AddressPolicy(resolver=lambda host, port: ["127.0.0.2"])), \
                pytest.raises(AddressNotAllowedError, match="resolves to 127.0.0.2, a loopback"):
            download(f"https://localhost:{pinned_server.port}/lamp.tar.gz", tmp_path / "got",
                     max_bytes=2**20, timeout=30)

        assert pinned_server.requests == [] and not (tmp_path / "got").exists()

    def test_git_over_https_connects_to_the_judged_address(self, pinned_server, tmp_path):
        # Only 127.0.0.2 answers on this port. git's curl does not read SSL_CERT_FILE, so it
        # cannot trust the test CA: that its TLS handshake reached a server at all (instead
        # of "connection refused" at 127.0.0.1) shows it used the judged address, given to
        # it with http.curloptResolve.
        url = f"https://localhost:{pinned_server.port}/lamp.git"
        with pytest.raises(GitSourceError) as unpinned:
            fetch_git(url, tmp_path / "out", timeout=30)
        with address_policy(PINNED), pytest.raises(GitSourceError) as pinned:
            fetch_git(url, tmp_path / "out", timeout=30)

        assert "Failed to connect to localhost port" in str(unpinned.value)
        assert "certificate" in str(pinned.value).lower(), pinned.value  # gnutls or OpenSSL
        assert "Failed to connect" not in str(pinned.value)
        assert not (tmp_path / "out").exists()

    def test_git_over_ssh_and_https_refuse_a_private_host_before_git_runs(self, tmp_path):
        for source in ("ssh://git@127.0.0.1:1/lamp.git", "git@localhost:lamp.git",
                       "https://169.254.169.254/lamp.git"):
            with address_policy(AddressPolicy()), pytest.raises(AddressNotAllowedError):
                fetch_git(source, tmp_path / "out", timeout=30)

        assert not (tmp_path / "out").exists()
