"""Webhooks: HTTP POST of JSON, HMAC-SHA256 signed, retried with backoff, durable.

Config: ``webhooks: [{url, secret, events: [call_start, queue_entry, agent_connect,
recording_finished, call_end, voicemail]}]``.

Each request carries::

    Content-Type: application/json
    X-Callcenter-Event: call_end
    X-Callcenter-Delivery: <uuid>            (the same on every retry: receivers de-duplicate)
    X-Callcenter-Timestamp: <unix seconds>
    X-Callcenter-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

and the body ``{"id": <delivery id>, "event": ..., "at": <ISO time>, "data": {...}}``.
Receivers check the signature with :func:`verify_signature` (or the same three lines) and
reject old timestamps to stop replays.

Durability (``callcenter.hooks.outbox``): ``emit`` returns at once; a task appends the
deliveries to a spool (``callcenter.cdr.spool``, fsync'd) and another delivers them. A spool
segment is deleted once every delivery in it succeeded or was given up, so deliveries survive a
restart (at least once). A 2xx answer is success; 4xx other than 408/429 means the receiver
refuses it: given up at once; anything else (5xx, time-out, refused connection) is retried with
exponential backoff up to ``max_attempts`` times. Deliveries given up are kept in
``<spool>/given-up.jsonl``.

Destinations: redirects are never followed (a 3xx is given up: a receiver answering 307 must
not make us re-POST the signed body elsewhere, e.g. to an admin URL on loopback). Unless a
webhook sets ``allow_private_network: true``, loopback, link-local, private and other
non-public addresses are refused: an IP written in the URL at config load, and every address
a host name resolves to at delivery (the addresses actually connected to are checked, so DNS
cannot point a public name at 127.0.0.1 later).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from callcenter.cdr.spool import Record
from callcenter.config import WebhookSettings, non_public_address
from callcenter.hooks.outbox import DurableOutbox, Outcome

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Callcenter-Signature"
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


class WebhookSender(DurableOutbox):
    """Delivers hook events to the configured webhook URLs; see the module docstring."""

    kind = "webhook"

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
        super().__init__(
            spool_dir,
            max_attempts=max_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            concurrency=concurrency,
        )
        self.targets = list(targets)
        self.request_timeout = request_timeout
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        """By ``allow_private_network``: only the public one filters resolved addresses."""

    async def open_resources(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        self._sessions = {
            False: aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(resolver=PublicOnlyResolver())
            ),
            True: aiohttp.ClientSession(timeout=timeout),
        }

    async def close_resources(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions = {}

    def emit(self, event: str, data: Mapping[str, Any]) -> int:
        """Queue ``event`` for every webhook subscribed to it; returns how many. Never awaits."""
        at = dt.datetime.now(dt.UTC).isoformat()
        deliveries: list[Record] = []
        for index, target in enumerate(self.targets):
            if event not in target.events:
                continue
            delivery = str(uuid.uuid4())
            body = {"id": delivery, "event": event, "at": at, "data": dict(data)}
            deliveries.append({"target": index, "url": target.url, "body": body})
        self.enqueue(deliveries)
        return len(deliveries)

    def still_wanted(self, delivery: Record) -> bool:
        index = int(delivery["target"])
        return index < len(self.targets) and self.targets[index].url == delivery["url"]

    def describe(self, delivery: Record) -> str:
        body = delivery["body"]
        return (
            f"{delivery['url']}: {body['event']} delivery {body['id']} "
            f"(call {body['data'].get('call_id')})"
        )

    async def attempt(self, delivery: Record) -> Outcome:
        body = json.dumps(delivery["body"], separators=(",", ":"), default=str).encode()
        target = self.targets[int(delivery["target"])]
        return await self._post(target, delivery["body"]["event"], delivery["body"]["id"], body)

    async def _post(
        self, target: WebhookSettings, event: str, delivery: str, body: bytes
    ) -> Outcome:
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
