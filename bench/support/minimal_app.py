"""The baseline for bench/api_reads.py: a minimal Litestar endpoint on the same server stack,
answering with the very bytes the registry answered (file named by BENCH_BODY_FILE)."""

import os
from pathlib import Path

from litestar import Litestar, Response, get

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()


@get("/api/v1/packs/core/tests", sync_to_thread=False)
def tests() -> Response[bytes]:
    return Response(BODY, media_type="application/json")


app = Litestar(route_handlers=[tests])
