"""``POST /api/agents/{agent_id}/login|logout|pause|unpause``: agent control.

The body is optional JSON: ``{"reason": "lunch"}`` for pause and logout. The answer is the
agent's state after the change. An agent user's token controls only that agent; supervisors,
admins and the shared token control anyone (``callcenter.api.auth``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.api.app import BadRequest, control_of
from callcenter.api.auth import require_agent_control


def _agent_id(request: web.Request) -> str:
    """The path's agent, once the caller is known to be allowed to change it."""
    agent_id = request.match_info["agent_id"]
    require_agent_control(request, agent_id)
    return agent_id


async def _reason(request: web.Request) -> str | None:
    if not request.can_read_body:
        return None
    try:
        body: Any = await request.json()
    except ValueError as exc:
        raise BadRequest("the body is not JSON") from exc
    if body is None:
        return None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 64):
        raise BadRequest("reason must be a string of at most 64 characters", field="reason")
    return reason or None


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
