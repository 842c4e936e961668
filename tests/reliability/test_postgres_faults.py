"""PostgreSQL going away: during a registration, during projection, while the server idles, and
a store that cannot be reached at all.

Connections are cut as a server restart cuts them, with ``pg_terminate_backend`` on a database
of the test's own (never by restarting the shared server). A TCP proxy in front of PostgreSQL
stands for a server that stays away for a while (its port closed) and comes back. Whatever
happens, a command succeeds by reconnecting or fails with one line and exit 1, and the read
models end equal to a rebuild from the log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from litestar.testing import TestClient

from attune_registry.domain.pack import Pack

from attune_registry.projections.postgres_view import PROJECTOR_LOCK_KEY

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app
from attune_registry.adapters.settings import Settings

from tests.conftest import ADMIN_URL, ATTUNE
from tests.integration.test_projector import ProjectorProcess, wait_until
from tests.packs import manifest, write_pack
from tests.sandboxed import shared_folder, sharing, with_mark

from bench.projection_throughput import write_history

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

ADMIN = urlsplit(ADMIN_URL)
# Shown nowhere, ever: with trust authentication the server never asks for it.
SECRET = ADMIN.password or "s3cret-fault-pw"


def store_url(dbname: str, *, port: int | None = None) -> str:
    """The URL of ``dbname`` on the test server, or on ``port`` of this host (a proxy, or
    nothing), with SECRET as its password."""
    host = f"127.0.0.1:{port}" if port else f"{ADMIN.hostname}:{ADMIN.port or 5432}"
    return f"postgresql://{ADMIN.username or 'postgres'}:{SECRET}@{host}/{dbname}"


def masked_url(dbname: str, *, port: int | None = None) -> str:
    return store_url(dbname, port=port).replace(f":{SECRET}@", ":***@")


def refused(dbname: str, port: int) -> str:
    """The error for a store whose port nobody listens on."""
    return (f"cannot reach PostgreSQL at {masked_url(dbname, port=port)}: connection failed: "
            f'connection to server at "127.0.0.1", port {port} failed: Connection refused')


def is_missing(message: str, dbname: str) -> bool:
    """Whether ``message`` is the one-line error for a store whose database does not exist."""
    return (message.startswith(f"cannot reach PostgreSQL at {masked_url(dbname)}: connection "
                               "failed: connection to server at ")
            and message.endswith(f'failed: FATAL:  database "{dbname}" does not exist')
            and "\n" not in message)


@dataclass
class Store:
    """A database of this test's own, whose connections the test may cut."""

    dbname: str
    home: Path

    def settings(self, *, port: int | None = None) -> Settings:
        return Settings(home=self.home, database_url=store_url(self.dbname, port=port))

    def env(self, *, port: int | None = None) -> dict[str, str]:
        return {**os.environ, "ATTUNE_HOME": str(self.home),
                "ATTUNE_DATABASE_URL": store_url(self.dbname, port=port)}

    def cut_connections(self, *, keep: tuple[int, ...] = ()) -> int:
        """Terminate every backend of this database but ``keep``, as a restart does, and wait
        until they are gone; returns how many there were."""
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            pids = [pid for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                " AND pid <> pg_backend_pid() AND NOT pid = ANY(%s)",
                (self.dbname, list(keep))).fetchall()]
            admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
                          (pids,))
            wait_until(lambda: not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall(),
                "the terminated backends to exit")
        return len(pids)


