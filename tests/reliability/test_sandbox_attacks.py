"""Hostile packs registered through the real ``attune`` command, on both stores: each one's test
tries one attack on the registry from inside the OS sandbox (tests/reliability/sandbox_attacks.py)
and nothing outside the sandbox changes.

Before each registration the harness makes a world to damage: a write token, a registered pack
(``bystander``), an installed one (``keeper``; both keep their release), a host process of its own
(the canary), a TCP port and an abstract unix socket it listens on. Afterwards:

- the event log holds what it held before plus only this registration's own events (and those of
  the registration the harness ran alongside, for the one attack that needs a victim);
- the tokens and the other packs are those of before, and ``attune pack verify keeper`` passes;
- no process carrying the attack's token runs, the canary still runs, nobody connected;
- no file carrying the attack's token exists anywhere the harness can look, the pack's source
  directory is unchanged and no snapshot is left;
- the ``attune`` process's own peak RSS stayed bounded, and it ended with the outcome the case
  names: registered (the attack failed inside and its test says so) or refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from attune_registry.domain.pack import Pack

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

from tests.conftest import ADMIN_URL, ATTUNE, CliRun, invoke
from tests.packs import manifest, write_pack
from tests.packs import tree_digest as packs_tree_digest
from tests.reliability.sandbox_attacks import CORPUS, Attack
from tests.sandboxed import (
    describe,
    running,
    running_with,
    shared_folder,
    sharing,
    sleeper,
    wait_until_gone,
    with_mark,
)

import attune_registry

pytestmark = pytest.mark.reliability

REF = "hostile"
# The attune process's own high-water mark: far below what the attacks allocate or send (1.5 GiB,
# 100 MB of forged results, endless floods), far above what a registration needs.
MAX_RSS_BYTES = 300 * 2**20
# The registry's own code, for the attack that imports it (the folder holding ``attune_registry``).
REPO = Path(attune_registry.__file__).parent.parent
# Runs attune's entry point, then writes its own peak RSS (ru_maxrss: KiB on Linux) to a file.
WITH_PEAK_RSS = """
import os, resource, sys
out = os.environ.pop("ATTUNE_TEST_RSS_FILE")
from attune_registry.adapters.cli import main
sys.argv[0] = "attune"
try:
    main()
finally:
    with open(out, "w") as handle:
        handle.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""
PYTHON = str(Path(ATTUNE).parent / "python")


def test_the_corpus_covers_the_issue() -> None:
    ids = [attack.id for attack in CORPUS]
    assert len(ids) == len(set(ids)) and len(ids) >= 25
    for attack in CORPUS:
        assert attack.expect in ("passed", "rejected")
        assert attack.message is None or attack.expect == "rejected"


# --- What the harness looks at ------------------------------------------------------------------

def tree_digest(root: Path) -> str:
    """``tests.packs.tree_digest``, or "" where nothing is."""
    return packs_tree_digest(root) if root.exists() else ""


def stored_events(settings: Settings) -> list[tuple[Any, ...]]:
    """Every event in the log, read from the store itself."""
    with build_registry(settings) as registry:
        found = registry.app.recorder.select_notifications(start=1, limit=10_000_000)
    return [(n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state))
            for n in found]


def cli(env: dict[str, str], *args: str) -> CliRun:
    """The harness's own commands (set-up and reads) run in this process: only the attacked
    registrations need the real entry point, and a Python start-up each is slow on 2 cores."""
    return invoke(list(args), env)


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)["data"]


def marked_files(token: str, roots: list[Path], deep: list[Path]) -> list[str]:
    """Files named with ``token`` directly in ``roots`` or anywhere under ``deep``."""
    found = []
    for root in roots:
        with contextlib.suppress(OSError):
            found += [str(p) for p in root.iterdir() if token in p.name]
    for root in deep:
        found += [str(p) for p in root.rglob(f"*{token}*")]
    return found


def kill_all(find: Callable[[], list[int]]) -> None:
    """SIGKILL what ``find`` finds until it finds nothing (a fork chain outruns one pass)."""
    while found := find():
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def carrying(token: str) -> Callable[[], list[int]]:
    return lambda: running(lambda argv: any(token in arg for arg in argv))


