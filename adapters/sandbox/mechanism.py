"""Which sandbox this machine can give: probed once per process, never silently none."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

from attune_registry.domain.vocabulary import SandboxMechanism

from attune_registry.adapters.sandbox.bwrap import bwrap_argv
from attune_registry.adapters.sandbox.jail import LAUNCHER
from attune_registry.adapters.settings import ConfigError

PROBE_TIMEOUT = 30.0
INSTALL_HINT = "Debian and Ubuntu: apt-get install bubblewrap"
_probed: dict[tuple[str, str | None], str | None] = {}
_lock = threading.Lock()


class SandboxUnavailable(ConfigError):
    """No sandbox of the kind the settings ask for works here; no test runs."""


def choose(mode: str) -> tuple[SandboxMechanism, str | None]:
    """The mechanism for ``ATTUNE_SANDBOX=mode`` and, for bwrap, its executable.

    ``auto`` takes bubblewrap, else the built-in namespaces launcher; ``off`` is only ever
    an explicit choice.

    Raises:
        SandboxUnavailable: naming what is missing and the setting.
    """
    if mode == "off":
        return "off", None
    bwrap = shutil.which("bwrap")
    if mode in ("auto", "bwrap"):
        problem = _probe("bwrap", bwrap)
        if problem is None:
            return "bwrap", bwrap
        if mode == "bwrap":
            raise SandboxUnavailable(f"ATTUNE_SANDBOX=bwrap, but {problem}")
    problem_ns = _probe("namespaces", None)
    if problem_ns is None:
        return "namespaces", None
    if mode == "namespaces":
        raise SandboxUnavailable(f"ATTUNE_SANDBOX=namespaces, but {problem_ns}")
    raise SandboxUnavailable(
        f"no sandbox can run pack tests on this machine: {_probe('bwrap', bwrap)}; and the "
        f"built-in one cannot run ({problem_ns}). Fix one of them, or set ATTUNE_SANDBOX=off "
        "to run tests with the registry's own access (not for code you do not trust)")


def _probe(kind: str, bwrap: str | None) -> str | None:
    """None if ``kind`` works here, else what is wrong (cached for the process)."""
    with _lock:
        key = (kind, bwrap)
        if key not in _probed:
            _probed[key] = _try_bwrap(bwrap) if kind == "bwrap" else _try_namespaces()
        return _probed[key]


def _try_bwrap(bwrap: str | None) -> str | None:
    if bwrap is None:
        return f"bubblewrap is not installed ({INSTALL_HINT})"
    argv = bwrap_argv(executable=bwrap, read=[sys.base_prefix, sys.prefix], write=[],
                      network=False, as_root=os.geteuid() == 0)
    return _run([*argv, sys.executable, "-I", "-c", "pass"], "bubblewrap")


def _try_namespaces() -> str | None:
    problem = _run([sys.executable, "-I", str(LAUNCHER), "--probe"], "the namespaces launcher")
    return problem


def _run(argv: list[str], what: str) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{what} cannot start: {exc}"
    if done.returncode == 0:
        return None
    said = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
    try:
        missing = json.loads(said.splitlines()[0]).get("missing") if said else None
    except (json.JSONDecodeError, AttributeError, IndexError):
        missing = None
    detail = missing or (said.splitlines()[-1] if said else f"exit code {done.returncode}")
    return f"{what} does not work here: {detail}"
