"""A corpus of hostile packs: each one's test TRIES one attack on the registry for real, from
inside the OS sandbox its suite runs in (tests/reliability/test_sandbox_attacks.py registers
them through the real ``attune`` command and checks that nothing outside the sandbox changed).

Most tests assert that their attack failed, so the honest outcome is that the pack registers
with its test passing; an attack whose point is to break the run (a hang, a flood, a forged
result, a CPU spin) expects the registration to be refused instead. Each case says which
(``expect``), and what the refusal must say (``message``) where that is stable.

A test's source is a template: ``@NAME@`` is replaced by the value of ``NAME`` in the context
the harness gives (``Attack.render``): what an attacker could know or guess about the host.

    TOKEN        a unique word: every process an attack leaves, and every file it tries to
                 create outside its snapshot, carries it, so the harness finds them from the host
    ATTUNE_HOME  the registry's data directory (the store, ``releases/``, ``work/``)
    DB_URL       the store's URL, as if it had leaked ("" for the SQLite file)
    ADMIN_URL    a PostgreSQL URL with trust auth on this machine
    VENV         the registry's interpreter prefix (``sys.prefix``)
    REPO         the folder holding the registry's own code (its source checkout)
    USER_HOME    the home directory of the registry's user
    PORT         a TCP port the harness listens on (standing in for the registry's API)
    ABSTRACT     the name of an abstract unix socket the harness listens on
    SOURCE       the absolute path of the pack's own source directory
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["passed", "rejected"]

# The top of every Python attack: what it knows, and where its own snapshot is.
PRELUDE = """
import os, sys, unittest

TOKEN = "@TOKEN@"
ATTUNE_HOME = "@ATTUNE_HOME@"
DB_URL = "@DB_URL@"
ADMIN_URL = "@ADMIN_URL@"
VENV = "@VENV@"
REPO = "@REPO@"
USER_HOME = "@USER_HOME@"
PORT = int("@PORT@")
ABSTRACT = "@ABSTRACT@"
SOURCE = "@SOURCE@"


def snapshot_root():
    here = os.path.abspath(os.getcwd())
    while not os.path.exists(os.path.join(here, "pack.yaml")):
        here = os.path.dirname(here)
    return here


