"""The built-in namespaces launcher (the sandbox when bubblewrap is missing), run for real:
what a command inside may touch, which processes it sees, and that none outlives it."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "adapters" / "sandbox" / "child" / "enter_namespaces.py"
SYSTEM_READ = [sys.base_prefix, sys.prefix, "/usr", "/etc", "/lib", "/lib64", "/bin",
               str(LAUNCHER.parent)]
DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"]
# Only to never hang the suite; no test depends on how fast anything is.
TIMEOUT = 60
NOBODY = 65534
POSTGRES_PORT = 5432

# Run inside: a chain of processes, each forking the next and exiting (the first one leaves the
# session), as a daemon does. Every link writes its pid (as seen inside) to a file and sends a
# message on the socket it inherited, whose receiver learns the sender's pid as seen outside.
# The last link stays; the command itself waits for the test's word, then exits.
CHAIN = """
import os, signal, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
pid_file, links = sys.argv[2], int(sys.argv[3])
command = os.getpid()
for depth in range(links):
    if os.fork():
        if os.getpid() == command:
            break
        os._exit(0)
    if depth == 0:
        os.setsid()
    with open(pid_file, "a") as pids:
        pids.write(f"{os.getpid()}\\n")
    sock.send(b"link")
else:
    while True:
        signal.pause()
sock.recv(16)
"""


def spec(write: Path | None = None, **fields: object) -> dict[str, object]:
    return {"read": SYSTEM_READ, "write": [str(write)] if write else [], "devices": DEVICES,
            "network": False, "uid": None, "gid": None, **fields}


def launcher_argv(sandbox: dict[str, object] | str, command: list[str],
                  python: str = sys.executable) -> list[str]:
    text = sandbox if isinstance(sandbox, str) else json.dumps(sandbox)
    return [python, "-I", str(LAUNCHER), text, "--", *command]


def launch(sandbox: dict[str, object] | str, command: list[str], *, cwd: Path | str = "/",
           interpreter: str = sys.executable, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(launcher_argv(sandbox, command, interpreter), cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, **kwargs)


def python(code: str, *args: str, interpreter: str = sys.executable) -> list[str]:
    return [interpreter, "-I", "-c", code, *args]


def attempt(action: str) -> str:
    """Code printing what ``action`` (one expression) did: "ok" or the exception's class."""
    return (f"try:\n    {action}\n    print('ok')\n"
            f"except OSError as exc:\n    print(type(exc).__name__)\n")


def process_start(pid: int) -> str | None:
    """The start time of a live (not zombie) process ``pid``, which tells it apart from a later
    process given the same pid; None if there is none."""
    try:
        after_comm = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, start = after_comm[0], after_comm[19]
    return None if state == "Z" else start


def open_to_others(path: str | Path, needed: int) -> bool:
    """Whether a uid with no rights of its own (like nobody) has the ``needed`` "other" mode bits
    on ``path``, and can reach it (every folder above it searchable)."""
    real = Path(os.path.realpath(path))
    if not real.is_file():
        return False
    if not all(os.stat(folder).st_mode & stat.S_IXOTH for folder in real.parents):
        return False
    return os.stat(real).st_mode & needed == needed


