"""The API application: bearer-token auth, JSON errors, ``GET /api/status``.

Domain errors carry a stable code (``agent-not-found``); this module alone maps them to HTTP
statuses. Who may call what is in ``callcenter.api.auth``; ``GET /api/openapi.json`` (no token)
describes every route. The web-pages helper extends the same ``web.Application`` later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from callcenter.api.auth import (
    CALLER_KEY,
    TOKEN_TTL_SECONDS,
    BearerAuth,
    Forbidden,
    Unauthorized,
    UsersUnavailable,
    UserTokens,
    require_permission,
)
from callcenter.api.openapi import OPENAPI_PATH, openapi_document
from callcenter.auth.model import Permission
from callcenter.db.users import UserStore
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


def http_status_of(error: CallCenterError) -> int:
    """The HTTP status a domain error leaves with."""
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, UsersUnavailable):
        return 503
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


def _middleware(auth: BearerAuth) -> Middleware:
    @web.middleware
    async def auth_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith("/api/") and request.path != OPENAPI_PATH:
                request[CALLER_KEY] = await auth.caller_of(request)
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
            # Keep what the exception says beyond its body: 405 must carry ``Allow`` (RFC 9110
            # §15.5.6), 413 may carry ``Retry-After``.
            headers = {
                name: value
                for name, value in exc.headers.items()
                if name.lower() not in ("content-type", "content-length")
            }
            return web.json_response(
                {"code": code, "message": exc.reason, "details": {}},
                status=exc.status,
                headers=headers,
            )

    return auth_and_errors


async def get_status(request: web.Request) -> web.Response:
    """``GET /api/status``: every queue (waiting callers, longest wait) and agent state."""
    require_permission(request, Permission.WALLBOARD)
    return web.json_response(control_of(request).status())


async def get_openapi(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``: the OpenAPI 3.1 description of this API (no token needed)."""
    return web.json_response(openapi_document())


def make_api_app(
    control: AgentControl,
    token: str,
    users: UserStore | None = None,
    *,
    token_ttl_seconds: float = TOKEN_TTL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """The API as an aiohttp application; every ``/api/`` request but the OpenAPI document
    needs ``Bearer <token>``: the shared ``token``, or (with ``users``) a user's own token,
    remembered for ``token_ttl_seconds``."""
    if not token:
        raise ConfigError("the API needs a token (api.token or $CALLCENTER_API_TOKEN)")
    from callcenter.api.agents import add_agent_routes

    user_tokens = (
        UserTokens(users, ttl_seconds=token_ttl_seconds, clock=clock) if users is not None else None
    )
    app = web.Application(middlewares=[_middleware(BearerAuth(token, user_tokens))])
    app[CONTROL_KEY] = control
    # No automatic HEAD routes: the OpenAPI document lists exactly what is served.
    app.router.add_get(OPENAPI_PATH, get_openapi, allow_head=False)
    app.router.add_get("/api/status", get_status, allow_head=False)
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