def inside(path, root):
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def spawn_marked(code):
    # A child python whose command line carries TOKEN, so the host can find it.
    import subprocess
    return subprocess.Popen([sys.executable, "-c", code, TOKEN], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
"""


@dataclass(frozen=True)
class Attack:
    id: str
    summary: str
    source: str  # the test file's text, a template (see the module's docstring)
    expect: Outcome = "passed"
    runner: Literal["python_unittest", "shell"] = "python_unittest"
    timeout: int = 20  # the suite's timeout_seconds
    limits: dict[str, int] = field(default_factory=dict)  # the suite's ``limits``
    message: str | None = None  # part of the recorded suite message, when rejected
    needs: frozenset[str] = frozenset()  # extra harness set-up: "victim" (a concurrent one)

    @property
    def test_file(self) -> str:
        return "check.sh" if self.runner == "shell" else "test_attack.py"

    def render(self, context: dict[str, str]) -> str:
        text = self.source if self.runner == "shell" else PRELUDE + self.source
        for name, value in context.items():
            text = text.replace(f"@{name}@", value)
        left = re.findall(r"@[A-Z_]+@", text)
        assert not left, f"no value for {left}"
        return text

    def manifest(self, ref: str) -> dict:
        suite: dict = {"name": "Attack", "runner": self.runner, "working_dir": "tests",
                       "test_files": [self.test_file], "timeout_seconds": self.timeout}
        if self.limits:
            suite["limits"] = dict(self.limits)
        return {"ref": ref, "version": "1.0.0", "label": "Hostile",
                "description": f"attack: {self.id}",
                "testing": {"enabled": True, "test_suites": [suite]}}


def py(source: str) -> str:
    """A unittest module: ``source`` is the body of its one test method, at any indent."""
    body = textwrap.indent(textwrap.dedent(source).strip("\n"), " " * 8)
    return f"\n\nclass Attack(unittest.TestCase):\n    def test_attack(self):\n{body}\n"


CORPUS: list[Attack] = [
    Attack("sqlite-walk-up", "walk up from the working directory to the store and append rows",
           py("""
               import glob, sqlite3
               found, written = [], []
               here = os.getcwd()
               candidates = {os.path.join(ATTUNE_HOME, "attune.db")}
               while True:
                   candidates.update(glob.glob(os.path.join(here, "*.db")))
                   if here == "/":
                       break
                   here = os.path.dirname(here)
               for path in sorted(candidates):
                   if not os.path.exists(path):
                       continue
                   found.append(path)
                   try:
                       db = sqlite3.connect(path, timeout=1)
                       tables = [r[0] for r in db.execute(
                           "select name from sqlite_master where type='table'")]
                       for table in tables:
                           try:
                               db.execute(f'insert into "{table}" default values')
                           except sqlite3.Error:
                               pass
                       db.execute(f"create table pwned_{TOKEN.replace('.', '_')} (x)")
                       db.commit()
                       written.append(path)
                   except sqlite3.Error:
                       pass
               self.assertEqual((found, written), ([], []))
           """)),
    Attack("import-registry-code", "import the registry's code to mint a write token and "
           "unregister another pack", py("""
               from pathlib import Path
               sys.path[:0] = [REPO]
               done = []
               try:
                   from attune_registry.adapters.bootstrap import build_registry
                   from attune_registry.adapters.settings import Settings
                   registry = build_registry(Settings(home=Path(ATTUNE_HOME),
                                                      database_url=DB_URL))
                   registry.create_token("pwned-" + TOKEN, "write", actor="attacker")
                   done.append("token")
                   registry.unregister("bystander", actor="attacker")
                   done.append("unregister")
               except Exception as exc:  # noqa: BLE001 - any failure is the attack failing
                   print("attack failed:", repr(exc), file=sys.stderr)
               self.assertEqual(done, [])
           """)),
    Attack("rewrite-other-snapshot", "rewrite the test files of a concurrent registration's "
           "snapshot, found by globbing $ATTUNE_HOME/work and by walking up", py("""
               import glob
               mine = snapshot_root()
               targets = set(glob.glob(os.path.join(ATTUNE_HOME, "work", "**"), recursive=True))
               up = os.path.dirname(os.path.dirname(mine))
               targets.update(glob.glob(os.path.join(up, "**"), recursive=True))
               written = []
               for path in sorted(targets):
                   if inside(path, mine):
                       continue
                   try:
                       if os.path.isdir(path):
                           open(os.path.join(path, "evil-" + TOKEN), "w").close()
                       else:
                           with open(path, "a") as handle:
                               handle.write("\\nraise SystemExit('backdoored')\\n")
                       written.append(path)
                   except OSError:
                       pass
               self.assertEqual(written, [])
           """), needs=frozenset({"victim"})),
    Attack("backdoor-installed-pack", "append a backdoor to every file of $ATTUNE_HOME/releases",
           py("""
               import glob
               written = []
               root = os.path.join(ATTUNE_HOME, "releases")
               for path in [root, *glob.glob(os.path.join(root, "**"), recursive=True)]:
                   try:
                       if os.path.isdir(path):
                           open(os.path.join(path, "evil-" + TOKEN), "w").close()
                       else:
                           with open(path, "a") as handle:
                               handle.write("\\nimport os; os.system('id')\\n")
                       written.append(path)
                   except OSError:
                       pass
               self.assertEqual(written, [])
           """)),
    Attack("venv-pth", "drop a .pth file into the registry's site-packages", py("""
               import site, sysconfig
               folders = {*site.getsitepackages(), sysconfig.get_paths()["purelib"],
                          os.path.join(VENV, "lib")}
               written = []
               for folder in sorted(folders):
                   try:
                       with open(os.path.join(folder, f"zz-{TOKEN}.pth"), "w") as handle:
                           handle.write("import os; os.system('touch /tmp/pwned')\\n")
                       written.append(folder)
                   except OSError:
                       pass
               self.assertEqual(written, [])
           """)),
    Attack("proc-environ", "read /proc/*/environ looking for ATTUNE_DATABASE_URL", py("""
               found = []
               for pid in filter(str.isdigit, os.listdir("/proc")):
                   for name in ("environ", "cmdline"):
                       try:
                           with open(f"/proc/{pid}/{name}", "rb") as handle:
                               data = handle.read()
                       except OSError:
                           continue
                       if (b"ATTUNE_DATABASE_URL" in data or b"postgresql://" in data
                               or b"ATTUNE_HOME=" in data):
                           found.append((pid, name))
               self.assertEqual(found, [])
               self.assertNotIn("ATTUNE_DATABASE_URL", os.environ)
               self.assertNotIn("ATTUNE_HOME", os.environ)
           """)),
    Attack("postgres-tcp", "connect to PostgreSQL on 127.0.0.1:5432 (socket and psycopg)",
           py("""
               import socket
               reached = []
               for host in ("127.0.0.1", "::1", "localhost"):
                   try:
                       socket.create_connection((host, 5432), timeout=3).close()
                       reached.append(host)
                   except OSError:
                       pass
               try:
                   import psycopg
                   for url in filter(None, (DB_URL.split("?")[0], ADMIN_URL)):
                       try:
                           psycopg.connect(url, connect_timeout=3).close()
                           reached.append(url)
                       except psycopg.Error:
                           pass
               except ImportError:
                   pass
               self.assertEqual(reached, [])
           """)),
    Attack("postgres-unix-socket", "connect to PostgreSQL's unix socket", py("""
               import glob, socket
               reached = []
               paths = {"/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432",
                        "/tmp/.s.PGSQL.5432", *glob.glob("/*/*/.s.PGSQL.*"),
                        *glob.glob("/tmp/.s.PGSQL.*")}
               for path in sorted(paths):
                   client = socket.socket(socket.AF_UNIX)
                   try:
                       client.connect(path)
                       reached.append(path)
                   except OSError:
                       pass
                   finally:
                       client.close()
               try:
                   import psycopg
               except ImportError:
                   psycopg = None
               for folder in {os.path.dirname(p) for p in paths} if psycopg else ():
                   for user in ("postgres", "root"):
                       try:
                           with psycopg.connect(host=folder, user=user, dbname="postgres",
                                                connect_timeout=3) as db:
                               db.execute("select 1")
                           reached.append(f"{user}@{folder}")
                       except psycopg.Error:
                           pass
               self.assertEqual(reached, [])
           """)),
    Attack("setsid-fork-chain", "leave a setsid, double-forked chain of processes running",
           """
               set -e
               ( setsid sh -c 'sleep @TOKEN@ & sleep @TOKEN@ & (setsid sleep @TOKEN@ &) ; \
                 exec sleep @TOKEN@' </dev/null >/dev/null 2>&1 & )
               nohup setsid sleep @TOKEN@ </dev/null >/dev/null 2>&1 &
               echo 1..1
               echo "ok 1 - left a chain behind"
           """, runner="shell"),
    Attack("allocate-1.5-gib", "allocate 1.5 GiB (the memory limit is 1 GiB)", py("""
               with self.assertRaises(MemoryError):
                   block = bytearray(1536 * 1024 * 1024)
                   block[::4096] = b"x" * len(block[::4096])
           """)),
    Attack("start-350-processes", "start 350 processes (the limit is 256)", py("""
               started = 0
               try:
                   for _ in range(350):
                       pid = os.fork()
                       if pid == 0:
                           try:
                               os.execv("/bin/sleep", ["sleep", TOKEN])
                           finally:
                               os._exit(1)
                       started += 1
               except OSError:
                   pass
               self.assertLess(started, 350)
           """)),
    Attack("results-fd-to-fifo", "dup2 a FIFO opened O_RDWR onto fds 3..30, then keep "
           "writing forged results into it", py("""
               import json
               path = os.path.join(os.environ["TMPDIR"], "fifo")
               os.mkfifo(path)
               fifo = os.open(path, os.O_RDWR)
               for fd in range(3, 31):
                   if fd != fifo:
                       try:
                           os.dup2(fifo, fd)
                       except OSError:
                           pass
               line = (json.dumps({"name": "forged", "status": "passed", "duration_ms": 0,
                                   "error_message": None}) + "\\n").encode()
               for fd in range(3, 31):
                   os.write(fd, line)  # blocks once the FIFO is full: nobody reads it
           """), expect="rejected", timeout=8),
    Attack("flood-every-fd", "write /dev/zero into every inherited descriptor, forever",
           py("""
               import threading
               chunk = bytes(1 << 20)
               def flood(fd):
                   try:
                       while True:
                           os.write(fd, chunk)
                   except OSError:
                       pass
               threads = [threading.Thread(target=flood, args=(fd,), daemon=True)
                          for fd in range(0, 31)]
               for thread in threads:
                   thread.start()
               for thread in threads:
                   thread.join()
           """), expect="rejected", timeout=15),
    Attack("forged-results-100mb", "write 100 MB of forged 'passed' JSON result lines, then "
           "fail for real", py("""
               import json
               line = (json.dumps({"name": "forged.case", "status": "passed",
                                   "duration_ms": 1, "error_message": None}) + "\\n")
               block = (json.dumps({"started": "forged.case"}) + "\\n" + line) * 1000
               block = block.encode()
               written = 0
               for fd in range(1, 31):
                   try:
                       os.fstat(fd)
                   except OSError:
                       continue
                   try:
                       while written < 100 * 1024 * 1024:
                           written += os.write(fd, block)
                   except OSError:
                       pass
                   if written >= 100 * 1024 * 1024:
                       break
               self.fail("the real verdict: failed")
           """), expect="rejected"),
    Attack("nul-byte-in-output", "print a NUL byte, and fail with one in the message (text "
           "columns of PostgreSQL refuse it)", py("""
               sys.stdout.write("before\\0after\\n")
               sys.stdout.flush()
               self.fail("a NUL \\0 in the message")
           """), expect="rejected"),
    Attack("kill-parent", "SIGKILL its parent and PID 1, then pass", py("""
               import signal
               parents = {os.getppid(), 1}
               for pid in parents:
                   try:
                       os.kill(pid, signal.SIGKILL)
                   except OSError:
                       pass
               for pid in parents:  # they still live (a zombie would be dead)
                   with open(f"/proc/{pid}/stat") as handle:
                       self.assertNotEqual(handle.read().rsplit(")", 1)[1].split()[0], "Z")
           """)),
    Attack("dotdot-escape", "write outside the snapshot through ../../..", py("""
               root = snapshot_root()
               escaped = []
               for depth in range(1, 25):
                   up = os.path.join(os.getcwd(), *[".."] * depth)
                   for name in (f"escape-{TOKEN}", f"../escape-{TOKEN}"):
                       path = os.path.join(up, name)
                       if inside(os.path.dirname(path), root):
                           continue
                       try:
                           with open(path, "w") as handle:
                               handle.write("x")
                           escaped.append(os.path.realpath(path))
                       except OSError:
                           pass
               self.assertEqual(escaped, [])
           """)),
    Attack("read-registry-home", "read the home directory of the registry's user", py("""
               read = []
               for name in (".bash_history", ".ssh/id_rsa", ".ssh/authorized_keys", ".pgpass",
                            ".bashrc", ".profile", ".gitconfig", ".netrc", ".python_history"):
                   try:
                       with open(os.path.join(USER_HOME, name), "rb") as handle:
                           handle.read(1)
                       read.append(name)
                   except OSError:
                       pass
               self.assertEqual(read, [])
               # At most the way to the interpreter, when it lives in that home.
               try:
                   names = set(os.listdir(USER_HOME))
               except OSError:
                   names = set()
               needed = {os.path.relpath(p, USER_HOME).split(os.sep)[0]
                         for p in (sys.base_prefix, VENV) if inside(p, USER_HOME)}
               self.assertLessEqual(names, needed)
           """)),
    Attack("signal-and-ptrace-everything", "ptrace-attach to and SIGKILL every pid it can see",
           py("""
               import ctypes, signal
               libc = ctypes.CDLL(None, use_errno=True)
               attached, mine = [], os.getpid()
               for pid in sorted(map(int, filter(str.isdigit, os.listdir("/proc")))):
                   if pid == mine:
                       continue
                   if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
                       attached.append(pid)
                       libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
                   try:
                       os.kill(pid, signal.SIGKILL)
                   except OSError:
                       pass
               for pid in range(1, 4194304, 997):  # pids it cannot see
                   if pid != mine:
                       try:
                           os.kill(pid, signal.SIGKILL)
                       except OSError:
                           pass
               self.assertEqual(attached, [])
           """)),
    Attack("api-port", "open a TCP connection to the registry's API port, and an abstract "
           "unix socket of the host", py("""
               import socket
               reached = []
               for host in ("127.0.0.1", "localhost"):
                   try:
                       client = socket.create_connection((host, PORT), timeout=3)
                       client.sendall(b"POST /api/v1/tokens HTTP/1.0\\r\\n\\r\\n")
                       reached.append(host)
                   except OSError:
                       pass
               client = socket.socket(socket.AF_UNIX)
               try:
                   client.connect("\\0" + ABSTRACT)
                   client.sendall(b"hello")
                   reached.append("abstract")
               except OSError:
                   pass
               self.assertEqual(reached, [])
           """)),
    Attack("fill-disk-2-gib", "write a 2 GiB file into its snapshot, HOME and TMPDIR",
           py("""
               import errno
               chunk = bytes(8 << 20)
               for folder in (".", os.environ["HOME"], os.environ["TMPDIR"]):
                   path = os.path.join(folder, "big")
                   with self.assertRaises(OSError) as caught:
                       with open(path, "wb") as handle:
                           for _ in range(256):
                               handle.write(chunk)
                   self.assertEqual(caught.exception.errno, errno.EFBIG)
                   self.assertLessEqual(os.path.getsize(path), 64 << 20)
                   os.remove(path)
           """), limits={"file_size_mb": 64}),
    Attack("fork-bomb", "start a fork bomb and leave it running", py("""
               spawn_marked("import os\\nwhile True:\\n    try:\\n        os.fork()\\n"
                            "    except OSError:\\n        pass\\n")
           """), limits={"processes": 64}),
    Attack("cpu-spin", "spin on the CPU past the limit", py("""
               while True:
                   pass
           """), expect="rejected", limits={"cpu_seconds": 2},
           message="sandbox limit cpu_seconds: 2 s of CPU"),
    Attack("hang-ignoring-sigterm", "ignore SIGTERM and hang, with a child that does too",
           py("""
               import signal
               signal.signal(signal.SIGTERM, signal.SIG_IGN)
               spawn_marked("import signal, time\\nsignal.signal(signal.SIGTERM, "
                            "signal.SIG_IGN)\\nwhile True:\\n    time.sleep(1)\\n")
               while True:
                   signal.pause()
           """), expect="rejected", timeout=5),
    Attack("read-etc-shadow", "read /etc/shadow and friends", py("""
               read = []
               for path in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh",
                            "/etc/postgresql", "/var/lib/postgresql", "/proc/kcore"):
                   try:
                       if os.path.isdir(path):
                           if os.listdir(path):
                               read.append(path)
                       else:
                           with open(path, "rb") as handle:
                               handle.read(1)
                           read.append(path)
                   except OSError:
                       pass
               self.assertEqual(read, [])
           """)),
    Attack("write-usr-etc", "write into /usr, /etc and the host's /tmp", py("""
               written = []
               for folder in ("/usr", "/usr/local/bin", "/usr/lib", "/etc", "/tmp", "/var/tmp",
                              "/", os.path.dirname(os.path.dirname(VENV))):
                   try:
                       with open(os.path.join(folder, f"pwned-{TOKEN}"), "w") as handle:
                           handle.write("x")
                       written.append(folder)
                   except OSError:
                       pass
               for path in ("/etc/passwd", "/etc/hosts"):
                   try:
                       with open(path, "a") as handle:
                           handle.write(f"pwned-{TOKEN}\\n")
                       written.append(path)
                   except OSError:
                       pass
               self.assertEqual(written, [])
           """)),
    Attack("symlink-to-store", "replace its files with links to the store and hope the "
           "registry reads them", py("""
               root = snapshot_root()
               store = os.path.join(ATTUNE_HOME, "attune.db")
               for relative in ("pack.yaml", "tests/test_attack.py", "README.md",
                                "actions/leak.yaml", f"leak-{TOKEN}"):
                   path = os.path.join(root, relative)
                   os.makedirs(os.path.dirname(path), exist_ok=True)
                   if os.path.lexists(path):
                       os.remove(path)
                   os.symlink(store, path)
               os.symlink(ATTUNE_HOME, os.path.join(root, "home-link"))
               try:
                   os.link(store, os.path.join(root, "hard-link"))
               except OSError:
                   pass
               self.assertFalse(os.path.exists(os.path.join(root, "pack.yaml")))
           """)),
    Attack("unshare-mount-setns", "unshare namespaces, mount, setns into PID 1's namespaces "
           "and chroot, then go for the store", py("""
               import ctypes
               libc = ctypes.CDLL(None, use_errno=True)
               tried = {}
               tried["unshare"] = libc.unshare(0x10000000 | 0x00020000)  # USER | NS
               tried["mount-root"] = libc.mount(b"/", b"/tmp", None, 4096 | 16384, None)
               tried["mount-tmpfs"] = libc.mount(b"none", os.environ["TMPDIR"].encode(),
                                                 b"tmpfs", 0, None)
               for kind in ("mnt", "pid", "net", "user"):
                   try:
                       fd = os.open(f"/proc/1/ns/{kind}", os.O_RDONLY)
                       tried["setns-" + kind] = libc.setns(fd, 0)
                   except OSError:
                       pass
               try:
                   os.chroot("/proc/1/root")
                   tried["chroot"] = 0
               except OSError:
                   pass
               reached = [p for p in (os.path.join(ATTUNE_HOME, "attune.db"),
                                      os.path.join(ATTUNE_HOME, "releases"))
                          if os.path.exists(p)]
               try:
                   open(os.path.join(VENV, f"pwned-{TOKEN}"), "w").close()
                   reached.append(VENV)
               except OSError:
                   pass
               print(tried, file=sys.stderr)
               self.assertEqual(reached, [])
           """)),
    Attack("tamper-own-manifest", "rewrite its own pack.yaml and tests in the snapshot to "
           "change what the registry records", py("""
               root = snapshot_root()
               with open(os.path.join(root, "pack.yaml"), "w") as handle:
                   handle.write("ref: hostile\\nversion: 6.6.6\\nlabel: Tampered\\n"
                                "description: tampered-" + TOKEN + "\\n")
               os.makedirs(os.path.join(root, "actions"), exist_ok=True)
               with open(os.path.join(root, "actions", "evil.yaml"), "w") as handle:
                   handle.write("name: evil-" + TOKEN + "\\nrunner_type: shell\\n")
               with open(__file__, "a") as handle:
                   handle.write("\\n# tampered\\n")
               # The pack's source directory is not writable either.
               with self.assertRaises(OSError):
                   open(os.path.join(SOURCE, "pack.yaml"), "a").close()
           """)),
]
