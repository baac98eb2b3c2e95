"""The voicemail inbox: messages of the boxes a user may open, played in the browser, called
back and marked handled.

- ``GET /voicemail``: new (or handled, or all) messages of the user's boxes, newest first;
- ``GET /voicemail/{name}``: one message: caller, box, length, sound, the player, the
  caller's previous calls, the call backs asked for, and the two forms;
- ``GET /voicemail/{name}/audio``: the audio (only files under ``recordings.directory``);
- ``POST /voicemail/{name}/handle`` (``note``) and ``POST /voicemail/{name}/callback``
  (``note``): mark it handled; ask the outbound dialer to call the caller back.

Who opens which box: :mod:`callcenter.voicemail.access` (an agent the boxes of the queues they
serve, supervisors every box). A message of a box the user may not open answers 403, as does
the inbox for a user with no box at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.auth.model import Permission
from callcenter.db.calls import previous_calls
from callcenter.errors import ConflictError
from callcenter.voicemail.access import VoicemailAccess
from callcenter.voicemail.store import (
    MessageFilter,
    get_message,
    list_messages,
    mark_handled,
    request_callback,
)
from callcenter.web.app import (
    Forbidden,
    _recording_path,
    deps_of,
    render,
    require,
    session_of,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

may_see_voicemail = require(Permission.QUEUE_VOICEMAIL, Permission.ALL_VOICEMAIL)
STATUS_CHOICES = ("new", "handled", "all")


def _access(request: web.Request) -> VoicemailAccess:
    session = session_of(request)
    access = VoicemailAccess.of(deps_of(request).config, session.role, session.agent_id)
    if not access.any_box:
        raise Forbidden("no voicemail box is yours: boxes belong to the agents of their queue")
    return access


async def _message_for(request: web.Request) -> tuple[dict[str, Any], VoicemailAccess]:
    """The message in the URL, if the user may open its box (403 otherwise)."""
    access = _access(request)
    name = request.match_info["name"]
    message = await asyncio.to_thread(get_message, deps_of(request).users.engine, name)
    if not access.may_open(message["mailbox"]):
        raise Forbidden(f"voicemail box {message['mailbox']!r} belongs to another queue")
    return message, access


@may_see_voicemail
async def inbox_page(request: web.Request) -> web.Response:
    deps = deps_of(request)
    access = _access(request)
    status = request.query.get("status", "new")
    if status not in STATUS_CHOICES:
        raise web.HTTPBadRequest(text="status is new, handled or all")
    box = request.query.get("box") or None
    boxes: frozenset[str] | None = None if access.every_box else access.boxes
    if box is not None:
        if not access.may_open(box):
            raise Forbidden(f"voicemail box {box!r} belongs to another queue")
        boxes = frozenset({box})
    where = MessageFilter(boxes=boxes, status=None if status == "all" else status)
    messages = await asyncio.to_thread(list_messages, deps.users.engine, where)
    names = {b: deps.config.mailbox(b).name for b in deps.config.voicemail if access.may_open(b)}
    return render(request, "voicemail.html", messages=messages, show=status, box=box, boxes=names)


@may_see_voicemail
async def message_page(request: web.Request) -> web.Response:
    deps = deps_of(request)
    message, _ = await _message_for(request)
    history: list[dict[str, Any]] = []
    if message["caller_number"]:
        earlier = await asyncio.to_thread(
            previous_calls,
            deps.users.engine,
            str(message["caller_number"]),
            message["left_at"],
            11,
        )
        # The call the message was left in is not a previous call.
        history = [c for c in earlier if c["call_id"] != message["call_id"]][:10]
    return render(
        request,
        "voicemail_message.html",
        message=message,
        box=deps.config.mailbox(message["mailbox"]),
        history=history,
        done=request.query.get("done", ""),
    )


@may_see_voicemail
async def message_audio(request: web.Request) -> web.StreamResponse:
    message, _ = await _message_for(request)
    path = _recording_path(
        deps_of(request),
        {
            "name": message["recording_name"],
            "storage_url": message["storage_url"],
            "format": message["format"],
        },
    )
    if path is None:
        raise web.HTTPNotFound(text="the audio is not stored here (yet)")
    content_type = "audio/wav" if message["format"] == "wav" else "application/octet-stream"
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "private, no-store"}
    )


Action = Callable[["Engine", str, str, str | None, dt.datetime], object]


async def _act(request: web.Request, action: Action, refused: str, done: str) -> web.Response:
    """Do ``action`` (mark handled, ask for a call back) on the message with the form's note,
    as the signed-in user; back to the message page, or 409 with why it was refused."""
    message, _ = await _message_for(request)
    form = await request.post()
    name = message["recording_name"]
    try:
        await asyncio.to_thread(
            action,
            deps_of(request).users.engine,
            name,
            session_of(request).username,
            str(form.get("note", "")) or None,
            dt.datetime.now(dt.UTC),
        )
    except ConflictError as exc:
        return render(request, "forbidden.html", status=409, reason=exc.message, title=refused)
    raise web.HTTPFound(f"/voicemail/{name}?done={done}")


@may_see_voicemail
async def handle_submit(request: web.Request) -> web.StreamResponse:
    return await _act(request, mark_handled, "Already handled", "handled")


@may_see_voicemail
async def callback_submit(request: web.Request) -> web.StreamResponse:
    return await _act(request, request_callback, "No call back", "callback")


def add_voicemail_routes(app: web.Application) -> None:
    """Mount the inbox on the pages' application (after ``add_web_routes``)."""
    r = app.router
    r.add_get("/voicemail", inbox_page)
    r.add_get("/voicemail/{name}", message_page)
    r.add_get("/voicemail/{name}/audio", message_audio)
    r.add_post("/voicemail/{name}/handle", handle_submit)
    r.add_post("/voicemail/{name}/callback", callback_submit)
