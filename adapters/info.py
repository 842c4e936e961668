"""The effective configuration: what ``attune info`` prints and ``attune serve`` logs when it
starts. Gathered without creating or changing anything, and never showing a secret."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Literal

import msgspec

from attune_registry.projections.tables import READ_MODEL_VERSION

from attune_registry.adapters.redact import MASK, redact_url
from attune_registry.adapters.settings import (
    ConfigError,
    Settings,
    allow_private_addresses,
    changed_settings,
)
from attune_registry.adapters.store.config import StoreConfig, store_location
from attune_registry.adapters.store.probe import ReadModelState, exists, read_models, where

if TYPE_CHECKING:
    from attune_registry.adapters.sandbox import SandboxPolicy

DISTRIBUTION = "attune-registry"
# Settings whose value is a secret as a whole: shown as set, never as what.
SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "KEY")

StoreStatus = Literal["found", "not_found", "unreachable"]


class StoreInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The store the settings name, and whether it is there."""

    kind: str
    """``sqlite`` or ``postgres``."""
    url: str
    """``sqlite:///PATH``, or the PostgreSQL URL with its password masked."""
    location: str
    """The file, or the schema and database, that holds it."""
    schema: str | None = None
    """PostgreSQL: the schema of the store's tables (``?schema=``, default ``attune``)."""
    status: StoreStatus
    """``found``; ``not_found``: nothing was ever recorded there (reading commands create no
    store); ``unreachable``: PostgreSQL did not answer (``error`` says why)."""
    error: str | None = None


class SandboxInfo(msgspec.Struct, frozen=True, kw_only=True):
    """How pack tests would be isolated here."""

    setting: str
    """``ATTUNE_SANDBOX``."""
    mechanism: str | None
    """``bwrap``, ``namespaces`` or ``off``; None when none of the kind asked for works."""
    problem: str | None = None


class WorkersInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The queue's workers (PostgreSQL) and what waits for them."""

    alive: int
    lost: int
    queue_depth: int
    oldest_queued_seconds: float | None


class ReadModelsInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Where the read models stand against the event log."""

    state: Literal["current", "behind", "other_version"]
    """``behind``: events not applied yet (the next command catches up);
    ``other_version``: built by another version of attune (the next command that opens the
    store rebuilds them from the log)."""
    version: int | None
    expected_version: int
    position: int
    log_head: int
    lag: int


class Info(msgspec.Struct, frozen=True, kw_only=True):
    """The effective configuration of the local registry."""

    version: str
    mode: Literal["local"] = "local"
    actor: str | None = None
    """Who commands of this process act as (the CLI fills it in)."""
    store: StoreInfo
    home: str
    pack_roots: list[str]
    environments: str
    """The cache of packs' Python environments (``ATTUNE_ENVIRONMENTS``)."""
    sandbox: SandboxInfo
    run_tests: str
    """``ATTUNE_RUN_TESTS``: ``here`` or ``workers``."""
    workers: WorkersInfo | None
    """None on SQLite (no queue) or without a store."""
    read_models: ReadModelsInfo | None
    """None without a store, or before anything was recorded in it."""
    settings: dict[str, str]
    """The ``ATTUNE_*`` variables that differ from their defaults, secrets masked."""
    problems: list[str]
    """Settings that cannot be used, each naming its variable."""


def attune_version() -> str:
    return version(DISTRIBUTION)


def gather(settings: Settings) -> Info:
    """The effective configuration, looking at the store without creating it."""
    config = store_location(settings)
    store = _store(config)
    found = store.status == "found"
    return Info(version=attune_version(), store=store, home=str(settings.home),
                pack_roots=[str(root) for root in settings.pack_roots],
                environments=str(settings.environments_dir),
                sandbox=sandbox(settings), run_tests=settings.run_tests_setting,
                workers=_workers(config) if found and config.is_postgres else None,
                read_models=_read_models(config) if found else None,
                settings={name: shown(name, value)
                          for name, value in changed_settings().items()},
                problems=problems(settings))


