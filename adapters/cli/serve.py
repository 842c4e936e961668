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
    registered only from the directories in ATTUNE_PACK_ROOTS.
    """
    import uvicorn

    from adapters.hardening import undumpable

    # The master holds the listening socket and the environment (database URL): from start-up,
    # nothing running as the same user may read it or take its descriptors.
    undumpable()

    # Registrations keep a request open while pack tests run and load the machine; uvicorn's
    # default 5 s worker health check would then kill busy-but-healthy workers mid-request.
    uvicorn.run("adapters.http.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, proxy_headers=False,
                server_header=False, timeout_worker_healthcheck=60)
