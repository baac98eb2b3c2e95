"""The API application: bearer-token auth, JSON errors, ``GET /api/status``.

Domain errors carry a stable code (``agent-not-found``); this module alone maps them to HTTP
statuses. The web-pages helper extends the same ``web.Application`` later.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from callcenter.errors import CallCenterError, ConfigError, ConflictError, NotFoundError

log = logging.getLogger(__name__)

CONTROL_KEY = web.AppKey("control", object)
"""Where handlers find the ``AgentControl`` (typed at use, see ``control_of``)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AgentControl(Protocol):
    """What the API needs from the ACD service (``callcenter.routing.service.AcdService``)."""

    async def login(self, agent_id: str) -> dict[str, Any]: ...

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]: ...

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]: ...

    async def unpause(self, agent_id: str) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]:
        """Queues and agents as they are now (JSON-ready)."""
        ...


class BadRequest(CallCenterError):
    """The request itself is malformed (not JSON, wrong field type)."""

    code = "invalid-request"


class Unauthorized(CallCenterError):
    code = "unauthorized"


def http_status_of(error: CallCenterError) -> int:
    """The HTTP status a domain error leaves with."""
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, BadRequest | ConfigError):
        return 400
    return 500


def error_response(error: CallCenterError) -> web.Response:
    return web.json_response(error.as_dict(), status=http_status_of(error))


def control_of(request: web.Request) -> AgentControl:
    control: AgentControl = request.app[CONTROL_KEY]  # type: ignore[assignment]
    return control


def _bearer_token_matches(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    # Constant-time comparison: the token is the only thing guarding agent control.
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _middleware(token: str) -> Middleware:
    @web.middleware
    async def auth_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and not _bearer_token_matches(request, token):
            return error_response(
                Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
            )
        try:
            return await handler(request)
        except CallCenterError as exc:
            log.info("API %s %s: %s", request.method, request.path, exc.message)
            return error_response(exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = "not-found" if exc.status == 404 else "http-error"
            if exc.status == 405:
                code = "method-not-allowed"
            return web.json_response(
                {"code": code, "message": exc.reason, "details": {}}, status=exc.status
            )

    return auth_and_errors


async def get_status(request: web.Request) -> web.Response:
    """``GET /api/status``: every queue (waiting callers, longest wait) and agent state."""
    return web.json_response(control_of(request).status())


def make_api_app(control: AgentControl, token: str) -> web.Application:
    """The API as an aiohttp application; every ``/api/`` request needs ``Bearer token``."""
    if not token:
        raise ConfigError("the API needs a token (api.token or $CALLCENTER_API_TOKEN)")
    from callcenter.api.agents import add_agent_routes

    app = web.Application(middlewares=[_middleware(token)])
    app[CONTROL_KEY] = control
    app.router.add_get("/api/status", get_status)
    add_agent_routes(app)
    return app


async def serve_api(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner (call ``cleanup()`` to stop) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    log.info("API on http://%s:%d/api/", host, bound)
    return runner, bound
