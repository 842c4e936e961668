"""Service hardening: malformed HTTP gets one clear 4xx and changes nothing; tokens stay secret.

Malformed requests go through Litestar's TestClient on both stores and, where a client library
would normalise them, as raw bytes over a socket to a real `attune serve --workers 2`. Tokens
are checked at rest (every byte of the store), in comparison (the function actually called),
in revocation (both workers of a real server) and in logs, CLI output, events and error bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from litestar.testing import TestClient
from psycopg import sql

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters import tokens
from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app
from attune_registry.adapters.install.sources import shown_source
from attune_registry.adapters.settings import Settings

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack

API = "/api/v1"
REGISTER = f"{API}/packs/register"
JSON = "application/json"
PACK = "mypack"  # registered before the probes, so that a wrong answer could change it
NOT_FOUND = "Pack '{ref}' not found"
NO_TOKEN = "Missing or invalid bearer token"
UNKNOWN_ROUTE = "Not Found"
TRACE_MARKERS = ("Traceback", 'File "', "site-packages")


# --- Stores, servers and what they hold -----------------------------------------------------

@dataclass
class Store:
    """A store with a write and a read token and one active pack, ``mypack``."""

    settings: Settings
    root: Path
    write: str
    read: str


def make_store(tmp: Path, kind: str, database: str = "") -> Store:
    url = f"{database}?schema=t_{uuid.uuid4().hex[:10]}" if kind == "postgres" else ""
    return stock(Settings(home=tmp / "home", database_url=url, pack_roots=(tmp / "packs",)))


def stock(settings: Settings) -> Store:
    """Tokens and an active ``mypack`` (registered without tests) in the store of ``settings``."""
    root = settings.pack_roots[0]
    pack = write_pack(root / PACK, manifest(PACK))
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
        registry.register(RegisterCommand(path=str(pack), skip_tests=True, requested_by="test"))
    return Store(settings, root, write, read)


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}{API}/health", timeout=10).json()["data"]


def store_env(settings: Settings) -> dict[str, str]:
    roots = os.pathsep.join(str(root) for root in settings.pack_roots)
    return {**os.environ, "ATTUNE_HOME": str(settings.home),
            "ATTUNE_DATABASE_URL": settings.database_url, "ATTUNE_PACK_ROOTS": roots}


@contextmanager
def serving(settings: Settings, *, log: Path | None = None,
            log_level: str = "info") -> Iterator[Server]:
    """A real `attune serve --workers 2` on a free port; its output goes to ``log``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = store_env(settings)
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [ATTUNE, "serve", "--port", str(port), "--workers", "2", "--log-level", log_level],
        env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", port, process, env)
    try:
        deadline = time.monotonic() + 90  # shared CI machines are slow to start 2 workers
        while True:
            try:
                server.health()
                break
            except (httpx.TransportError, KeyError, ValueError):
                assert time.monotonic() < deadline and process.poll() is None, "no server"
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
        if log:
            out.close()  # type: ignore[union-attr]


# --- 1. Malformed HTTP through the TestClient, on both stores --------------------------------

@dataclass(frozen=True)
class Probe:
    """One malformed request and the one answer it must get.

    ``auth`` is ``write``, ``read``, ``None`` (no header) or a header value; ``{write}`` in it is
    the write token. ``{root}`` in ``content`` is the pack root.
    """

    method: str
    url: str
    status: int
    # The exact message, where it is ours and stable (a callable gets the pack root).
    error: str | Callable[[Path], str] | None = None
    content: bytes | None = None
    content_type: str | None = JSON
    auth: str | bytes | None = "write"
    headers: dict[str, str] = field(default_factory=dict)


CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
         405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
         415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 501: "NOT_IMPLEMENTED"}


def body(status: int, content: bytes | str, error: str | None = None, **kw: Any) -> Probe:
    raw = content.encode() if isinstance(content, str) else content
    return Probe("POST", REGISTER, status, error, content=raw, **kw)


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


