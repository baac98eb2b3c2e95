"""Routes of the web pages, added to the API's aiohttp application by ``add_web_routes``.

Every page needs a signed session cookie whose session is still open on the server (checked
on every request and on every tick of a live stream); every POST needs the session's CSRF
token; each route names the permission it needs, and an agent only ever sees their own calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2
from aiohttp import web

from callcenter.auth.model import Permission, Role, allows
from callcenter.config import CallCenterConfig
from callcenter.csv_export import write_csv
from callcenter.db.calls import (
    CallFilter,
    call_detail,
    previous_calls,
    save_qa_score,
    search_calls,
    set_agent_disposition,
)
from callcenter.db.engine import DatabaseError
from callcenter.db.sessions import SessionStore
from callcenter.db.users import SignInRefused, TotpRequired, UserStore
from callcenter.errors import CallCenterError, ConflictError, NotFoundError
from callcenter.text import REASON_MAX_LENGTH, text_problem
from callcenter.web.desktop import agent_view, local_time
from callcenter.web.security import (
    SESSION_COOKIE,
    EventStreams,
    SessionCodec,
    SignInRateLimit,
    TooManyStreams,
    TrustedProxies,
    WebSession,
    csrf_matches,
)
from callcenter.web.wallboard import wallboard_view

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
LOGIN_CSRF_COOKIE = "cc_login_csrf"
HISTORY_CALLS = 5
"""Previous calls of the caller shown on the agent's desktop."""
SESSION_CHECK_TIMEOUT = 5.0
"""Longest a request waits for the session table before answering 503."""
STREAM_RETRY_MS = 2000
"""What a live stream tells the browser to wait before reconnecting once it ends."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LiveCallCenter(Protocol):
    """What the pages need from the running worker (the ACD service implements it)."""

    def status(self) -> dict[str, Any]: ...

    def agent_call(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's ringing or connected call with its caller context, or None."""
        ...

    async def login(self, agent_id: str) -> dict[str, Any]: ...

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]: ...

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]: ...

    async def unpause(self, agent_id: str) -> dict[str, Any]: ...

    async def listen(self, call_id: str, endpoint: str, mode: str) -> dict[str, Any]:
        """Ring ``endpoint`` and bridge it to a snoop on the call (listen, whisper, barge)."""
        ...


@dataclass
class WebDeps:
    config: CallCenterConfig
    users: UserStore
    live: LiveCallCenter | None
    recordings_dir: Path
    codec: SessionCodec
    rate_limit: SignInRateLimit
    clock: Callable[[], float] = time.time
    extra: dict[str, Any] = field(default_factory=dict)
    sessions: SessionStore | None = None
    """Open sessions [default: in the users' database]."""
    streams: EventStreams | None = None
    """Caps on live streams [default: from ``config.web``]."""
    proxies: TrustedProxies | None = None
    """Whose X-Forwarded-For to believe [default: ``config.web.trusted_proxies``]."""

    def __post_init__(self) -> None:
        web_settings = self.config.web
        if self.sessions is None:
            self.sessions = SessionStore(self.users.engine)
        if self.streams is None:
            self.streams = EventStreams(
                per_session=web_settings.max_event_streams_per_session,
                total=web_settings.max_event_streams,
            )
        if self.proxies is None:
            self.proxies = TrustedProxies(web_settings.trusted_proxies)

    @property
    def session_store(self) -> SessionStore:
        assert self.sessions is not None  # set in __post_init__
        return self.sessions

    @property
    def stream_caps(self) -> EventStreams:
        assert self.streams is not None  # set in __post_init__
        return self.streams

    @property
    def trusted_proxies(self) -> TrustedProxies:
        assert self.proxies is not None  # set in __post_init__
        return self.proxies


DEPS_KEY = web.AppKey("web_deps", WebDeps)
JINJA_KEY = web.AppKey("web_jinja", jinja2.Environment)
SESSION_KEY = web.RequestKey("web_session", WebSession)


class Forbidden(CallCenterError):
    code = "forbidden"


