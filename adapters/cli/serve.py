"""``attune serve``: the HTTP API on a production ASGI server (uvicorn)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="ATTUNE_HOST",
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              envvar="ATTUNE_PORT", help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes. They share the store; commands project their own events.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the HTTP API (/api/v1, OpenAPI at /schema/openapi.json, docs at /schema) and
    the web dashboard (/ui/, sign in with a token).

    Requests need a bearer token (`attune token create NAME --scope read|write`); packs are
    registered only from the directories in ATTUNE_PACK_ROOTS. Webhooks (`attune webhook`)
    are delivered in the background.

    \b
    Logs go to stderr; ATTUNE_LOG_FORMAT=json writes one JSON object per line (access lines
    and application events, with request ids). Prometheus metrics are at /metrics (read
    token, unless ATTUNE_METRICS_PUBLIC=1), summed over every worker process.
    """
    import uvicorn

    from attune_registry.adapters.hardening import undumpable

    # The master holds the listening socket and the environment (database URL): from start-up,
    # nothing running as the same user may read it or take its descriptors.
    undumpable()
    from attune_registry.adapters.cli.context import user_errors
    from attune_registry.adapters.observability.serving import prepare_serving

    with user_errors(as_json=False):  # a bad log or metrics setting: one line, exit 1
        log_config = prepare_serving(log_level)
    with user_errors(as_json=False):  # a bad webhook setting too (the server delivers them)
        from attune_registry.adapters.settings import Settings
        from attune_registry.adapters.webhooks.config import WebhookConfig

        WebhookConfig.of(Settings.from_env())
    from attune_registry.adapters.cli.banner import log_start

    log_start(host=host, port=port, workers=workers, log_level=log_level)

    # Registrations keep a request open while pack tests run and load the machine; uvicorn's
    # default 5 s worker health check would then kill busy-but-healthy workers mid-request.
    uvicorn.run("attune_registry.adapters.http.app:app_from_env", factory=True, host=host,
                port=port, workers=workers, log_level=log_level, proxy_headers=False,
                server_header=False, timeout_worker_healthcheck=60,
                log_config=log_config)