TOO_BIG = "Request Entity Too Large"
TOO_DEEP = "Request body nests deeper than 32 levels"
MYPACK = '{"path": "{root}/mypack"}'
NUL = "\x00"
BODIES = {
    # Content types: refused before the body is read. With JSON the same body is a 409.
    "text/plain": body(415, MYPACK, "Content-Type must be application/json (not text/plain)",
                       content_type="text/plain"),
    "form": body(415, "path={root}/mypack", "Content-Type must be application/json (not "
                 "application/x-www-form-urlencoded)", content_type="application/x-www-form-urlencoded"),
    "multipart": body(415, '--x\r\nContent-Disposition: form-data; name="path"\r\n\r\n'
                      "{root}/mypack\r\n--x--\r\n", "Content-Type must be application/json (not "
                      "multipart/form-data)", content_type="multipart/form-data; boundary=x"),
    "charset latin-1": body(415, '{"path": "{root}/é"}'.encode("latin-1"),
                            "JSON bodies must be UTF-8, not charset=latin-1",
                            content_type="application/json; charset=latin-1"),
    "no content type": body(415, MYPACK, "Content-Type must be application/json (none was sent)",
                            content_type=None),
    "charset UTF-8 is JSON": body(409, MYPACK, "Pack 'mypack' already exists. Use force=true to "
                                  "reinstall.", content_type="application/json; charset=UTF-8"),
    # Sizes: the limit is 64 KiB, announced or not.
    "64 KiB + 1": body(413, " " * (64 * 1024 + 1), TOO_BIG),
    "10 MB": body(413, " " * 10_000_000, TOO_BIG),
    "100k-deep array (over the size limit)": body(413, nested(100_000), TOO_BIG),
    # JSON that is not a JSON object.
    "empty body": body(400, "", "Request body is empty: send a JSON object"),
    "blank body": body(400, " \r\n\t", "Request body is empty: send a JSON object"),
    "null": body(422, "null", "Invalid request: Expected `object`, got `null`"),
    "a list": body(422, '["{root}/mypack"]', "Invalid request: Expected `object`, got `array`"),
    "truncated": body(400, '{"path": "{root}/mypa', "Input data was truncated"),
    "NaN": body(400, '{"path": NaN}', "JSON is malformed: invalid character (byte 9)"),
    "Infinity": body(400, '{"path": "x", "force": Infinity}',
                     "JSON is malformed: invalid character (byte 23)"),
    "invalid UTF-8": body(400, b'{"path": "\xff\xfe"}', "Request body is not valid UTF-8 (byte 10)"),
    "overlong UTF-8": body(400, b'{"path": "\xc0\xae"}', "Request body is not valid UTF-8 (byte 10)"),
    "lone surrogate": body(400, '{"path": "\\udcff"}',
                           "JSON is malformed: invalid utf-16 surrogate pair (byte 16)"),
    "30k-deep array": body(400, nested(30_000), TOO_DEEP),
    "33 levels: an object around 32 arrays": body(400, '{"path": ' + nested(32) + "}", TOO_DEEP),
    "32 levels reach the schema": body(422, '{"path": ' + nested(31) + "}", "Invalid request: path"),
    "brackets in strings are text": body(403, '{"path": "' + "[" * 100 + '"}'),
    # Well-formed, wrong shape: 422 naming the field; types are strict.
    "unknown field": body(422, '{"path": "{root}/mypack", "sudo": true}',
                          "Invalid request: Object contains unknown field `sudo`"),
    "huge unknown field": body(422, '{"path": "x", "' + "k" * 60_000 + '": 1}'),
    "missing path": body(422, "{}", "Invalid request: Object missing required field `path`"),
    "path a number": body(422, '{"path": 5}', "Invalid request: path"),
    "path a list": body(422, '{"path": ["{root}/mypack"]}', "Invalid request: path"),
    "force a string": body(422, '{"path": "{root}/mypack", "force": "true"}', "Invalid request: force"),
    "skip_tests 1": body(422, '{"path": "{root}/mypack", "skip_tests": 1}', "Invalid request: skip_tests"),
    "replace null": body(422, '{"path": "{root}/mypack", "replace": null}', "Invalid request: replace"),
    "force a huge number": body(422, '{"path": "x", "force": 1' + "0" * 5000 + "}", "Invalid request: force"),
    "empty path": body(422, '{"path": ""}', "Invalid request: path"),
    "4097-character path": body(422, '{"path": "/' + "a" * 4096 + '"}', "Invalid request: path"),
    # Paths that cannot name a directory: 400 naming the problem, not a 500 from the OS.
    "NUL in path": body(400, '{"path": "{root}/my\\u0000pack"}', "Path must not contain NUL characters"),
    "NUL alone": body(400, '{"path": "\\u0000"}', "Path must not contain NUL characters"),
    "300-character name": body(400, '{"path": "{root}/' + "a" * 300 + '"}',
                               "Path {root}/" + "a" * 300 + " cannot be used: File name too long"),
    "symlink loop": body(400, '{"path": "{root}/loop"}',
                         "Path {root}/loop cannot be used: Symlink loop from '{root}/loop'"),
    # An unknown user's home is no path of the roots: refused before any filesystem call.
    "home of nobody": body(403, '{"path": "~attune-no-such-user/pack"}',
                           "Path ~attune-no-such-user/pack is outside the server's pack roots: "
                           "{root}"),
    # The token comes first: no token, bad body, still a 401; a reader gets 403.
    "no token, bad body": body(401, b"\xff{", NO_TOKEN, auth=None, content_type="text/plain"),
    "read token": body(403, MYPACK, "Token 'reader' has scope 'read'; this request needs 'write'",
                       auth="read"),
}


# Install checks its body exactly as register does: each register probe above goes to
# /packs/install too, with `source` for `path`. Where the answer differs, it is given here
# (a callable gets the pack root: install quotes sources, cutting long ones short).
INSTALL = f"{API}/packs/install"
NO_SOURCE = ("Install source {} not found: give a git URL, an archive (a path or an https:// "
             "URL) or a pack directory")
INSTALL_ANSWERS: dict[str, tuple[int, str | Callable[[Path], str] | None]] = {
    # "source" is two bytes longer than "path".
    "NaN": (400, "JSON is malformed: invalid character (byte 11)"),
    "Infinity": (400, "JSON is malformed: invalid character (byte 25)"),
    "invalid UTF-8": (400, "Request body is not valid UTF-8 (byte 12)"),
    "overlong UTF-8": (400, "Request body is not valid UTF-8 (byte 12)"),
    "lone surrogate": (400, "JSON is malformed: invalid utf-16 surrogate pair (byte 18)"),
}
def install_twin(name: str, probe: Probe) -> Probe:
    status, error = INSTALL_ANSWERS.get(name, (probe.status, probe.error))
    if isinstance(error, str):
        error = error.replace("Invalid request: path", "Invalid request: source").replace(
            "field `path`", "field `source`")
    content = probe.content.replace(b'"path"', b'"source"') if probe.content else probe.content
    return replace(probe, url=INSTALL, status=status, error=error, content=content)


def twin_param(name: str, probe: Probe) -> Any:
    return pytest.param(install_twin(name, probe), id=f"install: {name}")


