"""A webhook receiver on loopback, for tests and demos: it checks each signature as a real
receiver must, keeps what it accepted, and answers the statuses it is told to.

    async with webhook_receiver(secret) as receiver:
        target = WebhookSettings(url=receiver.url, secret=secret, events=["voicemail"],
                                 allow_private_network=True)   # the receiver is on loopback
        ...
        [delivery] = await receiver.wait_for(1)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.hooks.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass
class WebhookReceiver:
    secret: str
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    """Answered first, one per request (then 204)."""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_signature(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        status = self.statuses.pop(0) if self.statuses else 204
        if 200 <= status < 300:
            self.received.append(json.loads(body))
            self._arrived.set()
        return web.Response(status=status)

    async def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """The first ``count`` deliveries accepted (TimeoutError if they do not come)."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received[:count]


@asynccontextmanager
async def webhook_receiver(secret: str, path: str = "/hook") -> AsyncIterator[WebhookReceiver]:
    """A receiver listening on 127.0.0.1 (a free port) until the block ends."""
    receiver = WebhookReceiver(secret)
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
