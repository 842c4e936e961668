"""The web dashboard through Litestar's test client, on both stores: sign-in and its session
cookie, and what each page shows of real registrations and runs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from http.cookies import SimpleCookie
from uuid import uuid4

import pytest

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http.headers import CONTENT_SECURITY_POLICY
from attune_registry.adapters.web.session import COOKIE, LIFETIME_SECONDS, SessionKey

from tests.e2e.test_http import running_api
from tests.packs import PASSING_TEST, failing_tests, manifest, write_pack

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def api(settings, tmp_path):
    with running_api(settings, tmp_path) as api:
        yield api


def sign_in(api, token: str | None = None, target: str = "/ui/"):
    return api.client.post("/ui/signin", data={"token": token or api.read["Authorization"][7:],
                                               "next": target}, follow_redirects=False)


def history(api, ref: str) -> list[dict]:
    return api.get(f"/packs/{ref}/tests").json()["data"]


@pytest.fixture
def calc(api):
    """Pack ``calc``: 1.0.0 committed, 1.1.0 rejected (1 of 3 cases failing), then a manual
    run; the viewer is signed in."""
    write_pack(api.root / "calc", manifest("calc"), {"test_math.py": PASSING_TEST})
    assert api.register(api.root / "calc").status_code == 201
    write_pack(api.root / "calc", manifest("calc", "1.1.0"),
               {"test_math.py": failing_tests(2, 1)})
    assert api.register(api.root / "calc", replace=True).status_code == 400
    assert api.client.post("/api/v1/packs/calc/test", headers=api.write).status_code in (200,
                                                                                          400)
    assert sign_in(api).status_code == 303
    return api


class TestSignIn:
    def test_pages_send_a_visitor_without_a_session_to_the_sign_in_form(self, api):
        answer = api.client.get("/ui/packs/calc?status=failed", follow_redirects=False)

        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/signin?next=%2Fui%2Fpacks%2Fcalc%3Fstatus%3Dfailed"
        form = api.client.get(answer.headers["location"])
        assert form.status_code == 200
        assert 'type="password"' in form.text and 'value="/ui/packs/calc?status=failed"' in form.text

    def test_a_token_gives_a_strict_http_only_cookie_that_never_holds_the_token(self, api):
        token = api.read["Authorization"][7:]

        answer = sign_in(api, token, "/ui/packs/calc")

        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/packs/calc"
        header = answer.headers["set-cookie"]
        cookie = SimpleCookie(header)[COOKIE]
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/ui" and int(cookie["max-age"]) == LIFETIME_SECONDS
        assert not cookie["secure"]  # plain http here; https gets Secure (below)
        secret = token.split("_", 2)[2]  # the secret itself may hold "_"
        assert secret not in header and token not in answer.headers["location"]
        assert api.client.get("/ui/").status_code == 200

    def test_over_https_the_cookie_is_secure(self, api):
        api.client.base_url = api.client.base_url.copy_with(scheme="https")

        answer = sign_in(api)

        assert SimpleCookie(answer.headers["set-cookie"])[COOKIE]["secure"]

    def test_behind_a_tls_proxy_that_says_so_the_cookie_is_secure(self, api):
        answer = api.client.post("/ui/signin", data={"token": api.read["Authorization"][7:]},
                                 headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)

        assert SimpleCookie(answer.headers["set-cookie"])[COOKIE]["secure"]

    def test_a_wrong_token_is_refused_with_the_form_again(self, api):
        answer = sign_in(api, "attn_" + "0" * 32 + "_nope")

        assert answer.status_code == 401
        assert "That token is not valid" in answer.text
        assert "set-cookie" not in answer.headers
        assert api.client.get("/ui/", follow_redirects=False).status_code == 303

    def test_after_sign_in_only_dashboard_paths_are_followed(self, api):
        for target in ("https://evil.example/", "//evil.example/ui/", "/api/v1/packs",
                       "/ui\\..\\x", "javascript:alert(1)"):
            assert sign_in(api, target=target).headers["location"] == "/ui/", target

    def test_a_form_posted_from_another_site_is_refused(self, api):
        answer = api.client.post("/ui/signin", data={"token": api.read["Authorization"][7:]},
                                 headers={"Origin": "https://evil.example"},
                                 follow_redirects=False)

        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers

    def test_sign_out_ends_the_session(self, api):
        sign_in(api)

        answer = api.client.post("/ui/signout", follow_redirects=False)

        assert answer.status_code == 303 and answer.headers["location"] == "/ui/signin"
        assert SimpleCookie(answer.headers["set-cookie"])[COOKIE]["max-age"] == "0"
        assert api.client.get("/ui/", follow_redirects=False).status_code == 303

    def test_revoking_the_token_ends_its_sessions(self, api, settings):
        sign_in(api)
        assert api.client.get("/ui/").status_code == 200

        with build_registry(settings) as registry:
            registry.revoke_token("reader", actor="test")

        assert api.client.get("/ui/", follow_redirects=False).status_code == 303

    def test_forged_tampered_and_expired_cookies_are_not_sessions(self, api):
        token_id = api.read["Authorization"][7:].split("_")[1]
        key = SessionKey(b"k" * 32)
        sealed = key.seal(uuid4())
        assert key.open(sealed) is not None
        assert key.open(sealed[:-2] + "xx") is None
        assert key.open(key.seal(uuid4(), now=0)) is None  # expired long ago
        assert SessionKey(b"other" * 8).open(sealed) is None
        for value in (f"{token_id}.9999999999.forged", "", "garbage"):
            api.client.cookies.set(COOKIE, value)
            assert api.client.get("/ui/", follow_redirects=False).status_code == 303, value


class TestPages:
    def test_packs_list_shows_version_status_last_run_and_trend(self, calc):
        page = calc.client.get("/ui/")

        assert page.status_code == 200
        row = re.search(r"<tr>\s*<td><a href=\"/ui/packs/calc\">calc</a>.*?</tr>", page.text,
                        re.S)
        assert row, page.text
        last = history(calc, "calc")[0]
        assert ">1.0.0<" in row[0] and "active" in row[0]
        assert f"/ui/packs/calc/runs/{last['id']}" in row[0]
        rate = round(100 * last["passed"] / (last["passed"] + last["failed"]))
        assert f">{rate}%<" in row[0]
        assert "<svg" in row[0] and "Pass rate of calc" in row[0]

    def test_pack_page_has_charts_history_and_the_timeline(self, calc):
        runs = history(calc, "calc")

        page = calc.client.get("/ui/packs/calc")

        assert page.status_code == 200
        charts = [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page.text, re.S)]
        rate_chart = next(svg for svg in charts if "Pass rate" in svg.get("aria-label", ""))
        marks = [c for c in rate_chart.iter() if c.tag in (f"{SVG}circle", f"{SVG}rect")
                 and "run" in (c.get("class") or "").split()]
        assert len(marks) == len(runs) == 3
        links = {a.get("href") for a in rate_chart.iter(f"{SVG}a")}
        assert links == {f"/ui/packs/calc/runs/{run['id']}" for run in runs}
        for run in runs:
            assert f'href="/ui/packs/calc/runs/{run["id"]}">#{run["id"]}</a>' in page.text
        timeline = re.search(r'<ol class="timeline">.*?</ol>', page.text, re.S)[0]
        assert "1.1.0" in timeline and "rejected: tests failed" in timeline
        assert "--replace" in timeline and "by token:writer" in timeline

    def test_history_filters_narrow_the_table(self, calc):
        failed = [run for run in history(calc, "calc") if run["status"] == "failed"]

        page = calc.client.get("/ui/packs/calc?status=failed&trigger=register")

        shown = re.findall(r'<td><a href="/ui/packs/calc/runs/(\d+)">', page.text)
        expected = [str(run["id"]) for run in failed if run["trigger_reason"] == "register"]
        assert shown == expected and len(expected) == 1
        assert '<option value="failed" selected>' in page.text

    def test_a_long_history_pages_by_cursor(self, calc, monkeypatch):
        monkeypatch.setattr("attune_registry.adapters.web.pages.RUNS_PER_PAGE", 2)
        runs = history(calc, "calc")

        first = calc.client.get("/ui/packs/calc").text
        following = re.search(r'href="(/ui/packs/calc\?cursor=[^"]+)">Older runs', first)[1]
        second = calc.client.get(following.replace("&amp;", "&")).text

        ids = re.findall(r'<td><a href="/ui/packs/calc/runs/(\d+)">', first + second)
        assert ids == [str(run["id"]) for run in runs]
        assert "Older runs" not in second

    def test_a_failing_run_shows_the_failing_case_and_its_message(self, calc):
        rejected = next(run for run in history(calc, "calc") if run["outcome"] == "rejected")

        page = calc.client.get(f"/ui/packs/calc/runs/{rejected['id']}")

        assert page.status_code == 200
        assert "Failing cases (1)" in page.text
        assert "test_fail_0" in page.text and "deliberate failure 0" in page.text
        assert "2 passed, 1 failed, 0 skipped of 3" in page.text

    def test_a_registration_reads_as_a_story_with_raw_events_a_click_away(self, calc):
        rejected = next(run for run in history(calc, "calc") if run["outcome"] == "rejected")
        url = f"/ui/registrations/{rejected['registration_id']}"

        story = calc.client.get(url).text
        raw = calc.client.get(f"{url}?raw=true").text

        assert "token:writer asked to register calc 1.1.0; suites to run: Unit Tests" in story
        assert "Suite Unit Tests (python_unittest) failed: 2 passed, 1 failed" in story
        assert "test_fail_0: AssertionError: 0 != 1 : deliberate failure 0" in story
        assert "Rejected: " in story
        assert f'href="{url}?raw=true"' in story
        assert "attune:Registration.PackRegistrationRequested" in raw
        assert "attune:Registration.RegistrationRejected" in raw and "Events as stored" in raw

    def test_a_decided_registration_does_not_refresh_itself(self, calc):
        committed = next(run for run in history(calc, "calc") if run["outcome"] == "committed")
        url = f"/ui/registrations/{committed['registration_id']}"

        page = calc.client.get(url).text
        fragment = calc.client.get(f"{url}/progress")

        assert "data-live" not in page and "live.js" not in page
        assert fragment.headers["x-attune-decided"] == "1"
        assert "committed" in fragment.text

    def test_an_unregistered_pack_keeps_its_page(self, calc):
        assert calc.client.delete("/api/v1/packs/calc", headers=calc.write).status_code == 200

        page = calc.client.get("/ui/packs/calc")

        assert page.status_code == 200
        assert "No version of calc is active" in page.text
        assert "unregistered by token:writer" in page.text

    @pytest.mark.parametrize("url", ["/ui/packs/nothing", "/ui/packs/calc/runs/999999",
                                     "/ui/packs/calc/runs/99999999999999999999",
                                     "/ui/registrations/3f0c1d5e-0000-4000-8000-000000000000"])
    def test_unknown_things_are_html_404_pages(self, calc, url):
        page = calc.client.get(url)

        assert page.status_code == 404, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "not found" in page.text

    def test_pages_are_private_and_under_the_strict_policy(self, calc):
        for url in ("/ui/", "/ui/packs/calc", "/ui/signin"):
            page = calc.client.get(url)
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            # Nothing inline that the policy would block: no script bodies, no style attributes.
            assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
            assert " style=" not in page.text and "<style" not in page.text

    def test_hostile_pack_text_is_escaped(self, api):
        write_pack(api.root / "odd", manifest("odd", description="<script>alert(1)</script>"))
        assert api.register(api.root / "odd").status_code == 201
        sign_in(api)

        page = api.client.get("/ui/packs/odd").text

        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