@contextlib.contextmanager
def listeners() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP port on the loopback (a stand-in for the registry's API) and an abstract unix
    socket, both listening, neither accepting."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.setblocking(False)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind("\0attune-attack-" + secrets.token_hex(8))
    unix.listen(8)
    unix.setblocking(False)
    try:
        yield tcp, unix
    finally:
        tcp.close()
        unix.close()


def nobody_connected(server: socket.socket) -> bool:
    try:
        peer, _ = server.accept()
    except BlockingIOError:
        return True
    peer.close()
    return False


# --- The victim: a registration that runs alongside the attack --------------------------------

VICTIM_TEST = with_mark("""
    import os, time, unittest

    GATE = {gate!r}

    class Victim(unittest.TestCase):
        def test_waits_for_the_attack_then_checks_its_files(self):
            mark(os.path.join(GATE, "ready"))
            deadline = time.monotonic() + 240
            while not os.path.exists(os.path.join(GATE, "go")):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            with open(__file__) as handle:
                self.assertNotIn("back" + "doored", handle.read())
            self.assertEqual(sorted(os.listdir(".")), ["test_victim.py"])
    """)


class Victim:
    """``attune pack register victim``, whose test waits at a gate: while it waits, its snapshot
    is under ``$ATTUNE_HOME/work`` for the attack to find."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.gate = shared_folder(tmp_path / "gate")
        pack = write_pack(tmp_path / "victim", manifest("victim"),
                          {"test_victim.py": VICTIM_TEST.format(gate=str(self.gate))})
        self.work = Path(env["ATTUNE_HOME"]) / "work"
        self.process = subprocess.Popen([ATTUNE, "pack", "register", str(pack)],
                                        env=sharing(env, self.gate), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (self.gate / "ready").exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the victim's test did not start"
            time.sleep(0.02)
        [self.snapshot] = [p / "pack" for p in self.work.iterdir() if "-victim-" in p.name]

    def release(self) -> subprocess.CompletedProcess[str]:
        (self.gate / "go").touch()
        stdout, stderr = self.process.communicate(timeout=300)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode,
                                           stdout, stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def attune_env(settings: Settings) -> dict[str, str]:
    """The environment of every ``attune`` the harness runs: this test's store, the sandbox in
    its default mode (auto: bubblewrap when installed)."""
    env = {**os.environ, "ATTUNE_HOME": str(settings.home),
           "ATTUNE_DATABASE_URL": settings.database_url}
    env.pop("ATTUNE_SANDBOX", None)
    return env


# --- The test ----------------------------------------------------------------------------------

def releases(home: Path) -> dict[str, str]:
    """Each release in the store (and its file list), by name, as ``tree_digest``s."""
    root = home / "releases"
    return {entry.name: tree_digest(entry) if entry.is_dir() else entry.read_text()
            for entry in root.iterdir()} if root.is_dir() else {}


@pytest.mark.parametrize("attack", CORPUS, ids=lambda attack: attack.id)
def test_the_sandbox_holds(attack: Attack, settings: Settings, tmp_path: Path) -> None:
    home = settings.home
    env = attune_env(settings)
    token = sleeper()[-1]  # "300.<12 digits>": a word no other process carries

    # The world the attack may damage.
    done = cli(env, "token", "create", "harness", "--scope", "write")
    assert done.returncode == 0, done.stderr
    for ref, command in (("bystander", ["register"]), ("keeper", ["install", "--skip-tests"])):
        source = write_pack(tmp_path / ref, manifest(ref))
        done = cli(env, "pack", command[0], str(source), *command[1:])
        assert done.returncode == 0, done.stderr
    events_before = stored_events(settings)
    tokens_before = cli_json(env, "token", "list")
    packs_before = cli_json(env, "pack", "list")
    releases_before = releases(home)
    assert len(releases_before) == 4  # the bystander's and the keeper's, with their lists

    canary = subprocess.Popen(sleeper())
    victim: Victim | None = None
    try:
        with listeners() as (tcp, unix):
            context = {
                "TOKEN": token, "ATTUNE_HOME": str(home), "DB_URL": settings.database_url,
                "ADMIN_URL": ADMIN_URL, "VENV": sys.prefix, "REPO": str(REPO),
                "USER_HOME": os.path.expanduser("~"), "PORT": str(tcp.getsockname()[1]),
                "ABSTRACT": unix.getsockname()[1:].decode(), "SOURCE": str(tmp_path / REF),
            }
            pack = write_pack(tmp_path / REF, attack.manifest(REF),
                              {attack.test_file: attack.render(context)})
            source_before = tree_digest(pack)
            if "victim" in attack.needs:
                victim = Victim(env, tmp_path)
                victim_before = tree_digest(victim.snapshot)

            rss_file = tmp_path / "peak-rss"
            registered = subprocess.run(
                [PYTHON, "-c", WITH_PEAK_RSS, "pack", "register", str(pack)],
                env={**env, "ATTUNE_TEST_RSS_FILE": str(rss_file)}, capture_output=True,
                timeout=300)
            stdout = registered.stdout.decode("utf-8")  # whatever the test printed
            stderr = registered.stderr.decode("utf-8")

            if victim is not None:
                assert tree_digest(victim.snapshot) == victim_before, (
                    "the attack changed another registration's snapshot")
                released = victim.release()
                assert released.returncode == 0, released.stderr
            assert nobody_connected(tcp), "something in the sandbox reached the harness's port"
            assert nobody_connected(unix), "something in the sandbox reached an abstract socket"
    finally:
        if victim is not None:
            victim.kill()
        try:
            wait_until_gone(carrying(token), f"processes of the attack {attack.id} still run")
        finally:
            kill_all(carrying(token))
            canary_alive = canary.poll() is None
            canary.kill()
            canary.wait()
    assert canary_alive, "the attack killed a host process"

    # Ended, with the outcome the case names, and the registry stayed small.
    peak_rss = int(rss_file.read_text())
    assert 0 < peak_rss < MAX_RSS_BYTES, f"attune's peak RSS: {peak_rss / 2**20:.0f} MiB"
    [attempt] = cli_json(env, "pack", "history", REF)
    packs_after = cli_json(env, "pack", "list")
    if attack.expect == "passed":
        assert registered.returncode == 0, stdout + stderr
        assert attempt["status"] == "committed"
        shown = cli_json(env, "pack", "show", REF)
        assert (shown["pack"]["version"], shown["pack"]["description"], shown["components"]) == (
            "1.0.0", f"attack: {attack.id}", [])
    else:
        assert registered.returncode == 1, stdout + stderr
        assert (attempt["status"], attempt["reason"]) == ("rejected", "tests_failed")
        assert REF not in {p["ref"] for p in packs_after}
        if attack.message is not None:
            [suite] = cli_json(env, "pack", "test-history", REF)[0]["result"]["test_suites"]
            assert attack.message in suite["message"]

    # The store: the events of before, then only this registration's own (and the victim's).
    events_after = stored_events(settings)
    assert events_after[:len(events_before)] == events_before
    new = events_after[len(events_before):]
    mine = {Pack.create_id(REF), UUID(attempt["id"])}
    if victim is not None:
        [victim_attempt] = cli_json(env, "pack", "history", "victim")
        assert victim_attempt["status"] == "committed"
        mine |= {Pack.create_id("victim"), UUID(victim_attempt["id"])}
    originators = {event[1] for event in new}
    assert UUID(attempt["id"]) in originators
    assert originators <= mine, f"events of other aggregates: {originators - mine}"
    recorded = b"".join(event[4] for event in new)
    assert b"SQLite format 3" not in recorded, "the store's own bytes were recorded"
    if attack.expect == "passed":
        # A passing test prints nothing of its token; whatever names it was read from the pack.
        assert token.encode() not in recorded, "the registry recorded what the test wrote"

    # Tokens, other packs, installed files.
    assert cli_json(env, "token", "list") == tokens_before
    assert [p for p in packs_after if p["ref"] not in (REF, "victim")] == packs_before
    after = releases(home)
    assert {name: after.get(name) for name in releases_before} == releases_before
    verified = cli(env, "pack", "verify", "keeper")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Files: nothing named with the token anywhere, the source unchanged, no snapshot left.
    venv = Path(sys.prefix)
    roots = [Path("/"), Path("/tmp"), Path("/var/tmp"), Path("/etc"), Path("/usr"),
             Path("/usr/local/bin"), Path("/usr/lib"), venv, venv / "lib",
             Path(os.path.expanduser("~")), Path(ATTUNE).parent.parent.parent,
             *venv.glob("lib/python*/site-packages")]
    assert marked_files(token, roots, deep=[tmp_path]) == []
    assert tree_digest(pack) == source_before, "the pack's source directory changed"
    work = home / "work"
    assert not work.exists() or list(work.iterdir()) == [], "a snapshot was left behind"
    assert running_with(token) == [], describe(running_with(token))
