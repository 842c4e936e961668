"""The Webhook aggregate: where the registry sends signed notifications, and which ones.

A webhook's definition (its URL, the event types it wants, who added and removed it) is
registry state and lives in the event log. Its signing secret does not: an event is shown to
auditors as stored, so the secret is kept beside the log, in a private table of the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from eventsourcing.domain import Aggregate, event

from attune_registry.domain.errors import RegistryError
from attune_registry.domain.text import quoted

WebhookEventType = Literal["registration.committed", "registration.rejected",
                           "test_run.completed"]
"""What a webhook may subscribe to: a registration became active (also when forced), one was
rejected, a manual test run ended."""
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = get_args(WebhookEventType)
TEST_EVENT_TYPE = "webhook.test"
"""The type of the delivery ``attune webhook test`` sends; nobody subscribes to it."""
MAX_URL_CHARS = 2000


class InvalidWebhookError(RegistryError):
    """Raised when a webhook's URL or event types cannot be used (nothing is recorded)."""


class WebhookNotFoundError(RegistryError):
    """Raised when no webhook has the given id (or URL)."""

    code = "NOT_FOUND"

    def __init__(self, hook: str) -> None:
        super().__init__(f"Webhook {quoted(hook)} not found")


class WebhookRemovedError(RegistryError):
    """Raised when removing or testing a webhook that was removed already."""

    code = "CONFLICT"

    def __init__(self, hook: str) -> None:
        super().__init__(f"Webhook {quoted(hook)} was removed")


def parse_event_types(names: Iterable[str]) -> list[WebhookEventType]:
    """The event types ``names`` ask for, each once, in the order of ``WEBHOOK_EVENT_TYPES``.

    Raises:
        InvalidWebhookError: a name is not a known type, or there is none.
    """
    wanted = [name.strip() for name in names if name.strip()]
    unknown = [name for name in wanted if name not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise InvalidWebhookError(f"Unknown webhook event type {quoted(unknown[0])} (use "
                                  f"{', '.join(WEBHOOK_EVENT_TYPES)})")
    if not wanted:
        raise InvalidWebhookError("A webhook needs at least one event type (use "
                                  f"{', '.join(WEBHOOK_EVENT_TYPES)})")
    return [name for name in WEBHOOK_EVENT_TYPES if name in wanted]


class Webhook(Aggregate):
    """A webhook. Topics are pinned: they are persisted in the event log."""

    TOPIC = "attune:Webhook"

    class Created(Aggregate.Created):
        # Redefined by the library on every aggregate; pinned like all our topics.
        TOPIC = "attune:Webhook.Created"

    class WebhookAdded(Aggregate.Created):
        """A webhook was added: its URL (judged by the adapter that added it) and event types."""

        TOPIC = "attune:Webhook.WebhookAdded"

        url: str
        event_types: list[str]
        actor: str
        """Who added it."""

    class WebhookRemoved(Aggregate.Event):
        """A webhook was removed: nothing more is sent to it."""

        TOPIC = "attune:Webhook.WebhookRemoved"

        actor: str

    @classmethod
    def add(cls, *, url: str, event_types: Iterable[str], added_by: str) -> Webhook:
        """A new webhook for ``url``, which the caller has judged already.

        Raises:
            InvalidWebhookError: no URL, a URL too long, no event type or an unknown one.
        """
        if not url or len(url) > MAX_URL_CHARS:
            raise InvalidWebhookError(f"A webhook URL must be 1 to {MAX_URL_CHARS} characters")
        return cls(url=url, event_types=[str(name) for name in parse_event_types(event_types)],
                   actor=added_by)

    @event(WebhookAdded)
    def __init__(self, *, url: str, event_types: list[str], actor: str) -> None:
        self.url = url
        self.event_types = event_types
        self.added_by = actor
        self.removed = False

    def wants(self, event_type: str) -> bool:
        return not self.removed and event_type in self.event_types

    def remove(self, *, actor: str) -> None:
        """Raises: WebhookRemovedError."""
        if self.removed:
            raise WebhookRemovedError(str(self.id))
        self._remove(actor=actor)

    @event(WebhookRemoved)
    def _remove(self, *, actor: str) -> None:
        self.removed = True
