"""The dashboard's pages under ``/ui``: packs, a pack, a test run, a registration, sign-in.

Every page reads through the same ``ServedRegistry`` as the API, with the read scope of the
token that signed in (see ``adapters.web.session``). Pages are whole HTML documents; the one
fragment, a registration's progress, is what a page in flight fetches again to update itself.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup

from attune_registry.domain.errors import PackNotFoundError, RegistryError
from attune_registry.domain.vocabulary import RunStatus, TriggerReason

from attune_registry.projections.queries import SortKey

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.cursor import RUN_CURSOR, decode_cursor, encode_cursor
from attune_registry.adapters.http.errors import STATUS_BY_CODE
from attune_registry.adapters.tokens import AuthenticationError, parse_token
from attune_registry.adapters.web import views
from attune_registry.adapters.web.charts import duration_chart, pass_rate_chart, sparkline
from attune_registry.adapters.web.session import COOKIE, LIFETIME_SECONDS, SessionKey

RUNS_PER_PAGE = 50
CHART_RUNS = 50
TREND_RUNS = 10
TIMELINE_ROWS = 20
PACKS_PER_PAGE = 50
REFRESH_SECONDS = 2
# Private data: never kept by a shared cache, nor by the browser's back-forward cache.
NO_STORE = {"Cache-Control": "no-store"}
RUN_STATUSES = ("passed", "failed", "error", "running")
TRIGGERS = ("register", "install", "manual", "dependency")


# The dependencies of every page: who is looking, and the registry it reads.
Viewer = NamedDependency[str]
Store = NamedDependency[ServedRegistry]


class NotSignedInError(Exception):
    """No valid session: the page answers with the sign-in form's address."""


class SignIn(msgspec.Struct):
    token: str = ""
    next: str = ""


def viewer(request: Request[Any, Any, Any], registry: Store) -> str:
    """Who is looking: the token named by a valid session cookie, still valid for reading."""
    key: SessionKey = request.app.state.session_key
    token_id = key.open(request.cookies.get(COOKIE))
    if token_id is None:
        raise NotSignedInError()
    try:
        return registry.session_actor(token_id, "read")
    except RegistryError:  # revoked since: the session ends with it
        raise NotSignedInError() from None


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=name, context=context, status_code=status_code,
                    headers=NO_STORE)


def local_target(target: str) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") \
            or target.startswith("//") or "\\" in target:
        return "/ui/"
    return target


class DashboardController(Controller):
    path = "/ui"
    include_in_schema = False
    dependencies = {"actor": Provide(viewer, sync_to_thread=True)}  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def packs(self, actor: Viewer, registry: Store,
              page_number: Annotated[int, QueryParameter(name="page", ge=1, le=1_000_000)] = 1,
              ) -> Template:
        found = registry.packs_page(limit=PACKS_PER_PAGE,
                                    offset=(page_number - 1) * PACKS_PER_PAGE)
        rows = []
        for pack in found.rows:
            recent = registry.test_history_page(pack.ref, limit=TREND_RUNS).rows
            rates = [100 * run.passed / (run.passed + run.failed)
                     for run in reversed(recent) if run.passed + run.failed]
            rows.append({"pack": pack, "last": recent[0] if recent else None,
                         "rate": views.pass_rate(recent[0].passed, recent[0].failed)
                         if recent else views.NO_RATE,
                         "trend": Markup(sparkline(rates, label=f"Pass rate of {pack.ref}",
                                                   scale=(0, 100)))})
        return page("packs.html", actor=actor, rows=rows, total=found.total,
                    page_number=page_number, more=found.more)

    @get("/packs/{ref:str}", sync_to_thread=True)
    def pack(self, actor: Viewer, registry: Store, ref: FromPath[str],
             status: FromQuery[RunStatus | None] = None,
             trigger: FromQuery[TriggerReason | None] = None,
             cursor: FromQuery[str | None] = None) -> Template:
        try:
            details = registry.show(ref)
        except PackNotFoundError:
            if not registry.knows(ref):
                raise
            details = None
        after: SortKey | None = None
        page_number = 1
        if cursor:
            after, page_number = decode_cursor(cursor, RUN_CURSOR)
        runs = registry.test_history_page(ref, limit=RUNS_PER_PAGE, after=after, status=status,
                                          trigger_reason=trigger)
        unfiltered_first = after is None and status is None and trigger is None
        recent = runs.rows[:CHART_RUNS] if unfiltered_first else \
            registry.test_history_page(ref, limit=CHART_RUNS).rows
        points = [views.run_point(run) for run in reversed(recent)]
        link = f"/ui/packs/{quote(ref)}/runs/"
        following = None
        if runs.more and runs.rows:
            last = runs.rows[-1]
            following = encode_cursor(SortKey(last.execution_time, last.id), page_number + 1)
        timeline = registry.registrations_page(ref, limit=TIMELINE_ROWS)
        return page(
            "pack.html", actor=actor, ref=ref, details=details, runs=runs.rows,
            total_runs=runs.total, page_number=page_number, next_cursor=following,
            status=status, trigger=trigger, statuses=RUN_STATUSES, triggers=TRIGGERS,
            timeline=[views.timeline_entry(row) for row in timeline.rows],
            more_registrations=timeline.total - len(timeline.rows),
            flaky=registry.flaky_cases(ref),
            rate_chart=Markup(pass_rate_chart(points, href=lambda p: f"{link}{p.id}")),
            duration_chart=Markup(duration_chart(points, href=lambda p: f"{link}{p.id}")))

    @get("/packs/{ref:str}/runs/{execution_id:int}", sync_to_thread=True)
    def run(self, actor: Viewer, registry: Store, ref: FromPath[str],
            execution_id: FromPath[int]) -> Template:
        found = registry.test_execution(ref, execution_id) \
            if 0 < execution_id < 2**63 else None
        if found is None:
            raise NotFoundException(f"Test run {execution_id} of pack '{ref}' not found")
        suites = views.suites_of(found.result)
        return page("run.html", actor=actor, ref=ref, run=found, suites=suites,
                    failing=[case for suite in suites for case in suite.failing],
                    flaky=[case for suite in suites for case in suite.flaky])

    @get("/registrations/{registration_id:uuid}", sync_to_thread=True)
    def registration(self, actor: Viewer, registry: Store, registration_id: FromPath[UUID],
                     raw: FromQuery[bool] = False) -> Template:
        details = registry.registration(registration_id)
        row = details.registration
        return page("registration.html", actor=actor, row=row, raw=raw,
                    events=views.raw_events(details.events) if raw else [],
                    story=[] if raw else views.story(row.id, details.events),
                    progress=details.progress, in_flight=row.status in views.IN_FLIGHT,
                    refresh=REFRESH_SECONDS)

    @get("/registrations/{registration_id:uuid}/progress", sync_to_thread=True)
    def progress(self, actor: Viewer, registry: Store,
                 registration_id: FromPath[UUID]) -> Template:
        """The fragment a registration page in flight fetches every few seconds; once the
        registration is decided, a header tells the page to load itself whole again."""
        details = registry.registration(registration_id)
        done = details.registration.status not in views.IN_FLIGHT
        return Template(template_name="_progress.html",
                        context={"progress": details.progress, "row": details.registration},
                        headers={**NO_STORE, "X-Attune-Decided": "1" if done else "0"})