def deps_of(request: web.Request) -> WebDeps:
    return request.app[DEPS_KEY]


async def current_session(request: web.Request) -> WebSession | None:
    """The request's session when its cookie is genuine and unexpired *and* the server still
    has it open (not signed out, the user not disabled); with the user's role as it is now."""
    deps = deps_of(request)
    claimed = deps.codec.decode(request.cookies.get(SESSION_COOKIE), deps.clock())
    if claimed is None:
        return None
    return await _still_open(deps, claimed)


async def _still_open(deps: WebDeps, session: WebSession) -> WebSession | None:
    if session.expires_at <= deps.clock():
        return None
    now = dt.datetime.fromtimestamp(deps.clock(), dt.UTC)
    try:
        user = await asyncio.wait_for(
            asyncio.to_thread(deps.session_store.check, session.session_id, session.username, now),
            SESSION_CHECK_TIMEOUT,
        )
    except (TimeoutError, DatabaseError) as exc:
        log.warning("session of %s not checked: %s", session.username, exc)
        raise web.HTTPServiceUnavailable(text="the user database cannot be read") from exc
    if user is None:
        return None
    return session.as_user(user.role.value, user.agent_id)


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    env = request.app[JINJA_KEY]
    session = request.get(SESSION_KEY)
    html = env.get_template(template).render(
        session=session, center=deps_of(request).config.name, **values
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; media-src 'self'; style-src 'self'; script-src 'self'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


def require(*permissions: Permission) -> Callable[[Handler], Handler]:
    """Decorator: a signed-in session whose role has one of ``permissions``; POSTs need the
    session's CSRF token."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = await current_session(request)
            if session is None:
                if request.method == "GET":
                    raise web.HTTPFound(f"/login?next={request.path}")
                raise web.HTTPUnauthorized(text="sign in first")
            request[SESSION_KEY] = session
            if not any(allows(Role(session.role), p) for p in permissions):
                return render(request, "forbidden.html", status=403)
            if request.method == "POST":
                form = await request.post()
                token = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
                if not csrf_matches(session, str(token) if token else None):
                    return render(request, "forbidden.html", status=403, reason="CSRF")
            return await handler(request)

        return guarded

    return wrap


def session_of(request: web.Request) -> WebSession:
    return request[SESSION_KEY]


# --- sign-in -----------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or _new_token()
    response = render(request, "login.html", csrf_token=token, next=request.query.get("next", ""))
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    form = await request.post()
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie_token or form.get("csrf_token") != cookie_token:
        return render(request, "forbidden.html", status=403, reason="CSRF")
    username = str(form.get("username", "")).strip()
    address = client_address(request)
    attempt = deps.rate_limit.key(address, username)
    if not deps.rate_limit.allow(attempt, deps.clock()):
        return render(
            request,
            "login.html",
            status=429,
            csrf_token=cookie_token,
            error="Too many failed sign-ins for this user name from your address; wait a minute.",
            username=username,
        )
    try:
        user = await asyncio.to_thread(
            deps.users.sign_in,
            username,
            str(form.get("password", "")),
            str(form.get("totp", "")).strip() or None,
        )
    except TotpRequired as exc:
        return render(
            request,
            "login.html",
            status=401,
            csrf_token=cookie_token,
            error=exc.message,
            username=username,
            ask_totp=True,
        )
    except SignInRefused as exc:
        deps.rate_limit.failed(attempt, deps.clock())
        log.info("sign-in refused for %r from %s: %s", username, address, exc.message)
        return render(
            request,
            "login.html",
            status=401,
            csrf_token=cookie_token,
            error=exc.message,
            username=username,
        )
    deps.rate_limit.succeeded(attempt)
    session = deps.codec.new(user.username, user.role.value, user.agent_id, deps.clock())
    await asyncio.to_thread(
        deps.session_store.open,
        session.session_id,
        user.username,
        dt.datetime.fromtimestamp(deps.clock(), dt.UTC),
        dt.datetime.fromtimestamp(session.expires_at, dt.UTC),
    )
    target = str(form.get("next") or "")
    if not target.startswith("/") or target.startswith("//"):
        target = home_of(user.role)
    response = web.HTTPFound(target)
    _set_cookie(
        request,
        response,
        SESSION_COOKIE,
        deps.codec.encode(session),
        max_age=int(deps.codec.lifetime_seconds),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE)
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    """Sign out: the session ends on the server (a copy of the cookie opens nothing)."""
    session = await current_session(request)
    form = await request.post()
    if session is not None:
        request[SESSION_KEY] = session
        if not csrf_matches(session, str(form.get("csrf_token", ""))):
            return render(request, "forbidden.html", status=403, reason="CSRF")
        await asyncio.to_thread(deps_of(request).session_store.end, session.session_id)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


def home_of(role: Role) -> str:
    return {
        Role.AGENT: "/agent",
        Role.QA: "/qa",
        Role.SUPERVISOR: "/wallboard",
        Role.ADMIN: "/wallboard",
    }[role]


async def index(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    raise web.HTTPFound(home_of(Role(session.role)) if session else "/login")


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or what our trusted proxies say it is."""
    forwarded_for = request.headers.getall("X-Forwarded-For", [])
    return deps_of(request).trusted_proxies.client_address(request.remote, forwarded_for)


def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Strict",
        secure=deps_of(request).config.web.secure_cookies,
        path="/",
    )


