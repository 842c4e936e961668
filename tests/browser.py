"""A real browser for the tests: Debian's Chromium, driven through its ChromeDriver by selenium.

Without the browser the tests that need it skip, except under CI (``CI=true``), where a
missing browser is a failure: `.ci/run` installs the ``chromium`` and ``chromium-driver``
packages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless, as root in a container, and quiet on a machine without outside network: without the
# background-networking switches Chromium keeps trying to reach Google's hosts.
SWITCHES = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1280,1000")
PATIENCE = 120  # seconds a page may take to show what a test waits for: only a hang fails


def need_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return
    message = (f"{' and '.join(missing)} not found: install Debian's chromium and "
               "chromium-driver packages")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium with a fresh profile; its console log is kept (``get_log``)."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="attune-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for switch in SWITCHES:
        options.add_argument(switch)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(driver: Any, found: Callable[[Any], Any], what: str) -> Any:
    """Poll ``found`` until it answers; a page that reloads itself (a registration in flight)
    may replace an element between finding and reading it: that poll counts as not yet."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, PATIENCE, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException]
                         ).until(found, message=what)


def console_problems(driver: Any) -> list[str]:
    """What the page's console reported as errors: CSP violations, failed loads, exceptions."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] in ("SEVERE", "ERROR")]
