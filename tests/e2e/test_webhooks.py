"""`attune webhook` on each store: signed deliveries of registrations and test runs to a real
receiver on 127.0.0.1, retries until it answers, and what every attempt left."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from tests.packs import failing_tests, manifest, write_pack
from tests.webhook_receiver import receiver, verify

ALL_TYPES = ["registration.committed", "registration.rejected", "test_run.completed"]


@pytest.fixture
def hooks_cli(cli):
    """The CLI with webhooks allowed to reach the test's receiver (plain http on loopback)
    and retries at once."""
    cli.env.update({"ATTUNE_WEBHOOK_ALLOW_PRIVATE": "1", "ATTUNE_WEBHOOK_ALLOW_HTTP": "1",
                    "ATTUNE_WEBHOOK_RETRY_SECONDS": "0,0"})
    return cli


def add_hook(cli, url: str, *types: str) -> tuple[str, str]:
    """(id, secret) of a new webhook."""
    added = cli("webhook", "add", url, *(("--events", ",".join(types)) if types else ()),
                "--json")
    assert added.returncode == 0, added.stderr
    data = json.loads(added.stdout)["data"]
    return data["webhook"]["id"], data["secret"]


def deliveries(cli, *args: str) -> list[dict]:
    done = cli("webhook", "deliveries", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


class TestAdd:
    def test_the_secret_is_printed_once_and_never_listed(self, hooks_cli):
        added = hooks_cli("webhook", "add", "http://127.0.0.1:9/hook")
        listed = hooks_cli("webhook", "list")
        as_json = hooks_cli("webhook", "list", "--json")

        assert added.returncode == 0, added.stderr
        secret = added.stdout.strip()
        assert secret.startswith("whsec_") and len(secret) > 40
        assert "it will not be shown again" in added.stderr
        assert secret not in listed.stdout + as_json.stdout
        [row] = json.loads(as_json.stdout)["data"]
        assert row["url"] == "http://127.0.0.1:9/hook"
        assert row["event_types"] == ALL_TYPES
        assert row["added_by"].startswith("cli:")
        assert listed.stdout.splitlines()[0].split() == ["ID", "URL", "EVENTS", "ADDED", "BY"]

    def test_the_secret_is_not_in_the_event_log(self, hooks_cli, settings):
        from attune_registry.adapters.bootstrap import build_registry

        _, secret = add_hook(hooks_cli, "http://127.0.0.1:9/hook")

        with build_registry(settings) as registry:
            stored = [registry.app.mapper.transcoder.decode(n.state) for n in
                      registry.app.recorder.select_notifications(start=1, limit=100)]
        added = [state for state in stored if state.get("url") == "http://127.0.0.1:9/hook"]
        assert len(added) == 1
        text = json.dumps(stored, default=str)
        assert secret not in text and secret.removeprefix("whsec_") not in text

    @pytest.mark.parametrize(("url", "message"), [
        ("ftp://example.com/hook", "Invalid webhook URL 'ftp://example.com/hook': use an https:// URL"),
        ("https://user:pw@example.com/hook", "it must not hold credentials"),
        ("https://", "it names no host"),
        ("https://127.0.0.1/hook", "Refused webhook host '127.0.0.1': it is a loopback address"),
        ("https://10.1.2.3/hook", "it is a private address"),
        ("https://169.254.169.254/latest", "it is a link-local address"),
        ("http://example.com/hook", "plain http:// is not allowed"),
    ])
    def test_unusable_targets_are_refused_and_nothing_is_recorded(self, cli, url, message):
        # No settings: only https to public addresses.
        refused = cli("webhook", "add", url)
        listed = cli("webhook", "list", "--json")

        assert refused.returncode == 1 and refused.stdout == ""
        assert message in refused.stderr
        assert json.loads(listed.stdout)["data"] == []

    def test_unknown_event_types_are_refused(self, hooks_cli):
        refused = hooks_cli("webhook", "add", "http://127.0.0.1:9/", "--events",
                            "registration.committed,pack.exploded", "--json")

        assert refused.returncode == 1
        assert json.loads(refused.stdout) == {
            "error": "Unknown webhook event type 'pack.exploded' (use registration.committed, "
                     "registration.rejected, test_run.completed)",
            "code": "BAD_REQUEST"}


class TestDeliveries:
    def test_each_registration_reaches_the_receiver_signed(self, hooks_cli, tmp_path):
        with receiver() as rcv:
            hook, secret = add_hook(hooks_cli, rcv.url, "registration.committed",
                                    "registration.rejected")
            good = hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp",
                                                                manifest("lamp"))))
            bad = hooks_cli("pack", "register", str(write_pack(
                tmp_path / "bulb", manifest("bulb"), {"test_bulb.py": failing_tests(1, 2)})))
            # A manual run: no webhook here wants test_run.completed.
            hooks_cli("pack", "test", "lamp")

            delivered = hooks_cli("webhook", "deliver")
            got = rcv.wait_for(2)

        assert (good.returncode, bad.returncode, delivered.returncode) == (0, 1, 0)
        assert all(verify(secret, request) for request in got)
        assert {request.path for request in got} == {"/hooks/attune"}
        by_type = {request.payload["type"]: request for request in got}
        assert set(by_type) == {"registration.committed", "registration.rejected"}
        committed = by_type["registration.committed"].payload["data"]
        assert (committed["ref"], committed["version"], committed["outcome"]) == (
            "lamp", "1.0.0", "committed")
        assert committed["summary"]["passed"] == 2 and committed["failing_cases"] == []
        assert committed["links"]["registration"] == (
            f"/api/v1/registrations/{committed['registration_id']}")
        rejected = by_type["registration.rejected"].payload["data"]
        assert (rejected["ref"], rejected["outcome"], rejected["reason"]) == (
            "bulb", "rejected", "tests_failed")
        assert [case["case"].rsplit(".", 1)[-1] for case in rejected["failing_cases"]] == [
            "test_fail_0", "test_fail_1"]
        for request in got:
            assert UUID(request.headers["webhook-id"])
            assert request.headers["content-type"] == "application/json"
        listed = deliveries(hooks_cli, hook)
        assert sorted(d["event_type"] for d in listed) == ["registration.committed",
                                                           "registration.rejected"]
        assert {d["id"] for d in listed} == {r.headers["webhook-id"] for r in got}
        assert all(d["status"] == "delivered" and [a["status_code"] for a in d["attempts"]]
                   == [204] for d in listed)

    def test_a_failing_receiver_is_retried_until_it_answers(self, hooks_cli, tmp_path):
        with receiver([500, 503, 204]) as rcv:
            hook, secret = add_hook(hooks_cli, rcv.url, "registration.committed")
            hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))))

            # Each pass makes the attempts due (the retry schedule here waits 0 s).
            passes = [hooks_cli("webhook", "deliver") for _ in range(3)]
            got = rcv.wait_for(3)
            text = hooks_cli("webhook", "deliveries")

        assert [done.returncode for done in passes] == [0, 0, 0]
        assert all(verify(secret, request) for request in got)
        # The same message each time: receivers tell a retry by its id.
        assert len({request.headers["webhook-id"] for request in got}) == 1
        assert len({request.body for request in got}) == 1
        [delivery] = deliveries(hooks_cli, hook)
        assert delivery["status"] == "delivered"
        assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [
            (1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 204, None)]
        assert delivery["next_attempt_at"] is None
        assert "  attempt 1 at " in text.stdout and "✗ HTTP 500" in text.stdout
        assert "  attempt 3 at " in text.stdout and "✓ HTTP 204" in text.stdout

    def test_a_receiver_that_never_answers_2xx_fails_after_the_last_retry(self, hooks_cli,
                                                                          tmp_path):
        with receiver([500]) as rcv:
            hook, _ = add_hook(hooks_cli, rcv.url, "registration.committed")
            hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))))

            for _ in range(4):  # one more pass than there are attempts
                hooks_cli("webhook", "deliver")
            got = rcv.wait_for(3)

        [delivery] = deliveries(hooks_cli, hook)
        assert len(got) == 3  # the first attempt and two retries
        assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]

    def test_a_manual_test_run_is_delivered_to_those_who_want_it(self, hooks_cli, tmp_path):
        hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))))
        with receiver() as rcv:
            add_hook(hooks_cli, rcv.url, "test_run.completed")
            ran = hooks_cli("pack", "test", "lamp")
            hooks_cli("webhook", "deliver")
            [request] = rcv.wait_for(1)

        assert ran.returncode == 0, ran.stderr
        payload = request.payload
        assert payload["type"] == "test_run.completed"
        assert (payload["data"]["ref"], payload["data"]["status"]) == ("lamp", "passed")
        assert payload["data"]["summary"]["total_tests"] == 2

    def test_events_before_a_webhook_was_added_are_not_sent_to_it(self, hooks_cli, tmp_path):
        hooks_cli("pack", "register", str(write_pack(tmp_path / "old", manifest("old"))))
        with receiver() as rcv:
            hook, _ = add_hook(hooks_cli, rcv.url)
            hooks_cli("pack", "register", str(write_pack(tmp_path / "new", manifest("new"))))
            hooks_cli("webhook", "deliver")
            [request] = rcv.wait_for(1)

        assert request.payload["data"]["ref"] == "new"
        assert [d["ref"] for d in deliveries(hooks_cli, hook)] == ["new"]

    def test_a_removed_webhook_gets_nothing_more(self, hooks_cli, tmp_path):
        with receiver() as rcv:
            hook, _ = add_hook(hooks_cli, rcv.url)
            hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))))
            removed = hooks_cli("webhook", "remove", hook)
            again = hooks_cli("webhook", "remove", hook)
            hooks_cli("webhook", "deliver")

            listed = json.loads(hooks_cli("webhook", "list", "--json").stdout)["data"]
            everything = json.loads(hooks_cli("webhook", "list", "--all", "--json").stdout)

        assert removed.returncode == 0, removed.stderr
        assert removed.stdout.startswith(f"✓ Webhook {hook} removed")
        assert again.returncode == 1 and f"Webhook '{hook}' was removed" in again.stderr
        assert rcv.received == []
        assert listed == []
        assert everything["data"][0]["removed_by"].startswith("cli:")
        [delivery] = deliveries(hooks_cli, hook)
        assert delivery["status"] == "cancelled" and delivery["attempts"] == []


class TestTest:
    def test_a_test_message_is_sent_at_once_and_signed(self, hooks_cli):
        with receiver() as rcv:
            hook, secret = add_hook(hooks_cli, rcv.url)
            done = hooks_cli("webhook", "test", hook)
            [request] = rcv.wait_for(1)

        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("✓ Test delivery ")
        assert f"to webhook {hook}: HTTP 204 in " in done.stdout
        assert verify(secret, request)
        assert request.payload["type"] == "webhook.test"
        assert request.payload["data"]["webhook_id"] == hook

    def test_a_failed_test_exits_1_naming_the_problem(self, hooks_cli):
        with receiver([404]) as rcv:
            hook, _ = add_hook(hooks_cli, rcv.url)
            done = hooks_cli("webhook", "test", hook)

        assert done.returncode == 1
        assert "failed: HTTP 404" in done.stderr
        [delivery] = deliveries(hooks_cli, hook)
        assert delivery["status"] == "failed"  # a test is sent once, never retried

    def test_an_unknown_webhook_is_not_found(self, hooks_cli):
        add_hook(hooks_cli, "http://127.0.0.1:9/hook")

        done = hooks_cli("webhook", "test", "5b3f2e1c-0000-4000-8000-000000000000", "--json")

        assert done.returncode == 1
        assert json.loads(done.stdout) == {
            "error": "Webhook '5b3f2e1c-0000-4000-8000-000000000000' not found",
            "code": "NOT_FOUND"}


def test_the_entry_point_adds_and_lists_webhooks(attune):
    # The real `attune` command, as a user runs it.
    env = {"ATTUNE_WEBHOOK_ALLOW_PRIVATE": "1", "ATTUNE_WEBHOOK_ALLOW_HTTP": "1"}
    attune.env.update(env)
    added = attune("webhook", "add", "http://127.0.0.1:9/hook", "--events",
                   "registration.rejected")
    listed = attune("webhook", "list")

    assert added.returncode == 0, added.stderr
    assert listed.returncode == 0, listed.stderr
    [_, row] = listed.stdout.splitlines()
    assert row.split()[1:3] == ["http://127.0.0.1:9/hook", "registration.rejected"]


def test_deliver_follow_keeps_delivering_until_sigterm(hooks_cli, attune, tmp_path):
    # The real entry point in the foreground, as a dedicated deliverer runs (on PostgreSQL:
    # a worker of the `webhooks` queue), stopped as systemd stops it.
    import signal
    import subprocess

    from tests.conftest import ATTUNE

    with receiver([500, 204]) as rcv:
        hook, secret = add_hook(hooks_cli, rcv.url, "registration.committed")
        env = {**attune.env, "ATTUNE_WEBHOOK_ALLOW_PRIVATE": "1",
               "ATTUNE_WEBHOOK_ALLOW_HTTP": "1", "ATTUNE_WEBHOOK_RETRY_SECONDS": "0"}
        deliverer = subprocess.Popen([ATTUNE, "webhook", "deliver", "--follow"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            hooks_cli("pack", "register", str(write_pack(tmp_path / "lamp", manifest("lamp"))))
            got = rcv.wait_for(2)  # the failure, then the retry
        finally:
            deliverer.send_signal(signal.SIGTERM)
            _, err = deliverer.communicate(timeout=60)

    assert deliverer.returncode == 0, err
    assert "Delivering webhooks from " in err
    assert all(verify(secret, request) for request in got)
    [delivery] = deliveries(hooks_cli, hook)
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 204]
