"""The ``/schema`` page in a real headless Chromium: it renders the API reference from this
server alone, and nothing on it breaks the Content-Security-Policy."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import _running_in_ci

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

# A real `attune serve` on SQLite (the `server` fixture); the page does not depend on the store.
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium that keeps its console, with nothing to fetch on its own account."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        if _running_in_ci():
            pytest.fail(f"CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing")
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


def shown(browser, selector: str, seconds: float = 30) -> list:
    """The elements matching ``selector`` once there are some; on timeout, the console says why."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, seconds).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, selector))
    except TimeoutException:
        pytest.fail(f"{selector} never appeared; console: {browser.get_log('browser')}")


def test_the_api_reference_renders_from_this_server_alone_within_the_policy(browser, server):
    browser.get(f"{server.url}/schema")
    # Swagger UI draws one block per operation once it has fetched and read the document.
    shown(browser, "#operations-health-health", seconds=60)

    # Try the health endpoint from the page: the request goes to this server (connect-src).
    shown(browser, "#operations-health-health .opblock-summary")[0].click()
    shown(browser, "#operations-health-health .try-out__btn")[0].click()
    shown(browser, "#operations-health-health .execute")[0].click()
    [status] = shown(browser, "#operations-health-health .live-responses-table "
                              ".response .response-col_status")

    title = shown(browser, ".info .title")[0].text
    # Swagger UI 5 reads Litestar's OpenAPI 3.1 document as it is, and says so in its badge.
    badge = shown(browser, ".info .title .version-stamp")[0].text
    operations = {e.get_attribute("id") for e in shown(browser, ".opblock")}
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    console = browser.get_log("browser")

    assert title.startswith("Attune pack registry")
    assert badge.strip() == "OAS 3.1"
    assert {"operations-packs-registerPack", "operations-health-health"} <= operations
    assert status.text.strip() == "200"
    # Stylesheets, scripts, the document and the tried request: all from this server.
    assert {urlsplit(url).path for url in loaded} >= {
        "/schema/assets/swagger-ui-bundle.js", "/schema/assets/schema.js",
        "/schema/openapi.json", "/api/v1/health"}
    assert {urlsplit(url).netloc for url in loaded} == {urlsplit(server.url).netloc}
    # Chromium reports every refused load, script or style in the console, as an error.
    assert [entry for entry in console if entry["level"] == "SEVERE"] == []
