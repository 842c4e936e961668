"""Reading the activity feed and each ref's last state (see ``projections.activity``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from attune_registry.domain.errors import PackNotFoundError

from attune_registry.projections.sql import from_json, from_timestamp

RefStateName = Literal["active", "in_progress", "rejected", "unregistered"]


class ActivityEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the log stores it (secret-looking values replaced by ``[redacted]``)."""

    topic: str
    originator_id: str
    originator_version: int
    state: dict[str, Any]


class ActivityRow(msgspec.Struct, frozen=True, kw_only=True):
    """One event of the log, for people: when, who, which ref, what happened; and the event."""

    position: int
    """Its position in the log (the notification id): the feed's order, and ``--after``."""
    at: str
    kind: str
    """``registration.requested``, ``pack.activated``, ``token.revoked``…"""
    ref: str | None
    version: str | None
    actor: str | None
    registration_id: str | None
    summary: str
    """What happened, in one line."""
    note: str | None
    """Why, in the words of who did it (``--reason``), when the event has one."""
    event: ActivityEvent


class RefState(msgspec.Struct, frozen=True, kw_only=True):
    """A ref ever submitted: its state now and the latest of its registrations' events."""

    ref: str
    state: RefStateName
    version: str
    """The active version, else the version of the registration that set the state."""
    registration_id: str
    since: str
    """When the ref reached its state."""
    by: str | None
    """Who brought it there."""
    note: str | None
    first_seen: str
    last_position: int
    last_at: str
    last_kind: str
    last_summary: str
    last_actor: str | None


@dataclass(frozen=True)
class Feed:
    """A page of the activity feed, and whether more events pass its filters beyond it."""

    rows: list[ActivityRow]
    more: bool


@dataclass(frozen=True)
class ActivityFilter:
    """Which events of the feed to read, in log order or (``newest_first``) the reverse."""

    limit: int = 50
    after: int | None = None
    """Only events at positions above this one."""
    before: int | None = None
    """Only events at positions below this one."""
    since: datetime | None = None
    """Only events recorded at or after this time."""
    ref: str | None = None
    actor: str | None = None
    newest_first: bool = False


_COLUMNS = ("position, at, kind, ref, version, actor, registration_id, summary, note, topic,"
            " originator_id, originator_version, CAST(state AS TEXT) AS state")


class ActivityQueries(ABC):
    """The feed's queries, on any read-model connection; ``_select`` runs one statement."""

    @abstractmethod
    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{t}`` table prefix, ``:name`` parameters) as dicts."""

    def _timestamp(self, iso: str) -> Any:
        """A timestamp as a query parameter: SQLite stores the ISO text itself."""
        return iso

    def activity(self, query: ActivityFilter) -> list[ActivityRow]:
        """Up to ``query.limit`` events that pass its filters. Every filter is a range of
        one index (by position, per ref, per actor, or both), so a page reads about its own
        rows however long the log is."""
        where, params = ["position >= 0"], {"limit": query.limit}
        if query.after is not None:
            where.append("position > :after")
            params["after"] = query.after
        if query.before is not None:
            where.append("position < :before")
            params["before"] = query.before
        if query.since is not None:
            # logged_at never decreases along the log: its index finds the first position.
            where.append("position >= (SELECT position FROM {t}activity"
                         " WHERE logged_at >= :since ORDER BY logged_at, position LIMIT 1)")
            where.append("at >= :since")
            params["since"] = self._timestamp(query.since.astimezone(UTC).isoformat())
        for column in ("ref", "actor"):
            if getattr(query, column) is not None:
                where.append(f"{column} = :{column}")
                params[column] = getattr(query, column)
        order = "DESC" if query.newest_first else "ASC"
        rows = self._select(f"SELECT {_COLUMNS} FROM {{t}}activity WHERE {' AND '.join(where)}"
                            f" ORDER BY position {order} LIMIT :limit", params)
        return [activity_row(row) for row in rows]

    def activity_page(self, query: ActivityFilter) -> Feed:
        """``activity``, and whether more events follow.

        Raises:
            PackNotFoundError: ``query.ref`` has no event (it was never submitted).
        """
        if query.ref is not None and not self.ref_seen(query.ref):
            raise PackNotFoundError(query.ref)
        rows = self.activity(replace(query, limit=query.limit + 1))
        return Feed(rows[:query.limit], more=len(rows) > query.limit)

    def ref_states(self, *, limit: int = 1_000_000, offset: int = 0) -> list[RefState]:
        """Every ref ever submitted, by ref."""
        rows = self._select("SELECT * FROM {t}pack_ref_state ORDER BY ref"
                            " LIMIT :limit OFFSET :offset", {"limit": limit, "offset": offset})
        return [ref_state(row) for row in rows]

    def count_ref_states(self) -> int:
        return int(self._select("SELECT COUNT(*) AS n FROM {t}pack_ref_state", {})[0]["n"])

    def ref_seen(self, ref: str) -> bool:
        """Whether the feed has any event of ``ref``."""
        return bool(self._select("SELECT 1 AS x FROM {t}activity WHERE ref = :ref LIMIT 1",
                                 {"ref": ref}))


def activity_row(row: dict[str, Any]) -> ActivityRow:
    return ActivityRow(
        position=int(row["position"]), at=str(from_timestamp(row["at"])), kind=row["kind"],
        ref=row["ref"], version=row["version"], actor=row["actor"],
        registration_id=row["registration_id"], summary=row["summary"], note=row["note"],
        event=ActivityEvent(topic=row["topic"], originator_id=row["originator_id"],
                            originator_version=int(row["originator_version"]),
                            state=from_json(row["state"])))


def ref_state(row: dict[str, Any]) -> RefState:
    times = {key: str(from_timestamp(row[key])) for key in ("since", "first_seen", "last_at")}
    return RefState(
        ref=row["ref"], state=row["state"], version=row["version"],
        registration_id=row["registration_id"], by=row["actor"], note=row["note"],
        last_position=int(row["last_position"]), last_kind=row["last_kind"],
        last_summary=row["last_summary"], last_actor=row["last_actor"], **times)