@pytest.fixture
def store(postgres_database: str, tmp_path: Path) -> Iterator[Store]:
    # postgres_database only brings the skip-or-fail policy when there is no server.
    name = f"attune_fault_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Store(name, tmp_path / "home")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresProxy:
    """A TCP relay to PostgreSQL: a store whose port a test can close and open again, and
    that can lose the reply to a commit (the server committed, the client never hears)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._lose_commit = False
        self.commit_reply_lost = threading.Event()
        self._listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Close the port and drop every relayed connection: the store is away."""
        if self._listener is not None:
            _shut(self._listener)  # wakes the accepting thread; close() alone would not
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)
            sock.close()

    def lose_next_commit_reply(self) -> None:
        with self._lock:
            self._lose_commit = True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                server = socket.create_connection((ADMIN.hostname, ADMIN.port or 5432))
            except OSError:
                return
            with self._lock:
                self._sockets += [client, server]
            silenced = threading.Event()
            threading.Thread(target=self._to_server, args=(client, server, silenced),
                             daemon=True).start()
            threading.Thread(target=self._to_client, args=(server, client, silenced),
                             daemon=True).start()

    def _to_server(self, client: socket.socket, server: socket.socket,
                   silenced: threading.Event) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    lose = self._lose_commit and b"COMMIT" in data
                    self._lose_commit = self._lose_commit and not lose
                if lose:
                    silenced.set()  # before the server can answer
                server.sendall(data)
                if lose:
                    self.commit_reply_lost.set()
                    break
        except OSError:
            pass
        _shut(client)  # the client sees its connection drop; the server still commits
        _shut(server, socket.SHUT_WR)

    @staticmethod
    def _to_client(server: socket.socket, client: socket.socket,
                   silenced: threading.Event) -> None:
        try:
            while data := server.recv(65536):
                if not silenced.is_set():
                    client.sendall(data)
        except OSError:
            pass
        _shut(client)


