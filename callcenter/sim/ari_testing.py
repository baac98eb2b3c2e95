"""Test helpers that speak raw ARI to the simulated Asterisk (no aioari in between).

    async with running_sim(speed=50.0, recordings_dir=tmp_path) as sim:
        events = await sim.events("myapp")
        call = sim.pbx.place_inbound_call("100", "+15550001")
        start = await events.expect("StasisStart")
        status, body = await sim.rest("POST", f"/channels/{start['channel']['id']}/answer")

``AriEvents.expect`` consumes events in order until one matches, so a test reads like the
event sequence it pins; ``AriEvents.seen`` keeps every event received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import SimulatedAsterisk

Json = dict[str, Any]
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class AriEvents:
    """One events WebSocket, read by a background task into a queue."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[Json] = []
        self._queue: asyncio.Queue[Json | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(), name="ari-test-events")

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                event = json.loads(message.data)
                self.seen.append(event)
                self._queue.put_nowait(event)
        self._queue.put_nowait(None)

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def next(self, timeout: float = 3.0) -> Json:  # noqa: ASYNC109 (test budget)
        """The next event; TimeoutError if none, EOFError once the socket closed."""
        event = await asyncio.wait_for(self._queue.get(), timeout)
        if event is None:
            self._queue.put_nowait(None)
            raise EOFError("events WebSocket closed")
        return event

    async def expect(
        self,
        event_type: str,
        predicate: Callable[[Json], bool] | None = None,
        timeout: float = 3.0,  # noqa: ASYNC109 (test budget)
    ) -> Json:
        """Skip events until one of ``event_type`` (matching ``predicate``) arrives."""

        async def _wait() -> Json:
            while True:
                event = await self.next(timeout)
                if event["type"] == event_type and (predicate is None or predicate(event)):
                    return event

        return await asyncio.wait_for(_wait(), timeout)

    async def collect_until(
        self,
        event_type: str,
        predicate: Callable[[Json], bool] | None = None,
        timeout: float = 3.0,  # noqa: ASYNC109 (test budget)
    ) -> list[Json]:
        """Every event up to and including the first matching one."""
        collected: list[Json] = []

        async def _wait() -> list[Json]:
            while True:
                event = await self.next(timeout)
                collected.append(event)
                if event["type"] == event_type and (predicate is None or predicate(event)):
                    return collected

        return await asyncio.wait_for(_wait(), timeout)

    def pending(self) -> list[Json]:
        """Events received but not consumed yet (without waiting)."""
        items: list[Json] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._queue.put_nowait(None)
                break
            items.append(item)
        return items

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass
class SimEnv:
    """A running sim: the PBX, its ARI server, and a raw HTTP client."""

    pbx: SimulatedAsterisk
    server: AriServer
    session: aiohttp.ClientSession
    username: str
    password: str

    @property
    def base(self) -> str:
        return f"{self.server.url}ari"

    async def rest(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        *,
        auth: bool = True,
    ) -> tuple[int, Any]:
        """One ARI request; returns (status, parsed JSON or text or bytes or None)."""
        query = {key: str(value) for key, value in (params or {}).items()}
        if auth:
            query["api_key"] = f"{self.username}:{self.password}"
        async with self.session.request(
            method, self.base + path, params=query, json=json_body, timeout=REQUEST_TIMEOUT
        ) as response:
            raw = await response.read()
            if not raw:
                return response.status, None
            if response.content_type == "application/json":
                return response.status, json.loads(raw)
            if response.content_type.startswith("audio/"):
                return response.status, raw
            return response.status, raw.decode()

    async def events(self, app: str, *, subscribe_all: bool = False) -> AriEvents:
        """Open the events WebSocket for ``app`` (comma list for several)."""
        params = {"app": app, "api_key": f"{self.username}:{self.password}"}
        if subscribe_all:
            params["subscribeAll"] = "true"
        ws = await self.session.ws_connect(
            self.server.ws_url, params=params, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        )
        return AriEvents(ws)


@contextlib.asynccontextmanager
async def running_sim(
    *,
    speed: float = 50.0,
    recordings_dir: Path | None = None,
    username: str = "callcenter",
    password: str = "secret",
) -> AsyncIterator[SimEnv]:
    """A PBX plus ARI server on a free loopback port, torn down afterwards."""
    pbx = SimulatedAsterisk(speed=speed, recordings_dir=recordings_dir)
    server = await start_ari_server(pbx, "127.0.0.1", 0, username, password)
    session = aiohttp.ClientSession()
    try:
        yield SimEnv(pbx, server, session, username, password)
    finally:
        await session.close()
        await server.close()
        await pbx.close()
