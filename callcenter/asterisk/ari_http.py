"""The HTTP layer under aioari, fixed for aiohttp 3.14 (private to ``callcenter.asterisk``).

aioari 0.10.2 talks HTTP through aioswagger11's ``AsynchronousHttpClient``. As shipped it does
not fit aiohttp 3.14 nor our rules, so ``AriHttpClient`` subclasses it and replaces:

- ``__init__``: it built ``aiohttp.ClientSession(loop=loop)`` outside a running loop, with no
  time-out. We build the session lazily inside the loop with a ``ClientTimeout``.
- ``request``: on HTTP >= 400 it raised an ``aiohttp.web_exceptions`` server exception built
  with ``body=None``, which aiohttp 3.14 flags with a DeprecationWarning (our pytest turns it
  into an error) and which is a server-side type anyway. We raise ``HttpStatusError`` with
  Asterisk's own message instead, and read the body inside the time-out (so a peer that stops
  half-way cannot hang us).
- ``ws_connect``: it joined query parameters without URL-encoding, applied HTTP Basic auth into
  the query string (``apply(params, params)``), had no connect time-out and no heartbeat (a
  dead TCP peer would never be noticed). We encode, send the Authorization header, bound the
  handshake and ping every ``heartbeat`` seconds.

Also: aioswagger11's ``BasicAuthenticator(None, ...)`` (what ``username=``/``password=`` give)
matches no host, so requests went out without credentials. We always bind it to the ARI host.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aioswagger11.http_client import AsynchronousHttpClient

log = logging.getLogger(__name__)


class HttpStatusError(Exception):
    """Asterisk answered with an HTTP error status; ``message`` is Asterisk's own text."""

    def __init__(self, method: str, url: str, status: int, message: str) -> None:
        super().__init__(f"{method} {url}: HTTP {status} {message}")
        self.method = method
        self.url = url
        self.status = status
        self.message = message


def asterisk_message(body: bytes) -> str:
    """Asterisk's error text: ``{"message": ...}`` or, for some 500s, ``{"error": ...}``."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(decoded, dict):
        for key in ("message", "error"):
            if isinstance(decoded.get(key), str):
                return str(decoded[key])
    return text[:300]


class AriHttpClient(AsynchronousHttpClient):
    """aioswagger11's HTTP client with time-outs, Basic auth and our error type."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        request_timeout: float,
        connect_timeout: float,
        heartbeat: float,
    ) -> None:
        # Deliberately not calling super().__init__: it creates the session with loop=.
        self.authenticator = None
        self.websockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._host = urlsplit(base_url).hostname
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._auth_header = {"Authorization": f"Basic {token}"}
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._session: aiohttp.ClientSession | None = None
        self._ws_session: aiohttp.ClientSession | None = None
        self._closed = False
        self._fetch_headers: dict[tuple[str | None, bool], dict[str, str]] = {}
        self.on_ws_connected: Callable[[], None] | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        self._check_open()
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._request_timeout, connect=self._connect_timeout
                )
            )
        return self._session

    @property
    def ws_session(self) -> aiohttp.ClientSession:
        """A session of its own for the WebSocket: no total time-out on a connection that
        lives for hours (the heartbeat notices a dead peer instead)."""
        self._check_open()
        if self._ws_session is None or self._ws_session.closed:
            self._ws_session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout)
            )
        return self._ws_session

    def _headers(self, url: str, headers: Mapping[str, str] | None) -> dict[str, str]:
        merged = dict(headers or {})
        if urlsplit(url).hostname == self._host:
            merged.update(self._auth_header)
        return merged

    def _check_open(self) -> None:
        # A request made after close() (a call's task still ending) must not open a session
        # nobody will close again: it fails like a refused connection.
        if self._closed:
            raise aiohttp.ClientConnectionError("ARI HTTP client closed")

    async def close(self) -> None:
        self._closed = True
        for websocket in list(self.websockets):
            await websocket.close()
        self.websockets.clear()
        for session in (self._session, self._ws_session):
            if session is not None:
                await session.close()
        self._session = self._ws_session = None

    async def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """One request; the body is read before returning (``resp.text()`` then works)."""
        async with asyncio.timeout(self._request_timeout):
            response = await self.session.request(
                method,
                url,
                params=_query(params),
                data=data,
                headers=self._headers(url, headers),
            )
            body = await response.read()
        if response.status >= 400:
            raise HttpStatusError(method, url, response.status, asterisk_message(body))
        return response

    async def fetch(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        data: str | None,
        host: str | None,
    ) -> tuple[int, bytes]:
        """One request on the lean path (``AriClient._request``): (status, body), the body
        read whole. The caller bounds it with its time-out and maps the status to errors."""
        key = (host, data is not None)
        headers = self._fetch_headers.get(key)
        if headers is None:
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            if host == self._host:
                headers.update(self._auth_header)
            self._fetch_headers[key] = headers
        async with self.session.request(
            method, url, params=params or None, data=data, headers=headers
        ) as response:
            return response.status, await response.read()

    async def ws_connect(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open the events WebSocket (handshake bounded by the connect time-out)."""
        async with asyncio.timeout(self._connect_timeout):
            websocket = await self.ws_session.ws_connect(
                url,
                params=_query(params),
                headers=self._headers(url, None),
                heartbeat=self._heartbeat,
                # receive() has no time-out: the heartbeat notices a dead peer.
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._connect_timeout),
            )
        if self.on_ws_connected is not None:
            self.on_ws_connected()
        return websocket


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """yarl refuses bool query values; ARI wants ``true``/``false``."""
    if not params:
        return None
    query: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            query[key] = "true" if value else "false"
        else:
            query[key] = str(value)
    return query
