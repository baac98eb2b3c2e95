"""``POST /api/agents/{agent_id}/login|logout|pause|unpause``: agent control.

The body is optional JSON: ``{"reason": "lunch"}`` for pause and logout, checked at the edge
(``callcenter.api.body``) before the ACD service sees it. The answer is the agent's state once
the service has accepted the change; an error answer leaves the state as it was. An agent
user's token controls only that agent; supervisors, admins and the shared token control anyone
(``callcenter.api.auth``).
"""

from __future__ import annotations

from aiohttp import web

from callcenter.api.app import control_of
from callcenter.api.auth import require_agent_control
from callcenter.api.body import json_object, text_field
from callcenter.text import REASON_MAX_LENGTH


def _agent_id(request: web.Request) -> str:
    """The path's agent, once the caller is known to be allowed to change it."""
    agent_id = request.match_info["agent_id"]
    require_agent_control(request, agent_id)
    return agent_id


async def _reason(request: web.Request) -> str | None:
    body = await json_object(request, fields=("reason",))
    return text_field(body, "reason", REASON_MAX_LENGTH)


async def login(request: web.Request) -> web.Response:
    """Log the agent in: they become available for calls."""
    agent = await control_of(request).login(_agent_id(request))
    return web.json_response(agent)


async def logout(request: web.Request) -> web.Response:
    """Log the agent out."""
    agent_id = _agent_id(request)
    reason = await _reason(request)
    agent = await control_of(request).logout(agent_id, reason)
    return web.json_response(agent)


async def pause(request: web.Request) -> web.Response:
    """Pause the agent (no new calls) with an optional reason."""
    agent_id = _agent_id(request)
    reason = await _reason(request)
    agent = await control_of(request).pause(agent_id, reason)
    return web.json_response(agent)


async def unpause(request: web.Request) -> web.Response:
    """End the agent's pause."""
    agent = await control_of(request).unpause(_agent_id(request))
    return web.json_response(agent)


def add_agent_routes(app: web.Application) -> None:
    app.router.add_post("/api/agents/{agent_id}/login", login)
    app.router.add_post("/api/agents/{agent_id}/logout", logout)
    app.router.add_post("/api/agents/{agent_id}/pause", pause)
    app.router.add_post("/api/agents/{agent_id}/unpause", unpause)
