"""The built-in sandbox, used when bubblewrap is not installed: runs one command in new Linux
namespaces under a Landlock ruleset, below a tiny init of its own (PID 1).

Executed as a script (``python -I``, standard library and ctypes only: it must not import the
registry).

Usage:
    enter_namespaces.py --probe
    enter_namespaces.py SPEC_JSON -- COMMAND [ARG ...]

SPEC_JSON is an object; every field is optional and no other field is accepted:
    "read":    [absolute paths]  readable and executable, with everything beneath them
    "write":   [absolute paths]  every file-system right beneath them
    "devices": [device files]    opened read-write (and their ioctls)
    "network": false             true keeps the caller's network namespace
    "uid", "gid": null or int    the ids to run as (only possible when started as root)
Paths that do not exist are skipped.

Guarantee: the command is executed only once every step below has succeeded, never unconfined.
It runs in new mount, PID, IPC and UTS namespaces (and network, unless "network" is true; a
user namespace too when not started as root), with no new privileges and a Landlock ruleset that
allows only the paths above and a fresh /proc that shows only the sandbox's processes. When
the command exits, when the launcher is sent SIGTERM, and when the launcher dies (even by
SIGKILL), every process started inside is killed: PID 1 kills the rest of its namespace, and the
kernel kills a PID namespace whose PID 1 is gone.

Exit status: the command's exit code, or 128+N when signal N killed it (as a shell reports it:
PID 1 of a namespace cannot die of a signal it re-raises at itself); 143 after a SIGTERM; 125
when the sandbox could not be set up, with one line "sandbox: STEP: ERROR" on stderr; 126 when
the command cannot be executed and 127 when it is not found (as env(1)).

--probe sets up the same sandbox in a throw-away child and prints one JSON object, e.g.
{"ok": true, "landlock_abi": 7, "user_namespace": false, "scoped": true} ("user_namespace":
whether one is needed, i.e. not root) or {"ok": false, "missing": "..."}; exit 0 if ok, else 1.
"""

import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags at the start of a 24-byte union

# The Landlock system calls have the same numbers on every architecture.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
# The rights a rule on a file (not a directory) may carry; any other is EINVAL there.
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
FS_READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FS_DEVICE_RIGHTS = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
# ABI 6: no connecting to abstract unix sockets nor signalling processes outside the domain.
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

SETUP_FAILED = 125
CANNOT_EXECUTE = 126
NOT_FOUND = 127
TERMINATED = 128 + signal.SIGTERM

SPEC_LISTS = ("read", "write", "devices")
SPEC_IDS = ("uid", "gid")
FORWARDED = {signal.SIGTERM, signal.SIGINT}
PROBE_SPEC = {"read": [], "write": [], "devices": [], "network": False, "uid": None, "gid": None,
              "seccomp": None}
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """A step of the sandbox failed: the command must not run."""


class RulesetAttr(ctypes.Structure):
    _fields_ = (("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64))


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header: 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def checked(result, step):
    if result < 0:
        raise SetupError(f"{step}: {os.strerror(ctypes.get_errno())}")
    return result


def syscall(number, *args):
    # glibc's syscall() reads every argument as a long: widen plain ints to avoid garbage bits.
    wide = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(number), *wide)


def prctl(option, value, step):
    checked(libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0)), step)


def report(message):
    # One unbuffered write: this may run in a forked child that leaves by os._exit.
    try:
        os.write(2, f"sandbox: {message}\n".encode(errors="replace"))
    except OSError:
        pass


