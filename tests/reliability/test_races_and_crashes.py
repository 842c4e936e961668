"""Races and crashes with real `attune` processes on both stores: several registrations of one
ref at once, and a registering process killed with SIGKILL in the middle of its tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from attune_registry.domain.pack import Pack

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings
from attune_registry.adapters.store.config import store_config

from tests.conftest import ATTUNE
from tests.packs import manifest, write_pack
from tests.sandboxed import (
    MARK,
    running_under,
    running_with,
    shared_folder,
    sharing,
    sleeper,
    wait_until_gone,
)

pytestmark = pytest.mark.reliability

RACERS = 5
REF = "race"
# Short, so that the lease of a killed registration (this + the grace) expires quickly, yet
# long enough for a loaded machine to start the test before the suite times out.
SUITE_TIMEOUT = 6
# ATTUNE_LEASE_GRACE_SECONDS of the killed-process tests: their lease (suite timeout + grace)
# must outlast the commands they run while it holds, also on a slow, busy machine.
LEASE_GRACE_SECONDS = 10
IN_PROGRESS = re.compile(
    r"✗ Error: Pack '(?P<ref>[^']+)' has a registration in progress \((?P<id>[0-9a-f-]{36}), "
    r"started [0-9: -]+UTC, lease expires [0-9: -]+UTC\); try again when it finishes, or end "
    r"it with `attune pack cancel (?P=ref)` if its process is gone")


def in_progress(lines: list[str]) -> tuple[str, str] | None:
    """(ref, registration id) of the one-line "in progress" refusal, else None."""
    match = IN_PROGRESS.fullmatch(lines[0]) if len(lines) == 1 else None
    return (match["ref"], match["id"]) if match else None

# Python source for pack tests: start a daemon (double fork + setsid, so outside the test's
# process group and session; it keeps the test's stdout and stderr open) running ``argv``, and
# return its pid (as the test sees it: in a sandbox, a pid of the suite's PID namespace).
DAEMON = """
def start_daemon(argv=("sleep", "300")):
    import os
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            os.execvp(argv[0], list(argv))
        os._exit(0)
    os.close(write)
    pid = int(os.read(read, 32))
    os.wait()  # the intermediate process
    return pid
"""

# A unittest module that starts a child (CHILD) and a daemon (DAEMON_ARGV), marks
# GATE/started, then blocks until GATE/release exists. Needs those three defined before it.
# Released, it ends both itself: what is under test here is a killed or racing registration,
# not the sweep of processes a test leaves behind (test_misbehaving_tests.py).
TREE_AND_GATE = DAEMON + MARK + """
import os, signal, subprocess, time, unittest

class TestGate(unittest.TestCase):
    def test_waits_for_release(self):
        child = subprocess.Popen(CHILD)
        daemon = start_daemon(DAEMON_ARGV)
        mark(GATE / "started")
        deadline = time.monotonic() + 120
        while not (GATE / "release").exists():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        child.kill()
        child.wait()
        os.kill(daemon, signal.SIGKILL)
"""


@dataclass(frozen=True)
class Gate:
    """What the harness shares with a gated pack's test, which runs sandboxed: a folder (the
    test marks ``started`` in it and waits for ``release``), and the command lines of the child
    and the daemon it starts, its own: the pids the test sees are not the host's, so the host
    finds those processes by their command lines."""

    folder: Path
    child: list[str]
    daemon: list[str]

    @classmethod
    def make(cls, folder: Path) -> Gate:
        return cls(shared_folder(folder), sleeper(), sleeper())

    @property
    def started(self) -> Path:
        return self.folder / "started"

    @property
    def release(self) -> Path:
        return self.folder / "release"

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` for an ``attune`` process whose suites see the folder."""
        return sharing(env, self.folder)

    def processes(self, home: Path) -> dict[str, list[int]]:
        """The host pids of what runs of the gated test: the suite's sandbox, supervisor and
        test process (each names the snapshot, in the store's ``home``), its child, its
        daemon."""
        return {"suite": running_under([home]), "child": running_with(self.child[-1]),
                "daemon": running_with(self.daemon[-1])}

    def running(self, home: Path) -> Callable[[], list[int]]:
        """A finder of all of ``processes``, for ``wait_until_gone``."""
        return lambda: [pid for pids in self.processes(home).values() for pid in pids]


