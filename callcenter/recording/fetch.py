"""Fetch recordings whose audio is still in Asterisk.

- ``fetch_pending`` (``callcenter recordings fetch``): a recording whose file could not be
  fetched when it finished keeps a row with no ``storage_url``; this job downloads it over ARI
  (REST only: it opens no WebSocket, so it never takes the application away from a running
  worker), stores it with its checksum, completes the row, then deletes Asterisk's copy.
- ``adopt_stored_recordings`` (a worker at start-up): recordings in Asterisk's spool that carry
  a call id of this worker and were never fetched (the worker died before their
  RecordingFinished, or the event was lost) are fetched, stored and linked to their call.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callcenter.asterisk.ari import AriNotFound, AriRequestError
from callcenter.asterisk.ids import RecordingName
from callcenter.cdr.queries import calls_of_worker, fetched_recording_names, unfetched_recordings
from callcenter.cdr.store import CdrStore
from callcenter.recording.policy import call_id_of, policy_for_queue
from callcenter.recording.recorder import wav_duration
from callcenter.recording.storage import LocalStorage

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callcenter.asterisk.ari import AriClient
    from callcenter.config import CallCenterConfig, RecordingPolicy
    from callcenter.recording.recorder import Recorder, RecordingFollowUp

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


AdoptedFollowUp = Callable[
    [str, Mapping[str, Any]], "tuple[RecordingFollowUp, RecordingPolicy] | None"
]
"""For a recording name and its call's row: the follow-up and policy of a recording that is
more than a conversation (a voicemail message), or None."""


async def adopt_stored_recordings(
    ari: AriClient,
    recorder: Recorder,
    engine: Engine,
    worker_id: str,
    config: CallCenterConfig,
    follow_up_for: AdoptedFollowUp | None = None,
) -> FetchResult:
    """Fetch every recording in Asterisk's spool that belongs to a call of ``worker_id`` and
    has no stored file yet. Live ones (a recording still running: the call was adopted, or
    another worker's) are left to whoever hears their RecordingFinished. ``follow_up_for``
    names the ones that are voicemail messages (they get their message row and notices)."""
    result = FetchResult()
    stored = await ari.list_stored_recordings()
    ours = {rec.name: call_id for rec in stored if (call_id := call_id_of(rec.name))}
    if not ours:
        return result
    calls = await asyncio.to_thread(calls_of_worker, engine, worker_id, ours.values())
    fetched = await asyncio.to_thread(fetched_recording_names, engine, ours)
    for recording in stored:
        name = recording.name
        call = calls.get(ours.get(name, ""))
        if call is None or name in fetched or recorder.tracks(name):
            continue
        try:
            await ari.get_live_recording(name)
            continue  # still recording (Asterisk lists a live recording's file too)
        except AriNotFound:
            pass
        except AriRequestError as exc:
            log.warning("recording %s: cannot tell whether it is live: %s", name, exc)
            continue
        log.info(
            "call %s: recording %s found in Asterisk, never fetched: fetching",
            call["call_id"],
            name,
        )
        special = follow_up_for(name, call) if follow_up_for is not None else None
        info = await recorder.store_finished(
            name,
            call["call_id"],
            audio_format=recording.format,
            policy=special[1] if special else policy_for_queue(config, call["queue_id"]),
            started_at=call["answered_at"] or call["started_at"],
            agent_id=call["agent_id"],
            queue_id=call["queue_id"],
            target="channel" if special else "bridge",
            follow_up=special[0] if special else None,
        )
        (result.fetched if info is not None else result.failed).append(name)
    return result