def interpreter_for_nobody() -> str:
    """A Python that nobody can run (the venv's may live under a private home)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if open_to_others(candidate, stat.S_IROTH | stat.S_IXOTH):
            return candidate
    pytest.skip("no Python interpreter here that an unprivileged uid can execute")


def test_probe_reports_the_sandbox_works_here():
    done = subprocess.run([sys.executable, "-I", str(LAUNCHER), "--probe"], capture_output=True,
                          text=True, timeout=TIMEOUT)

    report = json.loads(done.stdout)
    assert done.returncode == 0, done
    assert report["ok"] is True
    assert isinstance(report["landlock_abi"], int) and report["landlock_abi"] >= 1
    assert report["user_namespace"] is (os.geteuid() != 0)


class TestFiles:
    def test_writes_in_its_write_folder_and_nowhere_else(self, tmp_path):
        work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
        work.mkdir()
        elsewhere.mkdir()
        code = (f"open({str(work / 'made.txt')!r}, 'w').write('made')\n"
                + attempt(f"open({str(elsewhere / 'planted.txt')!r}, 'w')"))

        done = launch(spec(work), python(code), cwd=work)

        assert (done.returncode, done.stdout.strip()) == (0, "PermissionError"), done.stderr
        assert (work / "made.txt").read_text() == "made"
        assert not (elsewhere / "planted.txt").exists()

    def test_cannot_read_a_folder_it_was_not_given(self, tmp_path):
        work, secrets = tmp_path / "work", tmp_path / "secrets"
        work.mkdir()
        secrets.mkdir()
        (secrets / "key.txt").write_text("s3cret")
        code = (attempt(f"print(open({str(secrets / 'key.txt')!r}).read())")
                + attempt(f"print(__import__('os').listdir({str(secrets)!r}))"))

        done = launch(spec(work), python(code), cwd=work)

        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["PermissionError", "PermissionError"]

    def test_a_read_folder_is_readable_but_not_writable(self, tmp_path):
        work, shared = tmp_path / "work", tmp_path / "shared"
        work.mkdir()
        shared.mkdir()
        (shared / "data.txt").write_text("shared data")
        code = (f"print(open({str(shared / 'data.txt')!r}).read())\n"
                + attempt(f"open({str(shared / 'data.txt')!r}, 'a')")
                + attempt(f"open({str(shared / 'new.txt')!r}, 'w')"))
        sandbox = spec(work, read=[*SYSTEM_READ, str(shared)])

        done = launch(sandbox, python(code), cwd=work)

        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["shared data", "PermissionError", "PermissionError"]
        assert (shared / "data.txt").read_text() == "shared data"
        assert not (shared / "new.txt").exists()


class TestNetwork:
    def test_servers_on_the_hosts_loopback_are_out_of_reach(self, tmp_path):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
            ports = [port]
            try:  # PostgreSQL, when this machine runs one
                socket.create_connection(("127.0.0.1", POSTGRES_PORT), timeout=TIMEOUT).close()
                ports.append(POSTGRES_PORT)
            except OSError:
                pass
            code = "".join(attempt(f"__import__('socket').create_connection(('127.0.0.1', {p}),"
                                   f" timeout={TIMEOUT}).close()") for p in ports)

            done = launch(spec(tmp_path), python(code), cwd=tmp_path)

        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["ConnectionRefusedError"] * len(ports)

    def test_the_sandbox_has_a_working_loopback_of_its_own(self, tmp_path):
        code = ("import socket\n"
                "with socket.create_server(('127.0.0.1', 0)) as server:\n"
                f"    client = socket.create_connection(server.getsockname(), timeout={TIMEOUT})\n"
                "    peer, _ = server.accept()\n"
                "    client.sendall(b'ping')\n"
                "    print(peer.recv(4).decode())\n")

        done = launch(spec(tmp_path), python(code), cwd=tmp_path)

        assert (done.returncode, done.stdout.strip()) == (0, "ping"), done.stderr

    def test_network_true_keeps_the_hosts_network(self, tmp_path):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            code = attempt(f"__import__('socket').create_connection(('127.0.0.1', {port}),"
                           f" timeout={TIMEOUT}).close()")

            done = launch(spec(tmp_path, network=True), python(code), cwd=tmp_path)

        assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


class TestProcesses:
    def test_the_command_sees_only_the_sandboxs_processes(self, tmp_path):
        code = ("import os\n"
                "print(os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")

        done = launch(spec(tmp_path), python(code), cwd=tmp_path)

        assert done.returncode == 0, done.stderr
        own, visible = done.stdout.split(" ", 1)
        assert int(own) < 10
        # PID 1 (the launcher's init) and the command: nothing of the host.
        assert json.loads(visible) == [1, int(own)]

    @pytest.mark.parametrize(("ending", "status"), [
        ("command exits", 0),
        ("launcher gets SIGTERM", 128 + signal.SIGTERM),
        ("launcher is killed", -signal.SIGKILL),
    ])
    def test_a_daemonised_chain_dies_with_the_sandbox(self, tmp_path, ending, status):
        links = 4
        pid_file = tmp_path / "pids.txt"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ours.settimeout(TIMEOUT)
        with ours:
            with theirs:
                launcher = subprocess.Popen(
                    launcher_argv(spec(tmp_path), python(CHAIN, str(theirs.fileno()),
                                                         str(pid_file), str(links))),
                    cwd=tmp_path, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            seen = {}  # outer pid -> start time, for the links still alive when they reported
            try:
                for _ in range(links):
                    data, ancillary, _flags, _address = ours.recvmsg(16, socket.CMSG_SPACE(12))
                    assert data == b"link", launcher.communicate(timeout=TIMEOUT)
                    pid = next(struct.unpack("3i", payload)[0]
                               for level, kind, payload in ancillary
                               if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS))
                    start = process_start(pid)
                    if start is not None:
                        seen[pid] = start
                last = pid
                # The last link is a live daemon now: the check below can see one.
                assert last in seen and process_start(last) == seen[last]
                daemon = os.pidfd_open(last)
                if ending == "command exits":
                    ours.send(b"go")
                elif ending == "launcher gets SIGTERM":
                    launcher.send_signal(signal.SIGTERM)
                else:
                    launcher.kill()
                _stdout, stderr = launcher.communicate(timeout=TIMEOUT)
                if ending == "launcher is killed":
                    # Nobody waits for the sandbox here: the kernel ends it (parent-death
                    # signal to PID 1, then the whole namespace) once the launcher is gone,
                    # each process in its own time: wait for every link still there.
                    assert select.select([daemon], [], [], TIMEOUT)[0] == [daemon]
                    for pid in seen:
                        try:
                            link = os.pidfd_open(pid)
                        except ProcessLookupError:
                            continue
                        select.select([link], [], [], TIMEOUT)
                        os.close(link)
                os.close(daemon)
            finally:
                if launcher.poll() is None:
                    launcher.kill()
                    launcher.wait(TIMEOUT)

        assert launcher.returncode == status, stderr
        inner_pids = pid_file.read_text().split()
        assert len(set(inner_pids)) == links
        assert [pid for pid, start in seen.items() if process_start(pid) == start] == []


class TestIdentity:
    @pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a command as another uid")
    def test_runs_as_the_uid_and_gid_it_is_given(self, tmp_path):
        interpreter = interpreter_for_nobody()
        code = "import os; print(os.getuid(), os.getgid(), os.getgroups())"

        done = launch(spec(tmp_path, uid=NOBODY, gid=NOBODY),
                      python(code, interpreter=interpreter))

        assert (done.returncode, done.stdout.strip()) == (0, f"{NOBODY} {NOBODY} []"), done.stderr

    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start it as an unprivileged uid")
    def test_an_unprivileged_caller_gets_a_user_namespace_of_its_own(self):
        interpreter = interpreter_for_nobody()
        if not open_to_others(LAUNCHER, stat.S_IROTH):
            pytest.skip("the launcher is not readable by an unprivileged uid here")
        code = ("import os\n"
                "print(os.getuid(), os.stat('/proc/self').st_uid,"
                " sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1, os.getpid()])")
        sandbox = spec(read=["/usr", "/etc", "/lib", "/lib64", "/bin", str(LAUNCHER.parent)])

        done = launch(sandbox, python(code, interpreter=interpreter), interpreter=interpreter,
                      user=NOBODY, group=NOBODY, extra_groups=[])

        # Our own uid, mapped to itself: files and processes keep their owner.
        assert (done.returncode, done.stdout.strip()) == (0, f"{NOBODY} {NOBODY} True"), \
            done.stderr


class TestExitStatus:
    def test_the_commands_exit_code_is_the_launchers(self, tmp_path):
        done = launch(spec(tmp_path), python("import sys; sys.exit(3)"), cwd=tmp_path)

        assert done.returncode == 3, done.stderr

    def test_a_command_killed_by_a_signal_exits_128_plus_the_signal(self, tmp_path):
        code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"

        done = launch(spec(tmp_path), python(code), cwd=tmp_path)

        assert done.returncode == 128 + signal.SIGKILL, done.stderr

    def test_a_command_that_does_not_exist_exits_127(self, tmp_path):
        done = launch(spec(tmp_path), [str(tmp_path / "no-such-program")], cwd=tmp_path)

        assert done.returncode == 127
        assert done.stderr.startswith("sandbox: exec ")

    @pytest.mark.parametrize("bad_spec", [
        '{"read": [], "netwrok": false}',
        '{"read": "/usr"}',
        '{"write": ["relative/folder"]}',
        '{"network": "no"}',
        '{"uid": true}',
        '{"gid": -1}',
        '["/usr"]',
        "not json",
    ])
    def test_an_invalid_spec_is_refused_before_anything_runs(self, tmp_path, bad_spec):
        marker = tmp_path / "ran"

        done = launch(bad_spec, python(f"open({str(marker)!r}, 'w')"), cwd=tmp_path)

        assert done.returncode == 125
        assert done.stderr.startswith("sandbox: spec: ") and done.stderr.count("\n") == 1
        assert not marker.exists()

    def test_a_failure_inside_the_namespaces_is_125_and_nothing_runs(self, tmp_path):
        marker = tmp_path / "ran"
        # A folder is no device file: the rule is refused in PID 1, after unshare().
        sandbox = spec(tmp_path, devices=[*DEVICES, str(tmp_path)])

        done = launch(sandbox, python(f"open({str(marker)!r}, 'w')"), cwd=tmp_path)

        assert done.returncode == 125
        assert done.stderr == f"sandbox: landlock: {tmp_path} is not a device file\n"
        assert not marker.exists()
