"""``DurableOutbox``: things to send to other systems, durable and retried (webhooks, e-mail).

``enqueue`` returns at once; a task appends the deliveries to a spool (``callcenter.cdr.spool``,
fsync'd) and another delivers them. A spool segment is deleted once every delivery in it
succeeded or was given up, so deliveries survive a restart (at least once). A subclass says how
one delivery is attempted (``attempt``): ``ok``; ``refused`` (the receiver will never take it:
given up at once); ``retry`` (tried again with exponential backoff, up to ``max_attempts``).
Deliveries given up are kept in ``<spool>/given-up.jsonl`` for a person to inspect or replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Literal

from callcenter.cdr.spool import Record, Spool, encode_line, read_segment

log = logging.getLogger(__name__)

GIVEN_UP_FILE = "given-up.jsonl"
"""Deliveries refused or out of attempts, kept (fsync'd) for a person to replay or inspect."""
Outcome = Literal["ok", "retry", "refused"]


class DurableOutbox:
    """Spool, deliver, retry; see the module docstring. Subclasses implement ``attempt``."""

    kind = "delivery"
    """What the log lines call one item (``webhook``, ``e-mail``)."""

    def __init__(
        self,
        spool_dir: str | Path,
        *,
        max_attempts: int = 8,
        backoff_initial: float = 0.5,
        backoff_max: float = 60.0,
        concurrency: int = 16,
    ) -> None:
        self.spool = Spool(spool_dir)
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.attempts = 0
        """Attempts made (each try of each delivery, whatever its outcome)."""
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
        self._tasks: list[asyncio.Task[None]] = []

    # --- what a subclass provides ------------------------------------------------------------

    async def attempt(self, delivery: Record) -> Outcome:
        """Try one delivery once."""
        raise NotImplementedError

    def describe(self, delivery: Record) -> str:
        """A few words naming a delivery in log lines."""
        return str(delivery.get("id", "?"))

    def still_wanted(self, delivery: Record) -> bool:
        """False for a spooled delivery whose destination is no longer configured (dropped)."""
        return True

    async def open_resources(self) -> None:
        """Open what ``attempt`` needs (HTTP sessions...), at ``start``."""

    async def close_resources(self) -> None:
        """Close what ``open_resources`` opened, at ``close``."""

    # --- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the spool (deliveries left by a previous run go first) and start delivering."""
        await asyncio.to_thread(self.spool.open)
        await self.open_resources()
        name = self.kind.replace(" ", "-")
        self._tasks = [
            asyncio.create_task(self._persist_loop(), name=f"{name}-persist"),
            asyncio.create_task(self._deliver_loop(), name=f"{name}-deliver"),
        ]
        self._spooled.set()

    async def close(self) -> None:
        """Persist what was enqueued, stop delivering (undelivered ones wait in the spool)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), 5.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.close_resources()
        await asyncio.to_thread(self.spool.close)

    def enqueue(self, deliveries: list[Record]) -> None:
        """Queue deliveries; never awaits."""
        if deliveries:
            self._pending.extend(deliveries)
            self._accepted += len(deliveries)
            self._new.set()

    async def flush(self) -> None:
        """Wait until every enqueued delivery is fsync'd to the spool."""
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
        if not self.still_wanted(delivery):
            log.warning("%s %s: no longer configured, dropped", self.kind, self.describe(delivery))
            return
        delay = self.backoff_initial
        for attempt in range(1, self.max_attempts + 1):
            async with self._semaphore:
                outcome = await self.attempt(delivery)
            self.attempts += 1
            if outcome == "ok":
                self.delivered += 1
                return
            if outcome == "refused" or attempt == self.max_attempts:
                break
            await asyncio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)
        self.given_up += 1
        log.error("%s %s: given up, kept in %s", self.kind, self.describe(delivery), GIVEN_UP_FILE)
        await asyncio.to_thread(self._keep_given_up, delivery)

    def _keep_given_up(self, delivery: Record) -> None:
        with (self.spool.directory / GIVEN_UP_FILE).open("ab") as file:
            file.write(encode_line([delivery]))
            file.flush()
            os.fsync(file.fileno())
