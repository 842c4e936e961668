"""Webhook rules without a store: the Standard Webhooks signature, which targets are allowed,
the settings, and the Webhook aggregate."""

from __future__ import annotations

import base64

import pytest

from attune_registry.domain.webhook import InvalidWebhookError, Webhook, WebhookRemovedError

from attune_registry.adapters.settings import ConfigError, Settings
from attune_registry.adapters.webhooks.config import DEFAULT_RETRY_SECONDS, WebhookConfig
from attune_registry.adapters.webhooks.signing import new_secret, signature, signed_headers
from attune_registry.adapters.webhooks.target import (
    TargetNotAllowedError,
    judge_target,
    parse_target,
)

PUBLIC = WebhookConfig()
OPEN = WebhookConfig(allow_private=True, allow_http=True)


def resolving_to(*addresses: str):
    """A resolver that answers ``addresses`` for every name, as a DNS server would."""
    return lambda host, port: list(addresses)


class TestSignature:
    def test_the_standard_webhooks_example_signs_as_published(self):
        # The example of the Standard Webhooks specification (and its reference libraries).
        assert signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                         1614265330, b'{"test": 2432232314}') == (
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

    def test_a_new_secret_is_32_random_bytes_in_base64(self):
        first, second = new_secret(), new_secret()

        assert first.startswith("whsec_") and first != second
        assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32

    def test_the_headers_carry_id_timestamp_and_signature(self):
        headers = signed_headers("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1700000000,
                                 b"{}")

        assert headers["webhook-id"] == "msg_1"
        assert headers["webhook-timestamp"] == "1700000000"
        assert headers["webhook-signature"] == signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1700000000, b"{}")
        # A different body, id or time gives another signature.
        assert headers["webhook-signature"] != signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1700000001, b"{}")


class TestTargets:
    def test_a_public_https_url_is_allowed(self):
        target = judge_target("https://hooks.example.com:8443/in?x=1", PUBLIC,
                              resolving_to("93.184.216.34"))

        assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)

    @pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "172.16.0.1", "192.168.0.1",
                                         "169.254.169.254", "::1", "fe80::1", "fd00::1",
                                         "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"])
    def test_a_name_that_resolves_inside_is_refused(self, address):
        with pytest.raises(TargetNotAllowedError) as refused:
            judge_target("https://hooks.example.com/", PUBLIC, resolving_to(address))

        assert str(refused.value).startswith(
            f"Refused webhook host 'hooks.example.com': it resolves to {address}, ")
        assert refused.value.code == "FORBIDDEN"

    def test_one_inside_address_among_public_ones_is_enough_to_refuse(self):
        with pytest.raises(TargetNotAllowedError):
            judge_target("https://hooks.example.com/", PUBLIC,
                         resolving_to("93.184.216.34", "10.0.0.1"))

    def test_the_setting_allows_private_addresses(self):
        target = judge_target("https://[::1]:9/in", OPEN, resolving_to())

        assert (target.host, target.port) == ("::1", 9)

    def test_a_host_that_cannot_be_looked_up_is_refused(self):
        def failing(host: str, port: int) -> list[str]:
            raise OSError(-2, "Name or service not known")

        with pytest.raises(InvalidWebhookError) as refused:
            judge_target("https://nowhere.invalid/", PUBLIC, failing)

        assert str(refused.value) == (
            "Cannot look up webhook host 'nowhere.invalid': Name or service not known")

    @pytest.mark.parametrize(("url", "problem"), [
        ("", "it must be 1 to 2000 characters"),
        ("https://example.com/a b", "without spaces or control characters"),
        ("https://example.com/\x1b[2J", "without spaces or control characters"),
        ("mailto:ops@example.com", "use an https:// URL"),
        ("https://token@example.com/", "it must not hold credentials"),
        ("https://example.com:99999/", "its port is not a number from 1 to 65535"),
        ("https:///path", "it names no host"),
        ("https://example.com/#top", "it must not have a #fragment"),
        ("https://example.com/" + "a" * 2000, "it must be 1 to 2000 characters"),
    ])
    def test_malformed_urls_are_refused_by_form(self, url, problem):
        with pytest.raises(InvalidWebhookError) as refused:
            parse_target(url, OPEN)

        assert problem in str(refused.value)

    def test_plain_http_needs_its_setting(self):
        with pytest.raises(TargetNotAllowedError) as refused:
            parse_target("http://hooks.example.com/", PUBLIC)

        assert "ATTUNE_WEBHOOK_ALLOW_HTTP=1" in str(refused.value)
        assert parse_target("http://hooks.example.com/", OPEN).port == 80