# --- agent desktop -------------------------------------------------------------------------------


def _agent_snapshot(deps: WebDeps, agent_id: str) -> dict[str, Any]:
    return agent_view(deps.live, deps.config, agent_id)


async def _history_of(deps: WebDeps, call: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The caller's earlier calls (not this one), newest first."""
    if not call or not call.get("caller_number"):
        return []
    found = await asyncio.to_thread(
        previous_calls, deps.users.engine, str(call["caller_number"]), None, HISTORY_CALLS + 1
    )
    return [c for c in found if c["call_id"] != call.get("call_id")][:HISTORY_CALLS]


@require(Permission.OWN_STATE)
async def agent_page(request: web.Request) -> web.Response:
    deps = deps_of(request)
    session = session_of(request)
    if not session.agent_id:
        return render(request, "forbidden.html", status=403, reason="not an agent")
    snapshot = _agent_snapshot(deps, session.agent_id)
    history = await _history_of(deps, snapshot.get("call"))
    return render(request, "agent.html", agent=snapshot, history=history)


@require(Permission.OWN_STATE)
async def agent_history(request: web.Request) -> web.Response:
    """The previous calls of the caller on the agent's current call (an HTML fragment the
    desktop loads when a call pops up); only for the agent's own call."""
    deps = deps_of(request)
    agent_id = session_of(request).agent_id or ""
    call = deps.live.agent_call(agent_id) if deps.live is not None else None
    if call is None or call.get("call_id") != request.match_info["call_id"]:
        raise NotFoundError("not your current call")
    history = await _history_of(deps, call)
    return render(request, "agent_history.html", history=history)


@require(Permission.OWN_STATE)
async def agent_state_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    session = session_of(request)
    if deps.live is None or not session.agent_id:
        raise web.HTTPServiceUnavailable(text="no worker is running")
    form = await request.post()
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip() or None
    problem = text_problem(reason, REASON_MAX_LENGTH) if reason else None
    if problem is not None:
        # Refused here, before the ACD service: a reason the database cannot hold would be
        # accepted in memory and then lost.
        raise web.HTTPBadRequest(text=f"the reason {problem}")
    live, agent_id = deps.live, session.agent_id
    if action == "available":
        state = _agent_snapshot(deps, agent_id).get("state")
        if state == "logged_out":
            await live.login(agent_id)
        else:
            await live.unpause(agent_id)
    elif action == "pause":
        await live.pause(agent_id, reason or "break")
    elif action == "logout":
        await live.logout(agent_id, reason)
    else:
        raise web.HTTPBadRequest(text=f"unknown action {action!r}")
    raise web.HTTPFound("/agent")


@require(Permission.OWN_CALLS)
async def disposition_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    session = session_of(request)
    form = await request.post()
    disposition = str(form.get("disposition", "")).strip()
    if not disposition or len(disposition) > 64:
        raise web.HTTPBadRequest(text="choose a disposition")
    notes = str(form.get("notes", "")).strip()[:4000] or None
    await asyncio.to_thread(
        set_agent_disposition,
        deps.users.engine,
        request.match_info["call_id"],
        session.agent_id,
        disposition,
        notes,
    )
    raise web.HTTPFound("/agent?saved=1")


async def _event_stream(
    request: web.Request, produce: Callable[[], dict[str, Any]], interval: float = 1.0
) -> web.StreamResponse:
    """Server-Sent Events: one JSON snapshot a second while the browser listens and the
    session stays open. Each tick checks the session again; a signed-out session gets a
    ``signed-out`` event and the end of the stream. A stream lives at most
    ``streams.max_seconds`` (the browser reconnects through the sign-in check); a session
    holds at most ``streams.per_session`` streams and the server ``streams.total`` (429)."""
    deps = deps_of(request)
    session = session_of(request)
    streams = deps.stream_caps
    try:
        with streams.opened(session.session_id):
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            loop = asyncio.get_running_loop()
            ends_at = loop.time() + streams.max_seconds
            with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
                await response.write(f"retry: {STREAM_RETRY_MS}\n\n".encode())
                while loop.time() < ends_at:
                    try:
                        still_open = await _still_open(deps, session)
                    except web.HTTPServiceUnavailable:
                        break  # the database is away: end; the reconnection checks again
                    if still_open is None:
                        await response.write(b"event: signed-out\ndata: {}\n\n")
                        break
                    payload = json.dumps(produce(), default=str)
                    await response.write(f"data: {payload}\n\n".encode())
                    await asyncio.sleep(min(interval, max(0.0, ends_at - loop.time())))
            return response
    except TooManyStreams as exc:
        return web.Response(status=429, text=str(exc), headers={"Retry-After": "10"})


@require(Permission.OWN_STATE)
async def agent_events(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    agent_id = session_of(request).agent_id or ""
    return await _event_stream(request, lambda: _agent_snapshot(deps, agent_id))


# --- wallboard ---------------------------------------------------------------------------------


def _wallboard(deps: WebDeps) -> dict[str, Any]:
    """The wallboard's view (``callcenter.web.wallboard``) of the live status and today's
    KPIs, on the PBX's clock (``extra["pbx_now"]`` for durations, ``["wall_now"]`` dates)."""
    status = deps.live.status() if deps.live else {"queues": [], "agents": []}
    kpis = deps.extra.get("kpis_today", lambda: {})()
    now = deps.extra.get("pbx_now", time.monotonic)()
    history = deps.extra.get("wallboard_history")
    wall_now = deps.extra.get("wall_now", lambda: dt.datetime.now(dt.UTC))()
    return wallboard_view(status, kpis, deps.config, history, now, wall_now)


@require(Permission.WALLBOARD)
async def wallboard_page(request: web.Request) -> web.Response:
    return render(request, "wallboard.html", view=_wallboard(deps_of(request)))


@require(Permission.WALLBOARD)
async def wallboard_events(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    tiles = request.app[JINJA_KEY].get_template("wallboard_tiles.html")

    def update() -> dict[str, Any]:
        # The tiles come as HTML (the same template as the page); agents' rows are updated
        # in place by live.js, so a keyboard user's focus stays on their button.
        view = _wallboard(deps)
        return {**view, "tiles": tiles.render(tiles=view.pop("tiles"))}

    return await _event_stream(request, update)


@require(Permission.LIVE_CONTROL)
async def force_agent_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    if deps.live is None:
        raise web.HTTPServiceUnavailable(text="no worker is running")
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    reason = f"by supervisor {session_of(request).username}"[:REASON_MAX_LENGTH]
    if action == "pause":
        await deps.live.pause(agent_id, reason)
    elif action == "logout":
        await deps.live.logout(agent_id, reason)
    else:
        raise web.HTTPNotFound()
    raise web.HTTPFound("/wallboard")


@require(Permission.LIVE_CONTROL)
async def listen_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    if deps.live is None:
        raise web.HTTPServiceUnavailable(text="no worker is running")
    form = await request.post()
    mode = str(form.get("mode", "listen"))
    if mode not in {"listen", "whisper", "barge"}:
        raise web.HTTPBadRequest(text="mode is listen, whisper or barge")
    endpoint = deps.config.web.supervisor_endpoint
    session = session_of(request)
    if session.agent_id:
        endpoint = deps.config.agent(session.agent_id).endpoint
    if not endpoint:
        raise web.HTTPConflict(text="set web.supervisor_endpoint to listen to calls")
    try:
        result = await deps.live.listen(request.match_info["call_id"], endpoint, mode)
    except CallCenterError as exc:
        # The call ended meanwhile, nobody to whisper to, Asterisk refused: a page that says
        # so (the API's middleware would answer this form post with JSON).
        status = 502
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ConflictError):
            status = 409
        return render(
            request, "forbidden.html", status=status, reason=exc.message, title=f"Cannot {mode}"
        )
    return render(request, "listening.html", result=result, mode=mode)


# --- QA ----------------------------------------------------------------------------------------


def _call_filter(request: web.Request, session: WebSession) -> CallFilter:
    q = request.query

    def date(name: str) -> dt.datetime | None:
        value = q.get(name, "").strip()
        if not value:
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"{name}: expected YYYY-MM-DD") from exc
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    until = date("until")
    min_talk = q.get("min_duration", "").strip()
    try:
        min_talk_seconds = float(min_talk) if min_talk else None
    except ValueError as exc:
        raise web.HTTPBadRequest(text="min_duration: expected seconds") from exc
    agent = q.get("agent") or None
    if not allows(Role(session.role), Permission.ALL_CALLS):
        agent = session.agent_id or "-"  # an agent sees only their own calls
    return CallFilter(
        since=date("since"),
        until=until + dt.timedelta(days=1) if until else None,
        agent_id=agent,
        queue_id=q.get("queue") or None,
        caller=q.get("caller") or None,
        disposition=q.get("disposition") or None,
        min_talk_seconds=min_talk_seconds,
        with_recording=q.get("recorded") == "1",
    )


@require(Permission.ALL_CALLS)
async def qa_page(request: web.Request) -> web.Response:
    deps = deps_of(request)
    filters = _call_filter(request, session_of(request))
    calls = await asyncio.to_thread(search_calls, deps.users.engine, filters)
    return render(request, "qa.html", calls=calls, query=dict(request.query))


async def _detail_for(request: web.Request) -> Any:
    deps = deps_of(request)
    session = session_of(request)
    detail = await asyncio.to_thread(call_detail, deps.users.engine, request.match_info["call_id"])
    if not allows(Role(session.role), Permission.ALL_CALLS) and (
        detail.call.get("agent_id") != session.agent_id
    ):
        raise NotFoundError("no such call")  # do not confirm another agent's call exists
    return detail


@require(Permission.OWN_CALLS)
async def my_calls_page(request: web.Request) -> web.Response:
    deps = deps_of(request)
    filters = _call_filter(request, session_of(request))
    calls = await asyncio.to_thread(search_calls, deps.users.engine, filters)
    return render(request, "qa.html", calls=calls, query=dict(request.query), own=True)


async def call_page(request: web.Request) -> web.Response:
    detail = await _detail_for(request)
    return render(
        request,
        "call.html",
        detail=detail,
        form=deps_of(request).config.web.qa_form,
        can_score=allows(Role(session_of(request).role), Permission.SCORE_CALLS),
    )


async def recording_file(request: web.Request) -> web.StreamResponse:
    detail = await _detail_for(request)
    session = session_of(request)
    if detail.recording is None:
        raise NotFoundError("this call has no recording")
    if not (
        allows(Role(session.role), Permission.RECORDINGS)
        or detail.call.get("agent_id") == session.agent_id
    ):
        raise Forbidden("no access to recordings")
    path = _recording_path(deps_of(request), detail.recording)
    if path is None:
        raise NotFoundError("the recording file is missing")
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "private, no-store"}
    )


