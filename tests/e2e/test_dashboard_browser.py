"""The dashboard in a real browser (Chromium) against a real `attune serve`: a person signs in,
opens a pack, sees its charts and a failing case; a registration in flight updates its own
page; nothing the pages do trips the Content-Security-Policy."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.browser import chromium, console_problems, wait_until
from tests.conftest import ATTUNE
from tests.packs import PASSING_TEST, failing_tests, manifest, write_pack
from tests.sandboxed import shared_folder, sharing, with_mark


@pytest.fixture
def settings(sqlite_settings):
    """One store is enough here: the pages read through the same registry on both, and the
    test client covers PostgreSQL (test_dashboard.py)."""
    return sqlite_settings


def api_register(server, path, **flags) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/packs/register", json={"path": str(path), **flags},
                      headers={"Authorization": f"Bearer {server.write_token}"}, timeout=300)


def sign_in(driver, server) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/")  # a browser asking for / lands on the sign-in form
    wait_until(driver, lambda d: d.find_elements(By.ID, "token"), "the sign-in form")
    driver.find_element(By.ID, "token").send_keys(server.read_token)
    driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form.signout"),
               "the packs page after signing in")
    assert driver.current_url == f"{server.url}/ui/"


def test_sign_in_open_a_pack_see_its_chart_and_a_failing_case(server):
    from selenium.webdriver.common.by import By

    write_pack(server.root / "calc", manifest("calc"), {"test_math.py": PASSING_TEST})
    assert api_register(server, server.root / "calc").status_code == 201
    write_pack(server.root / "calc", manifest("calc", "1.1.0"),
               {"test_math.py": failing_tests(3, 1)})
    assert api_register(server, server.root / "calc", replace=True).status_code == 400

    with chromium() as driver:
        sign_in(driver, server)
        assert "Signed in as token:reader" in driver.page_source
        driver.find_element(By.CSS_SELECTOR, "table.packs").find_element(
            By.LINK_TEXT, "calc").click()

        wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.runs"),
                   "the pack page")
        chart = driver.find_element(By.CSS_SELECTOR, "svg[aria-label^='Pass rate']")
        marks = chart.find_elements(By.CSS_SELECTOR, ".run")
        assert len(marks) == 2
        assert chart.size["width"] > 200 and chart.size["height"] > 50  # laid out, not empty
        failing = [row for row in driver.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
                   if "failed" in row.text]
        assert len(failing) == 1
        failing[0].find_element(By.TAG_NAME, "a").click()

        wait_until(driver, lambda d: "Failing cases (1)" in d.page_source, "the run page")
        case = driver.find_element(By.CSS_SELECTOR, "details.case")
        assert "test_fail_0" in case.text and "deliberate failure 0" in case.text
        assert console_problems(driver) == []


def test_a_registration_in_flight_updates_its_own_page(server, tmp_path):
    from selenium.webdriver.common.by import By

    gate = shared_folder(tmp_path / "gate")
    started, release = gate / "started", gate / "release"
    write_pack(server.root / "gated", manifest("gated"), {"test_gated.py": with_mark(f"""
        import os, time, unittest
        class TestGated(unittest.TestCase):
            def test_waits_for_the_gate(self):
                mark({str(started)!r}, "running")
                while not os.path.exists({str(release)!r}):
                    time.sleep(0.05)
    """)})
    registering = subprocess.Popen([ATTUNE, "pack", "register", str(server.root / "gated")],
                                   env=sharing(server.env, gate), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
    try:
        with chromium() as driver:
            sign_in(driver, server)
            wait_until(driver, lambda _: started.exists(), "the gated suite to start")
            found = httpx.get(f"{server.url}/api/v1/packs/gated/registrations",
                              headers={"Authorization": f"Bearer {server.read_token}"}).json()
            registration_id = found["data"][0]["id"]
            driver.get(f"{server.url}/ui/registrations/{registration_id}")
            live = driver.find_element(By.ID, "live")
            assert "Unit Tests: waiting" in live.text
            heading = driver.find_element(By.TAG_NAME, "h1").text
            assert "requested" in heading or "testing" in heading

            release.touch()

            # No navigation from here on: the page itself notices the decision.
            wait_until(driver, lambda d: "committed" in d.find_element(By.TAG_NAME, "h1").text,
                       "the page to show the decision")
            assert "Committed: the pack became active" in driver.page_source
            assert not driver.find_elements(By.ID, "live")
            assert console_problems(driver) == []
        assert registering.wait(timeout=120) == 0, registering.stderr.read()
    finally:
        release.touch()
        if registering.poll() is None:
            registering.kill()
