"""Signed session cookies, CSRF tokens and a per-address sign-in rate limit (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import deque
from dataclasses import dataclass

SESSION_COOKIE = "cc_session"


@dataclass(frozen=True)
class WebSession:
    username: str
    role: str
    agent_id: str | None
    csrf_token: str
    expires_at: float


class SessionCodec:
    """Encodes a session as ``payload.signature`` (HMAC-SHA256); tampering or expiry -> None."""

    def __init__(self, secret: str, lifetime_seconds: float) -> None:
        self._key = hashlib.sha256(("cc-session:" + secret).encode()).digest()
        self.lifetime_seconds = lifetime_seconds

    def new(self, username: str, role: str, agent_id: str | None, now: float) -> WebSession:
        return WebSession(
            username=username,
            role=role,
            agent_id=agent_id,
            csrf_token=secrets.token_urlsafe(24),
            expires_at=now + self.lifetime_seconds,
        )

    def encode(self, session: WebSession) -> str:
        payload = json.dumps(
            [
                session.username,
                session.role,
                session.agent_id,
                session.csrf_token,
                session.expires_at,
            ],
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cookie: str | None, now: float) -> WebSession | None:
        if not cookie or "." not in cookie:
            return None
        body, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            username, role, agent_id, csrf, expires_at = json.loads(raw)
        except (ValueError, TypeError):
            return None
        if not isinstance(expires_at, int | float) or expires_at <= now:
            return None
        return WebSession(str(username), str(role), agent_id, str(csrf), float(expires_at))

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_matches(session: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted or "")


class SignInRateLimit:
    """At most ``per_minute`` sign-in attempts per client address in any 60 s window."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._attempts: dict[str, deque[float]] = {}

    def allow(self, address: str, now: float) -> bool:
        window = self._attempts.setdefault(address, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        if len(self._attempts) > 10_000:  # bound memory under a spray of addresses
            for key in [k for k, v in self._attempts.items() if not v][:5_000]:
                del self._attempts[key]
        return True
