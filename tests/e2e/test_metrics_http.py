"""``GET /metrics`` and request ids through Litestar's test client (both stores), and the
documented Prometheus configuration checked against what a scrape shows."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app

from tests.conftest import REPO
from tests.packs import failing_tests, manifest, write_pack

EXAMPLES = REPO / "docs" / "examples"
HTTP_COUNT = "attune_http_request_duration_seconds_count"


class Client:
    def __init__(self, client: TestClient, root: Path, write: str, read: str) -> None:
        self.client, self.root = client, root
        self.write = {"Authorization": f"Bearer {write}"}
        self.read = {"Authorization": f"Bearer {read}"}

    def scrape(self) -> dict[tuple[str, tuple], float]:
        """One scrape with the read token, parsed by prometheus-client's own parser."""
        answer = self.client.get("/metrics", headers=self.read)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parsed(answer.text)

    def families(self) -> set[str]:
        text = self.client.get("/metrics", headers=self.read).text
        return {family.name for family in text_string_to_metric_families(text)}


def parsed(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def http_count(found: dict, route: str, status: int, method: str = "GET") -> float:
    return found.get((HTTP_COUNT, (("method", method), ("route", route),
                                   ("status", str(status)))), 0.0)


def serving(settings, tmp_path: Path, **changes: object):
    root = tmp_path / "packs"
    root.mkdir(exist_ok=True)
    settings = replace(settings, pack_roots=(root,), **changes)
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    return TestClient(app=create_app(settings)), root, write, read


@pytest.fixture
def api(settings, tmp_path):
    client, root, write, read = serving(settings, tmp_path)
    with client:
        yield Client(client, root, write, read)


class TestMetricsEndpoint:
    def test_it_needs_a_read_token_like_the_api_reads(self, api):
        missing = api.client.get("/metrics")
        wrong = api.client.get("/metrics", headers={"Authorization": "Bearer attn_nope"})

        assert (missing.status_code, missing.json()) == (
            401, {"error": "Missing or invalid bearer token", "code": "UNAUTHORIZED"})
        assert wrong.status_code == 401
        assert api.client.get("/metrics", headers=api.write).status_code == 200
        assert api.scrape()[("attune_store_up", ())] == 1

    def test_a_setting_opens_it_to_scrapers_without_a_token(self, settings, tmp_path):
        client, *_ = serving(settings, tmp_path, metrics_public_setting="1")
        with client:
            answer = client.get("/metrics")

        assert answer.status_code == 200
        assert parsed(answer.text)[("attune_store_up", ())] == 1

    def test_it_is_not_part_of_the_api_schema(self, api):
        paths = api.client.get("/schema/openapi.json").json()["paths"]

        assert "/metrics" not in paths and "/api/v1/health" in paths

    def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(self, api):
        answer = api.client.get("/metrics", headers={
            **api.read, "Accept": "application/openmetrics-text; version=1.0.0"})

        assert answer.headers["content-type"].startswith("application/openmetrics-text")
        assert answer.text.endswith("# EOF\n")

    def test_registrations_are_counted_by_outcome_and_trigger(self, api):
        mixed = write_pack(api.root / "mixed", manifest("mixed"),
                           {"test_mixed.py": failing_tests(passed=3, failed=1)})

        rejected = api.client.post("/api/v1/packs/register", json={"path": str(mixed)},
                                   headers=api.write)
        forced = api.client.post("/api/v1/packs/register",
                                 json={"path": str(mixed), "force": True}, headers=api.write)

        assert (rejected.status_code, forced.status_code) == (400, 201)
        found = api.scrape()
        outcome = lambda name: found[("attune_registrations_total",  # noqa: E731
                                      (("outcome", name), ("trigger", "register")))]
        assert (outcome("committed"), outcome("forced"), outcome("rejected")) == (0, 1, 1)
        cases = ("runner", "python_unittest")
        assert found[("attune_test_cases_total", (cases, ("status", "failed")))] == 2
        assert found[("attune_suite_duration_seconds_count", (cases,))] == 2
        assert found[("attune_projection_lag_events", ())] == 0


class TestRequests:
    def test_latency_is_recorded_by_route_template_and_status(self, api):
        before = api.scrape()

        api.client.get("/api/v1/packs/nosuch", headers=api.read)
        api.client.get("/api/v1/packs/nosuch", headers=api.read)
        api.client.get("/api/v1/packs/other")  # no token
        api.client.get("/no/such/path")
        api.client.request("BREW", "/api/v1/health")

        after = api.scrape()
        route = "/api/v1/packs/{ref}"
        grew = {key: http_count(after, *key) - http_count(before, *key)
                for key in ((route, 404), (route, 401), ("unmatched", 404))}
        assert grew == {(route, 404): 2, (route, 401): 1, ("unmatched", 404): 1}
        # A method a client makes up is no label of its own.
        assert http_count(after, "unmatched", 405, "OTHER") >= 1
        assert not any("BREW" in str(labels) for _, labels in after)

    def test_every_answer_carries_a_request_id_a_sane_one_sent_is_kept(self, api):
        kept = api.client.get("/api/v1/health", headers={"X-Request-ID": "trace-42"})
        fresh = [api.client.get(path) for path in ("/api/v1/health", "/api/v1/packs",
                                                   "/no/such/path")]
        replaced = api.client.get("/api/v1/health", headers={"X-Request-ID": "x" * 200})

        assert kept.headers["x-request-id"] == "trace-42"
        ids = [answer.headers["x-request-id"] for answer in (*fresh, replaced)]
        assert [answer.status_code for answer in fresh] == [200, 401, 404]
        assert len(set(ids)) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def example(name: str) -> str:
    return (EXAMPLES / name).read_text()


class TestDocumentedPrometheusSetUp:
    def test_the_examples_are_the_ones_operations_md_shows_and_parse(self):
        shown = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "operations.md").read_text(),
                           flags=re.S)

        for name in ("prometheus.yml", "attune-alerts.yml"):
            assert example(name) in shown, name
        config = yaml.safe_load(example("prometheus.yml"))
        assert config["rule_files"] == ["attune-alerts.yml"]
        [job] = config["scrape_configs"]
        assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"

    def test_the_alert_rules_use_metrics_a_scrape_shows(self, api):
        rules = yaml.safe_load(example("attune-alerts.yml"))["groups"][0]["rules"]
        families = api.families()
        shown = families | {f"{name}_total" for name in families}

        alerts = {rule["alert"]: set(re.findall(r"\battune_[a-z_]+", rule["expr"]))
                  for rule in rules}

        assert alerts == {
            "AttunePackForcedDespiteFailingTests": {"attune_registrations_total"},
            "AttuneProjectorBehind": {"attune_projection_lag_events",
                                      "attune_projection_position"},
            "AttuneDown": {"attune_store_up"}}
        assert set().union(*alerts.values()) <= shown
        # The forced outcome's series is there before any registration (see the rule).
        assert api.scrape()[("attune_registrations_total",
                             (("outcome", "forced"), ("trigger", "register")))] == 0
