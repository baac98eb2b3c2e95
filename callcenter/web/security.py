"""Signed session cookies, CSRF tokens, the sign-in failure limit, the client's address behind
trusted proxies, and the caps on live event streams (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

SESSION_COOKIE = "cc_session"


@dataclass(frozen=True)
class WebSession:
    username: str
    role: str
    agent_id: str | None
    csrf_token: str
    expires_at: float
    session_id: str
    """Random; the server keeps its digest while the session is open (``SessionStore``)."""

    def as_user(self, role: str, agent_id: str | None) -> WebSession:
        """This session with the role and agent the users table has now."""
        return replace(self, role=role, agent_id=agent_id)


class SessionCodec:
    """Encodes a session as ``payload.signature`` (HMAC-SHA256); tampering or expiry -> None.
    A cookie that decodes is only a claim: the server checks its session id is still open."""

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
            session_id=secrets.token_urlsafe(32),
        )

    def encode(self, session: WebSession) -> str:
        payload = json.dumps(
            [
                session.username,
                session.role,
                session.agent_id,
                session.csrf_token,
                session.expires_at,
                session.session_id,
            ],
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cookie: str | None, now: float) -> WebSession | None:
        if not cookie or "." not in cookie:
            return None
        body, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            username, role, agent_id, csrf, expires_at, session_id = json.loads(raw)
        except (ValueError, TypeError):
            return None
        if not isinstance(expires_at, int | float) or expires_at <= now:
            return None
        return WebSession(
            str(username), str(role), agent_id, str(csrf), float(expires_at), str(session_id)
        )

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_matches(session: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(
        session.csrf_token.encode(), (submitted or "").encode()
    )


class SignInRateLimit:
    """At most ``per_minute`` *failed* sign-ins per (client address, user name) in any 60 s
    window. Successful sign-ins are not counted: a whole office behind one NAT address signs
    in at shift start; one person mistyping is held back without locking out the others."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[tuple[str, str], deque[float]] = {}

    @staticmethod
    def key(address: str, username: str) -> tuple[str, str]:
        return address, username.strip().casefold()

    def allow(self, key: tuple[str, str], now: float) -> bool:
        """May this (address, user name) try now?"""
        window = self._failures.get(key)
        if window is None:
            return True
        while window and window[0] <= now - 60.0:
            window.popleft()
        if not window:
            del self._failures[key]
            return True
        return len(window) < self.per_minute

    def failed(self, key: tuple[str, str], now: float) -> None:
        self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of addresses and names
            for stale in [k for k, v in self._failures.items() if not v or v[-1] <= now - 60][
                :5_000
            ]:
                del self._failures[stale]

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Who the client is: the peer address, or, when the peer is one of our proxies, the
    right-most ``X-Forwarded-For`` address that is not one of them (a client can write any
    X-Forwarded-For it likes; only what our own proxies appended is believed)."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        address = peer or "unknown"
        if not self.networks or not self.is_trusted(address):
            return address
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        for hop in reversed([h for h in hops if h]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return address  # garbage in the chain: do not guess, use the proxy's address
            if not self.is_trusted(hop):
                return hop
            address = hop
        return address


class TooManyStreams(Exception):
    """More live event streams than allowed (per session or in total)."""


class EventStreams:
    """Counts open live event streams: at most ``per_session`` per session and ``total`` in
    all; each lives at most ``max_seconds`` (the browser's EventSource reconnects, and the
    reconnection checks the session afresh)."""

    def __init__(self, per_session: int = 5, total: int = 500, max_seconds: float = 300.0):
        self.per_session = per_session
        self.total = total
        self.max_seconds = max_seconds
        self.open_count = 0
        self._open: dict[str, int] = {}

    @contextmanager
    def opened(self, session_id: str) -> Iterator[None]:
        if self._open.get(session_id, 0) >= self.per_session:
            raise TooManyStreams(
                f"too many live streams for this sign-in (at most {self.per_session}): "
                "close other tabs of this page"
            )
        if self.open_count >= self.total:
            raise TooManyStreams(f"too many live streams on this server (at most {self.total})")
        self._open[session_id] = self._open.get(session_id, 0) + 1
        self.open_count += 1
        try:
            yield
        finally:
            self.open_count -= 1
            left = self._open[session_id] - 1
            if left:
                self._open[session_id] = left
            else:
                del self._open[session_id]