INSTALL_BODIES = {
    # Checked against the roots before anything is looked up: a relative path is outside.
    "install, a relative source": Probe(
        "POST", INSTALL, 403, "Path x is outside the server's pack roots: {root}",
        content=b'{"source": "x"}'),
    "install, a source under the roots that names nothing": Probe(
        "POST", INSTALL, 400, lambda root: NO_SOURCE.format(shown_source(f"{root}/x")),
        content=b'{"source": "{root}/x"}'),
    "install, a local source outside the pack roots": Probe(
        "POST", INSTALL, 403, "Path /etc is outside the server's pack roots: {root}",
        content=b'{"source": "/etc"}'),
    "install, a 256-character ref_spec": Probe(
        "POST", INSTALL, 422, "Invalid request: ref_spec",
        content=b'{"source": "{root}/mypack", "ref_spec": "' + b"r" * 256 + b'"}'),
    "install, ref_spec a list": Probe("POST", INSTALL, 422, "Invalid request: ref_spec",
                                      content=b'{"source": "{root}/mypack", "ref_spec": ["main"]}'),
    "install, plain http": Probe(
        "POST", INSTALL, 400, "Refused install source 'http://***@example.com/p.tgz': plain "
        "http:// is not accepted, use https://",
        content=b'{"source": "http://u:pw@example.com/p.tgz"}'),
}


def query(url: str, key: str) -> Probe:
    return Probe("GET", f"{API}{url}", 422, f"Invalid request: {key}", auth="read")


def cursor(url: str) -> Probe:
    return Probe("GET", f"{API}{url}", 400, "Invalid cursor: pass the next_cursor of a previous "
                 "page back unchanged", auth="read")


QUERIES = {
    "page=-1": query("/packs?page=-1", "page"),
    "page=0": query("/packs?page=0", "page"),
    "page=abc": query("/packs?page=abc", "page"),
    "page=1.5": query("/packs?page=1.5", "page"),
    "page empty": query("/packs?page=", "page"),
    "page=%00": query("/packs?page=%00", "page"),
    "page=10**30": query(f"/packs?page={10**30}", "page"),
    "page_size=0": query("/packs?page_size=0", "page_size"),
    "page_size=101": query("/packs?page_size=101", "page_size"),
    "page_size=10**30": query(f"/packs?page_size={10**30}", "page_size"),
    "registrations page_size=101": query("/packs/mypack/registrations?page_size=101", "page_size"),
    "unknown status": query("/packs/mypack/tests?status=bogus", "status"),
    "status=%00": query("/packs/mypack/tests?status=%00", "status"),
    "unknown trigger_reason": query("/packs/mypack/tests?trigger_reason=cron", "trigger_reason"),
    # Cursors are ours and opaque: anything else is a 400 saying so, before the store is asked.
    "cursor not base64": cursor("/packs/mypack/tests?cursor=%00"),
    "cursor empty": cursor("/packs/mypack/tests?cursor="),
    "cursor of JSON null": cursor("/packs/mypack/tests?cursor=bnVsbA"),
    # ["2026-01-01T00:00:00",1,2]: a time without its UTC offset.
    "cursor with a naive time": cursor("/packs/mypack/tests?cursor="
                                       "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwxLDJd"),
    "cursor of page 1": cursor("/packs/mypack/tests?cursor="
                               "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsMSwxXQ"),  # [..."Z",1,1]
    "cursor of a huge id": cursor("/packs/mypack/tests?cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIs"
                                  "MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMCwyXQ"),  # id 10**30
    "cursor of a NUL id": cursor("/packs/mypack/registrations?cursor="
                                 "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsIlx1MDAwMCIsMl0"),
    "cursor 60 KB": cursor("/packs/mypack/registrations?cursor=" + "A" * 60_000),
    "cursor and page": Probe("GET", f"{API}/packs/mypack/tests?page=2&cursor="
                             "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsMSwyXQ", 400,
                             "Pass either page or cursor, not both", auth="read"),
}

REF_ROUTES = [("GET", ""), ("GET", "/tests"), ("GET", "/tests/latest"), ("GET", "/registrations"),
              ("GET", "/verify"), ("GET", "/dependencies"), ("DELETE", ""), ("POST", "/test"),
              ("POST", "/rollback")]


def ref_probes(label: str, raw: str, ref: str) -> dict[str, Probe]:
    return {f"{label}: {method} {suffix or '/'}": Probe(method, f"{API}/packs/{raw}{suffix}", 404,
                                                         NOT_FOUND.format(ref=ref))
            for method, suffix in REF_ROUTES}


PATHS = {
    # NUL in a ref used to reach PostgreSQL, which refuses NUL in text: a 500 on every route.
    **ref_probes("%00", "%00", "\x00"),
    **ref_probes("a%00b", "a%00b", "a\x00b"),
    **ref_probes("10k-character ref", "a" * 10_000, "a" * 10_000),
    "unicode ref": Probe("GET", f"{API}/packs/%C3%BCn%C3%AF", 404, NOT_FOUND.format(ref="ünï")),
    "invalid percent-encoding": Probe("DELETE", f"{API}/packs/%ff", 404, NOT_FOUND.format(ref="\ufffd")),
    "upper-case ref": Probe("DELETE", f"{API}/packs/MyPack", 404, NOT_FOUND.format(ref="MyPack")),
    "encoded ..": Probe("DELETE", f"{API}/packs/%2e%2e", 404, NOT_FOUND.format(ref="..")),
    "encoded ../../etc": Probe("GET", f"{API}/packs/..%2F..%2Fetc", 404, UNKNOWN_ROUTE),
    "encoded ../../etc, delete": Probe("DELETE", f"{API}/packs/..%2F..%2Fetc", 404, UNKNOWN_ROUTE),
    "registration not a UUID": Probe("GET", f"{API}/registrations/not-a-uuid", 404, UNKNOWN_ROUTE),
    "registration %00": Probe("GET", f"{API}/registrations/%00", 404, UNKNOWN_ROUTE),
    "unknown route": Probe("GET", f"{API}/nothing", 404, UNKNOWN_ROUTE),
    "unknown version": Probe("GET", "/api/v2/packs", 404, UNKNOWN_ROUTE),
    "unknown sub-resource": Probe("GET", f"{API}/packs/mypack/secrets", 404, UNKNOWN_ROUTE),
    "60k-character URL": Probe("GET", f"{API}/" + "x" * 60_000, 404, UNKNOWN_ROUTE),
    "PUT": Probe("PUT", f"{API}/packs/mypack", 405, "Method Not Allowed"),
    "PATCH": Probe("PATCH", f"{API}/packs/mypack", 405, "Method Not Allowed"),
    "TRACE": Probe("TRACE", f"{API}/packs", 405, "Method Not Allowed"),
    "made-up method": Probe("BREW", f"{API}/packs", 405, "Method Not Allowed"),
    "POST health": Probe("POST", f"{API}/health", 405, "Method Not Allowed"),
}