def parse_spec(text):
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise SetupError(f"spec: not JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise SetupError("spec: not a JSON object")
    unknown = sorted(set(spec) - set(PROBE_SPEC))
    if unknown:
        raise SetupError(f"spec: unknown field {unknown[0]!r}")
    parsed = {**PROBE_SPEC, **spec}
    for key in SPEC_LISTS:
        paths = parsed[key]
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            raise SetupError(f"spec: {key!r} must be a list of strings")
        for path in paths:
            if not os.path.isabs(path) or "\0" in path:
                raise SetupError(f"spec: {key!r}: {path!r} is not an absolute path")
    if not isinstance(parsed["network"], bool):
        raise SetupError("spec: 'network' must be true or false")
    for key in SPEC_IDS:
        value = parsed[key]
        # bool is an int to Python, not to the spec; -1 would mean "unchanged" to setresuid.
        if value is not None and (type(value) is not int or not 0 <= value < 2**32 - 1):
            raise SetupError(f"spec: {key!r} must be null or a uid/gid number")
    program = parsed["seccomp"]
    if program is not None:
        # A classic BPF program as hex: 8 bytes (16 digits) per instruction.
        if (not isinstance(program, str) or not program or len(program) % 16
                or len(program) > 16 * 4096):
            raise SetupError("spec: 'seccomp' must be null or a BPF program in hex")
        try:
            parsed["seccomp"] = bytes.fromhex(program)
        except ValueError:
            raise SetupError("spec: 'seccomp' must be null or a BPF program in hex") from None
    return parsed


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(program):
    """The registry's seccomp filter (no new privileges is already set): from here on, for
    this process and everything it starts."""
    if program is None:
        return
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    checked(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
            "prctl(PR_SET_SECCOMP)")


def landlock_abi():
    abi = syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 0:
        error = ctypes.get_errno()
        if error == errno.ENOSYS:
            raise SetupError("Landlock (the kernel is built without it)")
        if error == errno.EOPNOTSUPP:
            raise SetupError("Landlock (the kernel reports it disabled)")
        raise SetupError(f"Landlock ({os.strerror(error)})")
    return abi


def handled_rights(abi):
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def enter_namespaces(network):
    """unshare() the launcher itself: its next child is PID 1 of the new PID namespace."""
    uid, gid = os.geteuid(), os.getegid()
    names = ["CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWIPC", "CLONE_NEWUTS"]
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not network:
        names.append("CLONE_NEWNET")
        flags |= CLONE_NEWNET
    rootless = uid != 0
    if rootless:  # root can create the others itself; anyone else needs a user namespace first
        names.append("CLONE_NEWUSER")
        flags |= CLONE_NEWUSER
    checked(libc.unshare(ctypes.c_int(flags)), f"unshare({'|'.join(names)})")
    if rootless:
        # Map our ids to themselves, so our files keep their owner. setgroups must be denied
        # before an unprivileged process may write a gid_map.
        for name, line in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"),
                           ("gid_map", f"{gid} {gid} 1\n")):
            write_once(f"/proc/self/{name}", line)
    if not network:
        loopback_up()


def write_once(path, text):
    # These files take their whole content in a single write(2).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise SetupError(f"write {path}: {exc.strerror}") from None


def loopback_up():
    # A new network namespace has only "lo", and it is down: tests still bind 127.0.0.1.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0))
            flags = struct.unpack(IFREQ, answer)[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))
    except OSError as exc:
        raise SetupError(f"bring loopback up: {exc.strerror}") from None


def launch(spec, command, dispositions):
    """Enter the namespaces, fork PID 1 and mirror its end. Never returns."""
    enter_namespaces(spec["network"])
    # The parent holds the only write end: EOF on the read end means the parent is gone.
    death_read, death_write = os.pipe()
    # Blocked until each process has its handlers: none is lost, and PID 1 ignores a signal
    # it has no handler for.
    saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pid = os.fork()
    if pid == 0:
        os.close(death_write)
        code = SETUP_FAILED
        try:
            code = init(spec, command, death_read, dispositions, saved_mask)
        except SetupError as exc:
            report(exc)
        except BaseException as exc:
            report(f"pid 1: {exc!r}")
        finally:
            os._exit(code)
    os.close(death_read)
    mirror(pid, saved_mask)


