"""Read-model tables, in the two SQL dialects we store them in."""

from __future__ import annotations

# Bump when a table's shape or a handler's output changes: stores with another version drop
# their read models and rebuild them from the event log (the log is the truth).
READ_MODEL_VERSION = 10

# {t} is replaced by the table-name prefix ("" on SQLite, "attune." on PostgreSQL);
# {json}, {ts} and {bool} by the dialect's column types.
TABLES = [
    """CREATE TABLE IF NOT EXISTS {t}read_model_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {t}pack_identity (
        ref TEXT PRIMARY KEY,
        id INTEGER NOT NULL UNIQUE
    )""",
    """CREATE TABLE IF NOT EXISTS {t}pack (
        id INTEGER PRIMARY KEY,
        ref TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        description TEXT NOT NULL,
        version TEXT NOT NULL,
        author TEXT,
        email TEXT,
        conf_schema {json} NOT NULL,
        config {json} NOT NULL,
        meta {json} NOT NULL,
        tags {json} NOT NULL,
        runtime_deps {json} NOT NULL,
        dependencies {json} NOT NULL,
        system {bool} NOT NULL,
        enabled {bool} NOT NULL,
        source_path TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        origin {json},
        registration_id TEXT NOT NULL,
        created {ts} NOT NULL,
        updated {ts} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {t}pack_registration (
        id TEXT PRIMARY KEY,
        pack_ref TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        force {bool} NOT NULL,
        replace_active {bool} NOT NULL,
        skip_tests {bool} NOT NULL,
        trigger_reason TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        source_path TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        origin {json},
        manifest {json} NOT NULL,
        components {json} NOT NULL,
        forced {bool},
        replaced_registration_id TEXT,
        requested_at {ts} NOT NULL,
        finished_at {ts},
        rolled_back_at {ts},
        rolled_back_by TEXT,
        restored_registration_id TEXT,
        note TEXT,
        cancelled_by TEXT,
        overridden_dependents {json},
        reused_run_id TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS {t}pack_component (
        pack_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        label TEXT NOT NULL,
        description TEXT NOT NULL,
        entry_point TEXT,
        definition {json} NOT NULL,
        PRIMARY KEY (pack_id, kind, ref)
    )""",
    # Serves a ref's registrations newest first, and the keyset (cursor) pages through them.
    ("CREATE INDEX IF NOT EXISTS pack_registration_history_idx"
     " ON {t}pack_registration (pack_ref, requested_at DESC, id DESC)"),
    """CREATE TABLE IF NOT EXISTS {t}pack_test_execution (
        id INTEGER PRIMARY KEY,
        pack_id INTEGER,
        pack_ref TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        run_id TEXT NOT NULL UNIQUE,
        registration_id TEXT NOT NULL,
        test_run_id TEXT,
        trigger_reason TEXT NOT NULL,
        execution_time {ts} NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT,
        total_tests INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        pass_rate DOUBLE PRECISION NOT NULL,
        duration_ms BIGINT NOT NULL,
        result {json} NOT NULL,
        created {ts} NOT NULL,
        content_digest TEXT,
        fingerprint TEXT,
        flaky INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS {t}api_token (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        issued_at {ts} NOT NULL,
        revoked_at {ts},
        revoked_by TEXT
    )""",
    # A ref's test history newest first, one index per filter combination of the API, so that
    # a page (first or deep, by cursor) reads only its own rows however long the history is.
    ("CREATE INDEX IF NOT EXISTS pack_test_execution_history_idx"
     " ON {t}pack_test_execution (pack_ref, execution_time DESC, id DESC)"),
    ("CREATE INDEX IF NOT EXISTS pack_test_execution_status_idx"
     " ON {t}pack_test_execution (pack_ref, status, execution_time DESC, id DESC)"),
    ("CREATE INDEX IF NOT EXISTS pack_test_execution_trigger_idx"
     " ON {t}pack_test_execution (pack_ref, trigger_reason, execution_time DESC, id DESC)"),
    ("CREATE INDEX IF NOT EXISTS pack_test_execution_status_trigger_idx"
     " ON {t}pack_test_execution"
     " (pack_ref, status, trigger_reason, execution_time DESC, id DESC)"),
    # The runs a registration may reuse (``--reuse``): same ref, content and environment.
    ("CREATE INDEX IF NOT EXISTS pack_test_execution_reuse_idx ON {t}pack_test_execution"
     " (pack_ref, content_digest, fingerprint, execution_time DESC, id DESC)"),
    # How many runs each ref has, per status and trigger: totals without counting rows. The
    # handlers keep it in step with pack_test_execution, in the same transaction.
    """CREATE TABLE IF NOT EXISTS {t}pack_test_count (
        pack_ref TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger_reason TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (pack_ref, status, trigger_reason)
    )""",
    """CREATE TABLE IF NOT EXISTS {t}pack_registration_count (
        pack_ref TEXT PRIMARY KEY,
        n BIGINT NOT NULL
    )""",
    # The activity feed (projections/activity.py): every event of the log, by its position.
    # logged_at is the latest event time up to the row's position, so it never decreases
    # along the log and its index finds where a --since starts.
    """CREATE TABLE IF NOT EXISTS {t}activity (
        position BIGINT PRIMARY KEY,
        at {ts} NOT NULL,
        logged_at {ts} NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT,
        version TEXT,
        actor TEXT,
        registration_id TEXT,
        summary TEXT NOT NULL,
        note TEXT,
        topic TEXT NOT NULL,
        originator_id TEXT NOT NULL,
        originator_version BIGINT NOT NULL,
        state {json} NOT NULL
    )""",
    # One index per filter of the feed, each ending in position: a page is one index range.
    ("CREATE UNIQUE INDEX IF NOT EXISTS activity_originator_idx"
     " ON {t}activity (originator_id, originator_version)"),
    "CREATE INDEX IF NOT EXISTS activity_ref_idx ON {t}activity (ref, position)",
    "CREATE INDEX IF NOT EXISTS activity_actor_idx ON {t}activity (actor, position)",
    "CREATE INDEX IF NOT EXISTS activity_ref_actor_idx ON {t}activity (ref, actor, position)",
    ("CREATE INDEX IF NOT EXISTS activity_registration_idx"
     " ON {t}activity (registration_id, position)"),
    "CREATE INDEX IF NOT EXISTS activity_time_idx ON {t}activity (logged_at, position)",
    # Every ref ever submitted: its state now, and the latest of its registrations' events.
    """CREATE TABLE IF NOT EXISTS {t}pack_ref_state (
        ref TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        version TEXT NOT NULL,
        registration_id TEXT NOT NULL,
        since {ts} NOT NULL,
        actor TEXT,
        note TEXT,
        first_seen {ts} NOT NULL,
        last_position BIGINT NOT NULL,
        last_at {ts} NOT NULL,
        last_kind TEXT NOT NULL,
        last_summary TEXT NOT NULL,
        last_actor TEXT
    )""",
    # Each case's passes and failures per content digest and environment fingerprint
    # (projections/case_stats.py): both with the same two make it flaky.
    """CREATE TABLE IF NOT EXISTS {t}pack_case_stat (
        pack_ref TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        suite TEXT NOT NULL,
        case_name TEXT NOT NULL,
        pack_version TEXT NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        flaky_retries INTEGER NOT NULL,
        first_seen {ts} NOT NULL,
        last_seen {ts} NOT NULL,
        last_failed_at {ts},
        last_failed_run_id TEXT,
        last_failure TEXT,
        PRIMARY KEY (pack_ref, content_digest, fingerprint, suite, case_name)
    )""",
]

# Every read-model table, in the order a rebuild empties them.
READ_MODEL_TABLES = ("pack_component", "pack", "pack_identity", "pack_test_execution",
                     "pack_test_count", "pack_registration", "pack_registration_count",
                     "api_token", "activity", "pack_ref_state", "pack_case_stat")


def create_statements(prefix: str, *, json: str, ts: str, boolean: str) -> list[str]:
    """The CREATE statements for one dialect."""
    return [sql.format(t=prefix, json=json, ts=ts, bool=boolean) for sql in TABLES]
