"""``/api/v1/webhooks`` through Litestar's test client, and delivery by a real `attune serve`:
in the background, after the fact, so that a receiver that hangs never holds up a
registration; and the CLI's remote mode against that server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.http.app import create_app

from tests.conftest import ATTUNE
from tests.e2e.conftest import Server, serving
from tests.packs import manifest, write_pack
from tests.webhook_receiver import receiver, verify

ALLOW = {"webhook_allow_private_setting": "1", "webhook_allow_http_setting": "1"}
UNKNOWN = "5b3f2e1c-0000-4000-8000-000000000000"


def eventually(found: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """``found()`` once it is truthy: polls a condition, fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := found()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@pytest.fixture
def api(settings, tmp_path) -> Iterator[tuple[TestClient[Any], dict[str, str], dict[str, str]]]:
    """The app in a test client (webhooks may reach loopback over http); write and read
    token headers."""
    settings = replace(settings, **ALLOW)
    with build_registry(settings) as registry:
        write, _ = registry.create_token("writer", "write", actor="test")
        read, _ = registry.create_token("reader", "read", actor="test")
    with TestClient(app=create_app(settings)) as client:
        yield (client, {"Authorization": f"Bearer {write}"},
               {"Authorization": f"Bearer {read}"})


class TestApi:
    def test_a_writer_adds_a_webhook_and_its_secret_is_shown_once(self, api):
        client, write, read = api

        added = client.post("/api/v1/webhooks", headers=write,
                            json={"url": "http://127.0.0.1:9/in",
                                  "event_types": ["registration.rejected"]})
        listed = client.get("/api/v1/webhooks", headers=read)
        one = client.get(f"/api/v1/webhooks/{added.json()['data']['webhook']['id']}",
                         headers=read)

        assert added.status_code == 201, added.text
        body = added.json()
        assert body["message"] == "Webhook added; its secret will not be shown again"
        secret, hook = body["data"]["secret"], body["data"]["webhook"]
        assert secret.startswith("whsec_")
        assert (hook["url"], hook["event_types"], hook["added_by"]) == (
            "http://127.0.0.1:9/in", ["registration.rejected"], "token:writer")
        assert listed.json() == {"data": [hook]}
        assert one.json() == {"data": hook}
        assert secret not in listed.text + one.text

    def test_reading_needs_a_token_and_changing_needs_write(self, api):
        client, _, read = api

        anonymous = client.get("/api/v1/webhooks")
        reader = client.post("/api/v1/webhooks", headers=read,
                             json={"url": "http://127.0.0.1:9/in"})

        assert anonymous.status_code == 401
        assert reader.status_code == 403
        assert reader.json()["code"] == "FORBIDDEN"
        assert client.get("/api/v1/webhooks", headers=read).json() == {"data": []}

    @pytest.mark.parametrize(("body", "status", "error"), [
        ({"url": "gopher://example.com/"}, 400,
         "Invalid webhook URL 'gopher://example.com/': use an https:// URL"),
        ({"url": "https://a:b@example.com/"}, 400,
         "Invalid webhook URL 'https://a:b@example.com/': it must not hold credentials "
         "(user@); receivers check the signature instead"),
        ({"url": "http://127.0.0.1:9/", "event_types": []}, 400,
         "A webhook needs at least one event type (use registration.committed, "
         "registration.rejected, test_run.completed)"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["pack.gone"]}, 400,
         "Unknown webhook event type 'pack.gone' (use registration.committed, "
         "registration.rejected, test_run.completed)"),
    ])
    def test_bad_input_is_a_4xx_naming_the_problem_and_records_nothing(self, api, body,
                                                                       status, error):
        client, write, read = api

        refused = client.post("/api/v1/webhooks", headers=write, json=body)

        assert (refused.status_code, refused.json()["error"]) == (status, error)
        assert client.get("/api/v1/webhooks", headers=read).json() == {"data": []}

    def test_unknown_fields_are_refused(self, api):
        client, write, _ = api

        refused = client.post("/api/v1/webhooks", headers=write,
                              json={"url": "http://127.0.0.1:9/", "secret": "mine"})

        assert refused.status_code == 422
        assert "secret" in refused.json()["error"]

    def test_private_targets_are_forbidden_unless_the_server_allows_them(self, settings,
                                                                         tmp_path):
        with build_registry(settings) as registry:
            write, _ = registry.create_token("writer", "write", actor="test")
        settings = replace(settings, webhook_allow_http_setting="1")
        with TestClient(app=create_app(settings)) as client:
            refused = client.post("/api/v1/webhooks", headers={"Authorization": f"Bearer {write}"},
                                  json={"url": "http://192.168.1.20/hook"})

        assert refused.status_code == 403
        assert refused.json() == {
            "error": "Refused webhook host '192.168.1.20': it is a private address; webhooks "
                     "go to public addresses only (the operator may allow others with "
                     "ATTUNE_WEBHOOK_ALLOW_PRIVATE=1)",
            "code": "FORBIDDEN"}

    def test_remove_then_remove_again_conflicts_and_unknown_ids_are_404(self, api):
        client, write, read = api
        hook = client.post("/api/v1/webhooks", headers=write,
                           json={"url": "http://127.0.0.1:9/in"}).json()["data"]["webhook"]

        removed = client.delete(f"/api/v1/webhooks/{hook['id']}", headers=write)
        again = client.delete(f"/api/v1/webhooks/{hook['id']}", headers=write)
        unknown = client.get(f"/api/v1/webhooks/{UNKNOWN}", headers=read)
        everything = client.get("/api/v1/webhooks", params={"all": "true"}, headers=read)

        assert removed.status_code == 200
        assert removed.json()["data"]["removed_by"] == "token:writer"
        assert (again.status_code, again.json()["code"]) == (409, "CONFLICT")
        assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
        assert client.get("/api/v1/webhooks", headers=read).json() == {"data": []}
        assert [row["id"] for row in everything.json()["data"]] == [hook["id"]]

    def test_a_test_delivery_is_signed_and_its_attempt_listed(self, api):
        client, write, read = api
        with receiver([202]) as rcv:
            created = client.post("/api/v1/webhooks", headers=write,
                                  json={"url": rcv.url}).json()["data"]
            hook = created["webhook"]["id"]

            tested = client.post(f"/api/v1/webhooks/{hook}/test", headers=write)
            [request] = rcv.wait_for(1)

        listed = client.get("/api/v1/webhooks/deliveries", params={"webhook": hook},
                            headers=read)
        assert tested.status_code == 200, tested.text
        delivery = tested.json()["data"]
        assert (delivery["status"], delivery["event_type"]) == ("delivered", "webhook.test")
        assert [a["status_code"] for a in delivery["attempts"]] == [202]
        assert request.headers["webhook-id"] == delivery["id"]
        assert verify(created["secret"], request)
        assert listed.json() == {"data": [delivery]}


