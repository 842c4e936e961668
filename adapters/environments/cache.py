"""The cache of pack environments: one virtual environment per set of requirements.

Layout under the cache folder (``ATTUNE_ENVIRONMENTS``, default ``$ATTUNE_HOME/environments``):

- ``python/<key>/``: a virtual environment of the base interpreter (never of the registry's
  own environment, whose packages it must not see), complete once it holds ``RECORD_NAME``.
- ``support/<key>/``: what the runners need (``adapters.environments.support``).
- ``locks/<key>.lock``: held while an environment is built.
- ``work/``: pip's private folders while it runs; ``pip-cache/``: pip's downloads.

The key is a digest of everything that decides an environment's contents: the requirements'
bytes, the interpreter (version and path), the wheelhouse or index, the runner support.
Packs with identical requirements share one environment; packs without any share the empty
one. A virtual environment cannot be moved once built (its scripts name its path), so it is
built in place under the key's lock and counts only once its record is written (atomically,
last): a builder that died leaves a folder without one, which the next builder removes.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune_registry.domain.errors import EnvironmentFailedError, ManifestError
from attune_registry.domain.manifest import TestingConfig

from attune_registry.application.ports import PreparedEnvironment, SuiteContext

from attune_registry.adapters.environments.pip import (
    PipFailed,
    PipOptions,
    install,
    pip_has_own_copy,
)
from attune_registry.adapters.environments.requirements import (
    Requirements,
    RequirementsError,
    read_requirements,
)
from attune_registry.adapters.environments.support import (
    link_distributions,
    runner_distributions,
    support_key,
)
from attune_registry.adapters.packs.workspace import private_dir, remove_tree

if TYPE_CHECKING:
    from attune_registry.adapters.settings import Settings

RECORD_NAME = "attune-environment.json"
SUPPORT_FILE = "_attune_runner_support.pth"
# Bumped when the layout of an environment changes: older ones are then not reused.
LAYOUT = 1
VENV_TIMEOUT_SECONDS = 120


def base_interpreter() -> str:
    """The interpreter the registry's own virtual environment was made from."""
    return getattr(sys, "_base_executable", None) or sys.executable


class EnvironmentCache:
    """Implements ``application.ports.Environments`` on a folder."""

    def __init__(self, root: Path, options: Callable[[], PipOptions],
                 python: str | None = None) -> None:
        self.root = root
        # A callable, so that a bad setting fails the registrations that need it, not start-up.
        self.options = options
        self.python = python or base_interpreter()

    @classmethod
    def of(cls, settings: Settings) -> EnvironmentCache:
        return cls(settings.environments_dir, lambda: PipOptions(
            timeout=settings.environment_timeout, wheelhouse=settings.wheelhouse,
            index_url=settings.pip_index_url))

    def allowance(self, pack_dir: str, testing: TestingConfig) -> timedelta:
        options = self.options()
        try:
            requirements = read_requirements(Path(pack_dir), testing)
            if requirements.name is None:
                return timedelta(0)
            key = self.key_of(requirements, support_key(runner_distributions()), options)
        except (RequirementsError, ManifestError, OSError):
            return timedelta(0)  # prepare fails at once
        ready = _read_record(self.root / "python" / key) is not None
        return timedelta(0) if ready else timedelta(seconds=options.timeout)

    def prepare(self, pack_dir: str, testing: TestingConfig) -> PreparedEnvironment:
        try:
            requirements = read_requirements(Path(pack_dir), testing)
        except (RequirementsError, ManifestError) as exc:
            raise EnvironmentFailedError(str(exc)) from None
        options = self.options()
        try:
            support = self._support()
            key = self.key_of(requirements, support.name, options)
            env = self.root / "python" / key
            record = _read_record(env)
            built = False
            if record is None:
                with self._locked(key):
                    record = _read_record(env)  # built meanwhile by whoever held the lock
                    if record is None:
                        record = self._build(env, key, requirements, support, options)
                        built = True
        except OSError as exc:
            raise EnvironmentFailedError(f"the environment cache at {self.root} cannot be "
                                         f"used: {exc.strerror or exc}") from None
        python = env / "bin" / "python"
        return PreparedEnvironment(
            SuiteContext(python=str(python), read_only=(str(env), str(support)),
                         environment_key=key),
            {**record, "built": built})

    def key_of(self, requirements: Requirements, support: str, options: PipOptions) -> str:
        identity = {"layout": LAYOUT, "python": sys.version,
                    "interpreter": os.path.realpath(self.python),
                    "requirements": requirements.digest, "support": support,
                    **options.identity()}
        encoded = json.dumps(identity, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]

    def _support(self) -> Path:
        """The runner support folder, made once per set of versions: made aside, then
        renamed into place (the first rename wins; it holds links only, so it may move)."""
        dists = runner_distributions()
        final = self.root / "support" / support_key(dists)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
        try:
            link_distributions(dists, staging)
            _open_to_all(staging)
            os.rename(staging, final)
        except OSError as exc:
            remove_tree(staging)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not final.is_dir():
                raise
        return final

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _build(self, env: Path, key: str, requirements: Requirements, support: Path,
               options: PipOptions) -> dict[str, Any]:
        remove_tree(env)  # what a builder that died left, if anything
        env.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create(env, support)
            packages: list[dict[str, Any]] = []
            if requirements.name is not None:
                with private_dir(self.root / "work", key) as work:
                    wanted = work / "requirements.txt"  # the bytes that were checked
                    wanted.write_bytes(requirements.content)
                    packages = install(str(env / "bin" / "python"), wanted,
                                       hashed=requirements.hashed, options=options,
                                       work=work, cache=self.root / "pip-cache")
            _open_to_all(env)
            record = {"environment_key": key, "python_version": platform.python_version(),
                      "requirements": requirements.name,
                      "requirements_digest": requirements.digest,
                      "hash_checked": requirements.hashed, "packages": packages}
            _write_record(env, record)
        except PipFailed as exc:
            remove_tree(env)
            raise EnvironmentFailedError(exc.problem, exc.output) from None
        except BaseException:
            remove_tree(env)
            raise
        return record

    def _create(self, env: Path, support: Path) -> None:
        # Without pip when the registry has its own: it installs from outside, and tests do
        # not get a pip they did not ask for.
        argv = [self.python, "-m", "venv", *(["--without-pip"] if pip_has_own_copy() else []),
                str(env)]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=VENV_TIMEOUT_SECONDS, umask=0o022, check=False,
                              env={"PATH": os.pathsep.join(["/usr/bin", "/bin"])})
        if done.returncode != 0:
            raise PipFailed(f"{self.python} -m venv exited with status {done.returncode}",
                            done.stderr.decode("utf-8", "replace")[-4096:])
        site = Path(sysconfig.get_path("purelib", "venv", {"base": str(env),
                                                           "platbase": str(env)}))
        (site / SUPPORT_FILE).write_text(f"{support}\n", encoding="utf-8")


def _read_record(env: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((env / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record


def _write_record(env: Path, record: dict[str, Any]) -> None:
    partial = env / f".{RECORD_NAME}.partial"
    partial.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.chmod(partial, 0o644)
    os.replace(partial, env / RECORD_NAME)


def _open_to_all(top: Path) -> None:
    """Readable by every user, never writable by others: suites run as a uid of their own
    when the registry is root, and read the environment through a read-only mount."""
    for folder, _dirs, files in os.walk(top):
        os.chmod(folder, (os.stat(folder).st_mode | 0o555) & ~0o022)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, (os.stat(path).st_mode | 0o444) & ~0o022)
