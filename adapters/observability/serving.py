"""What ``attune serve`` sets up before uvicorn starts its workers: logging and metrics."""

from __future__ import annotations

import atexit
import logging.config
import os
import shutil
import tempfile
from typing import Any

from attune_registry.adapters.observability.logs import uvicorn_log_config
from attune_registry.adapters.settings import Settings

# prometheus-client's multiprocess mode: where each worker process keeps its figures. (Not
# imported from adapters.observability.metrics: prometheus-client must not be imported here,
# before the variable is set.)
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_serving(log_level: str) -> dict[str, Any]:
    """Check the observability settings, and return uvicorn's ``log_config``.

    - JSON logs are configured here already, so that what this process logs before uvicorn
      starts (the start-up banner) is JSON too.
    - The workers' metrics go to a new private directory (0700) named in
      ``PROMETHEUS_MULTIPROC_DIR``, which the workers inherit; it is removed when this process
      exits, so no figures of an earlier run are ever added to this one's.

    Raises: ConfigError for a setting that cannot work (before anything starts).
    """
    settings = Settings.from_env()
    log_format = settings.log_format
    settings.metrics_public  # noqa: B018 - checked here, rather than in each worker
    config = uvicorn_log_config(log_format, log_level)
    if log_format == "json":
        logging.config.dictConfig(config)
    directory = tempfile.mkdtemp(prefix="attune-metrics-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ[MULTIPROCESS_DIR] = directory
    return config