def _recording_path(deps: WebDeps, recording: dict[str, Any]) -> Path | None:
    url = str(recording.get("storage_url") or "")
    candidate = Path(url.removeprefix("file://")) if url else None
    root = deps.recordings_dir.resolve()
    if candidate is None or not candidate.is_absolute():
        candidate = root / f"{recording['name']}.{recording.get('format') or 'wav'}"
    candidate = candidate.resolve()
    # Only files under the recordings directory are ever served.
    if root not in candidate.parents or not candidate.is_file():
        return None
    return candidate


@require(Permission.SCORE_CALLS)
async def score_submit(request: web.Request) -> web.StreamResponse:
    deps = deps_of(request)
    form = await request.post()
    scores: dict[str, int] = {}
    for criterion in deps.config.web.qa_form:
        raw = str(form.get(f"score_{criterion.id}", "")).strip()
        try:
            value = int(raw)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"{criterion.label}: enter a number") from exc
        if not 0 <= value <= criterion.max_points:
            raise web.HTTPBadRequest(text=f"{criterion.label}: 0 to {criterion.max_points}")
        scores[criterion.id] = value
    comment = str(form.get("comment", "")).strip()[:4000] or None
    call_id = request.match_info["call_id"]
    await asyncio.to_thread(
        save_qa_score,
        deps.users.engine,
        call_id,
        session_of(request).username,
        scores,
        comment,
        dt.datetime.now(dt.UTC),
    )
    raise web.HTTPFound(f"/calls/{call_id}?scored=1")


