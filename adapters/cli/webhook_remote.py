"""``attune webhook`` in remote mode: the calls of ``adapters.webhooks.Webhooks``, over the API."""

from __future__ import annotations

from urllib.parse import quote

from attune_registry.adapters.cli.remote import RemoteRegistry
from attune_registry.adapters.webhooks.rows import DeliveryRow, WebhookCreated, WebhookRow


class RemoteWebhooks(RemoteRegistry):
    """``/api/v1/webhooks`` of a server, returning what the local ``Webhooks`` returns."""

    def add(self, url: str, event_types: list[str], *, actor: str) -> WebhookCreated:
        """``actor`` is the server's to say: the token."""
        return self._data(WebhookCreated, "POST", "/webhooks",
                          json={"url": url, "event_types": event_types})

    def hooks(self, *, include_removed: bool = False) -> list[WebhookRow]:
        return self._data(list[WebhookRow], "GET", "/webhooks",
                          params={"all": "true"} if include_removed else {})

    def remove(self, hook: str, *, actor: str) -> WebhookRow:
        return self._data(WebhookRow, "DELETE", f"/webhooks/{_id(self, hook)}")

    def test(self, hook: str) -> DeliveryRow:
        return self._data(DeliveryRow, "POST", f"/webhooks/{_id(self, hook)}/test")

    def deliveries(self, hook: str | None = None, *, limit: int = 50) -> list[DeliveryRow]:
        params: dict[str, str | int] = {"limit": limit}
        if hook:
            params["webhook"] = _id(self, hook)
        return self._data(list[DeliveryRow], "GET", "/webhooks/deliveries", params=params)


def _id(remote: RemoteWebhooks, hook: str) -> str:
    """The id ``hook`` names: itself, or the id of the one live webhook with that URL."""
    if "://" not in hook:
        return quote(hook.strip(), safe="")
    same_url = [row.id for row in remote.hooks() if row.url == hook.strip()]
    if len(same_url) == 1:
        return same_url[0]
    from attune_registry.domain.webhook import InvalidWebhookError, WebhookNotFoundError

    if same_url:
        raise InvalidWebhookError(f"{len(same_url)} webhooks have this URL; name one by its "
                                  "id (attune webhook list)")
    raise WebhookNotFoundError(hook)