def _store(config: StoreConfig) -> StoreInfo:
    def info(status: StoreStatus, error: str | None = None) -> StoreInfo:
        return StoreInfo(kind=config.kind, url=config.display, location=where(config),
                         schema=config.env.get("POSTGRES_SCHEMA"), status=status, error=error)

    try:
        return info("found" if exists(config) else "not_found")
    except ConfigError as exc:  # PostgreSQL down, or refusing us
        return info("unreachable", str(exc))


def sandbox(settings: Settings) -> SandboxInfo:
    """The mechanism suites would run in here (probed: a sandboxed ``true``, once)."""
    from attune_registry.adapters.sandbox import Sandbox

    try:
        mechanism = Sandbox(_sandbox_policy(settings)).ready()
    except ConfigError as exc:
        return SandboxInfo(setting=settings.sandbox_setting, mechanism=None, problem=str(exc))
    return SandboxInfo(setting=settings.sandbox_setting, mechanism=mechanism)


def _workers(config: StoreConfig) -> WorkersInfo | None:
    from attune_registry.adapters.queue.status import QueueStatus

    status = QueueStatus(config)
    try:
        rows, figures = status.workers(), status.figures()
    except ConfigError:
        return None
    alive = sum(1 for row in rows if row.state == "alive")
    return WorkersInfo(alive=alive, lost=len(rows) - alive, queue_depth=figures.queue_depth,
                       oldest_queued_seconds=figures.oldest_queued_seconds)


def _read_models(config: StoreConfig) -> ReadModelsInfo | None:
    try:
        state = read_models(config)
    except ConfigError:
        return None
    return None if state is None else read_models_info(state)


def read_models_info(state: ReadModelState) -> ReadModelsInfo:
    described: Literal["current", "behind", "other_version"] = (
        "other_version" if state.version != READ_MODEL_VERSION
        else "behind" if state.lag else "current")
    return ReadModelsInfo(state=described, version=state.version,
                          expected_version=READ_MODEL_VERSION, position=state.position,
                          log_head=state.log_head, lag=state.lag)


def shown(name: str, value: str) -> str:
    """A setting's value as it may be shown: a secret masked whole, a URL's password too."""
    if any(word in name.upper() for word in SECRET_WORDS):
        return MASK if value else ""
    return redact_url(value)


# Each setting checked where it is used, checked here at once: ``attune info`` before
# starting a server says what the first registration would otherwise fail on.
_CHECKS: tuple[Callable[[Settings], object], ...] = (
    lambda s: s.test_jobs, lambda s: s.lease_grace, lambda s: s.fetch_timeout,
    lambda s: s.tests_on_workers, lambda s: s.worker_stall_seconds, lambda s: s.queue_wait,
    lambda s: s.blob_max_bytes, lambda s: s.keep_releases,
    lambda s: s.wheelhouse, lambda s: s.pip_index_url, lambda s: s.environment_timeout,
    lambda s: allow_private_addresses(s.install_allow_private_setting),
)


def problems(settings: Settings) -> list[str]:
    """What is wrong with the settings, one message per setting (each names its variable)."""
    found = []
    for check in (*_CHECKS, _sandbox_policy):
        try:
            check(settings)
        except ConfigError as exc:
            found.append(str(exc))
    return found


def _sandbox_policy(settings: Settings) -> SandboxPolicy:
    from attune_registry.adapters.sandbox import SandboxPolicy

    return SandboxPolicy.from_settings(
        settings.sandbox_setting, settings.sandbox_network_setting,
        settings.sandbox_limits_setting, settings.sandbox_max_limits_setting,
        settings.sandbox_share_setting)


def banner(info: Info, *, dashboard: str) -> str:
    """The one line ``attune serve`` logs at start-up."""
    store = info.store.url + {"found": "", "not_found": " (new: nothing recorded yet)",
                              "unreachable": " (unreachable)"}[info.store.status]
    return (f"attune {info.version} serving store {store}; home {info.home}; pack roots "
            f"{', '.join(info.pack_roots)}; sandbox {mechanism_text(info.sandbox)}; tests run "
            f"{info.run_tests}; dashboard {dashboard}")


def mechanism_text(sandbox: SandboxInfo) -> str:
    """``bwrap``, or ``none (why)`` when no sandbox of the kind asked for works."""
    if sandbox.mechanism is not None:
        return sandbox.mechanism
    return f"none ({sandbox.problem})"
