"""The ``/schema`` page: Swagger UI 5 from the ``swagger-ui-py`` package, served by this app."""

from __future__ import annotations

import hashlib
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File

# Swagger UI's distribution as `swagger-ui-py` installs it: plain files, which `File` serves.
_VENDOR = Path(str(files("swagger_ui") / "static"))
_JS, _CSS = "text/javascript", "text/css"  # Litestar adds the charset
# The only files served, by the name the page loads them under: no source maps, no sample page,
# no Swagger Editor, no standalone preset (the page uses the plain layout).
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (_VENDOR / "swagger-ui.css", _CSS),
    "index.css": (_VENDOR / "index.css", _CSS),
    "swagger-ui-bundle.js": (_VENDOR / "swagger-ui-bundle.js", _JS),
    "schema.js": (Path(__file__).parent / "static" / "schema.js", _JS),
}
ASSET_ROUTE = "schema-asset"
# Page links carry each file's digest, so a changed file is a new URL and caching for good is safe.
CACHE_FOREVER = "public, max-age=31536000, immutable"

STYLESHEETS = ("swagger-ui.css", "index.css")
SCRIPTS = ("swagger-ui-bundle.js", "schema.js")  # `defer` keeps this order, after parsing

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
{assets}
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""


@cache
def _digest(name: str) -> str:
    return hashlib.sha256(ASSETS[name][0].read_bytes()).hexdigest()[:16]


@get("/assets/{file:str}", name=ASSET_ROUTE, sync_to_thread=False, include_in_schema=False)
def schema_asset(file: FromPath[str]) -> File:
    """One of :data:`ASSETS`, cached by the browser for a year."""
    if file not in ASSETS:
        raise NotFoundException(f"No such asset: {file}")
    path, media_type = ASSETS[file]
    return File(path, media_type=media_type, content_disposition_type="inline",
                headers={"Cache-Control": CACHE_FOREVER})


class SwaggerPage(OpenAPIRenderPlugin):
    """Renders the API reference with Swagger UI, every file from this server.

    Litestar's own Swagger plugin loads its files from a CDN and starts them with an inline
    script; this page works offline and under the app's strict Content-Security-Policy.
    """

    def __init__(self) -> None:
        super().__init__(path="/swagger")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        def url(name: str) -> str:
            return escape(f"{request.app.route_reverse(ASSET_ROUTE, file=name)}?v={_digest(name)}")

        assets = [f'<link rel="stylesheet" href="{url(name)}">' for name in STYLESHEETS]
        assets += [f'<script src="{url(name)}" defer></script>' for name in SCRIPTS]
        return PAGE.format(title=escape(openapi_schema["info"]["title"]),
                           assets="\n".join(assets),
                           openapi_url=escape(self.get_openapi_json_route(request))).encode()

    def receive_router(self, router: Router) -> None:
        router.register(schema_asset)