class SignInController(Controller):
    path = "/ui"
    include_in_schema = False

    @get("/signin")
    async def form(self, next: FromQuery[str] = "/ui/") -> Template:
        return page("signin.html", next=local_target(next), error=None)

    @post("/signin", sync_to_thread=True, status_code=303)
    def sign_in(self, request: Request[Any, Any, Any], registry: Store,
                data: Annotated[SignIn, Body(media_type=RequestEncodingType.URL_ENCODED)],
                ) -> Response[Any]:
        same_origin(request)
        target = local_target(data.next)
        parsed = parse_token(data.token.strip())
        try:
            registry.authenticate(data.token.strip(), "read")
        except RegistryError as exc:
            message = ("That token is not valid: it may be mistyped or revoked"
                       if isinstance(exc, AuthenticationError) else str(exc))
            return page("signin.html", status_code=401, next=target, error=message)
        assert parsed is not None  # authenticate accepted it
        key: SessionKey = request.app.state.session_key
        return Redirect(target, status_code=303, headers=NO_STORE, cookies=[Cookie(
            key=COOKIE, value=key.seal(parsed[0]), path="/ui", max_age=LIFETIME_SECONDS,
            httponly=True, samesite="strict", secure=over_https(request))])

    @post("/signout", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        same_origin(request)
        return Redirect("/ui/signin", status_code=303, headers=NO_STORE, cookies=[Cookie(
            key=COOKIE, value="", path="/ui", max_age=0, httponly=True, samesite="strict",
            secure=over_https(request))])


def over_https(request: Request[Any, Any, Any]) -> bool:
    """Whether the browser reached us over https: directly, or through a proxy that says so.
    Trusting the header can only add ``Secure``, which keeps the cookie off plain http."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def same_origin(request: Request[Any, Any, Any]) -> None:
    """Forms post only from our own pages: a browser names the page's origin, and another
    site's is refused (SameSite=Strict already keeps the session cookie from it)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(status_code=403, detail="Cross-site form refused")


def not_signed_in(request: Request[Any, Any, Any], _: NotSignedInError) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/ui/signin?next={quote(target, safe='')}", status_code=303,
                    headers=NO_STORE)


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors as a page: the registry's message and status, or the HTTP error's."""
    if isinstance(exc, RegistryError):
        status, message = STATUS_BY_CODE.get(exc.code, 400), str(exc)
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:
        request.logger.exception("Dashboard page failed")
        status, message = 500, "Internal error; the server's log has the details"
    return page("error.html", status_code=status, message=message, status=status)
