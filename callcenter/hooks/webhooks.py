"""Webhooks: HTTP POST of JSON, HMAC-SHA256 signed, retried with backoff, durable.

Config: ``webhooks: [{url, secret, events: [call_start, queue_entry, agent_connect,
recording_finished, call_end]}]``.

Each request carries::

    Content-Type: application/json
    X-Callcenter-Event: call_end
    X-Callcenter-Delivery: <uuid>            (the same on every retry: receivers de-duplicate)
    X-Callcenter-Timestamp: <unix seconds>
    X-Callcenter-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

and the body ``{"id": <delivery id>, "event": ..., "at": <ISO time>, "data": {...}}``.
Receivers check the signature with :func:`verify_signature` (or the same three lines) and
reject old timestamps to stop replays.

Durability: ``emit`` returns at once; a task appends the deliveries to a spool
(``callcenter.cdr.spool``, fsync'd) and another delivers them. A spool segment is deleted once
every delivery in it succeeded or was given up, so deliveries survive a restart (at least
once). A 2xx answer is success; 4xx other than 408/429 means the receiver refuses it: given up
at once; anything else (5xx, time-out, refused connection) is retried with exponential backoff
up to ``max_attempts`` times. Deliveries given up are kept in ``<spool>/given-up.jsonl``.

Destinations: redirects are never followed (a 3xx is given up: a receiver answering 307 must
not make us re-POST the signed body elsewhere, e.g. to an admin URL on loopback). Unless a
webhook sets ``allow_private_network: true``, loopback, link-local, private and other
non-public addresses are refused: an IP written in the URL at config load, and every address
a host name resolves to at delivery (the addresses actually connected to are checked, so DNS
cannot point a public name at 127.0.0.1 later).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from callcenter.cdr.spool import Record, Spool, encode_line, read_segment
from callcenter.config import WebhookSettings, non_public_address

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Callcenter-Signature"
GIVEN_UP_FILE = "given-up.jsonl"
"""Deliveries refused or out of attempts, kept (fsync'd) for a person to replay or inspect."""
TIMESTAMP_HEADER = "X-Callcenter-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, max_age: float | None = 300.0
) -> bool:
    """What a receiver does: constant-time compare, and refuse stale timestamps."""
    if max_age is not None:
        try:
            if abs(time.time() - float(timestamp)) > max_age:
                return False
        except ValueError:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class NonPublicDestination(OSError):
    """A webhook's host resolved only to addresses it may not be sent to."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then drops every non-public address."""

    def __init__(self) -> None:
        self._resolver = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        public = [r for r in results if non_public_address(r["host"]) is None]
        if not public:
            kinds = sorted({non_public_address(r["host"]) or "" for r in results})
            raise NonPublicDestination(
                f"{host} resolves only to {', '.join(kinds)} addresses "
                "(set allow_private_network: true to allow them)"
            )
        return public

    async def close(self) -> None:
        await self._resolver.close()