@pytest.fixture
def hooked_server(settings, tmp_path) -> Iterator[Server]:
    """`attune serve` over this test's store, which may send webhooks to loopback over http
    and retries at once."""
    with serving(settings, tmp_path, ATTUNE_WEBHOOK_ALLOW_PRIVATE="1",
                 ATTUNE_WEBHOOK_ALLOW_HTTP="1", ATTUNE_WEBHOOK_RETRY_SECONDS="0,0") as running:
        yield running


class TestServedDelivery:
    def test_a_hanging_receiver_does_not_delay_a_registration(self, hooked_server):
        server = hooked_server
        write = {"Authorization": f"Bearer {server.write_token}"}
        with receiver(held=True) as rcv:
            created = httpx.post(f"{server.url}/api/v1/webhooks", headers=write,
                                 json={"url": rcv.url}).json()["data"]
            pack = write_pack(server.root / "lamp", manifest("lamp"))

            # The receiver answers nothing until released; the registration still completes.
            registered = httpx.post(f"{server.url}/api/v1/packs/register", headers=write,
                                    json={"path": str(pack)}, timeout=120)
            [request] = rcv.wait_for(1)  # the server delivers it afterwards, by itself
            assert registered.status_code == 201, registered.text
            assert rcv.received == [request]  # the delivery is still held open
            rcv.hold.set()

            delivered = eventually(lambda: [d for d in httpx.get(
                f"{server.url}/api/v1/webhooks/deliveries", headers=write).json()["data"]
                if d["status"] == "delivered"], "the delivery to be recorded")

        assert verify(created["secret"], request)
        assert request.payload["data"]["registration_id"] == (
            registered.json()["data"]["pack"]["registration_id"])
        assert [d["event_type"] for d in delivered] == ["registration.committed"]

    def test_the_server_retries_a_failing_receiver_until_it_answers(self, hooked_server):
        server = hooked_server
        write = {"Authorization": f"Bearer {server.write_token}"}
        with receiver([503, 500, 200]) as rcv:
            created = httpx.post(f"{server.url}/api/v1/webhooks", headers=write,
                                 json={"url": rcv.url, "event_types": [
                                     "registration.committed"]}).json()["data"]
            pack = write_pack(server.root / "lamp", manifest("lamp"))
            httpx.post(f"{server.url}/api/v1/packs/register", headers=write,
                       json={"path": str(pack)}, timeout=120)

            got = rcv.wait_for(3)
            [delivery] = eventually(lambda: [d for d in httpx.get(
                f"{server.url}/api/v1/webhooks/deliveries", headers=write).json()["data"]
                if d["status"] == "delivered"], "the delivery to be recorded")

        assert all(verify(created["secret"], request) for request in got)
        assert len({request.headers["webhook-id"] for request in got}) == 1
        assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 200]

    def test_the_cli_manages_webhooks_through_the_api(self, hooked_server, tmp_path):
        server = hooked_server
        env = {**server.env, "ATTUNE_API_URL": server.url, "ATTUNE_TOKEN": server.write_token,
               # The client's own store is not used: nothing may be created here.
               "ATTUNE_HOME": str(tmp_path / "client-home")}

        def attune(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([ATTUNE, *args], env=env, capture_output=True, text=True,
                                  timeout=120)

        added = attune("webhook", "add", "http://127.0.0.1:9/remote", "--events",
                       "test_run.completed")
        listed = attune("webhook", "list")
        removed = attune("webhook", "remove", "http://127.0.0.1:9/remote")
        local_only = attune("webhook", "deliver")

        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("whsec_")
        [_, row] = listed.stdout.splitlines()
        assert row.split()[1:3] == ["http://127.0.0.1:9/remote", "test_run.completed"]
        assert row.split()[-1] == "token:writer"
        assert removed.returncode == 0, removed.stderr
        assert local_only.returncode == 1
        assert "`attune webhook deliver` works on the local store only" in local_only.stderr
        assert not (tmp_path / "client-home").exists()
