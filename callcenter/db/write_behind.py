"""Write-behind: batched database writes that never block the caller and never lose an
acknowledged record. The CDR writer and the routing journal are both built on it.

``add(record)`` appends to memory and never awaits. A flusher task takes a batch every
``batch_size`` records or ``flush_interval_ms`` and hands it to the store in one call (one
transaction). If the database fails or does not answer within ``db_timeout``, the batch is
appended to the durable spool (:mod:`callcenter.db.spool`, fsync'd) instead, and from then on
every batch goes to the spool, in order, until a replay (retried with backoff) has moved the
whole spool into the database.

Acknowledged = committed, or fsync'd to the spool. ``flush()`` returns when every record added
before it is acknowledged: a process SIGKILLed after that loses none of them; its next run
replays the spool. Records added but not yet acknowledged live in memory only.

The store must be idempotent (keyed upserts, ``ON CONFLICT DO NOTHING``): a batch replayed
twice (time-out after commit, crash before the segment was removed) writes nothing twice.
Records the store refuses as data (too long, broken reference) are isolated by bisecting the
batch and kept in ``<spool>/rejected.jsonl``: one bad record never blocks the spool.

An outage is logged once (WARNING, when the first write fails) and its end once (INFO, when
the spool is replayed); the retries in between log at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from callcenter.db.spool import Record, Spool, encode_line, read_segment
from callcenter.errors import CallCenterError

log = logging.getLogger(__name__)
T = TypeVar("T")

REJECTED_FILE = "rejected.jsonl"
"""Records the database refused as data (not as an outage), kept for a person to look at."""


class WriterStopped(CallCenterError):
    code = "writer-not-running"


class BatchStore(Protocol):
    """Where a write-behind's batches go: one transaction per call, idempotent."""

    def write(self, records: list[Record]) -> object: ...

    def dispose(self) -> None: ...


@dataclass
class WriterStats:
    submitted: int = 0
    committed: int = 0
    spooled: int = 0
    replayed: int = 0
    db_failures: int = 0
    rejected: int = 0
    outages: int = 0