def mirror(child, saved_mask):
    """Forward SIGTERM/SIGINT to ``child`` until it ends, then end the same way."""

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
    # WNOWAIT leaves it a zombie: its pid cannot be reused by a stranger while we may still
    # forward a signal to it.
    os.waitid(os.P_PID, child, os.WEXITED | os.WNOWAIT)
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    _, status = os.waitpid(child, 0)
    sys.stdout.flush()
    if os.WIFSIGNALED(status):
        killer = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the dump would be ours, not the test's
        signal.signal(killer, signal.SIG_DFL)
        os.kill(os.getpid(), killer)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {killer})
        os._exit(128 + killer)  # only if the signal somehow did not end us
    os._exit(os.waitstatus_to_exitcode(status))


def init(spec, command, death_read, dispositions, saved_mask):
    """PID 1 of the new namespace: confine itself, then run ``command`` (None: the probe)."""
    die_with_parent(death_read)
    if os.getpid() != 1:  # kill(-1) from anywhere else would reach far more than the sandbox
        raise SetupError("unshare(CLONE_NEWPID): the child is not PID 1")
    # Without a controlling terminal a test cannot inject input into the caller's (TIOCSTI).
    os.setsid()
    checked(libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None),
            "make mounts private (mount / MS_REC|MS_PRIVATE)")
    checked(libc.mount(b"proc", b"/proc", b"proc",
                       ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC), None),
            "mount proc on /proc")
    hide_runtime_sockets(spec)
    confine(spec)
    drop_ids(spec["uid"], spec["gid"])
    install_filter(spec["seccomp"])
    # Changing the uid or gid cleared the parent-death signal: set it again.
    die_with_parent(death_read)
    os.close(death_read)
    if command is None:
        return 0
    return reap(command, dispositions, saved_mask)


def hide_runtime_sockets(spec):
    """An empty /run: Landlock cannot refuse connect() on a host's UNIX socket, and /run holds
    most of them (PostgreSQL's, MySQL's, D-Bus, container engines). Kept when the spec
    lists a path under it."""
    listed = spec["read"] + spec["write"] + spec["devices"]
    if not os.path.isdir("/run") or any(p == "/run" or p.startswith("/run/") for p in listed):
        return
    checked(libc.mount(b"tmpfs", b"/run", b"tmpfs",
                       ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC), b"mode=0755"),
            "mount an empty tmpfs on /run")


def die_with_parent(death_read):
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
    # The parent may have died before the prctl. getppid() cannot tell: the parent lives in
    # the outer PID namespace, so it reads 0 here whether the parent is alive or not.
    if select.select([death_read], [], [], 0)[0]:
        raise SetupError("the launcher died during setup")


