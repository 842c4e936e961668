"""Signed webhooks: definitions in the event log, an outbox beside it, deliveries after the fact.

``build_webhooks`` wires them on the store the settings name (see ``docs/operations.md``,
"Webhooks").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attune_registry.adapters.webhooks.service import Webhooks

if TYPE_CHECKING:
    from attune_registry.application.registry import PackRegistry

    from attune_registry.adapters.settings import Settings
    from attune_registry.adapters.webhooks.target import Resolver


def build_webhooks(app: PackRegistry, settings: Settings, *,
                   resolver: Resolver | None = None) -> Webhooks:
    """Webhooks on the store of ``settings``, whose event log ``app`` is; their tables are
    created if missing.

    Raises: ConfigError (a bad webhook setting; the store unavailable).
    """
    import psycopg

    from attune_registry.adapters.install.network import system_resolver
    from attune_registry.adapters.store.config import store_config
    from attune_registry.adapters.store.setup import conninfo, diagnose, setup_lock
    from attune_registry.adapters.webhooks.config import WebhookConfig
    from attune_registry.adapters.webhooks.outbox import Outbox, PostgresOutbox, SQLiteOutbox

    webhook_config = WebhookConfig.of(settings)  # a bad setting fails before any connection
    config = store_config(settings)
    outbox: Outbox
    try:
        if config.is_postgres:
            outbox = PostgresOutbox(conninfo(config), config.env["POSTGRES_SCHEMA"])
        else:
            outbox = SQLiteOutbox(config.env["SQLITE_DBNAME"])
        with setup_lock(config):  # PostgreSQL refuses concurrent CREATE of one table
            outbox.ensure_tables()
    except psycopg.Error as exc:
        raise diagnose(config, exc) from None
    return Webhooks(app, outbox, webhook_config, store_kind=config.kind,
                    resolver=resolver or system_resolver,
                    unavailable=lambda exc: diagnose(config, exc))


__all__ = ["Webhooks", "build_webhooks"]
