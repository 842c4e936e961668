"""The bubblewrap command line that isolates one suite."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

# Read-only system parts a test may need: libraries, certificates, name resolution (for suites
# allowed the network), the alternatives links Debian's tools go through. Missing ones are
# skipped. Nothing else of /etc is visible.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl",
             "ca-certificates", "ca-certificates.conf", "localtime", "timezone", "passwd",
             "group", "nsswitch.conf", "hosts", "host.conf", "mime.types", "protocols",
             "services")
NETWORK_ETC_FILES = ("resolv.conf", "gai.conf")
# Top-level system folders: bound read-only, or recreated as the links they are on merged-/usr
# systems (Debian 12: /bin -> usr/bin).
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def bwrap_argv(*, executable: str, read: Iterable[str], write: Iterable[str], network: bool,
               as_root: bool) -> list[str]:
    """``bwrap`` options up to and including ``--``: what follows is the command.

    Run as root, bwrap sets up the namespaces itself (no user namespace: the supervisor runs
    the test as an unprivileged uid, for which it keeps CAP_SETUID and CAP_SETGID, and
    CAP_KILL to kill what the test leaves: in its PID namespace it sees nothing else). Run as
    any other user, a user namespace maps that user to itself, with no capabilities.
    """
    argv = [executable, "--die-with-parent", "--new-session", "--as-pid-1",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        argv.append("--unshare-net")  # a new network namespace has only a loopback, up
    if as_root:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_KILL"]
    else:
        argv += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    made: set[str] = set()
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += _bind("--ro-bind", str(path), made)
    for name in ETC_FILES + (NETWORK_ETC_FILES if network else ()):
        path = Path("/etc") / name
        if path.exists():
            argv += _bind("--ro-bind", str(path), made)
    for folder in _outermost(read):
        argv += _bind("--ro-bind", folder, made)
    for folder in _outermost(write):
        argv += _bind("--bind", folder, made)
    # The supervisor enters the working directory once it runs as the suite's uid.
    argv += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/", "--"]
    return argv


def _bind(option: str, path: str, made: set[str]) -> list[str]:
    """Bind ``path`` at the same place, after creating its parents world-traversable (bwrap
    would make them 0700, which an unprivileged test uid cannot enter). ``made`` holds the
    folders created so far and, marked by a trailing slash, the bound ones."""
    argv: list[str] = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name == "/":
            continue
        inside_bound = any(name.startswith(m) for m in made if m.endswith("/"))
        if name not in made and not inside_bound:
            argv += ["--perms", "0755", "--dir", name]
            made.add(name)
    made.add(path.rstrip("/") + "/")
    return [*argv, option, path, path]


def _outermost(paths: Iterable[str]) -> list[str]:
    """Existing real paths, without those inside another one of the list."""
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})
    kept: list[str] = []
    for path in real:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept
