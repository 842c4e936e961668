"""The webhook tables, beside the event log in the same store (SQLite file or PostgreSQL schema).

They are not read models: ``attune projections rebuild`` leaves them alone. ``webhook`` and the
position are made from the log; ``webhook_secret`` holds what the log must not (the signing
secrets); ``webhook_delivery`` and ``webhook_attempt`` are the outbox and what happened to it.
"""

from __future__ import annotations

# {t}: table prefix ("" on SQLite, "<schema>." on PostgreSQL); {json}, {ts}, {bool}: types.
TABLES = [
    """CREATE TABLE IF NOT EXISTS {t}webhook_position (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {t}webhook (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        event_types {json} NOT NULL,
        added_by TEXT NOT NULL,
        added_at {ts} NOT NULL,
        removed_at {ts},
        removed_by TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS {t}webhook_secret (
        webhook_id TEXT PRIMARY KEY,
        secret TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {t}webhook_delivery (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        source TEXT NOT NULL,
        registration_id TEXT,
        test_run_id TEXT,
        ref TEXT,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created_at {ts} NOT NULL,
        next_attempt_at {ts},
        claimed_until {ts},
        queued {bool} NOT NULL,
        delivered_at {ts},
        UNIQUE (webhook_id, source)
    )""",
    ("CREATE INDEX IF NOT EXISTS webhook_delivery_due_idx"
     " ON {t}webhook_delivery (status, next_attempt_at)"),
    ("CREATE INDEX IF NOT EXISTS webhook_delivery_hook_idx"
     " ON {t}webhook_delivery (webhook_id, created_at)"),
    """CREATE TABLE IF NOT EXISTS {t}webhook_attempt (
        delivery_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        at {ts} NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms BIGINT NOT NULL,
        PRIMARY KEY (delivery_id, number)
    )""",
]


def create_statements(prefix: str, *, json: str, ts: str, boolean: str) -> list[str]:
    return [sql.format(t=prefix, json=json, ts=ts, bool=boolean) for sql in TABLES]
