"""``/``: browsers go to the dashboard, API clients get a JSON index of links."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.response import Redirect

DASHBOARD = "/ui/"
LINKS = {
    "api": "/api/v1",
    "health": "/api/v1/health",
    "openapi": "/schema/openapi.json",
    "docs": "/schema",
    "dashboard": DASHBOARD,
}


@get("/", sync_to_thread=False, include_in_schema=False)
def index(request: Request[Any, Any, Any]) -> Response[dict[str, dict[str, str]]]:
    """Where to go from here: the dashboard for a browser, the links for any other client."""
    # JSON is listed first, so that `*/*` (curl, most HTTP libraries) and no Accept at all get it;
    # only a client that ranks HTML above JSON, as browsers do, is sent to the dashboard.
    wanted = request.accept.best_match([MediaType.JSON, MediaType.HTML], default=MediaType.JSON)
    vary = {"Vary": "Accept"}  # caches must keep one answer per Accept
    if wanted == MediaType.HTML:
        return Redirect(DASHBOARD, status_code=303, headers=vary)
    return Response({"data": LINKS}, headers=vary)