@require(Permission.ALL_CALLS)
async def qa_export(request: web.Request) -> web.Response:
    deps = deps_of(request)
    calls = await asyncio.to_thread(
        search_calls, deps.users.engine, _call_filter(request, session_of(request))
    )
    columns = [
        "call_id",
        "started_at",
        "caller_number",
        "queue_id",
        "agent_id",
        "disposition",
        "wait_seconds",
        "talk_seconds",
        "recording_name",
    ]
    return web.Response(
        text=write_csv(calls, columns),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


@web.middleware
async def web_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors on pages become a page with the right status, never a traceback."""
    try:
        return await handler(request)
    except NotFoundError as exc:
        if request.path.startswith("/api/"):
            raise
        return render(request, "forbidden.html", status=404, reason=exc.message)
    except Forbidden as exc:
        return render(request, "forbidden.html", status=403, reason=exc.message)


def add_web_routes(app: web.Application, deps: WebDeps) -> None:
    """Mount the pages on ``app`` (the API application)."""
    app[DEPS_KEY] = deps
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    zone = zoneinfo.ZoneInfo(deps.config.timezone)
    env.filters["local"] = functools.partial(local_time, zone=zone)
    app[JINJA_KEY] = env
    app.middlewares.append(web_errors)
    r = app.router
    r.add_get("/", index)
    r.add_get("/login", login_page)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout_submit)
    r.add_get("/agent", agent_page)
    r.add_post("/agent/state", agent_state_submit)
    r.add_get("/agent/events", agent_events)
    r.add_get("/agent/calls/{call_id}/history", agent_history)
    r.add_post("/agent/calls/{call_id}/disposition", disposition_submit)
    r.add_get("/wallboard", wallboard_page)
    r.add_get("/wallboard/events", wallboard_events)
    r.add_post("/wallboard/agents/{agent_id}/{action}", force_agent_submit)
    r.add_post("/wallboard/calls/{call_id}/listen", listen_submit)
    r.add_get("/qa", qa_page)
    r.add_get("/qa/export.csv", qa_export)
    r.add_get("/my-calls", my_calls_page)
    any_calls = require(Permission.OWN_CALLS, Permission.ALL_CALLS)
    r.add_get("/calls/{call_id}", any_calls(call_page))
    r.add_get("/calls/{call_id}/recording", any_calls(recording_file))
    r.add_post("/calls/{call_id}/score", score_submit)
    r.add_static("/static", STATIC)
