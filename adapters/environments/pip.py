"""Running pip for a pack's environment: what it is told, what it sees, what it reports.

pip runs outside the sandbox (it needs the index), so it is given as little as it needs: no
configuration file and no ``PIP_*`` variable of the registry's environment (only ours), the
proxy and certificate variables of the host, wheels only (building a source distribution runs
its code, which would run here, outside the sandbox), a timeout for each connection and one
for the whole install. What it prints is kept, capped at its last part, for the rejection.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

# What a rejection keeps of pip's output: its end, where pip says what went wrong.
OUTPUT_TAIL_BYTES = 4096
# Per connection (pip's --timeout); the whole install has the operator's setting.
CONNECT_TIMEOUT_SECONDS = 30
# The host's variables pip may see: how to reach the index, and whom to trust there.
PASSED_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy",
                    "https_proxy", "no_proxy", "all_proxy", "LANG", "LC_ALL")
CERTIFICATE_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


class PipFailed(Exception):
    """pip did not install the requirements: ``problem`` says how, ``output`` is its end."""

    def __init__(self, problem: str, output: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.output = output


@dataclass(frozen=True)
class PipOptions:
    """How pip reaches packages: the operator's settings."""

    timeout: float
    wheelhouse: Path | None = None
    """Install from this folder of wheels only (``--no-index --find-links``)."""
    index_url: str | None = None

    def identity(self) -> dict[str, Any]:
        """What of them changes what gets installed (part of an environment's key)."""
        return {"wheelhouse": str(self.wheelhouse) if self.wheelhouse else None,
                "index_url": self.index_url, "only_binary": True}


def pip_has_own_copy() -> bool:
    """Whether the registry's interpreter has pip: it then installs into environments that
    have none (``pip --python``); else each environment gets its own pip."""
    return find_spec("pip") is not None


def install(python: str, requirements: Path, *, hashed: bool, options: PipOptions,
            work: Path, cache: Path) -> list[dict[str, Any]]:
    """Install ``requirements`` into the environment of ``python``; return what was
    installed: ``[{name, version, hash}]`` (hash None when pip could not tell).

    Raises:
        PipFailed: pip failed, or ran out of time.
    """
    report = work / "pip-report.json"
    pip = ([sys.executable, "-m", "pip", "--python", python] if pip_has_own_copy()
           else [python, "-m", "pip"])
    argv = [*pip, "install", "--no-input", "--disable-pip-version-check",
            "--no-warn-script-location", "--only-binary=:all:",
            f"--timeout={CONNECT_TIMEOUT_SECONDS}", "--report", str(report),
            "-r", str(requirements)]
    if hashed:
        argv.append("--require-hashes")
    if options.wheelhouse is not None:
        argv += ["--no-index", "--find-links", str(options.wheelhouse)]
    elif options.index_url:
        argv += ["--index-url", options.index_url]
    cert = next((os.environ[name] for name in CERTIFICATE_VARIABLES if os.environ.get(name)),
                None)
    if cert:
        argv += ["--cert", cert]
    _run(argv, cwd=work, env=_environment(work, cache), timeout=options.timeout)
    return installed(json.loads(report.read_text(encoding="utf-8")))


def _environment(work: Path, cache: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    return env | {
        "PATH": os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(work),
        "PIP_CONFIG_FILE": os.devnull,  # no pip.conf of any user or of the system
        "PIP_CACHE_DIR": str(cache),
        "PIP_NO_INPUT": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> None:
    # Output to a file: pip may print a lot, and nothing here needs it before it ends.
    log = cwd / "pip-output.txt"
    with open(log, "wb") as output:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True, umask=0o022)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise PipFailed(f"pip did not finish within {timeout:g} seconds "
                            "(ATTUNE_ENVIRONMENT_TIMEOUT_SECONDS)", _tail(log)) from None
        except BaseException:
            _kill(process)
            raise
    if code != 0:
        raise PipFailed(f"pip install exited with status {code}", _tail(log))


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)  # its own session: pip and whatever it started
    process.wait()


def _tail(log: Path) -> str:
    with open(log, "rb") as output:
        size = output.seek(0, os.SEEK_END)
        output.seek(max(0, size - OUTPUT_TAIL_BYTES))
        text = output.read().decode("utf-8", "replace")
    return text if size <= OUTPUT_TAIL_BYTES else f"[... {size - len(text)} bytes ...]\n{text}"


def installed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The packages of pip's installation report (``--report``), by name."""
    packages = []
    for item in report.get("install", []):
        metadata = item.get("metadata", {})
        packages.append({"name": metadata.get("name", "?"),
                         "version": metadata.get("version", "?"),
                         "hash": _hash(item.get("download_info", {}))})
    return sorted(packages, key=lambda package: package["name"].lower())


def _hash(download: dict[str, Any]) -> str | None:
    """``sha256:<hex>`` of the file pip installed: as the index told it, else (a wheel of the
    wheelhouse) computed here."""
    hashes = download.get("archive_info", {}).get("hashes") or {}
    if "sha256" in hashes:
        return f"sha256:{hashes['sha256']}"
    url = urlparse(download.get("url", ""))
    if url.scheme == "file":
        path = Path(unquote(url.path))
        if path.is_file():
            return f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return None