def gated_tests(gate: Gate) -> dict[str, str]:
    return {"test_gate.py": f"import pathlib\nGATE = pathlib.Path({str(gate.folder)!r})\n"
                            f"CHILD = {gate.child!r}\nDAEMON_ARGV = {gate.daemon!r}\n"
                            + TREE_AND_GATE}


def gated_pack(directory: Path, version: str, gate: Gate, timeout: int = 60) -> Path:
    data = manifest(REF, version)
    data["testing"]["test_suites"][0]["timeout_seconds"] = timeout
    return write_pack(directory, data, gated_tests(gate))


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([ATTUNE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def data(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


def wait_until(condition: Callable[[], bool], what: str, *,
               watch: Sequence[subprocess.Popen[str]] = (), timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` at the deadline, or as soon as
    a watched process, which should still be running, has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        ended = [p for p in watch if p.poll() is not None]
        if ended:
            pytest.fail(f"{what}: a process ended first: {[p.communicate() for p in ended]}")
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def wait_past(moment: datetime) -> None:
    """Wait until the wall clock is past a recorded moment (a lease expiry)."""
    while (left := (moment - datetime.now(UTC)).total_seconds()) >= 0:
        time.sleep(min(left + 0.01, 0.5))


def store_facts(settings: Settings, ref: str) -> dict[str, Any]:
    """What the event log says, read from the store itself, not from the read models."""
    with build_registry(settings) as registry:
        events = registry.app.recorder.select_notifications(start=1, limit=1_000_000)
        pack = registry.app.repository.get(Pack.create_id(ref))
        rows = registry.view.snapshot()
    by_originator: dict[Any, list[str]] = {}
    for event in events:
        by_originator.setdefault(event.originator_id, []).append(event.topic)
    pack_topics = by_originator.pop(Pack.create_id(ref))
    registrations = {str(k): v for k, v in by_originator.items() if v[0] == REQUESTED}
    return {
        "pack_topics": pack_topics,
        "registrations": registrations,
        "others": len(by_originator) - len(registrations),  # aggregates of neither kind
        "in_flight": pack.in_flight,
        "lease_expires": pack.lease_expires,
        "active": (str(pack.active_registration_id), pack.active_version),
        "rows": rows,
    }


def start_together(settings: Settings, count: int,
                   *args: str, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Start ``count`` attune processes held at a gate in the store, and open it when all are
    there. On PostgreSQL the gate is just before the save, so all of them pass their checks and
    race for the ref at the store itself; SQLite's one lock can only hold them at start-up."""
    if settings.database_url:
        return _start_at_postgres_gates(settings, count, args, env)
    import sqlite3

    # SQLite has one lock for everything, taken by the first write at start-up (before the
    # checks): open the gate when all of them have the database open and wait for it.
    conn = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        racers = [start(env, *args) for _ in range(count)]
        wait_until(lambda: all(has_open(p.pid, settings.sqlite_path) for p in racers),
                   "every registration waiting for the store", watch=racers)
        conn.rollback()
    finally:
        conn.close()
    return racers


class Postgres:
    """A connection to the test store's database, beside the registry's own."""

    def __init__(self, settings: Settings) -> None:
        import psycopg

        db = store_config(settings).env
        self.events = f'"{db["POSTGRES_SCHEMA"]}".registry_events'
        self.conn = psycopg.connect(host=db["POSTGRES_HOST"], port=db["POSTGRES_PORT"],
                                    dbname=db["POSTGRES_DBNAME"], user=db["POSTGRES_USER"],
                                    autocommit=True)

    def waiting(self, wait_event: str = "%") -> int:
        """Sessions of this database waiting for a lock (``relation``, ``advisory``; any)."""
        return self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event LIKE %s", (wait_event,)).fetchone()[0]


def _start_at_postgres_gates(settings: Settings, count: int, args: Sequence[str],
                             env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Every insert into the event table takes an EXCLUSIVE lock on it, which a ROW SHARE
    lock blocks, and nothing else: holding one, all processes start (a set-up store needs no
    start-up DDL), check, snapshot and queue to save; then they are released together."""
    gate, monitor = Postgres(settings), Postgres(settings)
    work = settings.home / "work"
    with gate.conn, monitor.conn, gate.conn.transaction():
        gate.conn.execute(f"LOCK TABLE {gate.events} IN ROW SHARE MODE")
        racers = [start(env, *args) for _ in range(count)]
        wait_until(lambda: monitor.waiting("relation") == count,
                   "every registration queued at its save", watch=racers)
        assert work.is_dir() and len(list(work.iterdir())) == count  # all past their checks
    return racers


def has_open(pid: int, path: Path) -> bool:
    try:
        return any(Path(f"/proc/{pid}/fd/{fd}").resolve() == path.resolve()
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:
        return False


def assert_rebuild_is_identical(settings: Settings, env: dict[str, str]) -> None:
    with build_registry(settings) as registry:
        before = registry.view.snapshot()
    rebuilt = run(env, "projections", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    with build_registry(settings) as registry:
        assert registry.view.snapshot() == before


REQUESTED, SUITE, COMMITTED = (f"attune:Registration.{name}" for name in (
    "PackRegistrationRequested", "TestSuiteCompleted", "RegistrationCommitted"))
OPENED, ACTIVATED = "attune:Pack.RegistrationOpened", "attune:Pack.RegistrationActivated"


class TestConcurrentRegistrations:
    @pytest.mark.parametrize(("active", "flags"), [
        (None, ()), (None, ("--force",)), ("1.0.0", ("--replace",)), ("1.0.0", ("--force",)),
    ], ids=["first", "first-force", "upgrade-replace", "upgrade-force"])
    def test_exactly_one_of_several_registrations_of_a_ref_wins(self, attune, settings,
                                                                 tmp_path, active, flags):
        gate = Gate.make(tmp_path / "gate")
        self.race(attune, settings, tmp_path, active, flags, gate,
                  lambda args: start_together(settings, RACERS, *args,
                                              env=gate.env(attune.env)))

    @pytest.mark.parametrize("settings", [pytest.param("postgres", marks=pytest.mark.postgres)],
                             indirect=True)
    def test_processes_starting_together_on_a_new_schema_all_answer(self, attune, settings):
        # Each would create the event store's tables and functions; PostgreSQL refuses
        # concurrent CREATE OR REPLACE FUNCTION unless start-up is serialised.
        # (Commands that record something create the store; reading ones create none.)
        racers = [start(attune.env, "token", "create", f"racer{n}", "--scope", "read",
                        "--json") for n in range(RACERS)]
        outputs = [p.communicate(timeout=120) for p in racers]

        assert [p.returncode for p in racers] == [0] * RACERS, outputs
        assert sorted(json.loads(out)["data"]["name"] for out, _ in outputs) == sorted(
            f"racer{n}" for n in range(RACERS))

    @pytest.mark.parametrize("settings", [pytest.param("postgres", marks=pytest.mark.postgres)],
                             indirect=True)
    def test_a_set_up_store_starts_without_ddl_so_a_waiting_writer_blocks_no_reader(
            self, attune, settings):
        build_registry(settings).close()  # sets the schema up (reading commands create none)
        gate = Postgres(settings)
        with gate.conn, gate.conn.transaction():
            gate.conn.execute(f"LOCK TABLE {gate.events} IN EXCLUSIVE MODE")  # as a save does

            listed = attune("pack", "list", "--json", timeout=30)

        assert (listed.returncode, json.loads(listed.stdout)) == (0, {"data": []})

    def race(self, attune, settings: Settings, tmp_path: Path, active: str | None,
             flags: Sequence[str], gate: Gate,
             start_racers: Callable[[Sequence[str]], list[subprocess.Popen[str]]]) -> None:
        build_registry(settings).close()  # the store exists before the race
        if active:
            v1 = write_pack(tmp_path / "v1", manifest(REF, active))
            assert attune("pack", "register", str(v1), "--skip-tests").returncode == 0
        pack = gated_pack(tmp_path / "v2", "2.0.0", gate)

        racers = start_racers(["pack", "register", str(pack), "-q", *flags])
        try:
            # The winner's test blocks until the losers have given up.
            wait_until(lambda: sum(p.poll() is not None for p in racers) >= RACERS - 1
                       and gate.started.exists(),
                       "one registration testing, the others ended")
        finally:
            gate.release.touch()
            outputs = [p.communicate(timeout=120) for p in racers]

        codes = [p.returncode for p in racers]
        assert sorted(codes) == [0] + [1] * (RACERS - 1), outputs
        winner_out, _ = outputs[codes.index(0)]
        history = data(attune("pack", "history", REF, "--json"))
        winner = history[0]["id"]
        assert winner_out.splitlines()[:2] == [f"✓ Pack '{REF}' registered successfully",
                                               "Version: 2.0.0"]
        for code, (out, err) in zip(codes, outputs, strict=True):
            if code == 1:  # every loser: one line naming the registration that holds the ref
                assert (out, in_progress(err.splitlines())) == ("", (REF, winner)), err
        expected = [("2.0.0", "committed")] + ([(active, "committed")] if active else [])
        assert [(h["pack_version"], h["status"]) for h in history] == expected
        assert [(p["ref"], p["version"], p["registration_id"])
                for p in data(attune("pack", "list", "--json"))] == [(REF, "2.0.0", winner)]

        facts = store_facts(settings, REF)
        # No loser left a trace in the log: no Registration aggregate, no Pack event.
        assert list(facts["registrations"]) == [h["id"] for h in reversed(history)]
        assert facts["others"] == 0
        assert facts["registrations"][winner] == [REQUESTED, SUITE, COMMITTED]
        assert facts["pack_topics"] == ["attune:Pack.Created"] + [OPENED, ACTIVATED] * len(expected)
        assert (facts["in_flight"], facts["active"]) == (None, (winner, "2.0.0"))
        rows = facts["rows"]
        assert len(rows["pack_registration"]) == len(expected)
        assert [r["registration_id"] for r in rows["pack_test_execution"]] == [winner]
        assert_rebuild_is_identical(settings, attune.env)


class TestKilledRegistration:
    @pytest.mark.parametrize("upgrade", [False, True], ids=["first", "upgrade"])
    def test_a_registration_killed_mid_test_is_abandoned_after_its_lease(
            self, attune, settings, tmp_path, upgrade):
        gate = Gate.make(tmp_path / "gate")
        env = gate.env({**attune.env, "ATTUNE_LEASE_GRACE_SECONDS": str(LEASE_GRACE_SECONDS)})
        if upgrade:
            v1 = write_pack(tmp_path / "v1", manifest(REF, "1.0.0"))
            assert run(env, "pack", "register", str(v1), "--skip-tests").returncode == 0
        # A store nothing was recorded in yet is refused by reads: no pack was active there.
        active_before = data(run(env, "pack", "list", "--json")) if upgrade else []
        pack = gated_pack(tmp_path / "v2", "2.0.0", gate, timeout=SUITE_TIMEOUT)
        work = settings.home / "work"
        replace = ("--replace",) if upgrade else ()

        launched = datetime.now(UTC)
        registering = start(env, "pack", "register", str(pack), *replace)
        wait_until(gate.started.exists, "the test never started", watch=[registering])
        wait_until(lambda: all(gate.processes(settings.home).values()),
                   "the test, its child and its daemon running", watch=[registering])
        [snapshot] = work.iterdir()
        assert snapshot.name.startswith(f"attune-{registering.pid}-{REF}-")
        registering.send_signal(signal.SIGKILL)
        registering.wait()

        # The test, its child and its daemon die with the registry (its sandbox ends with it).
        wait_until_gone(gate.running(settings.home),
                        "the test's processes outlived the killed registry", timeout=15)
        gate.release.touch()  # from now on the pack's test passes at once
        facts = store_facts(settings, REF)
        killed = str(facts["in_flight"])
        assert data(run(env, "pack", "list", "--json")) == active_before  # nothing half active
        in_flight = data(run(env, "pack", "history", REF, "--json"))[0]
        assert (in_flight["id"], in_flight["status"]) == (killed, "requested")
        # The lease: the suite's timeout plus ATTUNE_LEASE_GRACE_SECONDS, counted from a moment
        # between launching the command and recording the request. No bound on how long that
        # took: a busy machine may take seconds to start Python and read the store.
        lease = timedelta(seconds=SUITE_TIMEOUT + LEASE_GRACE_SECONDS)
        requested_at = datetime.fromisoformat(in_flight["requested_at"])
        assert launched + lease <= facts["lease_expires"] <= requested_at + lease

        refused = run(env, "pack", "register", str(pack), *replace)
        assert refused.returncode == 1 and refused.stdout == ""
        assert in_progress(refused.stderr.splitlines()) == (REF, killed), refused.stderr

        wait_past(facts["lease_expires"])  # the recorded lease: suite timeout + grace
        retried = run(env, "pack", "register", str(pack), "-q", *replace)

        assert retried.returncode == 0, retried.stderr
        assert retried.stdout.splitlines()[0] == f"✓ Pack '{REF}' registered successfully"
        history = data(run(env, "pack", "history", REF, "--json"))
        assert [(h["pack_version"], h["status"], h["reason"]) for h in history] == [
            ("2.0.0", "committed", None), ("2.0.0", "rejected", "abandoned"),
        ] + ([("1.0.0", "committed", None)] if upgrade else [])
        assert history[1]["id"] == killed
        assert store_facts(settings, REF)["registrations"][killed] == [
            REQUESTED, "attune:Registration.RegistrationRejected"]
        assert list(work.iterdir()) == []  # the killed run's snapshot was swept
        assert_rebuild_is_identical(settings, env)

    def test_a_bad_lease_grace_is_refused_before_anything_is_recorded(self, attune, tmp_path):
        pack = write_pack(tmp_path / "pack", manifest(REF))

        for value in ("0", "soon", "86401"):
            env = {**attune.env, "ATTUNE_LEASE_GRACE_SECONDS": value}
            refused = run(env, "pack", "register", str(pack), "--skip-tests")

            assert (refused.returncode, refused.stdout) == (1, "")
            assert refused.stderr.splitlines() == [(
                "✗ Error: ATTUNE_LEASE_GRACE_SECONDS must be a whole number from 1 to 86400, "
                f"got {value!r}")]
        assert attune("pack", "history", REF).returncode == 1  # never submitted
        assert not (Path(attune.env["ATTUNE_HOME"]) / "work").exists()


class TestSnapshotSweep:
    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    def test_only_snapshots_of_dead_processes_are_swept(self, attune, settings, tmp_path):
        work = settings.home / "work"
        dead_pid = subprocess.Popen(["true"])
        dead_pid.wait()
        dead = work / f"attune-{dead_pid.pid}-{REF}-abcd1234"
        live = work / f"attune-{os.getpid()}-{REF}-efgh5678"
        unrelated = work / "notes"
        for directory in (dead / "pack" / "locked", live / "pack", unrelated):
            directory.mkdir(parents=True)
        (dead / "pack" / "locked" / "file").write_text("left behind")
        (dead / "pack" / "locked").chmod(0)  # a test took its own permissions away
        pack = write_pack(tmp_path / "pack", manifest(REF))

        done = attune("pack", "register", str(pack), "--skip-tests")

        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in work.iterdir()) == sorted([live.name, unrelated.name])

    @pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
    def test_a_snapshot_in_use_by_a_process_elsewhere_is_kept(self, attune, settings, tmp_path):
        # A data directory shared across pid namespaces: the owner's pid looks dead from here,
        # but it holds the snapshot's lock.
        import fcntl

        work = settings.home / "work"
        dead_pid = subprocess.Popen(["true"])
        dead_pid.wait()
        busy = work / f"attune-{dead_pid.pid}-{REF}-ijkl9012"
        busy.mkdir(parents=True)
        lock = os.open(busy, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            pack = write_pack(tmp_path / "pack", manifest(REF))

            done = attune("pack", "register", str(pack), "--skip-tests")

            assert done.returncode == 0, done.stderr
            assert [p.name for p in work.iterdir()] == [busy.name]
        finally:
            os.close(lock)