class WebhookSender:
    """Delivers hook events to the configured webhook URLs; see the module docstring."""

    def __init__(
        self,
        targets: Sequence[WebhookSettings],
        spool_dir: str | Path,
        *,
        request_timeout: float = 5.0,
        max_attempts: int = 8,
        backoff_initial: float = 0.5,
        backoff_max: float = 60.0,
        concurrency: int = 16,
    ) -> None:
        self.targets = list(targets)
        self.spool = Spool(spool_dir)
        self.request_timeout = request_timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.delivered = 0
        self.given_up = 0
        self._pending: list[Record] = []
        self._persisted = 0
        self._accepted = 0
        self._spool_lock = asyncio.Lock()
        self._new = asyncio.Event()
        self._spooled = asyncio.Event()
        self._idle = asyncio.Event()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        """By ``allow_private_network``: only the public one filters resolved addresses."""
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Open the spool (deliveries left by a previous run go first) and start delivering."""
        await asyncio.to_thread(self.spool.open)
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        self._sessions = {
            False: aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver())
            ),
            True: aiohttp.ClientSession(timeout=timeout),
        }
        self._tasks = [
            asyncio.create_task(self._persist_loop(), name="webhooks-persist"),
            asyncio.create_task(self._deliver_loop(), name="webhooks-deliver"),
        ]
        self._spooled.set()

    async def close(self) -> None:
        """Persist what was emitted, stop delivering (undelivered ones wait in the spool)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), 5.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for session in self._sessions.values():
            await session.close()
        self._sessions = {}
        await asyncio.to_thread(self.spool.close)

    def emit(self, event: str, data: Mapping[str, Any]) -> int:
        """Queue ``event`` for every webhook subscribed to it; returns how many. Never awaits."""
        count = 0
        at = dt.datetime.now(dt.UTC).isoformat()
        for index, target in enumerate(self.targets):
            if event not in target.events:
                continue
            delivery = str(uuid.uuid4())
            body = {"id": delivery, "event": event, "at": at, "data": dict(data)}
            self._pending.append({"target": index, "url": target.url, "body": body})
            count += 1
        if count:
            self._accepted += count
            self._new.set()
        return count

    async def flush(self) -> None:
        """Wait until every emitted delivery is fsync'd to the spool."""
        while self._persisted < self._accepted:
            self._new.set()
            await asyncio.sleep(0.01)

    async def wait_delivered(self) -> None:
        """Wait until the spool is empty (every delivery done or given up): for tests."""
        await self.flush()
        while True:
            self._idle.clear()
            async with self._spool_lock:
                if self.spool.is_empty() and not self._pending:
                    return
            self._spooled.set()
            await self._idle.wait()

    # --- internals ---------------------------------------------------------------------------

    async def _persist_loop(self) -> None:
        while True:
            await self._new.wait()
            self._new.clear()
            if not self._pending:
                continue
            batch, self._pending = self._pending, []
            async with self._spool_lock:
                await asyncio.to_thread(self.spool.append, batch)
            self._persisted += len(batch)
            self._spooled.set()

    async def _deliver_loop(self) -> None:
        while True:
            await self._spooled.wait()
            self._spooled.clear()
            async with self._spool_lock:
                await asyncio.to_thread(self.spool.seal)
                segments = self.spool.sealed_segments()
            for segment in segments:
                deliveries = [d for batch in read_segment(segment) for d in batch]
                await asyncio.gather(*(self._deliver(d) for d in deliveries))
                async with self._spool_lock:
                    await asyncio.to_thread(self.spool.remove, segment)
            self._idle.set()

    async def _deliver(self, delivery: Record) -> None:
        body = json.dumps(delivery["body"], separators=(",", ":"), default=str).encode()
        index = int(delivery["target"])
        if index >= len(self.targets) or self.targets[index].url != delivery["url"]:
            log.warning("webhook %s: target no longer configured, dropped", delivery["url"])
            return
        target = self.targets[index]
        event = delivery["body"]["event"]
        delay = self.backoff_initial
        for attempt in range(1, self.max_attempts + 1):
            async with self._semaphore:
                outcome = await self._post(target, event, delivery["body"]["id"], body)
            if outcome == "ok":
                self.delivered += 1
                return
            if outcome == "refused" or attempt == self.max_attempts:
                break
            await asyncio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)
        self.given_up += 1
        log.error(
            "webhook %s: gave up on %s delivery %s (call %s), kept in %s",
            target.url,
            event,
            delivery["body"]["id"],
            delivery["body"]["data"].get("call_id"),
            GIVEN_UP_FILE,
        )
        await asyncio.to_thread(self._keep_given_up, delivery)

    def _keep_given_up(self, delivery: Record) -> None:
        with (self.spool.directory / GIVEN_UP_FILE).open("ab") as file:
            file.write(encode_line([delivery]))
            file.flush()
            os.fsync(file.fileno())

    async def _post(self, target: WebhookSettings, event: str, delivery: str, body: bytes) -> str:
        session = self._sessions[target.allow_private_network]
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Callcenter-Event": event,
            "X-Callcenter-Delivery": delivery,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(target.secret, timestamp, body),
        }
        try:
            async with session.post(
                target.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if isinstance(getattr(exc, "os_error", exc), NonPublicDestination):
                log.error(
                    "webhook %s: %s delivery %s refused: %s", target.url, event, delivery, exc
                )
                return "refused"
            log.warning("webhook %s: %s delivery %s failed: %s", target.url, event, delivery, exc)
            return "retry"
        if 200 <= status < 300:
            return "ok"
        if 300 <= status < 400:
            log.error(
                "webhook %s: %s delivery %s: HTTP %d to %s; redirects are not followed",
                target.url,
                event,
                delivery,
                status,
                response.headers.get("Location", "?"),
            )
            return "refused"
        log.warning("webhook %s: %s delivery %s: HTTP %d", target.url, event, delivery, status)
        if 400 <= status < 500 and status not in {408, 429}:
            return "refused"
        return "retry"
