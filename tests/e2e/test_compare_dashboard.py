"""The dashboard's comparison of two runs (``/ui/packs/{ref}/compare``) through Litestar's test
client, on both stores: linked from a run's page, escaped, under the strict policy."""

from __future__ import annotations

import re
from html import unescape

import pytest

from attune_registry.adapters.http.headers import CONTENT_SECURITY_POLICY

from tests.e2e.test_dashboard import history, sign_in
from tests.e2e.test_http import running_api
from tests.packs import manifest, write_pack

BEFORE = """
import unittest

class TestCmp(unittest.TestCase):
    def test_kept(self):
        pass

    def test_turns(self):
        pass

    def test_gone(self):
        pass
"""

AFTER = """
import unittest

class TestCmp(unittest.TestCase):
    def test_kept(self):
        pass

    def test_turns(self):
        self.fail('<script>alert(1)</script>')

    def test_new(self):
        pass
"""


@pytest.fixture
def cmp(settings, tmp_path):
    """Pack ``cmp``: 1.0.0 passing, then 1.1.0 forced in with one case newly failing (its
    message is markup), one added and one removed; the viewer is signed in."""
    with running_api(settings, tmp_path) as api:
        for version, tests in (("1.0.0", BEFORE), ("1.1.0", AFTER)):
            path = write_pack(api.root / f"cmp-{version}", manifest("cmp", version),
                              {"test_cmp.py": tests})
            assert api.register(path, force=True).status_code == 201
        assert sign_in(api).status_code == 303
        yield api


def test_a_run_page_links_to_its_comparison_with_the_previous_run(cmp):
    newer, older = history(cmp, "cmp")[:2]

    run_page = cmp.client.get(f"/ui/packs/cmp/runs/{newer['id']}")
    link = f'href="/ui/packs/cmp/compare?to={newer["id"]}"'
    assert run_page.status_code == 200
    assert link in run_page.text
    assert "compare with the previous run" in run_page.text

    page = cmp.client.get(f"/ui/packs/cmp/compare?to={newer['id']}")

    assert page.status_code == 200, page.text
    text = page.text
    assert f"Run #{older['id']} → run #{newer['id']}" in text
    assert f'href="/ui/packs/cmp/runs/{older["id"]}"' in text
    sections = dict(re.findall(r"<h2>([A-Za-z ]+) \((\d+)\)</h2>", text))
    # Durations vary with the machine's load: a case may be slower or faster by chance.
    timing = {"Slower", "Faster"}
    assert {k: v for k, v in sections.items() if k not in timing} == {
        "Newly failing": "1", "Added": "1", "Removed": "1"}
    assert "test_cmp.TestCmp.test_turns" in text
    assert "test_cmp.TestCmp.test_new" in text and "test_cmp.TestCmp.test_gone" in text
    assert re.search(r"1 newly failing, 0 fixed, 0 still failing, 1 added, 1 removed, "
                     r"\d+ slower, \d+ faster, 0 flaky, 1 unchanged", text)


def test_the_default_and_the_selectors_compare_the_same_runs(cmp):
    default = cmp.client.get("/ui/packs/cmp/compare")
    by_version = cmp.client.get("/ui/packs/cmp/compare", params={"from": "1.0.0",
                                                                  "to": "1.1.0"})
    emptied = cmp.client.get("/ui/packs/cmp/compare", params={"from": "", "to": ""})

    heading = re.compile(r"<h1>.*?</h1>")
    assert default.status_code == by_version.status_code == emptied.status_code == 200
    assert heading.findall(default.text) == heading.findall(by_version.text) == \
        heading.findall(emptied.text)
    assert 'value="1.0.0"' in by_version.text  # the form keeps what was asked


def test_pack_text_is_escaped_and_the_page_is_under_the_strict_policy(cmp):
    page = cmp.client.get("/ui/packs/cmp/compare")

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert " style=" not in page.text and "<style" not in page.text


@pytest.mark.parametrize(("query", "status", "message"), [
    ({"to": "latest"}, 400, "'latest' names no test run"),
    ({"from": "999999"}, 404, "Test run 999999 of pack 'cmp' not found"),
    ({"to": "9.9.9"}, 404, "Pack 'cmp' has no finished test run of version 9.9.9"),
])
def test_bad_selectors_are_html_error_pages(cmp, query, status, message):
    page = cmp.client.get("/ui/packs/cmp/compare", params=query)

    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert message in unescape(page.text)


def test_an_unknown_pack_is_a_404_page_and_a_visitor_must_sign_in(cmp):
    assert cmp.client.get("/ui/packs/nothing/compare").status_code == 404
    cmp.client.cookies.clear()

    answer = cmp.client.get("/ui/packs/cmp/compare?to=2", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/signin?next=%2Fui%2Fpacks%2Fcmp%2Fcompare%3Fto%3D2"
