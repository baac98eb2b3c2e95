"""Fetch recordings whose audio is still in Asterisk (``callcenter recordings fetch``).

A recording whose file could not be fetched when it finished keeps a row with no
``storage_url``; this job downloads it over ARI (REST only: it opens no WebSocket, so it never
takes the application away from a running worker), stores it with its checksum, completes the
row, then deletes Asterisk's copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.asterisk.ari import AriNotFound, AriRequestError
from callcenter.asterisk.ids import RecordingName
from callcenter.cdr.queries import unfetched_recordings
from callcenter.cdr.store import CdrStore
from callcenter.recording.recorder import wav_duration
from callcenter.recording.storage import LocalStorage

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient

log = logging.getLogger(__name__)


@dataclass
class FetchResult:
    fetched: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Asterisk no longer has them (deleted by hand, or another host's recordings)."""
    failed: list[str] = field(default_factory=list)


async def fetch_pending(ari: AriClient, storage: LocalStorage, database_url: str) -> FetchResult:
    """Fetch every recording that has a row but no stored file yet."""
    store = CdrStore(database_url)
    result = FetchResult()
    try:
        rows = await asyncio.to_thread(unfetched_recordings, store.engine)
        for row in rows:
            name = row["name"]
            try:
                data = await ari.download_recording(RecordingName(name))
            except AriNotFound:
                result.gone.append(name)
                continue
            except AriRequestError as exc:
                log.error("call %s: recording %s not fetched: %s", row["call_id"], name, exc)
                result.failed.append(name)
                continue
            when = row["started_at"] or dt.datetime.now(dt.UTC)
            stored = await asyncio.to_thread(storage.store, name, row["format"], data, when)
            duration = wav_duration(data) if row["format"] == "wav" else None
            row.update(
                storage_url=stored.url,
                sha256=stored.sha256,
                size_bytes=stored.size_bytes,
                duration_seconds=duration or row["duration_seconds"],
            )
            await asyncio.to_thread(store.write, [{"table": "recordings", "row": row}])
            with contextlib.suppress(AriNotFound):
                await ari.delete_stored_recording(RecordingName(name))
            result.fetched.append(name)
            log.info(
                "call %s: recording %s fetched late into %s", row["call_id"], name, stored.path
            )
    finally:
        await asyncio.to_thread(store.dispose)
    return result