def auth(value: str | bytes | None, status: int = 401, error: str = NO_TOKEN,
         **kw: Any) -> Probe:
    # DELETE: a guard that let a bad token through would unregister the pack.
    return Probe("DELETE", f"{API}/packs/mypack", status, error, auth=value, **kw)


AUTHS = {
    "no header": auth(None),
    "no scheme": auth("{write}"),
    "Basic": auth("Basic dXNlcjpwYXNz"),
    "Basic with the token": auth("Basic {write}"),
    "empty Bearer": auth("Bearer "),
    "Bearer alone": auth("Bearer"),
    "non-ASCII": auth("Bearer ünïcødé".encode("latin-1")),
    "raw bytes": auth(b"Bearer \xff\xfe\x80"),
    "NUL in the token": auth("Bearer {write}\x00"),
    "100 KB token": auth("Bearer attn_" + "a" * 100_000),
    "tampered secret": auth("Bearer {write}A"),
    "unknown token id": auth(f"Bearer attn_{uuid.uuid4().hex}_{'s' * 43}"),
    "two tokens in one header": auth("Bearer {write}, Bearer {write}"),
    "read scope": auth("read", 403, "Token 'reader' has scope 'read'; this request needs 'write'"),
    "100 KB other header": auth(None, headers={"X-Filler": "f" * 100_000}),
}

PROBES = {**BODIES, **INSTALL_BODIES, **QUERIES, **PATHS, **AUTHS}
PARAMS = [pytest.param(probe, id=name) for name, probe in PROBES.items()] + [
    twin_param(name, probe) for name, probe in BODIES.items()]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    database = request.getfixturevalue("postgres_database") if request.param == "postgres" else ""
    made = make_store(tmp_path_factory.mktemp(request.param), request.param, database)
    (made.root / "loop").symlink_to(made.root / "loop")
    return made


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(store.settings)) as client:
        yield client


def send(client: TestClient[Any], store: Store, probe: Probe) -> httpx.Response:
    headers: dict[str, str | bytes] = dict(probe.headers)
    if probe.content_type:
        headers["Content-Type"] = probe.content_type
    if probe.auth in ("write", "read"):
        headers["Authorization"] = f"Bearer {getattr(store, str(probe.auth))}"
    elif isinstance(probe.auth, str):
        headers["Authorization"] = probe.auth.replace("{write}", store.write)
    elif probe.auth is not None:
        headers["Authorization"] = probe.auth
    content = (probe.content or b"").replace(b"{root}", str(store.root).encode())
    return client.request(probe.method, probe.url, content=content or None, headers=headers)


