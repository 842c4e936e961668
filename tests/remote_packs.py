"""Install sources for tests: a real bare git repository, pack archives, and an HTTPS server.

The HTTPS server is real (TLS with a throwaway certificate authority from ``trustme``): the
``attune`` process trusts it through ``SSL_CERT_FILE``, as it would trust a private CA.
"""

from __future__ import annotations

import http.server
import io
import ssl
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.packs import failing_tests, manifest, write_pack


def git(*args: str, cwd: Path) -> str:
    import subprocess

    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t",
                             "-c", "init.defaultBranch=main", *args],
                            cwd=cwd, check=True, capture_output=True, text=True)
    return result.stdout.strip()


@dataclass(frozen=True)
class Repo:
    """A bare repository of pack ``lamp`` and the commit of each of its refs.

    - tag ``v1.0.0`` (annotated): version 1.0.0, tests pass;
    - branch ``main``: version 1.1.0, tests pass;
    - branch ``broken``: version 1.2.0, one of three tests fails.
    """

    path: Path
    commits: dict[str, str]

    @property
    def url(self) -> str:
        return self.path.as_uri()


def make_repo(root: Path) -> Repo:
    bare, work = root / "lamp.git", root / "lamp-work"
    git("init", "-q", "--bare", str(bare), cwd=root)
    git("init", "-q", str(work), cwd=root)
    commits = {}
    for label, version, tests in (("v1.0.0", "1.0.0", None), ("main", "1.1.0", None),
                                  ("broken", "1.2.0", {"test_math.py": failing_tests(2, 1)})):
        if label == "broken":
            git("checkout", "-q", "-b", "broken", cwd=work)
        write_pack(work, manifest("lamp", version), tests)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", version, cwd=work)
        commits[label] = git("rev-parse", "HEAD", cwd=work)
        if label == "v1.0.0":
            git("tag", "-a", "v1.0.0", "-m", "first release", cwd=work)
    git("push", "-q", str(bare), "main", "broken", "v1.0.0", cwd=work)
    return Repo(bare, commits)


def make_archive(pack: Path, path: Path, *, top_folder: str | None = "pack-1.0.0") -> Path:
    """``pack``'s files as a .tar.gz, .tgz or .zip (by ``path``'s suffix), under one top-level
    folder as release archives usually are (None: at the top)."""
    prefix = f"{top_folder}/" if top_folder else ""
    files = sorted(p for p in pack.rglob("*") if p.is_file())
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            for file in files:
                bundle.write(file, prefix + file.relative_to(pack).as_posix())
    else:
        with tarfile.open(path, "w:gz") as bundle:
            for file in files:
                bundle.add(file, prefix + file.relative_to(pack).as_posix())
    return path


@dataclass
class HttpsServer:
    """Serves ``files`` (URL path -> bytes) and ``redirects`` (URL path -> location) over
    HTTPS on 127.0.0.1; ``requests`` records (path, Authorization header) of each request."""

    url: str
    ca_file: Path
    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    declared_lengths: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this server's CA trusted (and no proxy in the way)."""
        return {**base, "SSL_CERT_FILE": str(self.ca_file), "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1"}


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[HttpsServer]:
    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    state = HttpsServer(url="", ca_file=ca_file)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Authorization")))
            if self.path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[self.path])
                self.end_headers()
                return
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length",
                             str(state.declared_lengths.get(self.path, len(body))))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (a refused download)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    with serving(server):
        yield state


@contextmanager
def serving(server: http.server.HTTPServer) -> Iterator[None]:
    """Run ``server`` in a thread for the block; shut it down and close it after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def archive_bytes(pack: Path, suffix: str = ".tar.gz") -> bytes:
    """``make_archive`` in memory, for serving."""
    buffer = io.BytesIO()
    if suffix == ".zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for file in sorted(p for p in pack.rglob("*") if p.is_file()):
                bundle.write(file, file.relative_to(pack).as_posix())
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
            for file in sorted(p for p in pack.rglob("*") if p.is_file()):
                bundle.add(file, file.relative_to(pack).as_posix())
    return buffer.getvalue()
