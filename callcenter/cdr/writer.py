"""``CdrWriter``: batched CDR writes that never block a call and never lose an acknowledged row.

Usage (one per worker process)::

    writer = CdrWriter.from_config(config, worker_id="w1")
    await writer.start()                    # replays what a previous run left in the spool
    await writer.recover_in_progress("w1", live_call_ids=...)   # after a crash, see below
    writer.submit(record)                   # a CallRecordBuilder: its changed rows; never awaits
    writer.submit_call(row) / submit_leg(row) / submit_event(row) / submit_recording(row)
    writer.submit_voicemail(row)            # a voicemail message (after its recording row)
    await writer.flush()                    # returns once everything submitted is acknowledged
    await writer.close()

How rows travel is :class:`callcenter.db.write_behind.WriteBehind`'s job: batches upserted in
one transaction each (``store.py``); while the database fails or does not answer within
``db_timeout``, batches are fsync'd to the spool (``callcenter.db.spool``) and replayed, in
order, with backoff. Acknowledged = committed, or fsync'd to the spool.

Bad rows: a row the database refuses as data (too long, naive datetime, broken reference) is
isolated by bisecting the batch and kept in ``<spool>/rejected.jsonl`` with an error log line
naming its call; the rest of the batch lands. One bad row never blocks the spool.

Idempotence: every upsert is keyed (call id, (call id, seq), recording name), so a replay of a
batch that did land (time-out after commit, crash before the spool segment was removed) writes
nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.store import CdrStore
from callcenter.db.write_behind import REJECTED_FILE, WriteBehind, WriterStats, WriterStopped

if TYPE_CHECKING:
    from callcenter.config import CallCenterConfig

__all__ = ["REJECTED_FILE", "CdrUnavailable", "CdrWriter", "WriterStats"]

log = logging.getLogger(__name__)


class CdrUnavailable(WriterStopped):
    code = "cdr-database-unavailable"


class CdrWriter(WriteBehind):
    """Batches CDR rows into the database; spools them durably while it is unreachable."""

    name = "cdr"
    store: CdrStore

    def __init__(
        self, url: str, spool_dir: str | Path, *, db_timeout: float = 5.0, **options: Any
    ) -> None:
        """``options``: :class:`WriteBehind`'s (batch size, flush interval, retries)."""
        super().__init__(
            CdrStore(url, timeout=db_timeout), spool_dir, db_timeout=db_timeout, **options
        )

    @classmethod
    def from_config(cls, config: CallCenterConfig, worker_id: str = "worker") -> CdrWriter:
        """A writer with ``database.*`` settings; the spool is ``spool_dir/cdr-<worker_id>``."""
        db = config.database
        return cls(
            db.url,
            Path(db.spool_dir) / f"cdr-{worker_id}",
            batch_size=db.batch_size,
            flush_interval_ms=db.flush_interval_ms,
        )

    # --- submitting (never awaits) -----------------------------------------------------------

    def submit(self, record: CallRecordBuilder) -> None:
        """Queue the call's current row plus its legs and events changed since last time."""
        call, legs, events = record.take_changes()
        self.submit_call(call)
        for leg in legs:
            self.submit_leg(leg)
        for event in events:
            self.submit_event(event)

    def submit_call(self, row: dict[str, Any]) -> None:
        self.add({"table": "calls", "row": row})

    def submit_leg(self, row: dict[str, Any]) -> None:
        self.add({"table": "call_legs", "row": row})

    def submit_event(self, row: dict[str, Any]) -> None:
        self.add({"table": "call_events", "row": row})

    def submit_recording(self, row: dict[str, Any]) -> None:
        self.add({"table": "recordings", "row": row})

    def submit_voicemail(self, row: dict[str, Any]) -> None:
        self.add({"table": "voicemail_messages", "row": row})

    async def flush(self) -> None:
        """Wait until every row submitted so far is committed or fsync'd to the spool."""
        try:
            await super().flush()
        except WriterStopped as exc:
            raise CdrUnavailable("the CDR writer is not running") from exc

    async def recover_in_progress(
        self, worker_id: str, live_call_ids: Iterable[str] = (), within: float = 10.0
    ) -> list[str]:
        """After a crash: end this worker's calls left ``in_progress`` (disposition ``failed``,
        hang-up cause unknown), skipping calls ARI still shows. Returns their call ids."""
        if not await self.drain_spool(within):
            raise CdrUnavailable(
                "cannot recover calls in progress: the database is unreachable",
                worker_id=worker_id,
            )
        ids = await asyncio.wait_for(
            asyncio.to_thread(
                self._in_db_thread, self.store.recover_in_progress, worker_id, list(live_call_ids)
            ),
            self.db_timeout,
        )
        for call_id in ids:
            log.warning("call %s: ended as failed after worker %s restarted", call_id, worker_id)
        return ids
