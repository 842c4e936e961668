"""The line ``attune serve`` logs when it starts: what ``attune info`` shows, in one record of
the ``attune`` logger (so that whichever log format is configured applies to it)."""

from __future__ import annotations

import logging

LOGGER = "attune"
EVENT = "server.starting"


def dashboard_url(host: str, port: int) -> str:
    """The dashboard's address as this server listens (IPv6 addresses in brackets)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/ui/"


def log_start(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Log the banner once, in the process that starts the workers: version, store (password
    masked, and whether anything was recorded in it yet), home, pack roots, sandbox, where
    tests run and the dashboard's address. A store that cannot be used is left to the start-up
    error that follows."""
    from attune_registry.adapters.info import banner, gather
    from attune_registry.adapters.settings import ConfigError, Settings

    try:
        info = gather(Settings.from_env())
    except ConfigError:
        return
    dashboard = dashboard_url(host, port)
    fields = {"event": EVENT, "version": info.version, "store": info.store.url,
              "store_status": info.store.status, "home": info.home,
              "pack_roots": info.pack_roots, "sandbox": info.sandbox.mechanism,
              "run_tests": info.run_tests, "workers": workers, "dashboard": dashboard}
    logger = logging.getLogger(LOGGER)
    if logger.hasHandlers():  # logging is configured (JSON logs): it decides
        logger.info(banner(info, dashboard=dashboard), extra=fields)
        return
    # Only uvicorn's own loggers get handlers from uvicorn: show this one line as uvicorn
    # shows its lines, at its level, without configuring logging for anything else.
    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(log_level.upper())
    try:
        logger.info(banner(info, dashboard=dashboard), extra=fields)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
