"""A REST-only look at ARI, for ``callcenter doctor``: no WebSocket, no application.

The worker's :class:`~callcenter.asterisk.ari.AriClient` connects the app's WebSocket: a second
one for the same app would take it over (Asterisk sends ``ApplicationReplaced`` to the first).
A health check must not do that, so it asks plain GETs with Basic auth and a time-out.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from callcenter.errors import AsteriskUnavailable


@dataclass(frozen=True)
class AriAnswer:
    """HTTP status and decoded JSON body (``None`` when the body is not JSON)."""

    status: int
    body: Any

    @property
    def message(self) -> str:
        """Asterisk's error text (``{"message": ...}``, or ``{"error": ...}`` for some 500s such
        as "Allocation failed"), else the status."""
        if isinstance(self.body, dict):
            for key in ("message", "error"):
                if isinstance(self.body.get(key), str):
                    return str(self.body[key])
        return f"HTTP {self.status}"


class AriProbe:
    """GET requests against ``<url>ari/...`` with the config's ARI user."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float) -> None:
        self.base = url if url.endswith("/") else url + "/"
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def get(self, path: str, *segments: str) -> AriAnswer:
        """GET ``ari/<path>/<segment>...``; each segment is percent-encoded whole.

        Asterisk splits the path on '/' and then decodes each segment (res_ari.c), so a sound
        id with a folder goes as one segment: ``sounds/callcenter%2Fwelcome``.
        """
        url = self.base + "ari/" + path + "".join("/" + quote(s, safe="") for s in segments)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            async with self._session.get(url) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise AsteriskUnavailable(f"ARI at {self.base} unreachable: {reason}") from exc
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return AriAnswer(status, body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