def confine(spec):
    """No new privileges, then Landlock: only the spec's paths, a read-only /proc."""
    abi = landlock_abi()
    handled = handled_rights(abi)
    attr = RulesetAttr(handled, 0, 0)
    size = 8 if abi < 4 else 16  # the struct grew with each field; pass what this ABI knows
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = checked(syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0),
                      "landlock_create_ruleset")
    try:
        for path in spec["read"]:
            allow(ruleset, path, FS_READ_RIGHTS & handled)
        for path in spec["write"]:
            allow(ruleset, path, handled)
        for path in spec["devices"]:
            allow(ruleset, path, FS_DEVICE_RIGHTS & handled, device=True)
        allow(ruleset, "/proc", FS_READ_FILE | FS_READ_DIR)
        prctl(PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
        checked(syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def allow(ruleset, path, rights, device=False):
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise SetupError(f"landlock: open {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(target).st_mode
        if device and not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            raise SetupError(f"landlock: {path} is not a device file")
        if not stat.S_ISDIR(mode):
            rights &= FS_FILE_RIGHTS
        attr = PathBeneathAttr(rights, target)
        checked(syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                        ctypes.byref(attr), 0), f"landlock_add_rule {path}")
    finally:
        os.close(target)


def drop_ids(uid, gid):
    try:
        if uid is not None or gid is not None:
            os.setgroups([])
        if gid is not None:
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
    except OSError as exc:
        raise SetupError(f"set uid {uid} / gid {gid}: {exc.strerror}") from None
    if os.geteuid() == 0:
        drop_capabilities()


def drop_capabilities():
    """Still root (no uid was given): keep the uid but no capability, now or after exec (an
    empty bounding set; exec as root grants no more than it)."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:
                break  # past the last capability this kernel knows
            raise SetupError(f"prctl(PR_CAPBSET_DROP, {cap}): "
                             f"{os.strerror(ctypes.get_errno())}")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two (effective, permitted, inheritable) triples, all empty
    checked(libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset (drop all)")


def reap(command, dispositions, saved_mask):
    """Run ``command``, reap every orphan, and once it ends kill all that is left."""
    running = True
    terminating = False

    def kill_all():
        # From PID 1, -1 means every other process of this namespace.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def on_term(_signum, _frame):
        nonlocal terminating
        terminating = True
        kill_all()

    def on_int(_signum, _frame):
        if running:  # the command's group, as a terminal's Ctrl-C would
            try:
                os.killpg(pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    pid = os.fork()
    if pid == 0:
        execute(command, dispositions, saved_mask)
    signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
    code = None
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if reaped == pid:
            running = False
            code = os.waitstatus_to_exitcode(status)
            code = code if code >= 0 else 128 - code
        if not running:
            # Again after each reap: a process may have been forking while we killed.
            kill_all()
    return TERMINATED if terminating else code


def execute(command, dispositions, saved_mask):
    try:
        for signum, disposition in dispositions.items():
            signal.signal(signum, disposition)
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        # A group of its own: a test that signals its own group does not reach PID 1.
        os.setpgid(0, 0)
        os.execvpe(command[0], command, os.environ)
    except OSError as exc:
        report(f"exec {command[0]}: {exc.strerror}")
        os._exit(NOT_FOUND if exc.errno == errno.ENOENT else CANNOT_EXECUTE)
    except BaseException as exc:
        report(f"exec {command[0]}: {exc!r}")
    os._exit(CANNOT_EXECUTE)


def inherited_dispositions():
    """What the command starts with: Python ignores SIGPIPE and SIGXFSZ for itself, and an
    ignored SIGINT/SIGTERM (a background job's) stays ignored, as the caller meant."""
    dispositions = {signal.SIGPIPE: signal.SIG_DFL, signal.SIGXFSZ: signal.SIG_DFL}
    for signum in FORWARDED:
        ignored = signal.getsignal(signum) == signal.SIG_IGN
        dispositions[signum] = signal.SIG_IGN if ignored else signal.SIG_DFL
    return dispositions


def probe():
    """Set the sandbox up in a child, as a real run would, without running anything."""
    try:
        abi = landlock_abi()
    except SetupError as exc:
        return answer({"ok": False, "missing": str(exc)})
    errors_read, errors_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(errors_read)
        os.dup2(errors_write, 2)  # the child's "sandbox: ..." line is ours to report
        try:
            launch(PROBE_SPEC, None, inherited_dispositions())
        except SetupError as exc:
            report(exc)
        except BaseException as exc:
            report(f"{exc!r}")
        os._exit(SETUP_FAILED)
    os.close(errors_write)
    with os.fdopen(errors_read, "rb") as errors:
        said = errors.read().decode(errors="replace").strip()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0:
        lines = said.splitlines()
        missing = lines[0].removeprefix("sandbox: ") if lines else f"exit status {code}"
        return answer({"ok": False, "missing": missing})
    return answer({"ok": True, "landlock_abi": abi, "user_namespace": os.geteuid() != 0,
                   "scoped": abi >= 6})


def answer(result):
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def main(argv):
    # An inherited SIG_IGN would have the kernel reap our children before we can wait.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if argv == ["--probe"]:
        return probe()
    dispositions = inherited_dispositions()
    try:
        if len(argv) < 3 or argv[1] != "--":
            raise SetupError("usage: enter_namespaces.py --probe | SPEC_JSON -- COMMAND [ARG ...]")
        launch(parse_spec(argv[0]), argv[2:], dispositions)
    except SetupError as exc:
        report(exc)
    return SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
