"""Safe headers on every response, the offline `/schema` page and `/` for browsers and clients."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app
from attune_registry.adapters.http.headers import CONTENT_SECURITY_POLICY, SAFE_HEADERS

from tests.e2e.test_http import running_api

BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,*/*;q=0.8")


@pytest.fixture
def api(sqlite_settings, tmp_path):
    with running_api(sqlite_settings, tmp_path) as api:
        yield api


def assert_safe(response) -> None:
    for name, value in SAFE_HEADERS.items():
        # Once each: a second, different copy would leave browsers to pick or to combine.
        assert response.headers.get_list(name) == [value], name


class TestSafeHeaders:
    @pytest.mark.parametrize(("status", "request_"), [
        (200, lambda api: api.client.get("/api/v1/health")),
        (200, lambda api: api.client.get("/api/v1/packs", headers=api.read)),
        (401, lambda api: api.client.get("/api/v1/packs")),
        (404, lambda api: api.client.get("/api/v1/nothing", headers=api.read)),
        (404, lambda api: api.client.get("/api/v1/packs/absent", headers=api.read)),
        (405, lambda api: api.client.put("/api/v1/packs/core", headers=api.write)),
        (413, lambda api: api.client.post("/api/v1/packs/register", content=b" " * 200_000,
                                          headers={**api.write,
                                                   "content-type": "application/json"})),
        (422, lambda api: api.client.post("/api/v1/packs/register", json={"path": 3},
                                          headers=api.write)),
        (200, lambda api: api.client.get("/schema")),
        (200, lambda api: api.client.get("/schema/openapi.json")),
        (200, lambda api: api.client.get("/schema/assets/schema.js")),
        (303, lambda api: api.client.get("/", headers={"Accept": BROWSER_ACCEPT},
                                         follow_redirects=False)),
    ], ids=["health", "list", "no token", "no route", "no pack", "wrong method", "huge body",
            "invalid body", "schema page", "openapi document", "schema asset", "redirect"])
    def test_every_kind_of_response_carries_them(self, api, status, request_):
        response = request_(api)

        assert response.status_code == status, response.text
        assert_safe(response)

    def test_a_crash_answers_500_with_them_too(self, sqlite_settings):
        class CrashingHealth:
            """The real registry, except that its health check has a bug."""

            def __init__(self, registry) -> None:
                self.registry = registry

            def __getattr__(self, name: str):
                return getattr(self.registry, name)

            def health(self):
                raise RuntimeError("a bug")

        with build_registry(sqlite_settings) as registry, TestClient(
                app=create_app(sqlite_settings, registry=CrashingHealth(registry))) as client:
            response = client.get("/api/v1/health")

        assert (response.status_code, response.json()["code"]) == (500, "INTERNAL_SERVER_ERROR")
        assert_safe(response)

    def test_the_policy_allows_nothing_from_elsewhere_and_nothing_inline(self):
        directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))

        assert directives["default-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert {"script-src", "style-src", "connect-src", "img-src", "form-action"} <= set(
            directives)
        for sources in directives.values():
            # Only this origin, `data:` images and nothing: no host, no scheme, no inline code.
            assert set(sources.split()) <= {"'self'", "'none'", "data:"}, sources
        assert directives["img-src"] == "'self' data:"


class PageAssets(HTMLParser):
    """What a page loads (scripts, stylesheets, icons) and any code or style written inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self.openapi_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        elif tag in ("script", "style"):
            self.inline.append(tag)
        elif tag == "link":
            self.urls.append(found["href"] or "")
        self.inline += [name for name in found if name == "style" or name.startswith("on")]
        self.openapi_url = found.get("data-openapi-url") or self.openapi_url


class TestSchemaPage:
    def test_the_page_loads_only_files_of_this_server_and_has_nothing_inline(self, api):
        page = api.client.get("/schema")
        assets = PageAssets()
        assets.feed(page.text)

        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert assets.inline == []
        icons = [url for url in assets.urls if url.startswith("data:")]
        files = sorted(url.split("?")[0] for url in assets.urls if url not in icons)
        assert files == ["/schema/assets/index.css", "/schema/assets/schema.js",
                         "/schema/assets/swagger-ui-bundle.js", "/schema/assets/swagger-ui.css"]
        assert assets.openapi_url == "/schema/openapi.json"

    def test_its_files_are_served_with_their_types_and_kept_by_the_browser(self, api):
        assets = PageAssets()
        assets.feed(api.client.get("/schema").text)
        served = {url: api.client.get(url) for url in assets.urls if url.startswith("/")}

        types = {url.split("?")[0].rsplit(".", 1)[1]: r.headers["content-type"]
                 for url, r in served.items()}
        assert types == {"css": "text/css; charset=utf-8",
                         "js": "text/javascript; charset=utf-8"}
        for url, response in served.items():
            assert response.status_code == 200, url
            assert len(response.content) > 100, url
            assert "max-age=31536000" in response.headers["cache-control"], url
        # Each link names its file's version, so a cached copy is never stale.
        assert all("?v=" in url for url in served)
        assert b"SwaggerUIBundle" in served[next(u for u in served if "schema.js" in u)].content

    def test_it_reads_the_openapi_3_1_document_as_it_is(self, api):
        page = PageAssets()
        page.feed(api.client.get("/schema").text)
        bundle, start = (api.client.get(next(url for url in page.urls if name in url)).content
                         for name in ("swagger-ui-bundle.js", "schema.js"))
        document = api.client.get("/schema/openapi.json")

        assert document.status_code == 200
        assert document.json()["openapi"].startswith("3.1")
        assert "/api/v1/health" in document.json()["paths"]
        # Swagger UI 5 (from `swagger-ui-py`) reads 3.1 itself: the page no longer relabels it.
        assert re.search(rb'PACKAGE_VERSION:"5\.\d+\.\d+"', bundle)
        assert b"3.0" not in start and b"updateSpec" not in start

    @pytest.mark.parametrize("name", [
        "swagger-ui-bundle.js.map", "swagger-ui.css.map", "index.html", "swagger-ui.js",
        "swagger-ui-es-bundle.js", "swagger-ui-standalone-preset.js", "swagger-initializer.js",
        "swagger-editor-bundle.js", "swagger-editor.css", "favicon-32x32.png", "LICENSE",
        "oauth2-redirect.html", "..%2F..%2Fapp.py", "..%2Ftemplates%2Fdoc.html"])
    def test_no_other_file_of_the_package_is_served(self, api, name):
        response = api.client.get(f"/schema/assets/{name}")

        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


class TestIndex:
    def test_a_browser_is_sent_to_the_dashboard(self, api):
        response = api.client.get("/", headers={"Accept": BROWSER_ACCEPT},
                                  follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == "/ui/"
        assert response.headers["vary"] == "Accept"

    @pytest.mark.parametrize("accept", ["*/*", "application/json",
                                        "text/html;q=0.5, application/json"])
    def test_an_api_client_gets_the_links_without_a_token(self, api, accept):
        response = api.client.get("/", headers={"Accept": accept}, follow_redirects=False)

        assert response.status_code == 200
        assert response.headers["vary"] == "Accept"
        assert response.json() == {"data": {
            "api": "/api/v1", "health": "/api/v1/health", "openapi": "/schema/openapi.json",
            "docs": "/schema", "dashboard": "/ui/"}}

    def test_the_links_for_clients_lead_somewhere(self, api):
        links = api.client.get("/").json()["data"]

        for name in ("health", "openapi", "docs"):
            assert api.client.get(links[name]).status_code == 200, name
        assert api.client.get(f"{links['api']}/packs", headers=api.read).status_code == 200
