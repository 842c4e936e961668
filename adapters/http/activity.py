"""``/api/v1/activity``: every event of the registry for people, in log order, by cursor; and
``/api/v1/refs``: every ref ever submitted, with its state (what ``pack list --all`` shows)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.manifest import REF_PATTERN

from attune_registry.projections.activity_queries import ActivityFilter, ActivityRow, Feed, RefState

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.cursor import MAX_CURSOR_LENGTH, InvalidCursorError
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.http.schemas import Pagination, pagination

INT64_MAX = 2**63 - 1
Order = Literal["asc", "desc"]
# [position of the previous page's last event, the order it was read in]
ACTIVITY_CURSOR = msgspec.json.Decoder(
    tuple[Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)], Order])

Since = Annotated[datetime | None, QueryParameter(
    description="Only events recorded at or after this time (ISO 8601; without an offset, "
                "UTC).")]
Ref = Annotated[str | None, QueryParameter(description="Only the events of this pack ref.")]
Actor = Annotated[str | None, QueryParameter(
    max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
    description="Only the events of this actor, as the feed shows it (`cli:alice`, "
                "`token:ci`).")]
After = Annotated[int | None, QueryParameter(
    ge=0, le=INT64_MAX, description="Only events after this log `position` (to poll for "
                                    "new events: the last position you saw).")]
OrderParam = Annotated[Order, QueryParameter(
    description="`asc`: log order, oldest first; `desc`: newest first.")]
PageSize = Annotated[int, QueryParameter(ge=1, le=100,
                                         description="Items per page (at most 100).")]
PageNumber = Annotated[int, QueryParameter(ge=1, le=1_000_000,
                                           description="Page number, from 1.")]
Cursor = Annotated[str | None, QueryParameter(
    description="Start after the page that answered with this `pagination.next_cursor` "
                "(opaque); with the same filters and order.")]


class FeedPagination(msgspec.Struct):
    """Where the next page starts. The feed has no total: counting it would read it all."""

    page_size: int
    next_cursor: str | None
    """The ``cursor`` of the next page; None on the last page."""


class ActivityPage(msgspec.Struct):
    data: list[ActivityRow]
    pagination: FeedPagination


class RefStatePage(msgspec.Struct):
    """``GET /refs``: every ref ever submitted, active or not."""

    data: list[RefState]
    pagination: Pagination


class ActivityController(Controller):
    path = "/activity"
    tags = ["activity"]
    security = [{"BearerToken": []}]

    @get("/", responses=documented_errors(*COMMON_ERRORS), guards=[requires("read")],
         sync_to_thread=True, operation_id="listActivity",
         summary="Every event of the registry, one readable line each, in log order")
    def activity(self, registry: NamedDependency[ServedRegistry], since: Since = None,
                 ref: Ref = None, actor: Actor = None, after: After = None,
                 order: OrderParam = "asc", page_size: PageSize = 50,
                 cursor: Cursor = None) -> ActivityPage:
        """Registrations requested, suites, decisions, rollbacks and unregisters; the `Pack`
        lease and activation events; tokens issued and revoked; manual test runs: each with
        its time, actor, ref, registration, a one-line `summary` and the stored event."""
        if ref is not None and not REF_PATTERN.fullmatch(ref):
            raise PackNotFoundError(ref)  # no manifest can declare it: the store is not asked
        query = ActivityFilter(limit=page_size, after=after, since=_utc(since), ref=ref,
                               actor=actor, newest_first=order == "desc")
        if cursor is not None:
            query = _continued(query, cursor, order)
        found = registry.activity(query)
        return ActivityPage(data=found.rows, pagination=FeedPagination(
            page_size=page_size, next_cursor=_next_cursor(found, order)))


class RefController(Controller):
    path = "/refs"
    tags = ["activity"]
    security = [{"BearerToken": []}]

    @get("/", responses=documented_errors(*COMMON_ERRORS), guards=[requires("read")],
         sync_to_thread=True, operation_id="listRefs",
         summary="Every ref ever submitted, active or not, with its state")
    def refs(self, registry: NamedDependency[ServedRegistry], page: PageNumber = 1,
             page_size: PageSize = 50) -> RefStatePage:
        """Rejected and unregistered refs too: each with its state (`active`, `in_progress`,
        `rejected` or `unregistered`), since when and by whom, and its latest event."""
        found = registry.ref_states_page(limit=page_size, offset=(page - 1) * page_size)
        return RefStatePage(data=found.rows, pagination=pagination(page, page_size,
                                                                   found.total))


def _utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; without an offset it is UTC already, as the registry shows every
    time. Past the calendar's ends (year 1 at +01:00), it is the end it passed."""
    if moment is None or moment.tzinfo is None:
        return moment and moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _continued(query: ActivityFilter, cursor: str, order: Order) -> ActivityFilter:
    """``query`` from where the page that issued ``cursor`` ended.

    Raises:
        InvalidCursorError: not a cursor of this feed, or of the other order.
    """
    from dataclasses import replace

    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError(cursor)
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                                validate=True)
        position, issued_for = ACTIVITY_CURSOR.decode(text)
        if issued_for != order:
            raise ValueError(issued_for)
    except (ValueError, msgspec.DecodeError):
        raise InvalidCursorError(
            "Invalid cursor: pass the next_cursor of a previous page back unchanged, with "
            "the same order") from None
    if order == "desc":
        return replace(query, before=position)
    return replace(query, after=max(position, query.after or 0))


def _next_cursor(found: Feed, order: Order) -> str | None:
    if not found.more or not found.rows:
        return None
    text = msgspec.json.encode([found.rows[-1].position, order])
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()
