"""One suite's sandbox: how its command is wrapped, as whom it runs, what it may use."""

from __future__ import annotations

import json
import os
import resource
import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from attune_registry.domain.results import Isolation
from attune_registry.domain.vocabulary import SandboxMechanism

from attune_registry.adapters.sandbox.bwrap import ETC_FILES, bwrap_argv
from attune_registry.adapters.sandbox.seccomp import filter_program

LAUNCHER = Path(__file__).resolve().parent / "child" / "enter_namespaces.py"
# When the registry runs as root, each suite runs as an unprivileged uid of its own from this
# range (no account has it, no file outside the suite's own belongs to it, and no two suites
# share one, so they cannot signal each other or share a process count).
SANDBOX_UID_BASE = 1_800_000_000
SANDBOX_UID_SPAN = 100_000_000
# Device files a test may open read-write (the namespaces launcher lists them one by one).
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_RLIMITS = {"memory_mb": (resource.RLIMIT_AS, 1024 * 1024),
            "processes": (resource.RLIMIT_NPROC, 1),
            "open_files": (resource.RLIMIT_NOFILE, 1),
            "file_size_mb": (resource.RLIMIT_FSIZE, 1024 * 1024),
            "cpu_seconds": (resource.RLIMIT_CPU, 1)}


def system_read_paths() -> list[str]:
    """What every suite reads: the interpreter, its libraries, the registry's environment (read
    only: a test cannot plant a ``.pth`` in it) and the small scripts that run inside."""
    children = Path(__file__).resolve().parent.parent / "runners"
    return [sys.base_prefix, sys.prefix, str(Path(sys.executable).parent),
            str(children / "child"), str(children / "pytest_plugin"), str(LAUNCHER.parent)]


def _reachable(path: str) -> bool:
    """Whether any user may pass through every folder above ``path`` (o+x)."""
    return all(os.stat(parent).st_mode & 0o001 for parent in Path(path).resolve().parents)


@dataclass(frozen=True)
class Jail:
    """The sandbox of one suite run."""

    mechanism: SandboxMechanism
    network: bool
    limits: dict[str, int]
    bwrap: str | None = None  # the bwrap executable, for that mechanism
    uid: int | None = field(default=None)  # the unprivileged uid, when the registry is root
    shared: tuple[str, ...] = ()  # ATTUNE_SANDBOX_SHARE: writable by every suite, never chowned

    @classmethod
    def create(cls, mechanism: SandboxMechanism, *, network: bool, limits: dict[str, int],
               bwrap: str | None = None, shared: tuple[str, ...] = ()) -> Jail:
        uid = None
        # bwrap builds a new root where every folder on the way is world-traversable; the
        # namespaces launcher keeps the host's tree, so it can only switch uid when that uid
        # can reach the interpreter (else it keeps root, with no capability at all).
        if mechanism != "off" and os.geteuid() == 0 and (
                mechanism == "bwrap" or all(map(_reachable, system_read_paths()))):
            uid = SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN)
        if mechanism == "namespaces" and os.geteuid() == 0 and uid is None:
            # Processes of uid 0 are not counted against RLIMIT_NPROC: do not claim it.
            limits = {name: value for name, value in limits.items() if name != "processes"}
        return cls(mechanism, network, limits, bwrap, uid, shared)

    @property
    def covers(self) -> list[str]:
        """What this sandbox enforces: ``identity`` means the suite does not run as the
        registry's own uid with its capabilities (as root: a uid of its own)."""
        if self.mechanism == "off":
            return ["limits"]
        covered = ["files", "processes", *([] if self.network else ["network"]), "ipc"]
        if self.uid is not None or os.geteuid() != 0:
            covered.append("identity")
        if filter_program() is not None:
            covered.append("syscalls")
        return [*covered, "limits"]

    def isolation(self) -> Isolation:
        return Isolation(mechanism=self.mechanism, network=self.network or self.mechanism == "off",
                         covers=self.covers, limits=dict(self.limits), shared=list(self.shared))

    def give(self, paths: Iterable[str], fds: Iterable[int] = ()) -> None:
        """Hand the suite's writable folders, and the pipes it writes results to (a runner
        may reopen one as ``/dev/fd/N``), to its uid (when there is one)."""
        if self.uid is None:
            return
        for fd in fds:
            os.fchown(fd, self.uid, self.uid)
        for top in paths:
            os.chown(top, self.uid, self.uid)
            for folder, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.chown(os.path.join(folder, name), self.uid, self.uid,
                             follow_symlinks=False)

    def supervisor_options(self) -> list[str]:
        """What the supervisor must do itself: under bwrap as root, drop to the suite's uid."""
        if self.mechanism == "bwrap" and self.uid is not None:
            return ["--as-uid", str(self.uid)]
        return []

    def wrap(self, command: list[str], *, write: list[str], read: Sequence[str] = (),
             info_fd: int | None = None) -> tuple[list[str], list[int]]:
        """``command`` (the supervisor and the test) inside this sandbox, and descriptors the
        sandbox reads at start (the caller passes them on, then closes them). ``read`` are
        folders the suite may read beyond the system's (its Python environment, the packs it
        depends on). bwrap writes the host pid of the sandbox's PID 1 to ``info_fd``."""
        read = [*system_read_paths(), *read]
        write = [*write, *self.shared]
        program = filter_program()
        if self.mechanism == "bwrap":
            assert self.bwrap is not None
            argv = bwrap_argv(executable=self.bwrap, read=read, write=write,
                              network=self.network, as_root=os.geteuid() == 0)
            fds: list[int] = []
            if program is not None:
                fd = os.memfd_create("attune-seccomp", 0)
                os.write(fd, program)
                os.lseek(fd, 0, os.SEEK_SET)
                fds.append(fd)
                argv[-1:-1] = ["--seccomp", str(fd)]  # before the closing "--"
            if info_fd is not None:
                argv[-1:-1] = ["--info-fd", str(info_fd)]
            return [*argv, *command], fds
        if self.mechanism == "namespaces":
            etc = [f"/etc/{name}" for name in ETC_FILES]
            spec = {"read": ["/usr", "/bin", "/sbin", "/lib", "/lib64", *etc, *read],
                    "write": write, "devices": list(DEVICES), "network": self.network,
                    "uid": self.uid, "gid": self.uid,
                    "seccomp": program.hex() if program is not None else None}
            return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec), "--", *command], []
        return command, []

    def apply_limits(self) -> None:
        """Set the suite's limits on the calling process (a child before exec): every process
        of the suite inherits them."""
        for name, value in self.limits.items():
            which, unit = _RLIMITS[name]
            _soft, hard = resource.getrlimit(which)
            soft = value * unit
            # CPU time: SIGXCPU at the soft limit (it names the limit); SIGKILL a second later.
            top = soft + 1 if which == resource.RLIMIT_CPU else soft
            if hard != resource.RLIM_INFINITY:
                soft, top = min(soft, hard), min(top, hard)
            resource.setrlimit(which, (soft, top))