class TestSettings:
    def test_the_defaults(self):
        config = WebhookConfig.of(Settings.from_env({"ATTUNE_HOME": "/srv/attune"}))

        assert config == WebhookConfig()
        assert config.retry_seconds == DEFAULT_RETRY_SECONDS and config.max_attempts == 8

    def test_every_setting_is_read(self):
        config = WebhookConfig.of(Settings.from_env({
            "ATTUNE_WEBHOOK_ALLOW_PRIVATE": "1", "ATTUNE_WEBHOOK_ALLOW_HTTP": "yes",
            "ATTUNE_WEBHOOK_TIMEOUT_SECONDS": "3", "ATTUNE_WEBHOOK_RETRY_SECONDS": "1, 60",
            "ATTUNE_PUBLIC_URL": "https://registry.example.com/"}))

        assert config == WebhookConfig(allow_private=True, allow_http=True, timeout=3.0,
                                       retry_seconds=(1, 60),
                                       public_url="https://registry.example.com")

    def test_none_means_no_retry(self):
        config = WebhookConfig.of(Settings.from_env({"ATTUNE_WEBHOOK_RETRY_SECONDS": "none"}))

        assert config.retry_seconds == () and config.max_attempts == 1

    @pytest.mark.parametrize(("name", "value"), [
        ("ATTUNE_WEBHOOK_ALLOW_PRIVATE", "maybe"), ("ATTUNE_WEBHOOK_ALLOW_HTTP", "2"),
        ("ATTUNE_WEBHOOK_TIMEOUT_SECONDS", "0"), ("ATTUNE_WEBHOOK_TIMEOUT_SECONDS", "61"),
        ("ATTUNE_WEBHOOK_RETRY_SECONDS", "5,-1"), ("ATTUNE_WEBHOOK_RETRY_SECONDS", "soon"),
        ("ATTUNE_WEBHOOK_RETRY_SECONDS", ",".join(["1"] * 21)),
        ("ATTUNE_PUBLIC_URL", "registry.example.com"),
    ])
    def test_a_bad_value_is_an_error_naming_its_setting(self, name, value):
        with pytest.raises(ConfigError) as refused:
            WebhookConfig.of(Settings.from_env({name: value}))

        assert str(refused.value).startswith(f"{name} must ")


class TestWebhookAggregate:
    def test_event_types_are_kept_once_in_their_usual_order(self):
        hook = Webhook.add(url="https://example.com/", added_by="cli:alice", event_types=[
            "test_run.completed", "registration.committed", " test_run.completed"])

        assert hook.event_types == ["registration.committed", "test_run.completed"]
        assert hook.wants("test_run.completed") and not hook.wants("registration.rejected")
        assert [type(e).__name__ for e in hook.collect_events()] == ["WebhookAdded"]

    def test_a_removed_webhook_wants_nothing_and_cannot_be_removed_again(self):
        hook = Webhook.add(url="https://example.com/", added_by="cli:alice",
                           event_types=["registration.committed"])

        hook.remove(actor="cli:bob")

        assert not hook.wants("registration.committed")
        with pytest.raises(WebhookRemovedError):
            hook.remove(actor="cli:bob")

    def test_the_cli_offers_the_event_types_of_the_domain(self):
        from attune_registry.domain.webhook import WEBHOOK_EVENT_TYPES

        from attune_registry.adapters.cli.webhook import (
            EVENT_TYPES,  # kept apart: the CLI starts fast
        )

        assert EVENT_TYPES == WEBHOOK_EVENT_TYPES

    def test_the_topics_are_pinned(self):
        assert (Webhook.TOPIC, Webhook.WebhookAdded.TOPIC, Webhook.WebhookRemoved.TOPIC) == (
            "attune:Webhook", "attune:Webhook.WebhookAdded", "attune:Webhook.WebhookRemoved")