def assert_our_error(response: httpx.Response, status: int, error: str | None) -> None:
    """The status, our JSON error body with the status's code, and no trace of internals."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == JSON
    payload = response.json()
    assert set(payload) <= {"error", "code", "details"} and isinstance(payload["error"], str)
    assert payload["code"] == CODES[status], payload
    if error is not None:
        assert payload["error"] == error
    assert not any(marker in response.text for marker in TRACE_MARKERS), response.text[:500]


@pytest.mark.parametrize("probe", PARAMS)
def test_malformed_requests_get_one_clear_4xx_and_change_nothing(client, store, probe):
    before = client.app.state.registry.app.recorder.max_notification_id()

    response = send(client, store, probe)

    expected = probe.error(store.root) if callable(probe.error) else (
        probe.error.replace("{root}", str(store.root)) if probe.error else None)
    assert_our_error(response, probe.status, expected)
    assert client.app.state.registry.app.recorder.max_notification_id() == before


def test_the_pack_survived_every_probe(client, store):
    # Runs after the table in this module: the pack the probes aimed at is still active.
    shown = client.get(f"{API}/packs/{PACK}", headers={"Authorization": f"Bearer {store.read}"})
    assert shown.status_code == 200 and shown.json()["data"]["pack"]["ref"] == PACK


# --- 1b. Malformed HTTP as raw bytes to a real server -----------------------------------------

@dataclass(frozen=True)
class Raw:
    """Bytes that httpx would refuse or normalise; ``{write}`` is the write token.

    ``statuses``: the acceptable answers; ``None`` among them allows the server to close the
    connection without one. ``ours``: the answer must be our JSON error body; otherwise uvicorn
    may refuse the request itself (plain text), but any JSON answer must still be our body.
    """

    head: bytes
    statuses: frozenset[int | None]
    ours: bool = True
    error: str | None = None
    chunks: tuple[bytes, ...] = ()  # sent after the head
    half_close: bool = False  # shut our side after sending: the body never completes


def raw(request_line: str, headers: bytes = b"", content: bytes | None = b"", *,
        statuses: set[int | None], **kw: Any) -> Raw:
    head = request_line.encode("latin-1") + b"\r\nHost: registry\r\n" + headers
    if content is not None:
        head += b"Content-Length: %d\r\n" % len(content)
    return Raw(head + b"\r\n" + (content or b""), frozenset(statuses), **kw)


WRITE = b"Authorization: Bearer {write}\r\n"
AS_JSON = b"Content-Type: application/json\r\n"
POST = f"POST {REGISTER} HTTP/1.1"
SERVER_400 = {400}  # uvicorn/h11 refuse it before our app sees it: not our body
RAWS = {
    "chunked over the limit, no Content-Length": Raw(
        POST.encode() + b"\r\nHost: registry\r\n" + WRITE + AS_JSON
        + b"Transfer-Encoding: chunked\r\n\r\n", frozenset({413}), error=TOO_BIG,
        chunks=(b"10001\r\n" + b" " * 0x10001 + b"\r\n0\r\n\r\n",)),  # 64 KiB + 1
    "10 MB announced": Raw(POST.encode() + b"\r\nHost: registry\r\n" + WRITE + AS_JSON
                           + b"Content-Length: 10485760\r\n\r\n", frozenset({413}), error=TOO_BIG),
    "10 MB announced, Expect: 100-continue": Raw(
        POST.encode() + b"\r\nHost: registry\r\n" + WRITE + AS_JSON
        + b"Expect: 100-continue\r\nContent-Length: 10485760\r\n\r\n", frozenset({413}),
        error=TOO_BIG),
    "Content-Length longer than the body": Raw(
        POST.encode() + b"\r\nHost: registry\r\n" + WRITE + AS_JSON
        + b'Content-Length: 1000\r\n\r\n{"path": "{root}/mypack"}', frozenset({None, 400}),
        ours=False, half_close=True),
    "Content-Length shorter than the body": raw(
        POST, WRITE + AS_JSON + b"Content-Length: 8\r\n", None,
        statuses={400}, error="Input data was truncated",
        chunks=(b'{"path": "{root}/mypack", "force": true}',)),
    "Content-Length not a number": raw(POST, WRITE + AS_JSON + b"Content-Length: abc\r\n", None,
                                       statuses=SERVER_400, ours=False),
    "Content-Length negative": raw(POST, WRITE + AS_JSON + b"Content-Length: -1\r\n", None,
                                   statuses=SERVER_400, ours=False),
    "Content-Length and chunked": raw(
        POST, WRITE + AS_JSON + b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n", None,
        statuses={400}, ours=False, chunks=(b"0\r\n\r\n",)),
    "invalid UTF-8 body": raw(POST, WRITE + AS_JSON, b'{"path": "\xff"}', statuses={400},
                              error="Request body is not valid UTF-8 (byte 10)"),
    "30k-deep body": raw(POST, WRITE + AS_JSON, nested(30_000).encode(), statuses={400},
                         error=TOO_DEEP),
    "two Authorization headers": raw(f"GET {API}/packs HTTP/1.1",
                                     WRITE + b"Authorization: Bearer nope\r\n", statuses={400},
                                     error="Send one Authorization header, not 2"),
    "the same Authorization twice": raw(f"DELETE {API}/packs/mypack HTTP/1.1", WRITE + WRITE,
                                        statuses={400}, error="Send one Authorization header, not 2"),
    "raw bytes in Authorization": raw(f"DELETE {API}/packs/mypack HTTP/1.1",
                                      b"Authorization: Bearer \xff\xfe\x80\r\n", statuses={401},
                                      error=NO_TOKEN),
    # h11 refuses a head over 16 KiB if it arrives in pieces, else our app answers it.
    "100 KB token": raw(f"DELETE {API}/packs/mypack HTTP/1.1",
                        b"Authorization: Bearer attn_" + b"a" * 100_000 + b"\r\n",
                        statuses={401, 431, 400}, ours=False, error=NO_TOKEN),
    "2000 headers": raw(f"DELETE {API}/packs/mypack HTTP/1.1",
                        b"".join(b"X-H%d: v\r\n" % n for n in range(2000)),
                        statuses={401, 431, 400}, ours=False, error=NO_TOKEN),
    "100k-character URL": raw(f"GET {API}/packs/{'a' * 100_000} HTTP/1.1", WRITE,
                              statuses={404, 414, 431, 400}, ours=False),
    "made-up method": raw(f"BREW {API}/packs HTTP/1.1", WRITE, statuses={405},
                          error="Method Not Allowed"),
    "invalid method": raw(f"G(T {API}/packs HTTP/1.1", WRITE, statuses=SERVER_400, ours=False),
    "raw NUL in the target": raw(f"GET {API}/packs/a\x00b HTTP/1.1", WRITE, statuses=SERVER_400,
                                 ours=False),
    "raw non-ASCII in the target": raw(f"GET {API}/packs/\xfc HTTP/1.1", WRITE,
                                       statuses=SERVER_400, ours=False),
    "percent-encoded NUL": raw(f"DELETE {API}/packs/%00 HTTP/1.1", WRITE, statuses={404},
                               error=NOT_FOUND.format(ref="\x00")),
    "raw ../../etc/passwd": raw(f"GET {API}/packs/../../../etc/passwd HTTP/1.1", WRITE,
                                statuses={404}, error=UNKNOWN_ROUTE),
    "raw .. to another route": raw(f"DELETE {API}/packs/../packs/mypack HTTP/1.1", b"",
                                   statuses={401, 404}),
    "absolute URI": raw(f"DELETE http://elsewhere{API}/packs/mypack HTTP/1.1", b"",
                        statuses={401, 404}),
    "no Host": Raw(f"GET {API}/packs HTTP/1.1\r\n".encode() + WRITE + b"\r\n",
                   frozenset(SERVER_400), ours=False),
    "HTTP/2 preface": Raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", frozenset({400, 404, 505}),
                          ours=False),
    "TLS hello": Raw(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,
                     frozenset(SERVER_400), ours=False),
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(port: int, probe: Raw, token: str, root: Path) -> Answer | None:
    """Send ``probe``; the first answer on the connection, or None if it closed without one."""
    def fill(data: bytes) -> bytes:
        return data.replace(b"{write}", token.encode()).replace(b"{root}", str(root).encode())

    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(fill(probe.head))
        for chunk in probe.chunks:
            conn.sendall(fill(chunk))
        if probe.half_close:
            conn.shutdown(socket.SHUT_WR)
        return read_answer(conn)


def receive(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except ConnectionResetError:  # the server closed on bytes it did not read: end of answer
        return b""


def read_answer(conn: socket.socket) -> Answer | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = receive(conn)
        if not chunk:
            return None if not data else parse_head(data, b"")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    answer = parse_head(head, rest)
    length = int(answer.headers.get("content-length", "-1"))
    while length < 0 or len(answer.body) < length:
        chunk = receive(conn)
        if not chunk:
            break
        answer.body += chunk
    if length >= 0:  # the server may already be answering what followed (a second request)
        answer.body = answer.body[:length]
    return answer


def parse_head(head: bytes, body: bytes) -> Answer:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Store]]:
    made = make_store(tmp_path_factory.mktemp("live"), "sqlite")
    with serving(made.settings) as server:
        yield server, made


@pytest.mark.reliability
@pytest.mark.parametrize("probe", list(RAWS.values()), ids=list(RAWS))
def test_raw_malformed_http_to_a_real_server_is_refused_cleanly(live, probe):
    server, made = live
    before = server.health()["log_head"]

    answer = exchange(server.port, probe, made.write, made.root)

    status = answer.status if answer else None
    assert status in probe.statuses, answer
    if answer is not None:
        text = answer.body.decode("utf-8", "replace")
        assert not any(marker in text for marker in TRACE_MARKERS), text[:500]
        assert answer.headers.get("content-type") == JSON or not probe.ours, answer
        if answer.headers.get("content-type") == JSON:
            payload = json.loads(answer.body)
            assert set(payload) <= {"error", "code", "details"}
            assert payload["code"] == CODES[status]
            if probe.error is not None:
                assert payload["error"] == probe.error
    # Both workers still answer and nothing reached the log.
    assert server.health()["log_head"] == before
    assert server.process.poll() is None


# --- 2. schemathesis: invalid data for the write endpoints is a 4xx ---------------------------

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.reliability
def test_schemathesis_negative_data_on_the_write_endpoints_is_rejected(live, tmp_path):
    # Negative mode: bodies, path parameters and headers that break the schema. Every answer
    # must be a documented 4xx with our error body; none may change the store.
    server, made = live
    before = server.health()["log_head"]

    run = subprocess.run(
        [SCHEMATHESIS, "run", f"{server.url}/schema/openapi.json",
         "-H", f"Authorization: Bearer {made.write}", "--mode", "negative",
         "--include-method", "POST", "--include-method", "DELETE",
         "--checks", ("not_a_server_error,negative_data_rejection,status_code_conformance,"
                      "response_schema_conformance,content_type_conformance"),
         "--max-examples", "25", "--seed", "20261125", "--wait-for-schema", "30"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)

    assert run.returncode == 0, run.stdout[-4000:]
    assert re.search(r"\b[1-9]\d* generated, [1-9]\d* passed", run.stdout), run.stdout[-2000:]
    assert server.health()["log_head"] == before


# --- 3. Tokens ---------------------------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_of(token: str) -> str:
    parsed = tokens.parse_token(token)
    assert parsed is not None
    return parsed[1]


def contains(haystack: bytes, needle: str) -> bool:
    """``needle`` as text, or hex-encoded the way PostgreSQL prints ``bytea`` (event states)."""
    raw = needle.encode()
    return raw in haystack or raw.hex().encode() in haystack


def store_bytes(settings: Settings) -> bytes:
    """Every byte the store holds: each file under the SQLite home (the database, its WAL,
    snapshots), or every row of every table of the PostgreSQL schema as text."""
    if not settings.database_url:
        return b"".join(p.read_bytes() for p in sorted(settings.home.rglob("*")) if p.is_file())
    base, _, schema = settings.database_url.partition("?schema=")
    dump: list[str] = []
    with psycopg.connect(base) as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = %s", (schema,)).fetchall()
        assert tables, f"no tables in schema {schema}"
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} AS t").format(sql.Identifier(schema),
                                                                     sql.Identifier(table))
            dump += [row[0] for row in conn.execute(query)]
    return "\n".join(dump).encode()


def event_text(settings: Settings) -> str:
    """Every event of the log, decoded."""
    with build_registry(settings) as registry:
        app = registry.app
        head = app.recorder.max_notification_id() or 0
        found = app.recorder.select_notifications(start=1, limit=head + 1)
        assert len(found) == head
        return "\n".join(repr(app.mapper.to_domain_event(n)) for n in found)


def test_token_secrets_are_nowhere_in_the_store_only_their_digests(settings, tmp_path):
    made = stock(replace(settings, pack_roots=(tmp_path / "packs",)))
    # Use the tokens: a registration through the API, reads, a tampered secret, a revocation.
    with TestClient(app=create_app(made.settings)) as client:
        forced = client.post(REGISTER, json={"path": str(made.root / PACK), "force": True,
                                             "skip_tests": True}, headers=bearer(made.write))
        listed = client.get(f"{API}/packs", headers=bearer(made.read))
        tampered = client.get(f"{API}/packs", headers=bearer(made.read + "x"))
    with build_registry(made.settings) as registry:
        registry.revoke_token("reader", actor="test")

    stored, events = store_bytes(made.settings), event_text(made.settings)

    assert (forced.status_code, listed.status_code, tampered.status_code) == (201, 200, 401)
    assert "token:writer" in events  # the registration names its token, not its secret
    for token in (made.write, made.read):
        secret = secret_of(token)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        assert contains(stored, digest) and digest in events  # the scans do see the tokens
        assert not contains(stored, secret) and not contains(stored, token)
        assert secret not in events


class TestConstantTimeComparison:
    """Verification compares sha256 digests (64 characters, whatever was sent) with
    ``hmac.compare_digest``, once per check; a spy wraps the function it calls."""

    @pytest.fixture
    def issued(self, sqlite_settings, monkeypatch):
        calls: list[tuple[Any, Any]] = []
        real = hmac.compare_digest

        def spy(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

        with build_registry(sqlite_settings) as registry:
            live_token, _ = registry.create_token("live", "write", actor="test")
            revoked, _ = registry.create_token("gone", "write", actor="test")
            registry.revoke_token("gone", actor="test")
            monkeypatch.setattr(hmac, "compare_digest", spy)
            yield registry, live_token, revoked, calls

    @pytest.mark.parametrize(("case", "accepted"), [
        ("the right secret", True),
        ("a wrong secret of the same length", False),
        ("a one-character secret", False),
        ("a 10 000-character secret", False),
        ("a non-ASCII secret", False),
        ("the right secret of a revoked token", False),
    ])
    def test_every_secret_goes_through_compare_digest_on_equal_length_digests(
            self, issued, case, accepted):
        registry, live_token, revoked, calls = issued
        token_id, secret = tokens.parse_token(revoked if "revoked" in case else live_token)
        sent = {"the right secret": secret, "the right secret of a revoked token": secret,
                "a wrong secret of the same length": secret[::-1],
                "a one-character secret": "x", "a 10 000-character secret": "s" * 10_000,
                "a non-ASCII secret": "sécrét-ünïcødé"}[case]
        stored = registry.app.get_token(token_id).secret_hash

        if accepted:
            assert tokens.authenticate(registry.app, tokens.format_token(token_id, sent),
                                       "write") == "token:live"
        else:
            with pytest.raises(tokens.AuthenticationError, match=f"^{NO_TOKEN}$"):
                tokens.authenticate(registry.app, tokens.format_token(token_id, sent), "write")

        assert len(calls) == 1
        (first, second), = calls
        assert {first, second} == {stored, hashlib.sha256(sent.encode()).hexdigest()}
        assert isinstance(first, str) and len(first) == len(second) == 64

    @pytest.mark.parametrize("text", ["", "Bearer", "attn", "attn__x", "attn_zz_secret",
                                      f"attn_{uuid.UUID(int=1).hex}_secret", "x" * 100_000])
    def test_malformed_or_unknown_ids_are_refused_alike_with_nothing_to_compare(self, issued,
                                                                                text):
        # The id is not secret: an unknown one has no stored digest to compare against.
        registry, _, _, calls = issued
        with pytest.raises(tokens.AuthenticationError, match=f"^{NO_TOKEN}$"):
            tokens.authenticate(registry.app, text, "read")
        assert calls == []


def worker_pids(parent: int) -> set[int]:
    """The processes whose parent is ``parent`` (uvicorn's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.add(int(stat.parent.name))
    return found


def serving_worker(server_port: int, client_port: int, pids: set[int]) -> int | None:
    """Which of ``pids`` holds the server end of our TCP connection from ``client_port``."""
    inodes = [line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if int(line.split()[1].rpartition(":")[2], 16) == server_port
              and int(line.split()[2].rpartition(":")[2], 16) == client_port]
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in targets:
                    return pid
            except OSError:
                continue
    return None


def call(conn: http.client.HTTPConnection, token: str) -> int:
    """GET /packs on this very connection (http.client would silently reconnect: check)."""
    port = conn.sock.getsockname()[1] if conn.sock else None
    conn.request("GET", f"{API}/packs", headers=bearer(token))
    response = conn.getresponse()
    response.read()
    assert port is None or conn.sock.getsockname()[1] == port, "the connection was reopened"
    return response.status


@pytest.mark.reliability
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="maps connections through /proc")
def test_revocation_takes_effect_on_the_next_request_in_both_workers(settings, tmp_path):
    made = stock(replace(settings, pack_roots=(tmp_path / "packs",)))
    with serving(made.settings) as server:
        pids = worker_pids(server.process.pid)
        assert len(pids) >= 2, pids
        # One kept-alive connection per worker: the kernel hands connections to either.
        by_worker: dict[int, http.client.HTTPConnection] = {}
        deadline = time.monotonic() + 60
        while len(by_worker) < 2:
            assert time.monotonic() < deadline, f"only workers {set(by_worker)} of {pids} answered"
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            assert call(conn, made.read) == 200
            pid = serving_worker(server.port, conn.sock.getsockname()[1], pids)
            if pid is None or pid in by_worker:
                conn.close()
            else:
                by_worker[pid] = conn
        warm = {pid: [call(conn, made.read) for _ in range(3)] for pid, conn in by_worker.items()}

        revoked = subprocess.run([ATTUNE, "token", "revoke", "reader"], env=server.env,
                                 capture_output=True, text=True, timeout=120, check=False)

        after = {pid: [call(conn, made.read) for _ in range(3)] for pid, conn in by_worker.items()}
        writer = {pid: call(conn, made.write) for pid, conn in by_worker.items()}
        fresh = [call(http.client.HTTPConnection("127.0.0.1", server.port, timeout=30), made.read)
                 for _ in range(6)]
        for conn in by_worker.values():
            conn.close()

    assert revoked.returncode == 0, revoked.stderr
    assert warm == {pid: [200, 200, 200] for pid in by_worker}
    assert after == {pid: [401, 401, 401] for pid in by_worker}  # the very next request
    assert writer == dict.fromkeys(by_worker, 200)  # only that token stopped working
    assert fresh == [401] * 6