def _shut(sock: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass


@pytest.fixture
def proxy() -> Iterator[PostgresProxy]:
    relay = PostgresProxy()
    try:
        yield relay
    finally:
        relay.close()


def blocking_pack(directory: Path, ref: str = "slow", timeout: int = 60) -> tuple[Path, Path, Path]:
    """A pack whose one test marks ``started`` and then waits for ``release`` to exist, both in
    ``directory``/gate: its suite runs sandboxed, so ``start_register`` shares that folder."""
    gate = shared_folder(directory / "gate")
    started, release = gate / "started", gate / "release"
    data = manifest(ref)
    data["testing"]["test_suites"][0]["timeout_seconds"] = timeout
    pack = write_pack(directory / ref, data, {"test_wait.py": with_mark(f"""
        import pathlib, time, unittest
        class TestWait(unittest.TestCase):
            def test_waits_for_release(self):
                mark({str(started)!r})
                deadline = time.monotonic() + 120
                while not pathlib.Path({str(release)!r}).exists():
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.02)
    """)})
    return pack, started, release


def start_register(env: dict[str, str], pack: Path) -> subprocess.Popen[str]:
    """``attune pack register`` of a ``blocking_pack``, whose gate its suite sees."""
    return subprocess.Popen([ATTUNE, "pack", "register", str(pack)],
                            env=sharing(env, pack.parent / "gate"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_file(path: Path, process: subprocess.Popen[str]) -> None:
    wait_until(lambda: path.exists() or process.poll() is not None, f"{path.name} to appear")
    assert process.poll() is None, process.communicate()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def read_models_equal_a_rebuild(settings: Settings) -> dict[str, list[dict]]:
    """The read models, once checked to be current and identical to a rebuild from the log."""
    with build_registry(settings) as registry:
        assert registry.projection_status().lag == 0
        live = registry.view.snapshot()
        registry.rebuild()
        assert registry.view.snapshot() == live
    return live


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("✗ Error")]


class TestRegistration:
    def test_connections_cut_while_its_tests_run_it_reconnects_and_commits(self, store,
                                                                           tmp_path):
        pack, started, release = blocking_pack(tmp_path)
        process = start_register(store.env(), pack)
        try:
            wait_for_file(started, process)
            cut = store.cut_connections()
        finally:
            release.touch()
            out, err = process.communicate(timeout=120)

        assert cut >= 2  # at least the event log's and the read models' pooled connections
        assert process.returncode == 0, err
        assert out.splitlines()[0] == "✓ Pack 'slow' registered successfully"
        assert "Traceback" not in err
        live = read_models_equal_a_rebuild(store.settings())
        assert [(r["status"], r["reason"]) for r in live["pack_registration"]] == [
            ("committed", None)]
        assert [r["status"] for r in live["pack_test_execution"]] == ["passed"]

    def test_connections_cut_while_it_projects_its_events_it_projects_them_again(
            self, store, tmp_path):
        pack, started, release = blocking_pack(tmp_path)
        process = start_register(store.env(), pack)
        with psycopg.connect(store_url(store.dbname), autocommit=True) as blocker:
            try:
                wait_for_file(started, process)
                # The command, its events committed, waits for the read models' lock inside
                # its projection transaction; there its connection dies.
                with projection_lock_held(blocker):
                    release.touch()
                    wait_for_projection_to_wait(blocker, store.dbname)
                    cut = store.cut_connections(keep=(blocker.info.backend_pid,))
            finally:
                release.touch()
                out, err = process.communicate(timeout=120)

        assert cut >= 2
        assert process.returncode == 0, err
        assert out.splitlines()[0] == "✓ Pack 'slow' registered successfully"
        live = read_models_equal_a_rebuild(store.settings())
        assert [r["status"] for r in live["pack_registration"]] == ["committed"]

    def test_a_commit_whose_acknowledgement_is_lost_counts_as_saved(self, store, proxy,
                                                                   tmp_path):
        # The server commits the finished suite, the connection drops before the client hears
        # it; the library inserts the events again and meets its own.
        pack, started, release = blocking_pack(tmp_path)
        process = start_register(store.env(port=proxy.port), pack)
        try:
            wait_for_file(started, process)
            proxy.lose_next_commit_reply()
        finally:
            release.touch()
            out, err = process.communicate(timeout=120)

        assert proxy.commit_reply_lost.is_set()
        assert process.returncode == 0, err
        assert out.splitlines()[0] == "✓ Pack 'slow' registered successfully"
        live = read_models_equal_a_rebuild(store.settings())
        assert [r["status"] for r in live["pack_registration"]] == ["committed"]
        assert [(r["status"], r["total_tests"]) for r in live["pack_test_execution"]] == [
            ("passed", 1)]

    def test_a_store_away_for_good_fails_it_in_one_line_and_the_lease_frees_the_ref(
            self, store, proxy, tmp_path):
        pack, started, release = blocking_pack(tmp_path, timeout=5)
        process = start_register(store.env(port=proxy.port), pack)
        try:
            wait_for_file(started, process)
            proxy.close()
        finally:
            release.touch()
            out, err = process.communicate(timeout=300)
        proxy.open()

        assert process.returncode == 1, out
        assert error_lines(err) == [f"✗ Error: {refused(store.dbname, proxy.port)}"]
        assert "Traceback" not in err and SECRET not in err + out
        # Left behind: the attempt, in flight, holding the ref's lease until it expires.
        history = json.loads(run(store.env(), "pack", "history", "slow", "--json").stdout)
        assert [h["status"] for h in history["data"]] == ["requested"]
        with build_registry(store.settings()) as registry:
            lease = registry.app.repository.get(Pack.create_id("slow")).lease_expires
        time.sleep(max((lease - datetime.now(UTC)).total_seconds(), 0) + 0.1)  # its expiry

        again = run(sharing(store.env(), started.parent), "pack", "register", str(pack))

        assert again.returncode == 0, again.stderr
        live = read_models_equal_a_rebuild(store.settings())
        assert sorted((r["status"], r["reason"]) for r in live["pack_registration"]) == [
            ("committed", None), ("rejected", "abandoned")]


@contextmanager
def projection_lock_held(blocker: psycopg.Connection) -> Iterator[None]:
    """Hold the read models' transaction lock: projection transactions wait for it."""
    blocker.execute("SELECT pg_advisory_lock(%s)", (PROJECTOR_LOCK_KEY,))
    try:
        yield
    finally:
        blocker.execute("SELECT pg_advisory_unlock(%s)", (PROJECTOR_LOCK_KEY,))


def wait_for_projection_to_wait(blocker: psycopg.Connection, dbname: str) -> None:
    """Until a projection transaction waits for the lock: whatever is cut meanwhile is cut
    in the middle of that transaction."""
    wait_until(lambda: _waits_for_advisory_lock(blocker, dbname),
               "a projection transaction waiting for the lock")


def _waits_for_advisory_lock(admin: psycopg.Connection, dbname: str) -> bool:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                        " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                        (dbname,)).fetchone()
    return bool(row and row[0])


class TestProjector:
    def test_connections_cut_three_times_mid_catch_up_it_reconnects_each_time(self, store):
        with build_registry(store.settings()) as registry, psycopg.connect(
                store_url(store.dbname), autocommit=True) as blocker:
            write_history(registry, 3000)  # about 12,000 events, none projected
            head = registry.projection_status().log_head
            projector = ProjectorProcess(store.settings(), "--batch-size", "20")
            cuts = []
            try:
                for share in (0.1, 0.3, 0.5):
                    wait_until(lambda s=share: registry.projection_status().position > s * head,
                               f"{share:.0%} of the backlog")
                    with projection_lock_held(blocker):
                        wait_for_projection_to_wait(blocker, store.dbname)
                        cuts.append(registry.projection_status().position)
                        store.cut_connections(keep=(blocker.info.backend_pid,))
                wait_until(lambda: registry.projection_status().position == head,
                           "the backlog", timeout=300)
                assert projector.process.poll() is None, "the projector died"
            finally:
                stderr = projector.stop()

        assert all(0 < position < head for position in cuts), (cuts, head)
        failures = [line for line in stderr.splitlines() if "retrying in" in line]
        assert len(failures) == 3, stderr
        assert all(line.startswith(
            f"projector: cannot reach PostgreSQL at {masked_url(store.dbname)}: ")
            and line.endswith("; retrying in 1 s") for line in failures), failures
        assert stderr.count("projector: active") == 4
        assert SECRET not in stderr and "Traceback" not in stderr
        live = read_models_equal_a_rebuild(store.settings())
        assert len(live["pack_registration"]) == 3000

    def test_it_waits_out_a_store_that_is_away_and_resumes(self, store, proxy):
        settings = store.settings(port=proxy.port)
        with build_registry(store.settings()) as registry:
            write_history(registry, 1000)
            head = registry.projection_status().log_head
            projector = ProjectorProcess(settings, "--batch-size", "20")
            try:
                wait_until(lambda: registry.projection_status().position > 0, "a first batch")
                proxy.close()
                wait_until(lambda: sum("retrying in" in line for line in projector.lines) >= 3,
                           "three failed attempts", timeout=120)
                proxy.open()
                wait_until(lambda: registry.projection_status().position == head,
                           "the backlog", timeout=120)
                assert projector.process.poll() is None, "the projector died"
            finally:
                stderr = projector.stop()

        assert projector.process.returncode == 0
        failures = [line for line in stderr.splitlines() if "retrying in" in line]
        away = f"projector: {refused(store.dbname, proxy.port)}; retrying in"
        assert [line.startswith(away) for line in failures[1:3]] == [True, True], failures
        assert [line.rsplit(" ", 2)[1] for line in failures[:3]] == ["1", "2", "4"]
        assert SECRET not in stderr and "Traceback" not in stderr
        read_models_equal_a_rebuild(store.settings())



class TestWorker:
    """`attune worker`, its store behind the proxy."""

    def test_it_outlives_a_store_that_is_away_and_then_runs_the_next_suite(self, store, proxy,
                                                                          tmp_path):
        build_registry(store.settings()).close()
        env = {**store.env(port=proxy.port), "ATTUNE_WORKER_STALL_SECONDS": "3"}
        log = tmp_path / "worker.log"
        with log.open("w") as out:
            worker = subprocess.Popen([ATTUNE, "worker"], env=env, stdout=out,
                                      stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: listed_workers(store) == [worker.pid] or worker.poll() is not None,
                       "the worker to list itself")
            proxy.close()
            # procrastinate stops a worker whose heartbeat fails; ours starts it again.
            wait_until(lambda: "starting again in" in log.read_text()
                       or worker.poll() is not None, "the worker to notice", timeout=120)
            assert worker.poll() is None, log.read_text()
            proxy.open()
            pack = write_pack(tmp_path / "lamp", manifest("lamp"))
            queued = subprocess.run([ATTUNE, "pack", "register", str(pack), "--no-wait"],
                                    env=store.env(), capture_output=True, text=True, timeout=120)
            assert queued.returncode == 0, queued.stderr
            wait_until(lambda: decided(store, "lamp") or worker.poll() is not None,
                       "the queued suite", timeout=180)
            wait_until(lambda: "is in the list again" in log.read_text()
                       or worker.poll() is not None, "the worker to list itself again")
            assert worker.poll() is None, log.read_text()
        finally:
            if worker.poll() is None:
                worker.terminate()
            worker.wait(timeout=120)

        assert worker.returncode == 0
        row = decided(store, "lamp")
        assert row is not None and row["status"] == "committed"
        text = log.read_text()
        assert "Traceback" not in text and SECRET not in text, text
        # One line for each thing that happened, however long the store was away.
        assert "starting again in 1 s" in text, text
        assert text.count("could not refresh worker") == 1, text
        assert [line for line in text.splitlines() if line[:1].isspace()] == [], text


def listed_workers(store: Store) -> list[int]:
    done = subprocess.run([ATTUNE, "workers", "--json"], env=store.env(), capture_output=True,
                          text=True, timeout=60)
    return [worker["pid"] for worker in json.loads(done.stdout)["data"]] if done.returncode == 0 \
        else []


def decided(store: Store, ref: str) -> dict | None:
    done = subprocess.run([ATTUNE, "pack", "history", ref, "--json"], env=store.env(),
                          capture_output=True, text=True, timeout=60)
    rows = json.loads(done.stdout)["data"] if done.returncode == 0 else []
    return rows[0] if rows and rows[0]["status"] in ("committed", "rejected") else None

@contextmanager
def serving(store: Store, root: Path) -> Iterator[str]:
    """`attune serve` with two workers on ``store``; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**store.env(), "ATTUNE_PACK_ROOTS": str(root)}
    process = subprocess.Popen([ATTUNE, "serve", "--port", str(port), "--workers", "2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, "the server", 90)
        assert process.poll() is None, process.communicate()
        yield url
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)
        assert "Traceback" not in log, log


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v1/health", timeout=1)
    except httpx.TransportError:
        return False
    return True


class TestServer:
    def test_connections_cut_while_it_idles_the_next_requests_succeed(self, store, tmp_path):
        root = tmp_path / "packs"
        with build_registry(store.settings()) as registry:
            write, _ = registry.create_token("writer", "write", actor="test")
        headers = {"Authorization": f"Bearer {write}"}
        packs = [write_pack(root / f"p{n}", manifest(f"p{n}")) for n in range(2)]
        reads = ("/health", "/packs", "/packs/p0", "/packs/p0/registrations") * 4
        with serving(store, root) as url, httpx.Client(base_url=f"{url}/api/v1",
                                                       headers=headers, timeout=120) as http:
            first = http.post("/packs/register", json={"path": str(packs[0])})
            # Requests at once: each worker's pools grow beyond one connection, all idle then.
            warm = at_once([lambda path=path: http.get(path) for path in reads])
            cut = store.cut_connections()
            after = at_once([lambda: http.post("/packs/register", json={"path": str(packs[1])}),
                             *(lambda path=path: http.get(path) for path in reads)])
            later = [http.get(path) for path in reads]

        assert first.status_code == 201 and cut >= 4
        assert {r.status_code for r in warm} == {200}
        assert [r.status_code for r in after] == [201] + [200] * len(reads), [
            r.text for r in after if r.status_code >= 300]
        assert {r.status_code for r in later} == {200}
        live = read_models_equal_a_rebuild(store.settings())
        assert sorted(r["ref"] for r in live["pack"]) == ["p0", "p1"]


def at_once(calls: list) -> list:
    """Run the calls in threads at the same time; their results in order."""
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run_one(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run_one, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return results


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


class TestUnreachableStore:
    @pytest.mark.parametrize("where", ["closed port", "missing database"])
    @pytest.mark.parametrize("command", [("pack", "list"), ("projections", "status"),
                                         ("pack", "register", "{pack}")],
                             ids=["list", "status", "register"])
    def test_the_cli_says_so_in_one_line(self, postgres_database, tmp_path, where, command):
        port = closed_port() if where == "closed port" else None
        dbname = f"attune_missing_{uuid.uuid4().hex[:8]}"
        env = Store(dbname, tmp_path / "home").env(port=port)
        pack = write_pack(tmp_path / "pack", manifest("pack"))
        args = [arg.format(pack=pack) for arg in command]

        text = run(env, *args)
        as_json = run(env, *args, "--json")

        assert (text.returncode, text.stdout, as_json.returncode) == (1, "", 1)
        message = text.stderr.removeprefix("✗ Error: ").removesuffix("\n")
        assert (message == refused(dbname, port)) if port else is_missing(message, dbname)
        assert json.loads(as_json.stdout) == {"error": message, "code": "STORE_UNAVAILABLE"}

    def test_the_projector_keeps_trying_and_stops_cleanly(self, postgres_database, tmp_path):
        port = closed_port()
        settings = Store("attune_nowhere", tmp_path / "home").settings(port=port)
        projector = ProjectorProcess(settings)
        wait_until(lambda: sum("retrying in" in line for line in projector.lines) >= 2,
                   "two attempts")
        stderr = projector.stop()

        assert projector.process.returncode == 0
        assert stderr.splitlines()[:2] == [
            f"projector: {refused('attune_nowhere', port)}; retrying in {delay} s"
            for delay in (1, 2)]

    def test_the_api_answers_503_while_the_store_is_away_and_200_when_it_is_back(
            self, store, proxy, tmp_path):
        settings = replace(store.settings(port=proxy.port), pack_roots=(tmp_path,))
        with build_registry(settings) as registry:
            read, _ = registry.create_token("reader", "read", actor="test")
        headers = {"Authorization": f"Bearer {read}"}
        with TestClient(app=create_app(settings), timeout=120) as client:
            before = client.get("/api/v1/packs", headers=headers)
            proxy.close()
            away = at_once([lambda: client.get("/api/v1/health"),
                            lambda: client.get("/api/v1/packs", headers=headers)])
            proxy.open()
            back = [client.get("/api/v1/health"), client.get("/api/v1/packs", headers=headers)]

        assert before.status_code == 200
        assert [(r.status_code, r.json()) for r in away] == [
            (503, {"error": refused(store.dbname, proxy.port), "code": "STORE_UNAVAILABLE"})] * 2
        assert [r.status_code for r in back] == [200, 200]

    def test_the_api_answers_503_when_its_database_is_dropped(self, store, tmp_path):
        settings = replace(store.settings(), pack_roots=(tmp_path,))
        with TestClient(app=create_app(settings), timeout=120) as client:
            assert client.get("/api/v1/health").status_code == 200
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{store.dbname}" WITH (FORCE)')
            gone = client.get("/api/v1/health")

        assert (gone.status_code, gone.json()["code"]) == (503, "STORE_UNAVAILABLE")
        assert is_missing(gone.json()["error"], store.dbname), gone.json()
