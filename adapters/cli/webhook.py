"""``attune webhook add|list|remove|test|deliveries|deliver``: signed notifications."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from attune_registry.adapters.cli import output
from attune_registry.adapters.cli.context import actor, json_option, refuse_remote, user_errors

if TYPE_CHECKING:
    from attune_registry.adapters.cli.webhook_remote import RemoteWebhooks
    from attune_registry.adapters.webhooks import Webhooks
    from attune_registry.adapters.webhooks.rows import DeliveryRow

# domain.webhook.WEBHOOK_EVENT_TYPES, written out: importing the domain would slow every command.
EVENT_TYPES = ("registration.committed", "registration.rejected", "test_run.completed")


@contextmanager
def webhooks_session(as_json: bool, *,
                     create: bool = False) -> Iterator[Webhooks | RemoteWebhooks]:
    """The webhooks of the local store, or of the server with --api-url; user-facing errors
    become one line (or JSON) and exit 1."""
    options = click.get_current_context().find_root().params
    if not options.get("api_url"):
        with local_webhooks(as_json, create=create) as webhooks:
            yield webhooks
        return
    from attune_registry.adapters.cli.webhook_remote import RemoteWebhooks

    hooks = RemoteWebhooks(options["api_url"], options.get("token"))
    with user_errors(as_json), hooks:
        yield hooks


@contextmanager
def local_webhooks(as_json: bool, *, create: bool = False) -> Iterator[Webhooks]:
    """The webhooks of the local store (``create``: make the store if it does not exist)."""
    with user_errors(as_json):
        from attune_registry.adapters.bootstrap import build_registry
        from attune_registry.adapters.settings import Settings
        from attune_registry.adapters.webhooks import build_webhooks

        settings = Settings.from_env()
        with build_registry(settings, create=create) as registry, \
                build_webhooks(registry.app, settings) as webhooks:
            yield webhooks


@click.group()
def webhook() -> None:
    """Send signed notifications of registrations and test runs to other systems.

    \b
    Each delivery is a JSON POST signed as Standard Webhooks say (webhook-id,
    webhook-timestamp, webhook-signature: v1,<HMAC-SHA256>), retried with growing waits
    until the receiver answers 2xx. Deliveries are made after the fact by `attune serve`
    (in the background) or `attune webhook deliver`: a slow receiver never delays a
    registration.
    """


@webhook.command(short_help="Add a webhook; prints its signing secret once")
@click.argument("url")
@click.option("--events", "event_types", metavar="TYPES", default=",".join(EVENT_TYPES),
              show_default=True,
              help="Comma-separated event types: " + ", ".join(EVENT_TYPES) + ".")
@json_option
def add(url: str, event_types: str, as_json: bool) -> None:
    """Send the events TYPES to URL (https; public addresses only unless the operator allows
    others), and print the webhook's signing secret: it is shown once.

    The URL must not hold credentials: receivers check the signature with the secret.
    """
    with webhooks_session(as_json, create=True) as hooks:
        created = hooks.add(url, event_types.split(","), actor=actor())
    row = created.webhook
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(created),
                           "message": "Webhook added; its secret will not be shown again"})
        return
    output.line(created.secret)
    output.note(f"{output.OK} Webhook {row.id} added for {row.url} "
                f"({', '.join(row.event_types)}); copy its signing secret now, it will not "
                "be shown again")


@webhook.command("list", short_help="List the webhooks")
@click.option("--all", "include_removed", is_flag=True, help="Removed webhooks too.")
@json_option
def list_webhooks(include_removed: bool, as_json: bool) -> None:
    """List the webhooks (never their secrets)."""
    with webhooks_session(as_json) as hooks:
        rows = hooks.hooks(include_removed=include_removed)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows)})
        return
    if not rows:
        output.line("No webhooks.")
        return
    headers = ["ID", "URL", "EVENTS", "ADDED", "BY"]
    table = [[row.id, row.url, ",".join(row.event_types), output.timestamp(row.added_at),
              row.added_by] for row in rows]
    if include_removed:
        headers.append("REMOVED")
        for cells, row in zip(table, rows, strict=True):
            cells.append(f"{output.timestamp(row.removed_at)} by {row.removed_by}"
                         if row.removed_at else "-")
    output.table(headers, table)


@webhook.command(short_help="Remove a webhook")
@click.argument("hook")
@json_option
def remove(hook: str, as_json: bool) -> None:
    """Remove webhook HOOK (its id, or its URL if only one webhook has it): nothing more is
    sent to it, its pending deliveries are cancelled and its secret deleted."""
    with webhooks_session(as_json) as hooks:
        row = hooks.remove(hook, actor=actor())
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(row), "message": "Webhook removed"})
        return
    output.line(f"{output.OK} Webhook {row.id} removed ({row.url})")


@webhook.command(short_help="Send a signed test message now")
@click.argument("hook")
@json_option
def test(hook: str, as_json: bool) -> None:
    """Send a signed `webhook.test` message to HOOK now, once, and say what the receiver
    answered. Exit status 1 when it did not answer 2xx."""
    with webhooks_session(as_json) as hooks:
        delivery = hooks.test(hook)
    last = delivery.attempts[-1] if delivery.attempts else None
    if delivery.status != "delivered":
        reason = last.error if last and last.error else delivery.status
        import msgspec

        output.abort(f"Test delivery {delivery.id} to webhook {delivery.webhook_id} failed: "
                     f"{reason}", code="WEBHOOK_FAILED", as_json=as_json,
                     details=[msgspec.to_builtins(delivery)])
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(delivery)})
        return
    answer = (f"HTTP {last.status_code} in {output.duration(last.duration_ms)}" if last
              else "delivered")
    output.line(f"{output.OK} Test delivery {delivery.id} to webhook {delivery.webhook_id}: "
                f"{answer}")


@webhook.command(short_help="Show deliveries and every attempt")
@click.argument("hook", required=False)
@click.option("-n", "--limit", type=click.IntRange(1, 500), default=20, show_default=True,
              help="How many of the newest deliveries to show.")
@json_option
def deliveries(hook: str | None, limit: int, as_json: bool) -> None:
    """Show the newest deliveries (of HOOK, or of every webhook), newest first, each with
    every attempt: when, the receiver's status code or the error, and the next retry."""
    with webhooks_session(as_json) as hooks:
        rows = hooks.deliveries(hook, limit=limit)
    if as_json:
        import msgspec

        output.print_json({"data": msgspec.to_builtins(rows)})
        return
    if not rows:
        output.line("No deliveries.")
        return
    output.table(["CREATED", "DELIVERY", "WEBHOOK", "EVENT", "REF", "STATUS", "NEXT ATTEMPT"],
                 [_delivery_cells(row) for row in rows],
                 below=[[_attempt_line(attempt) for attempt in row.attempts] for row in rows])


