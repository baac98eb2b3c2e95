"""The floor of queue dispatch over ARI: the least a program can do, in raw aiohttp.

On a caller's StasisStart it takes a free agent (first in, first out) and sends
``channels/create``; on the agent channel's StasisStart it sends ``dial``; when the agent
answers (ChannelStateChange Up) it makes a mixing bridge and puts both in it; when either
side leaves it hangs the other up and deletes the bridge (Asterisk keeps bridges until the app
deletes them). No IVR, no music, no database, no logging, no retries: the yardstick that
``benchmarks.acd_latency`` runs beside callcenter on the same simulated Asterisk.

It applies the same event filter as callcenter (``PUT /applications/{app}/eventFilter``), so
Asterisk sends both the same events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from callcenter.asterisk.ari import DEFAULT_DISALLOWED_EVENTS

AGENT_ARG = "agent"


@dataclass
class _Call:
    caller: str
    endpoint: str
    agent: str
    bridge: str | None = None
    over: bool = False


class FloorDispatcher:
    """A minimal ARI queue dispatcher; ``await run()`` until ``stop()``."""

    def __init__(
        self, url: str, username: str, password: str, app: str, endpoints: Iterable[str]
    ) -> None:
        self.base = url.rstrip("/") + "/ari"
        self.auth = aiohttp.BasicAuth(username, password)
        self.app = app
        self.free: deque[str] = deque(endpoints)
        self.calls: dict[str, _Call] = {}
        self.by_agent: dict[str, _Call] = {}
        self.waiting: deque[str] = deque()
        self.connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession(auth=self.auth) as session:
            self._session = session
            query = {"app": self.app, "subscribeAll": "false"}
            async with session.ws_connect(f"{self.base}/events", params=query) as ws:
                filter_body = {"disallowed": [{"type": t} for t in DEFAULT_DISALLOWED_EVENTS]}
                async with session.put(
                    f"{self.base}/applications/{self.app}/eventFilter", json=filter_body
                ) as response:
                    await response.read()
                self.connected.set()
                reader = asyncio.ensure_future(self._read(ws))
                await self._stop.wait()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self._on_event(json.loads(message.data))

    def _request(self, method: str, path: str, **params: str) -> None:
        task = asyncio.ensure_future(self._send(method, path, params))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, method: str, path: str, params: dict[str, str]) -> None:
        assert self._session is not None
        with contextlib.suppress(aiohttp.ClientError):
            async with self._session.request(method, self.base + path, params=params) as resp:
                await resp.read()

    # --- events ------------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        channel = event.get("channel") or {}
        channel_id = channel.get("id", "")
        if kind == "StasisStart":
            args = event.get("args") or []
            if args and args[0] == AGENT_ARG:
                call = self.by_agent.get(channel_id)
                if call is not None and not call.over:
                    self._request(
                        "POST", f"/channels/{channel_id}/dial", caller=call.caller, timeout="30"
                    )
            else:
                self._offer(channel_id)
        elif kind == "ChannelStateChange" and channel.get("state") == "Up":
            call = self.by_agent.get(channel_id)
            if call is not None and call.bridge is None and not call.over:
                call.bridge = f"floor-bridge-{next(self._ids)}"
                self._request("POST", "/bridges", type="mixing", bridgeId=call.bridge)
                self._request(
                    "POST",
                    f"/bridges/{call.bridge}/addChannel",
                    channel=f"{call.caller},{call.agent}",
                )
        elif kind == "StasisEnd":
            call = self.calls.get(channel_id) or self.by_agent.get(channel_id)
            if call is None:
                with contextlib.suppress(ValueError):
                    self.waiting.remove(channel_id)
                return
            if not call.over:
                call.over = True
                other = call.agent if channel_id == call.caller else call.caller
                self._request("DELETE", f"/channels/{other}")
                if call.bridge is not None:
                    self._request("DELETE", f"/bridges/{call.bridge}")
            if channel_id == call.caller:
                self.calls.pop(channel_id, None)
            else:
                self.by_agent.pop(channel_id, None)
            if call.caller not in self.calls and call.agent not in self.by_agent:
                self.free.append(call.endpoint)
                if self.waiting:
                    self._offer(self.waiting.popleft())

    def _offer(self, caller: str) -> None:
        if not self.free:
            self.waiting.append(caller)
            return
        endpoint = self.free.popleft()
        agent = f"floor-agent-{next(self._ids)}"
        call = _Call(caller=caller, endpoint=endpoint, agent=agent)
        self.calls[caller] = call
        self.by_agent[agent] = call
        self._request(
            "POST",
            "/channels/create",
            endpoint=endpoint,
            app=self.app,
            appArgs=f"{AGENT_ARG},{caller}",
            channelId=agent,
            originator=caller,
        )
