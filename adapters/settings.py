"""Settings, read once from the environment. Nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# A day: a lease that outlives a crashed registration longer than that helps nobody.
MAX_LEASE_GRACE_SECONDS = 86400
MAX_FETCH_TIMEOUT_SECONDS = 3600


class ConfigError(Exception):
    """Raised when a setting cannot be used; the message never contains a secret."""

    code = "CONFIGURATION"


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data and how it reaches its store."""

    home: Path
    """Data directory (``ATTUNE_HOME``; default ``$XDG_DATA_HOME/attune`` or
    ``~/.local/share/attune``)."""

    database_url: str
    """``ATTUNE_DATABASE_URL``: ``postgresql://…`` or ``sqlite:///path``; empty means the
    embedded SQLite file."""

    pack_roots: tuple[Path, ...] = ()
    """``ATTUNE_PACK_ROOTS`` (os.pathsep-separated): the only directories the HTTP API registers
    packs from. Default: ``$ATTUNE_HOME/packs``."""

    test_jobs_setting: str = "1"
    """``ATTUNE_TEST_JOBS``: how many of a pack's suites may run at once (default 1: in order)."""

    lease_grace_setting: str = "30"
    """``ATTUNE_LEASE_GRACE_SECONDS``: how long a registration's lease outlasts its suites'
    timeouts before another process may take it over (default 30)."""

    install_sources: tuple[str, ...] = ()
    """``ATTUNE_INSTALL_SOURCES`` (comma-separated URL prefixes): the only remote sources the
    HTTP API installs from, e.g. ``https://github.com/acme/,ssh://git@git.internal/``. Empty
    (the default): any https or ssh source."""

    install_allow_private_setting: str = ""
    """``ATTUNE_INSTALL_ALLOW_PRIVATE``: ``1`` lets HTTP API installs connect to loopback,
    private, link-local, unique-local... addresses; default (empty or ``0``): public addresses
    only. The CLI installing for its own user is not limited."""

    pack_index: str = ""
    """``ATTUNE_PACK_INDEX``: the path or ``https://`` URL of the pack index, a YAML file
    mapping pack refs and versions to sources, where ``--install-deps`` finds missing
    dependencies (see ``adapters.install.index``). Empty (the default): none."""

    fetch_timeout_setting: str = "300"
    """``ATTUNE_FETCH_TIMEOUT_SECONDS``: how long ``attune pack install`` may take to fetch its
    source (a git fetch or an archive download), in whole seconds (default 300)."""

    environments_setting: str = ""
    """``ATTUNE_ENVIRONMENTS``: the folder that caches packs' Python environments (default
    ``$ATTUNE_HOME/environments``); several data directories of one machine may share one."""

    wheelhouse_setting: str = ""
    """``ATTUNE_WHEELHOUSE``: the absolute path of a folder of wheels: packs' requirements are
    installed from it alone, never from an index (machines without one). Empty: the index."""

    pip_index_setting: str = ""
    """``ATTUNE_PIP_INDEX_URL``: the package index packs' requirements come from (default
    pip's, PyPI); pip's own configuration files are never read."""

    environment_timeout_setting: str = "600"
    """``ATTUNE_ENVIRONMENT_TIMEOUT_SECONDS``: how long installing a pack's requirements may
    take (default 600)."""

    sandbox_setting: str = "auto"
    """``ATTUNE_SANDBOX``: how suites are isolated: ``auto`` (the strongest available, refusing
    to run tests where none is), ``bwrap``, ``namespaces`` or ``off``."""

    sandbox_network_setting: str = "allow"
    """``ATTUNE_SANDBOX_NETWORK``: ``deny`` fails suites that ask for the network."""

    sandbox_limits_setting: str = ""
    """``ATTUNE_SANDBOX_LIMITS``: default limits, e.g. ``memory_mb=2048,processes=128``."""

    sandbox_max_limits_setting: str = ""
    """``ATTUNE_SANDBOX_MAX_LIMITS``: the most a suite may ask for in pack.yaml."""

    sandbox_share_setting: str = ""
    """``ATTUNE_SANDBOX_SHARE`` (os.pathsep-separated absolute paths): folders every suite may
    read and write, for example a shared download cache. Empty by default."""

    run_tests_setting: str = "here"
    """``ATTUNE_RUN_TESTS``: ``here`` (default: in the process that registers) or ``workers``
    (PostgreSQL: every registration's suites run on `attune worker` processes, also when the
    caller waits for the decision; an API server then never runs tests itself)."""

    worker_stall_setting: str = "30"
    """``ATTUNE_WORKER_STALL_SECONDS``: how long a worker may miss its heartbeats before its
    jobs go back to the queue, to run on another worker (default 30)."""

    queue_wait_setting: str = "3600"
    """``ATTUNE_QUEUE_WAIT_SECONDS``: how long a queued registration may wait for workers
    before its lease lets another registration of the ref take over (default 3600)."""

    blob_max_setting: str = "64"
    """``ATTUNE_RELEASE_BLOB_MAX_MB``: the most a queued registration's release may weigh in
    the database, compressed (default 64)."""

    keep_releases_setting: str = "3"
    """``ATTUNE_KEEP_RELEASES``: how many of each ref's most recent committed releases
    ``attune pack prune`` keeps besides those a rollback can restore (default 3)."""

    web_secret_setting: str = ""
    """``ATTUNE_WEB_SECRET``: the key that signs dashboard session cookies, shared by every
    server behind one address (at least 32 characters). Empty: a random key kept in
    ``$ATTUNE_HOME/web-session.key``, shared by the servers of that data directory."""

    log_format_setting: str = "text"
    """``ATTUNE_LOG_FORMAT``: ``text`` (default) or ``json`` (one object per line) for the logs
    of ``attune serve``, ``attune worker`` and ``attune projector``."""

    metrics_public_setting: str = ""
    """``ATTUNE_METRICS_PUBLIC``: ``1`` serves ``/metrics`` without a token; default (empty
    or ``0``): a ``read`` token is needed, as for the API's reads."""

    webhook_allow_private_setting: str = ""
    """``ATTUNE_WEBHOOK_ALLOW_PRIVATE``: ``1`` lets webhooks send to loopback, private,
    link-local... addresses; default: public addresses only."""

    webhook_allow_http_setting: str = ""
    """``ATTUNE_WEBHOOK_ALLOW_HTTP``: ``1`` allows plain ``http://`` webhook URLs; default:
    https only."""

    webhook_timeout_setting: str = "10"
    """``ATTUNE_WEBHOOK_TIMEOUT_SECONDS``: how long one delivery attempt may wait for the
    receiver (default 10)."""

    webhook_retry_setting: str = ""
    """``ATTUNE_WEBHOOK_RETRY_SECONDS``: the waits before each retry of a failed delivery,
    comma-separated (default 5,300,1800,7200,18000,36000,36000), or ``none``."""

    public_url: str = ""
    """``ATTUNE_PUBLIC_URL``: the registry's address as its clients reach it, for absolute
    links in webhook payloads (default: paths only)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        if env.get("ATTUNE_HOME"):
            home = Path(env["ATTUNE_HOME"]).expanduser()
        else:
            data = env.get("XDG_DATA_HOME") or str(Path("~/.local/share").expanduser())
            home = Path(data) / "attune"
        roots = [Path(p).expanduser().absolute()
                 for p in env.get("ATTUNE_PACK_ROOTS", "").split(os.pathsep) if p.strip()]
        return cls(home=home.absolute(), database_url=env.get("ATTUNE_DATABASE_URL", "").strip(),
                   pack_roots=tuple(roots) or (home.absolute() / "packs",),
                   test_jobs_setting=env.get("ATTUNE_TEST_JOBS", "1").strip() or "1",
                   lease_grace_setting=env.get("ATTUNE_LEASE_GRACE_SECONDS", "30").strip() or "30",
                   pack_index=env.get("ATTUNE_PACK_INDEX", "").strip(),
                   fetch_timeout_setting=(env.get("ATTUNE_FETCH_TIMEOUT_SECONDS", "300").strip()
                                          or "300"),
                   install_allow_private_setting=env.get("ATTUNE_INSTALL_ALLOW_PRIVATE", ""),
                   install_sources=tuple(p.strip() for p in
                                         env.get("ATTUNE_INSTALL_SOURCES", "").split(",")
                                         if p.strip()),
                   environments_setting=env.get("ATTUNE_ENVIRONMENTS", "").strip(),
                   wheelhouse_setting=env.get("ATTUNE_WHEELHOUSE", "").strip(),
                   pip_index_setting=env.get("ATTUNE_PIP_INDEX_URL", "").strip(),
                   environment_timeout_setting=(
                       env.get("ATTUNE_ENVIRONMENT_TIMEOUT_SECONDS", "").strip() or "600"),
                   sandbox_setting=env.get("ATTUNE_SANDBOX", "").strip() or "auto",
                   sandbox_network_setting=(env.get("ATTUNE_SANDBOX_NETWORK", "").strip()
                                            or "allow"),
                   sandbox_limits_setting=env.get("ATTUNE_SANDBOX_LIMITS", ""),
                   sandbox_max_limits_setting=env.get("ATTUNE_SANDBOX_MAX_LIMITS", ""),
                   sandbox_share_setting=env.get("ATTUNE_SANDBOX_SHARE", ""),
                   keep_releases_setting=env.get("ATTUNE_KEEP_RELEASES", "3").strip() or "3",
                   run_tests_setting=env.get("ATTUNE_RUN_TESTS", "here").strip() or "here",
                   worker_stall_setting=(env.get("ATTUNE_WORKER_STALL_SECONDS", "30").strip()
                                         or "30"),
                   queue_wait_setting=(env.get("ATTUNE_QUEUE_WAIT_SECONDS", "3600").strip()
                                       or "3600"),
                   blob_max_setting=env.get("ATTUNE_RELEASE_BLOB_MAX_MB", "64").strip() or "64",
                   web_secret_setting=env.get("ATTUNE_WEB_SECRET", "").strip(),
                   log_format_setting=env.get("ATTUNE_LOG_FORMAT", "").strip().lower() or "text",
                   metrics_public_setting=env.get("ATTUNE_METRICS_PUBLIC", "").strip(),
                   webhook_allow_private_setting=env.get("ATTUNE_WEBHOOK_ALLOW_PRIVATE", ""),
                   webhook_allow_http_setting=env.get("ATTUNE_WEBHOOK_ALLOW_HTTP", ""),
                   webhook_timeout_setting=(env.get("ATTUNE_WEBHOOK_TIMEOUT_SECONDS", "").strip()
                                            or "10"),
                   webhook_retry_setting=env.get("ATTUNE_WEBHOOK_RETRY_SECONDS", "").strip(),
                   public_url=env.get("ATTUNE_PUBLIC_URL", "").strip())

    @property
    def test_jobs(self) -> int:
        """Checked when tests run, so a bad value does not break commands that run none."""
        jobs = self.test_jobs_setting
        if not jobs.isdigit() or not 1 <= int(jobs) <= 64:
            raise ConfigError(f"ATTUNE_TEST_JOBS must be a whole number from 1 to 64, got {jobs!r}")
        return int(jobs)

    @property
    def lease_grace(self) -> timedelta:
        """Checked when a registration takes its lease, like ``test_jobs``."""
        grace = self.lease_grace_setting
        if not grace.isdigit() or not 1 <= int(grace) <= MAX_LEASE_GRACE_SECONDS:
            raise ConfigError("ATTUNE_LEASE_GRACE_SECONDS must be a whole number from 1 to "
                              f"{MAX_LEASE_GRACE_SECONDS}, got {grace!r}")
        return timedelta(seconds=int(grace))

    @property
    def fetch_timeout(self) -> float:
        """Checked when an install fetches, like ``test_jobs``."""
        seconds = self.fetch_timeout_setting
        if not seconds.isdigit() or not 1 <= int(seconds) <= MAX_FETCH_TIMEOUT_SECONDS:
            raise ConfigError("ATTUNE_FETCH_TIMEOUT_SECONDS must be a whole number from 1 to "
                              f"{MAX_FETCH_TIMEOUT_SECONDS}, got {seconds!r}")
        return float(seconds)

    @property
    def tests_on_workers(self) -> bool:
        if self.run_tests_setting not in ("here", "workers"):
            raise ConfigError("ATTUNE_RUN_TESTS must be 'here' or 'workers', got "
                              f"{self.run_tests_setting!r}")
        return self.run_tests_setting == "workers"

    @property
    def worker_stall_seconds(self) -> int:
        return _whole(self.worker_stall_setting, "ATTUNE_WORKER_STALL_SECONDS", 3, 3600)

    @property
    def queue_wait(self) -> timedelta:
        return timedelta(seconds=_whole(self.queue_wait_setting, "ATTUNE_QUEUE_WAIT_SECONDS",
                                        60, 7 * 86400))

    @property
    def blob_max_bytes(self) -> int:
        return _whole(self.blob_max_setting, "ATTUNE_RELEASE_BLOB_MAX_MB", 1, 4096) * 2**20

    @property
    def keep_releases(self) -> int:
        kept = self.keep_releases_setting
        if not (kept.isascii() and kept.isdigit()) or int(kept) > 10_000:
            raise ConfigError("ATTUNE_KEEP_RELEASES must be a whole number from 0 to 10000, "
                              f"got {kept!r}")
        return int(kept)

    @property
    def log_format(self) -> str:
        """``text`` or ``json``; checked when a long-running command starts."""
        if self.log_format_setting not in ("text", "json"):
            raise ConfigError("ATTUNE_LOG_FORMAT must be 'text' or 'json', got "
                              f"{self.log_format_setting!r}")
        return self.log_format_setting

    @property
    def metrics_public(self) -> bool:
        """Whether ``/metrics`` answers without a token (``ATTUNE_METRICS_PUBLIC``)."""
        value = self.metrics_public_setting.lower()
        if value not in ("", "0", "1", "true", "false", "yes", "no"):
            raise ConfigError("ATTUNE_METRICS_PUBLIC must be 1 (no token for /metrics) or 0, "
                              f"got {self.metrics_public_setting!r}")
        return value in ("1", "true", "yes")

    @property
    def releases_dir(self) -> Path:
        """The release store: what each registration tested, ``<digest>/``, read-only."""
        return self.home / "releases"

    @property
    def installed_dir(self) -> Path:
        """The managed pack store of versions before releases: installed packs' files,
        ``<ref>/<version>-<digest>``; read (and pruned), never written."""
        return self.home / "installed"

    @property
    def work_dir(self) -> Path:
        """Where registrations and test runs keep their pack snapshots while tests run."""
        return self.home / "work"

    @property
    def environments_dir(self) -> Path:
        """The cache of packs' Python environments (``adapters.environments.cache``)."""
        if self.environments_setting:
            return Path(self.environments_setting).expanduser().absolute()
        return self.home / "environments"

    @property
    def wheelhouse(self) -> Path | None:
        """Checked when an environment is prepared, like ``test_jobs``."""
        if not self.wheelhouse_setting:
            return None
        folder = Path(self.wheelhouse_setting).expanduser()
        if not folder.is_absolute() or not folder.is_dir():
            raise ConfigError("ATTUNE_WHEELHOUSE must be the absolute path of a folder of "
                              f"wheels, got {self.wheelhouse_setting!r}")
        return folder

    @property
    def pip_index_url(self) -> str | None:
        url = self.pip_index_setting
        if url and not url.startswith(("https://", "http://", "file://")):
            raise ConfigError("ATTUNE_PIP_INDEX_URL must be an https://, http:// or file:// "
                              f"URL, got {url!r}")
        return url or None

    @property
    def environment_timeout(self) -> float:
        return float(_whole(self.environment_timeout_setting,
                            "ATTUNE_ENVIRONMENT_TIMEOUT_SECONDS", 10, 86400))

    @property
    def sqlite_path(self) -> Path:
        """The embedded store's file."""
        return self.home / "attune.db"


def allow_private_addresses(setting: str) -> bool:
    """The value of ``ATTUNE_INSTALL_ALLOW_PRIVATE``: 1/true/yes or 0/false/no (or empty)."""
    value = setting.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise ConfigError("ATTUNE_INSTALL_ALLOW_PRIVATE must be 1 (allow private addresses) or 0, "
                      f"got {setting!r}")


def _whole(text: str, name: str, low: int, high: int) -> int:
    """``text`` as a whole number from ``low`` to ``high``, or a ConfigError naming ``name``."""
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
    return int(text)


def changed_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``ATTUNE_*`` variables of ``environ`` (default: this process's) that set a setting
    to something other than its default, by name, with their values as given: callers that
    show them mask secrets first (``attune info`` does)."""
    env = os.environ if environ is None else environ
    base = {name: env[name] for name in ("XDG_DATA_HOME",) if name in env}
    default = Settings.from_env(base)
    return {name: value for name, value in sorted(env.items())
            if name.startswith("ATTUNE_") and Settings.from_env({**base, name: value}) != default}