# A pack test that reports the environment it sees as its failure message, which is stored.
ENV_DUMP = """
import os
import unittest


class TestEnvironment(unittest.TestCase):
    def test_reports_what_it_can_see(self):
        self.fail("\\n".join(f"{name}={value}" for name, value in sorted(os.environ.items())
                            if name.startswith(("ATTUNE", "PG", "POSTGRES", "PATH", "HOME"))
                            or "TOKEN" in name or "DATABASE" in name))
"""
TOKEN_TEXT = re.compile(r"attn_[0-9a-f]{32}_[A-Za-z0-9_-]+")


def with_password(url: str) -> tuple[str, str]:
    """``url`` with a password in it (trust auth ignores it), and the password."""
    parts = urlsplit(url)
    if parts.password:  # a CI server with password auth: that one must stay secret too
        return url, unquote(parts.password)
    password = f"pw-{secrets.token_urlsafe(12)}"
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc)), password


@pytest.mark.reliability
@pytest.mark.postgres
def test_no_secret_reaches_logs_cli_output_events_or_error_bodies(postgres_database, tmp_path):
    url, password = with_password(postgres_database)
    root = tmp_path / "packs"
    settings = Settings(home=tmp_path / "home", pack_roots=(root,),
                        database_url=f"{url}?schema=t_{uuid.uuid4().hex[:10]}")
    env = store_env(settings)
    pack = write_pack(root / "envdump", manifest("envdump"), {"test_env.py": ENV_DUMP})

    def attune(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ATTUNE, *args], env={**env, **extra}, capture_output=True,
                              text=True, timeout=300, check=False)

    created = {name: attune("token", "create", name, "--scope", scope)
               for name, scope in [("writer", "write"), ("reader", "read"), ("doomed", "read")]}
    issued = {name: TOKEN_TEXT.search(done.stdout)[0] for name, done in created.items()}
    writer, reader, doomed = issued["writer"], issued["reader"], issued["doomed"]
    outputs: dict[str, str] = {}
    responses: list[httpx.Response] = []

    with serving(settings, log=tmp_path / "serve.log", log_level="debug") as server:
        def ask(method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
            headers = {**kw.pop("headers", {}), **(bearer(token) if token else {})}
            response = httpx.request(method, f"{server.url}{API}{path}", headers=headers,
                                     timeout=300, **kw)
            responses.append(response)
            return response

        registered = ask("POST", "/packs/register", writer, json={"path": str(pack),
                                                                "force": True})
        registration = registered.json()["data"]["pack"]["registration_id"]
        for path in ("/packs", "/packs/envdump", "/packs/envdump/tests",
                     "/packs/envdump/registrations", f"/registrations/{registration}"):
            assert ask("GET", path, reader).status_code == 200
        assert ask("GET", "/packs", doomed).status_code == 200
        outputs["revoke"] = attune("token", "revoke", "doomed").stdout
        refused = [ask("GET", "/packs", doomed), ask("GET", "/packs", writer + "x"),
                   ask("GET", "/packs", None, headers={"Authorization": f"Basic {writer}"}),
                   ask("GET", "/packs", None, headers={"Authorization": writer}),
                   ask("DELETE", "/packs/envdump", reader),
                   ask("POST", "/packs/register", writer, content=b"{nope",
                       headers={"Content-Type": JSON}),
                   ask("POST", "/packs/register", writer, json={"path": str(pack), "x": 1}),
                   ask("POST", "/packs/register", writer, content=writer.encode(),
                       headers={"Content-Type": "text/plain"})]
        for name, token in [("remote list", writer), ("remote revoked", doomed)]:
            done = attune("pack", "list", ATTUNE_API_URL=server.url, ATTUNE_TOKEN=token,
                          ATTUNE_DATABASE_URL="", ATTUNE_HOME=str(tmp_path / "client"))
            outputs[name] = done.stdout + done.stderr
    log = (tmp_path / "serve.log").read_text()
    for args in [("token", "list"), ("token", "list", "--json"), ("audit", registration),
                 ("audit", registration, "--json"), ("projections", "status"),
                 ("projections", "status", "--json"), ("pack", "history", "envdump"),
                 ("pack", "show", "envdump", "--json")]:
        done = attune(*args)
        assert done.returncode == 0, done.stderr
        outputs[" ".join(args)] = done.stdout + done.stderr
    unreachable = attune("token", "list", ATTUNE_DATABASE_URL=settings.database_url.replace(
        f"{urlsplit(url).port or 5432}/", "1/", 1))
    outputs["unreachable store"] = unreachable.stdout + unreachable.stderr

    # What was checked is real: the log holds every request (uvicorn at debug level adds no
    # line of its own), the suite ran and printed its environment, the store error names the
    # masked URL.
    assert registered.status_code == 201, registered.text
    assert [r.status_code for r in refused] == [401, 401, 401, 401, 403, 400, 422, 415]
    assert f'"POST {API}/packs/register HTTP/1.1" 201' in log
    assert log.count(f'"GET {API}/packs HTTP/1.1" 401') == 4
    assert "PATH=" in registered.text and "ATTUNE_DATABASE_URL" not in registered.text
    assert "envdump" in outputs["remote list"] and NO_TOKEN in outputs["remote revoked"]
    assert unreachable.returncode == 1 and ":***@" in outputs["unreachable store"]
    events = event_text(settings)
    stored = store_bytes(settings)
    assert "PATH=" in events
    secrets_ = {"password": password, **{f"{n} token": t for n, t in issued.items()},
                **{f"{n} secret": secret_of(t) for n, t in issued.items()}}
    places = {"server log": log, "events": events, **outputs,
              **{f"response {i}": r.text for i, r in enumerate(responses)}}
    leaks = [(what, where) for what, secret in secrets_.items()
             for where, text in places.items() if secret in text]
    leaks += [(what, "store") for what, secret in secrets_.items()
              if what != "password" and contains(stored, secret)]
    assert leaks == []