def _delivery_cells(row: DeliveryRow) -> list[str]:
    return [output.timestamp(row.created_at), row.id, row.webhook_id, row.event_type,
            row.ref or "-", row.status,
            output.timestamp(row.next_attempt_at) if row.next_attempt_at else "-"]


def _attempt_line(attempt: Any) -> str:
    answer = f"HTTP {attempt.status_code}" if attempt.status_code is not None else "no answer"
    verdict = f"{output.OK} {answer}" if attempt.error is None else \
        f"{output.FAIL} {attempt.error}"
    return (f"  attempt {attempt.number} at {output.timestamp(attempt.at)}: {verdict} "
            f"({output.duration(attempt.duration_ms)})")


@webhook.command(short_help="Make the deliveries that are due (--follow: keep on)")
@click.option("--follow", is_flag=True,
              help="Keep delivering until Ctrl-C or SIGTERM, instead of one pass.")
def deliver(follow: bool) -> None:
    """Make the deliveries that are due now (first turning the events recorded since the last
    pass into deliveries), then exit; with --follow, keep doing so.

    `attune serve` delivers in the background already; run this where no server runs (the
    embedded store from the CLI only), or as a dedicated deliverer. On PostgreSQL it works
    the `webhooks` queue of the job queue, like `attune serve` does.
    """
    import threading

    from attune_registry.adapters.cli import Terminated
    from attune_registry.adapters.settings import Settings
    from attune_registry.adapters.store.config import store_config
    from attune_registry.adapters.webhooks.runner import deliver_once, ensure_queue
    from attune_registry.adapters.webhooks.runner import follow as follow_log

    refuse_remote("webhook deliver", False)
    with local_webhooks(False) as webhooks:
        config = store_config(Settings.from_env(), create=False)
        ensure_queue(config)
        if not follow:
            made = deliver_once(webhooks, config)
            if config.is_postgres:
                output.line(f"{output.OK} {made} queued; the attempts due now were made")
            else:
                output.line(f"{output.OK} {made} {'attempt' if made == 1 else 'attempts'} "
                            "made")
            return
        output.note(f"Delivering webhooks from {config.display} (Ctrl-C to stop)")
        stop = threading.Event()
        try:
            follow_log(webhooks, config, stop, signals=True)
        except (KeyboardInterrupt, Terminated):
            stop.set()
