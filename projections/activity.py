"""The activity feed's read models: a row per event of the log, and each ref's last state.

Every event, of any aggregate, becomes a row of ``activity`` keyed by its position in the log
(its notification id), with what a person reads and filters it by: when, who, which ref and
registration, one line saying what happened (``projections.activity_text``), and the event as
it is stored. Registration events also keep ``pack_ref_state``: every ref ever submitted, its
state and what happened to it last. Deterministic like the other handlers: a rebuild writes
identical rows.

Who acted (``actor``): the event's own actor when it has one (``requested_by``, ``actor``,
``issued_by``); else, for a registration's or test run's later events, who requested it. The
``Pack`` aggregate records no actor: its events take the actor of the registration event saved
in the same transaction, which comes before them (commit, reject, rollback, unregister) or
right after them (a request, a cancel), in which case that event fills them in.

The rows of a batch are written together when the batch ends, and what describing an event
needs from earlier rows is found among the batch's first: a few statements per batch, not
several per event.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

import msgspec

from attune_registry.domain.registration import Registration

from attune_registry.projections.activity_text import Entry, describe
from attune_registry.projections.sql import Writer, from_json

# Keys of an event's state that are never shown: a token's is the hash of its secret, and
# events added later may carry secrets of their own (a webhook's signing key).
_SECRET_KEY = re.compile(r"(?i)secret|password|passwd|private_key|signing_key|api_key")
# The same words in the stored bytes: where none occurs, no key can be one (JSON encoders
# write ASCII letters as they are), and the walk through the state is skipped.
_SECRET_BYTES = re.compile(_SECRET_KEY.pattern.encode())
REDACTED = "[redacted]"
PACK_TOPICS = "attune:Pack."
# The events that change what ``pack list --all`` says about a ref.
REF_EVENTS = ("registration.requested", "registration.committed", "registration.rejected",
              "registration.rolled_back", "test_run.completed")
_INSERT = (
    "INSERT INTO {t}activity (position, at, logged_at, kind, ref, version, actor,"
    " registration_id, summary, note, topic, originator_id, originator_version, state)"
    " VALUES (:position, :at, :logged_at, :kind, :ref, :version, :actor, :registration_id,"
    " :summary, :note, :topic, :originator_id, :originator_version, :state)")
_REF_COLUMNS = ("state", "version", "registration_id", "since", "actor", "note", "first_seen",
                "last_position", "last_at", "last_kind", "last_summary", "last_actor")
_UPSERT_REF = (
    f"INSERT INTO {{t}}pack_ref_state (ref, {', '.join(_REF_COLUMNS)}) VALUES (:ref, "
    + ", ".join(f":{column}" for column in _REF_COLUMNS) + ") ON CONFLICT (ref) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _REF_COLUMNS))

# PostgreSQL: the same rows as one array per column, unnested by one statement.
_ACTIVITY_TYPES = {"position": "BIGINT", "at": "TIMESTAMPTZ", "logged_at": "TIMESTAMPTZ",
                   "kind": "TEXT", "ref": "TEXT", "version": "TEXT", "actor": "TEXT",
                   "registration_id": "TEXT", "summary": "TEXT", "note": "TEXT",
                   "topic": "TEXT", "originator_id": "TEXT", "originator_version": "BIGINT",
                   "state": "JSONB"}
_REF_TYPES = {"ref": "TEXT", "state": "TEXT", "version": "TEXT", "registration_id": "TEXT",
              "since": "TIMESTAMPTZ", "actor": "TEXT", "note": "TEXT",
              "first_seen": "TIMESTAMPTZ", "last_position": "BIGINT", "last_at": "TIMESTAMPTZ",
              "last_kind": "TEXT", "last_summary": "TEXT", "last_actor": "TEXT"}


def _unnest(types: dict[str, str]) -> str:
    # Binary parameters (``%(name)b``): psycopg sends text arrays as they are, where the text
    # format escapes every element with a regular expression.
    return ("SELECT * FROM unnest(" + ", ".join(
        f"CAST(%({column})b AS {kind}[])" for column, kind in types.items()) + ")")


_INSERT_ARRAYS = (f"INSERT INTO {{t}}activity ({', '.join(_ACTIVITY_TYPES)}) "
                  + _unnest(_ACTIVITY_TYPES))
_UPSERT_REF_ARRAYS = (
    f"INSERT INTO {{t}}pack_ref_state ({', '.join(_REF_TYPES)}) " + _unnest(_REF_TYPES)
    + " ON CONFLICT (ref) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _REF_COLUMNS))


def _columns(rows: list[dict[str, Any]], types: dict[str, str]) -> dict[str, list[Any]]:
    return {column: [row[column] for row in rows] for column in types}


class StoredNotification(Protocol):
    """The part of a log notification the feed records (the library's ``Notification``)."""

    id: int
    topic: str
    originator_id: Any
    originator_version: int
    state: bytes


class ActivityWriter:
    """Writes the feed's rows within one projection transaction: ``record`` each event in log
    order, then ``flush`` at the end of each batch."""

    def __init__(self, w: Writer) -> None:
        self.w = w
        self.rows: list[dict[str, Any]] = []  # not written yet, in log order
        self.firsts: dict[str, dict[str, Any]] = {}  # originator id -> its first event's row
        self.first_states: dict[str, dict[str, Any]] = {}
        self.latest: dict[str, dict[str, Any]] = {}  # registration id -> its latest row
        self.refs: dict[str, dict[str, Any]] = {}  # ref -> its pack_ref_state row, changed
        self.logged_at: datetime | None = None
        # Rows written before the batch, read for it in one statement each (``prefetch``):
        # by originator id, registration id and ref; an id with no row maps to None.
        self.known_firsts: dict[str, dict[str, Any] | None] = {}
        self.known_latest: dict[str, dict[str, Any] | None] = {}
        self.known_refs: dict[str, dict[str, Any] | None] = {}
        # (topic,) of the row right before the batch, None for the log's start; () unknown.
        self.before_batch: tuple[str | None, ...] = ()

    def prefetch(self, batch: list[tuple[StoredNotification, Any]]) -> None:
        """Read what describing a batch's events will look up in the rows written before it,
        a statement per table instead of one per event (PostgreSQL; SQLite's reads cost no
        round trip). What the batch itself writes is found in the batch, and takes precedence.
        """
        if not self.w.dialect.postgres:
            return
        originators: set[str] = set()
        registrations: set[str] = set()
        refs: set[str] = set()
        for notification, event in batch:
            if notification.originator_version > 1:
                originators.add(str(notification.originator_id))
            registration = getattr(event, "registration_id", None)
            if notification.topic.startswith(PACK_TOPICS) and registration is not None:
                registrations.add(str(registration))
            for other in ("replaced_registration_id", "restored_registration_id"):
                if getattr(event, other, None) is not None:
                    originators.add(str(getattr(event, other)))
            if isinstance(event, Registration.PackRegistrationRequested):
                refs.add(event.pack_ref)
        self.known_firsts = dict.fromkeys(originators | registrations)
        for first in self.w.all(
                "SELECT originator_id, ref, version, actor, registration_id FROM {t}activity"
                " WHERE originator_id = ANY(:ids) AND originator_version = 1",
                {"ids": list(self.known_firsts)}):
            self.known_firsts[first.pop("originator_id")] = first
            if first["ref"] is not None:
                refs.add(first["ref"])
        self.known_latest = dict.fromkeys(registrations)
        # One backward step of the (registration_id, position) index per id: DISTINCT ON
        # over ``= ANY`` made PostgreSQL filter the whole table.
        for latest in self.w.all(
                "SELECT r.id AS registration_id, a.kind, a.actor"
                " FROM unnest(CAST(:ids AS TEXT[])) AS r(id) CROSS JOIN LATERAL"
                " (SELECT kind, actor FROM {t}activity WHERE registration_id = r.id"
                " ORDER BY position DESC LIMIT 1) AS a", {"ids": list(registrations)}):
            self.known_latest[latest.pop("registration_id")] = latest
        self.known_refs = dict.fromkeys(refs)
        for state in self.w.all("SELECT * FROM {t}pack_ref_state WHERE ref = ANY(:refs)",
                                {"refs": list(refs)}):
            self.known_refs[state.pop("ref")] = state

    def record(self, notification: StoredNotification, event: Any, mapper: Any) -> None:
        """Add ``event`` (read from ``notification``) to the feed, and to its ref's state."""
        originator = str(notification.originator_id)
        entry = describe(event, _Lookups(self, originator))
        at = event.timestamp
        previous = self._logged_at_before(notification.id)
        self.logged_at = max(at, previous) if previous else at
        note = getattr(event, "note", None)
        state = stored_state(notification, mapper)
        row = {"position": notification.id, "at": self.w.timestamp(at),
               "logged_at": self.w.timestamp(self.logged_at), "kind": entry.kind,
               "ref": entry.ref, "version": entry.version, "actor": entry.actor,
               "registration_id": entry.registration_id, "summary": entry.summary,
               "note": note if isinstance(note, str) else None, "topic": notification.topic,
               "originator_id": originator,
               "originator_version": notification.originator_version,
               "state": self.w.json(state)}
        if isinstance(event, Registration.PackRegistrationRequested) or (
                isinstance(event, Registration.RegistrationRejected) and event.actor):
            self._attribute_pack_events(notification.id, event, entry)  # a request, a cancel
        self.rows.append(row)
        if notification.originator_version == 1:
            self.firsts[originator] = row
            self.first_states[originator] = state
        if entry.registration_id is not None:
            self.latest[entry.registration_id] = row
        if entry.kind in REF_EVENTS and entry.ref is not None:
            self._update_ref_state(row, event, entry)

    def flush(self) -> None:
        """Write the batch's rows and the states of the refs it changed."""
        refs = [{"ref": ref, **row} for ref, row in self.refs.items()]
        if self.w.dialect.postgres:  # a statement per table, whatever the batch's length
            if self.rows:
                self.w.execute(_INSERT_ARRAYS, _columns(self.rows, _ACTIVITY_TYPES))
            if refs:
                self.w.execute(_UPSERT_REF_ARRAYS, _columns(refs, _REF_TYPES))
        else:
            if self.rows:
                self.w.cursor.executemany(self.w.dialect.sql(_INSERT), self.rows)
            if refs:
                self.w.cursor.executemany(self.w.dialect.sql(_UPSERT_REF), refs)
        # What is written is found in the tables from now on; the next batch starts afresh.
        self.before_batch = (self.rows[-1]["topic"],) if self.rows else self.before_batch
        self.rows, self.refs = [], {}
        self.firsts, self.first_states, self.latest = {}, {}, {}
        self._forget_prefetched()

    def _forget_prefetched(self) -> None:
        self.known_firsts, self.known_latest, self.known_refs = {}, {}, {}

    def first(self, originator_id: str) -> dict[str, Any]:
        found = self.firsts.get(originator_id)
        if found is None and originator_id in self.known_firsts:
            found = self.known_firsts[originator_id] or {}
        if found is None:
            found = self.w.one("SELECT ref, version, actor, registration_id FROM {t}activity"
                               " WHERE originator_id = :id AND originator_version = 1",
                               {"id": originator_id}) or {}
        return found

    def first_state(self, originator_id: str) -> dict[str, Any]:
        if originator_id in self.first_states:
            return self.first_states[originator_id]
        row = self.w.one("SELECT state FROM {t}activity WHERE originator_id = :id"
                         " AND originator_version = 1", {"id": originator_id})
        return from_json(row["state"]) if row else {}

    def latest_of_registration(self, registration_id: str) -> dict[str, Any]:
        found = self.latest.get(registration_id)
        if found is None and registration_id in self.known_latest:
            found = self.known_latest[registration_id] or {}
        if found is None:
            found = self.w.one("SELECT kind, actor FROM {t}activity WHERE registration_id = :id"
                               " ORDER BY position DESC LIMIT 1", {"id": registration_id}) or {}
        return found

    def _logged_at_before(self, position: int) -> datetime | None:
        if self.logged_at is None:
            # Below this position, not from the top: inside a rebuild, PostgreSQL's index
            # still holds every row the rebuild deleted, above the ones written again so far.
            row = self.w.one("SELECT logged_at, topic FROM {t}activity WHERE position < :position"
                             " ORDER BY position DESC LIMIT 1", {"position": position})
            self.logged_at = _datetime(row["logged_at"]) if row else None
            self.before_batch = (row["topic"] if row else None,)
        return self.logged_at

    def _attribute_pack_events(self, position: int, event: Any, entry: Entry) -> None:
        """Give the ``Pack`` events saved just before this registration event (its request, or
        a cancel) this event's actor, and the request's version. They are the ``Pack`` rows
        right before it: the batch's last rows and, when the batch starts among them, the
        last rows written before it."""
        registration = str(event.originator_id)
        for row in reversed(self.rows):
            if not row["topic"].startswith(PACK_TOPICS):
                return  # the rows of this save are all in the batch
            if row["actor"] is None and row["registration_id"] == registration:
                row["actor"] = entry.actor
                row["version"] = row["version"] or entry.version
            elif row["actor"] is None and row["kind"] == "pack.created" and (
                    row["ref"] == entry.ref):
                row["actor"] = entry.actor  # the ref's first request
        if self.before_batch and not str(self.before_batch[0]).startswith(PACK_TOPICS):
            return  # the batch starts this save: no row before it is one of its Pack events
        before = self.rows[0]["position"] if self.rows else position
        found = self.w.one("SELECT position FROM {t}activity WHERE position < :before"
                           " AND topic NOT LIKE :pack_events ORDER BY position DESC LIMIT 1",
                           {"before": before, "pack_events": PACK_TOPICS + "%"})
        low: int = found["position"] if found else 0
        if low + 1 >= before:
            return  # no row between them to attribute
        # Rows written before the batch change below: what was read of them is read afresh.
        self.known_latest.pop(registration, None)
        for originator, first in list(self.known_firsts.items()):
            if first and first["actor"] is None and (
                    first["registration_id"] == registration or first["ref"] == entry.ref):
                del self.known_firsts[originator]
        run = {"low": low, "before": before, "actor": entry.actor}
        self.w.execute(
            "UPDATE {t}activity SET actor = :actor, version = COALESCE(version, :version)"
            " WHERE position > :low AND position < :before AND actor IS NULL"
            " AND registration_id = :id", {**run, "version": entry.version, "id": registration})
        self.w.execute(
            "UPDATE {t}activity SET actor = :actor WHERE position > :low"
            " AND position < :before AND actor IS NULL AND kind = 'pack.created'"
            " AND ref = :ref", {**run, "ref": entry.ref})

    def _update_ref_state(self, row: dict[str, Any], event: Any, entry: Entry) -> None:
        """The ref's state (active, in progress, rejected or unregistered, since when, by
        whom, why) and the latest of its events above."""
        ref = str(entry.ref)
        current = self._ref_state(ref)
        last = {"last_position": row["position"], "last_at": row["at"],
                "last_kind": entry.kind, "last_summary": entry.summary,
                "last_actor": entry.actor}
        if current is None:
            current = {"state": "in_progress", "version": entry.version or "",
                       "registration_id": entry.registration_id or "", "since": row["at"],
                       "actor": entry.actor, "note": None, "first_seen": row["at"]}
        self.refs[ref] = current = {**current, **last}
        changed = self._state_after(event, entry, current)
        if changed is not None:
            state, version, registration = changed
            current.update(state=state, version=version, registration_id=registration,
                           since=row["at"], actor=entry.actor, note=row["note"])

    def _ref_state(self, ref: str) -> dict[str, Any] | None:
        if ref in self.refs:
            return self.refs[ref]
        if ref in self.known_refs:
            known = self.known_refs[ref]
            return None if known is None else dict(known)
        found = self.w.one("SELECT * FROM {t}pack_ref_state WHERE ref = :ref", {"ref": ref})
        if found is None:
            return None
        found.pop("ref")
        return found

    def _state_after(self, event: Any, entry: Entry,
                     current: dict[str, Any]) -> tuple[str, str, str] | None:
        """(state, version, registration id) of the ref after ``event``; None: unchanged."""
        version, registration = entry.version or "", entry.registration_id or ""
        match event:
            case Registration.PackRegistrationRequested() if current["state"] != "active":
                return "in_progress", version, registration
            case Registration.RegistrationCommitted():
                return "active", version, registration
            case Registration.RegistrationRejected() if (
                    current["state"] == "in_progress"
                    and current["registration_id"] == registration):
                return "rejected", version, registration
            case Registration.RegistrationRolledBack(reason="unregister"):
                return "unregistered", version, registration
            case Registration.RegistrationRolledBack():
                restored = str(event.restored_registration_id)
                return "active", self.first(restored).get("version") or "", restored
        return None


class _Lookups:
    """``projections.activity_text.Lookups`` for one event, answered by the writer."""

    def __init__(self, writer: ActivityWriter, originator_id: str) -> None:
        self.writer = writer
        self.originator_id = originator_id

    def first(self, originator_id: str | None = None) -> dict[str, Any]:
        return self.writer.first(originator_id or self.originator_id)

    def latest_of_registration(self, registration_id: str) -> dict[str, Any]:
        return self.writer.latest_of_registration(registration_id)

    def first_state(self) -> dict[str, Any]:
        return self.writer.first_state(self.originator_id)


def stored_state(notification: StoredNotification, mapper: Any) -> dict[str, Any]:
    """The event's state as the log stores it (before any upcasting), as plain JSON values,
    with the values of secret-looking keys replaced by ``[redacted]``."""
    state = notification.state
    if mapper.cipher:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor:
        state = mapper.compressor.decompress(state)
    plain: dict[str, Any] = msgspec.to_builtins(mapper.transcoder.decode(state))
    return _redacted(plain) if _SECRET_BYTES.search(state) else plain


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key)
                else _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def _datetime(value: Any) -> datetime:
    """A timestamp column's value: PostgreSQL gives datetimes, SQLite the ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
