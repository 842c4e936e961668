"""``/metrics`` while PostgreSQL is away (a TCP proxy in front of it, closed and opened): the
server still answers within a scrape's time and says so, and counts again once the store is
back."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http import create_app
from attune_registry.adapters.observability.metrics import STORE_WAIT_SECONDS
from attune_registry.adapters.settings import Settings

from tests.packs import manifest, write_pack
from tests.reliability.test_postgres_faults import PostgresProxy

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def relay():
    """PostgreSQL behind a port the test can close (see ``PostgresProxy``)."""
    proxy = PostgresProxy()
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_public_scrape_answers_with_the_store_down_and_counts_again_after(
        postgres_database, relay, tmp_path):
    through = urlsplit(postgres_database)._replace(netloc=f"postgres@127.0.0.1:{relay.port}")
    settings = Settings(home=tmp_path / "home", metrics_public_setting="1",
                        database_url=f"{urlunsplit(through)}?schema=t_{uuid.uuid4().hex[:10]}")
    with build_registry(settings) as registry:
        registry.register(RegisterCommand(
            path=str(write_pack(tmp_path / "lamp", manifest("lamp"))), skip_tests=True))
    committed = ("attune_registrations_total", (("outcome", "committed"),
                                                 ("trigger", "register")))
    with TestClient(app=create_app(settings)) as client:
        before = client.get("/metrics")

        relay.close()
        started = time.monotonic()
        away = client.get("/metrics")
        waited = time.monotonic() - started
        relay.open()
        back = client.get("/metrics")

    assert (before.status_code, away.status_code, back.status_code) == (200, 200, 200)
    assert samples(before.text)[("attune_store_up", ())] == 1
    assert samples(before.text)[committed] == 1
    down = samples(away.text)
    assert down[("attune_store_up", ())] == 0
    # It answered after its wait for the store, not the store's own ~20 s of retries.
    assert waited < STORE_WAIT_SECONDS + 3
    # The log's counters as far as they were read, and the HTTP figures; no health figures.
    assert down[committed] == 1
    assert ("attune_projection_lag_events", ()) not in down
    assert any(name == "attune_http_request_duration_seconds_count" for name, _ in down)
    assert samples(back.text)[("attune_store_up", ())] == 1
    assert samples(back.text)[committed] == 1
