"""Who is calling the API, and what they may do.

Two kinds of bearer token open ``/api/``:

- the shared service token (``api.token`` or ``$CALLCENTER_API_TOKEN``): full access, for the
  CLI and ops scripts;
- a user's own token (``callcenter users token NAME``): the user's role applies, as on the web
  pages. An agent controls only their own agent; supervisors and admins control anyone and see
  the status; QA users get neither.

User tokens are looked up in a thread and remembered for ``ttl_seconds`` (2 s). In this
process a change to a user (a new or revoked token, disabled, locked out, new password)
makes the cache forget them at once (``UserStore.listeners``). A change made by another
process (the ``callcenter users`` CLI, another worker sharing the database) takes effect here
within ``ttl_seconds``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from callcenter.auth.model import Permission, allows
from callcenter.db.users import UserInfo, UserStore
from callcenter.errors import CallCenterError

log = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 2.0
"""How long a user-token lookup (found or not) is remembered: the longest a change made by
another process (CLI, another worker) takes to reach this one."""
LOOKUP_TIMEOUT_SECONDS = 5.0
MAX_REMEMBERED_TOKENS = 1024


class Unauthorized(CallCenterError):
    """No bearer token, or one that is neither the service token nor a user's."""

    code = "unauthorized"


class Forbidden(CallCenterError):
    """A valid token whose user's role does not allow the request."""

    code = "forbidden"


class UsersUnavailable(CallCenterError):
    """The user database did not answer a token lookup in time."""

    code = "users-unavailable"


@dataclass(frozen=True)
class ApiCaller:
    """The bearer of a valid token: a user, or ``user=None`` for the shared service token."""

    user: UserInfo | None

    @property
    def name(self) -> str:
        return self.user.username if self.user else "service token"

    def may(self, permission: Permission) -> bool:
        return self.user is None or allows(self.user.role, permission)

    def may_control(self, agent_id: str) -> bool:
        """Log in/out and pause ``agent_id``: anyone with live control, or that agent's user."""
        if self.may(Permission.LIVE_CONTROL):
            return True
        assert self.user is not None  # the service token may everything
        return self.user.agent_id == agent_id and allows(self.user.role, Permission.OWN_STATE)


SERVICE = ApiCaller(user=None)
CALLER_KEY = web.RequestKey("api_caller", ApiCaller)


class UserTokens:
    """``UserStore.by_token`` off the event loop, with a small time-to-live cache."""

    def __init__(
        self,
        users: UserStore,
        *,
        ttl_seconds: float = TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = LOOKUP_TIMEOUT_SECONDS,
        max_entries: int = MAX_REMEMBERED_TOKENS,
    ) -> None:
        self.users = users
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.timeout = timeout
        self.max_entries = max_entries
        # Keyed by the token's digest so raw tokens are not kept in memory.
        self._remembered: dict[bytes, tuple[float, UserInfo | None]] = {}
        # forget_user runs in whichever thread changed the user (sign-ins run in threads).
        self._lock = threading.Lock()
        self._forgotten = 0
        """Counts forget_user calls: a lookup that began before one is not remembered."""
        users.listeners.append(self.forget_user)

    def forget_user(self, username: str) -> None:
        """Drop what is remembered of ``username`` (and unknown tokens: one may be theirs)."""
        with self._lock:
            self._forgotten += 1
            self._remembered = {
                k: v
                for k, v in self._remembered.items()
                if v[1] is not None and v[1].username != username
            }

    async def user_of(self, token: str) -> UserInfo | None:
        """The token's user, or None when no enabled user has this token."""
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        with self._lock:
            remembered = self._remembered.get(key)
            forgotten = self._forgotten
        if remembered is not None and now < remembered[0]:
            return remembered[1]
        try:
            user = await asyncio.wait_for(
                asyncio.to_thread(self.users.by_token, token), self.timeout
            )
        except TimeoutError as exc:
            raise UsersUnavailable("the user database did not answer in time") from exc
        except Exception as exc:
            log.exception("API token lookup failed")
            raise UsersUnavailable("the user database cannot be read") from exc
        with self._lock:
            if forgotten == self._forgotten:  # else a user changed meanwhile: ask again next time
                self._remember(key, (now + self.ttl_seconds, user), now)
        return user

    def _remember(self, key: bytes, entry: tuple[float, UserInfo | None], now: float) -> None:
        """Called with ``_lock`` held."""
        if len(self._remembered) >= self.max_entries:
            # Random wrong tokens must not grow the cache: drop the expired, then the oldest.
            self._remembered = {k: v for k, v in self._remembered.items() if now < v[0]}
            while len(self._remembered) >= self.max_entries:
                del self._remembered[next(iter(self._remembered))]
        self._remembered[key] = entry


def _bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    if not given.isprintable():
        # Bytes that are not UTF-8 arrive as lone surrogates (aiohttp decodes headers with
        # surrogateescape), which cannot even be hashed: no token we accept looks like that.
        return None
    return given


class BearerAuth:
    """Turns the ``Authorization: Bearer`` header into an ``ApiCaller`` or ``Unauthorized``."""

    def __init__(self, service_token: str, users: UserTokens | None = None) -> None:
        self.service_token = service_token
        self.users = users

    async def caller_of(self, request: web.Request) -> ApiCaller:
        given = _bearer_token(request)
        if given is None:
            raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        # Constant-time comparison: the shared token opens everything.
        if hmac.compare_digest(given.encode(), self.service_token.encode()):
            return SERVICE
        if self.users is not None:
            user = await self.users.user_of(given)
            if user is not None:
                return ApiCaller(user)
        raise Unauthorized("the bearer token is not valid (revoked, or the user is disabled)")


def caller_of(request: web.Request) -> ApiCaller:
    """The caller the middleware authenticated (every ``/api/`` route but the OpenAPI one)."""
    return request[CALLER_KEY]


def require_permission(request: web.Request, permission: Permission) -> ApiCaller:
    caller = caller_of(request)
    if not caller.may(permission):
        raise Forbidden(
            f"{caller.name} may not do this (needs the {permission.value!r} permission)",
            permission=permission.value,
        )
    return caller


def require_agent_control(request: web.Request, agent_id: str) -> ApiCaller:
    caller = caller_of(request)
    if not caller.may_control(agent_id):
        raise Forbidden(f"{caller.name} may not change agent {agent_id!r}'s state", agent=agent_id)
    return caller