class WriteBehind:
    """Batches records into the database; spools them durably while it is unreachable."""

    name = "writer"
    """Named in log lines (``cdr``, ``routing``)."""

    def __init__(
        self,
        store: BatchStore,
        spool_dir: str | Path,
        *,
        batch_size: int = 500,
        flush_interval_ms: int = 200,
        db_timeout: float = 5.0,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
    ) -> None:
        self.store = store
        self.spool = Spool(spool_dir)
        self.batch_size = batch_size
        self.flush_interval = flush_interval_ms / 1000
        self.db_timeout = db_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.stats = WriterStats()
        self._pending: list[Record] = []
        self._acked = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._spool_has_data = False
        self._outage = False
        """True from the first failed write until the database took everything again."""
        self._retry_delay = retry_initial
        self._next_retry = 0.0
        self._db_threads = 0
        self._db_threads_lock = threading.Lock()

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the spool (trimming a torn tail) and start the flusher; leftovers replay first."""
        await asyncio.to_thread(self.spool.open)
        self._spool_has_data = not self.spool.is_empty()
        if self._spool_has_data:
            log.info(
                "%s spool %s holds records from a previous run: replaying",
                self.name,
                self.spool.directory,
            )
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-writer")

    @property
    def running(self) -> bool:
        return self._task is not None

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Acknowledge what was added, try once more to empty the spool, stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), drain_timeout + self.db_timeout)
        except TimeoutError:
            log.error(
                "%s writer did not stop in time; unacknowledged records: %d",
                self.name,
                len(self._pending),
            )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        await asyncio.to_thread(self.spool.close)
        # A write that timed out still runs in its thread; let it return its connection before
        # the pool goes, or the connection would be dropped open (bounded: a hung one stays).
        deadline = time.monotonic() + self.db_timeout
        while self._db_threads and time.monotonic() < deadline:  # noqa: ASYNC110 (set by threads)
            await asyncio.sleep(0.02)
        await asyncio.to_thread(self.store.dispose)

    # --- adding (never awaits) ---------------------------------------------------------------

    def add(self, record: Record) -> None:
        """Queue one record; it is acknowledged by a later ``flush``."""
        self._pending.append(record)
        self.stats.submitted += 1
        # Wake the flusher on the first record (it starts the flush interval) and a full batch.
        if len(self._pending) == 1 or len(self._pending) >= self.batch_size:
            self._wake.set()

    async def flush(self) -> None:
        """Wait until every record added so far is committed or fsync'd to the spool."""
        target = self.stats.submitted
        if self._acked >= target:
            return
        if self._task is None:
            raise WriterStopped(f"the {self.name} writer is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        self._wake.set()
        await future

    @property
    def database_up(self) -> bool:
        return not self._spool_has_data

    async def drain_spool(self, within: float = 10.0) -> bool:
        """Flush, then wait up to ``within`` s until the spool is replayed; True if empty."""
        await self.flush()
        deadline = time.monotonic() + within
        while self._spool_has_data and time.monotonic() < deadline:
            self._next_retry = 0.0
            self._wake.set()
            await asyncio.sleep(0.05)
        return not self._spool_has_data

    # --- the flusher -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                if await self._run_once():
                    return
            except Exception:  # a bug here must not silently stop every write of the worker
                log.exception("%s writer: unexpected error; carrying on in 1 s", self.name)
                await asyncio.sleep(1.0)

    async def _run_once(self) -> bool:
        """One round: wait for records, store them, replay the spool when due; True to stop."""
        if not self._pending and not self._waiters and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_wait())
            self._wake.clear()
        if (
            self._pending
            and len(self._pending) < self.batch_size
            and not self._waiters
            and not self._closing
        ):
            # The first record starts the flush interval: what comes meanwhile joins its batch
            # (one transaction for many records). A full batch, a flush or close cut it short.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
        self._wake.clear()
        while self._pending:
            batch = self._pending[: self.batch_size]
            if not await self._store_batch(batch):
                break  # could neither commit nor spool: keep in memory, retry later
            del self._pending[: len(batch)]
            self._acked += len(batch)
            if len(self._pending) < self.batch_size and not self._waiters and not self._closing:
                break  # what came during the write waits for the next interval's batch
        self._release_waiters()
        if self._spool_has_data and time.monotonic() >= self._next_retry:
            await self._replay()
        if self._closing and not self._pending:
            if self._spool_has_data:
                self._next_retry = 0.0
                await self._replay()
            return True
        if self._pending and self._closing:
            await asyncio.sleep(0.1)
        return False

    def _in_db_thread(self, func: Callable[..., T], *args: Any) -> T:
        """Run a store call, counting it (it may outlive the time-out that gave up on it)."""
        with self._db_threads_lock:
            self._db_threads += 1
        try:
            return func(*args)
        finally:
            with self._db_threads_lock:
                self._db_threads -= 1

    def _idle_wait(self) -> float:
        if self._spool_has_data:
            return max(0.01, self._next_retry - time.monotonic())
        return 3600.0

    def _release_waiters(self) -> None:
        still = []
        for target, future in self._waiters:
            if self._acked >= target:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    async def _store_batch(self, batch: list[Record]) -> bool:
        """Commit the batch, or fsync it to the spool; False if neither worked."""
        if not self._spool_has_data:
            if await self._write_db(batch):
                self.stats.committed += len(batch)
                return True
            self._spool_has_data = True
            self._schedule_retry(first=True)
        try:
            await asyncio.to_thread(self.spool.append, batch)
        except OSError as exc:
            log.error("%s spool %s: cannot append: %s", self.name, self.spool.directory, exc)
            await asyncio.sleep(0.5)
            return False
        self.stats.spooled += len(batch)
        return True

    async def _write_db(self, records: list[Record]) -> bool:
        """True once the records are committed (or rejected as bad data); False if the
        database is unreachable, slow or failing (the caller spools and retries)."""
        outcome = await self._try_write(records)
        if outcome == "bad-data":
            return await self._isolate_bad_rows(records)
        return outcome == "ok"

    async def _try_write(self, records: list[Record]) -> str:
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._in_db_thread, self.store.write, records), self.db_timeout
            )
        except (OperationalError, InterfaceError, OSError, TimeoutError) as exc:
            self._database_failed(records, exc)
            return "down"
        except (IntegrityError, DataError) as exc:
            log.warning(
                "%s batch of %d records refused by the database: %s",
                self.name,
                len(records),
                _reason(exc),
            )
            return "bad-data"
        except DBAPIError as exc:  # e.g. a missing table: the operator must act; keep the rows
            self._database_failed(records, exc)
            return "down"
        except (StatementError, ValueError, TypeError, KeyError) as exc:
            log.warning(
                "%s batch of %d records has a malformed one: %s",
                self.name,
                len(records),
                _reason(exc),
            )
            return "bad-data"
        return "ok"

    async def _isolate_bad_rows(self, records: list[Record]) -> bool:
        """Write the good records, set the bad ones aside in ``rejected.jsonl`` (bisecting), so
        one malformed record can never block the spool; False if the database went away."""
        if len(records) == 1:
            await asyncio.to_thread(self._reject, records[0])
            return True
        middle = len(records) // 2
        for half in (records[:middle], records[middle:]):
            outcome = await self._try_write(half)
            if outcome == "down":
                return False
            if outcome == "bad-data" and not await self._isolate_bad_rows(half):
                return False
        return True

    def _reject(self, record: Record) -> None:
        self.stats.rejected += 1
        log.error(
            "%s: %s record rejected (%s), kept in %s",
            self.name,
            record.get("table"),
            self.describe(record),
            REJECTED_FILE,
        )
        with (self.spool.directory / REJECTED_FILE).open("ab") as file:
            file.write(encode_line([record]))
            file.flush()
            os.fsync(file.fileno())

    def describe(self, record: Record) -> str:
        """Which call or agent a record is about, for a log line."""
        row = record.get("row", {})
        for key in ("call_id", "agent_id"):
            if row.get(key):
                return f"{key.removesuffix('_id')} {row[key]}"
        return "?"

    def _database_failed(self, records: list[Record], exc: BaseException) -> None:
        self.stats.db_failures += 1
        if self._outage:
            log.debug("%s database still unreachable: %s", self.name, _reason(exc))
            return
        self._outage = True
        self.stats.outages += 1
        log.warning(
            "%s database write failed (%d records): %s; spooling until it is back",
            self.name,
            len(records),
            _reason(exc),
        )

    def _schedule_retry(self, first: bool = False) -> None:
        if first:
            self._retry_delay = self.retry_initial
        else:
            self._retry_delay = min(self.retry_max, self._retry_delay * 2)
        self._next_retry = time.monotonic() + self._retry_delay

    async def _replay(self) -> None:
        """Move the spool into the database, oldest segment first; stop at the first failure."""
        await asyncio.to_thread(self.spool.seal)
        moved = 0
        for segment in self.spool.sealed_segments():
            batches = await asyncio.to_thread(_read_batches, segment)
            chunk: list[Record] = []
            for batch in [*batches, []]:
                chunk.extend(batch)
                if len(chunk) >= self.batch_size * 4 or (not batch and chunk):
                    if not await self._write_db(chunk):
                        self._schedule_retry()
                        return
                    self.stats.replayed += len(chunk)
                    moved += len(chunk)
                    chunk = []
            await asyncio.to_thread(self.spool.remove, segment)
            log.debug("%s spool segment %s replayed into the database", self.name, segment.name)
        self._spool_has_data = False
        self._retry_delay = self.retry_initial
        if self._outage or moved:
            log.info("%s database reachable again: %d spooled records written", self.name, moved)
        self._outage = False


def _read_batches(segment: Path) -> list[list[Record]]:
    return list(read_segment(segment))


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return " ".join(text.split())[:300]
