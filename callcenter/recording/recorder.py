"""Recording hooks over ARI: start, pause/resume, stop, and store the file when it is finished.

Usage by the inbound flow (one ``Recorder`` per worker)::

    recorder = Recorder.from_config(config, ari, cdr=writer, hooks=hooks)
    policy = config.queue_recording(queue_id)
    name = await recorder.start_for_call(call_id, bridge_id=bridge, policy=policy,
                                         agent_id="a7", queue_id=queue_id, record=record)
    await recorder.pause(call_id)      # the caller reads a card number (the API calls these)
    await recorder.resume(call_id)
    worker.add_event_listener(recorder.on_event)   # every event, before any call sees it
    info = await recorder.wait_stored(name, within=10)    # optional
    await recorder.close()

Finishing is keyed by the recording's name, never by a live call: on a real Asterisk 22 the
RecordingFinished of a bridge recording comes after both legs have left and been destroyed
(the recorder channel ends once it is alone in the bridge), when the call may be over. So the
recorder hears every event itself (``on_event`` as a worker listener) and stores any recording
it was told to expect: ``track`` for one started elsewhere (a call a restarted worker adopted,
a voicemail), ``store_finished`` for one already over (found in Asterisk's spool at start-up).
A tracked recording may carry a follow-up (:class:`RecordingFollowUp`, a voicemail
message) that adds its own rows before the flush and announces the recording once they are
durable.

Names: ``<call id>`` (then ``<call id>-2``...), recorded with ``ifExists=fail`` so a name can
never overwrite another call's audio; Asterisk answers 409 when a name is taken (e.g. a second
agent leg of the same call) and we take the next suffix.

When Asterisk reports RecordingFinished (after ``stop``, or when the bridge/channel goes away),
the file is fetched with ``GET /recordings/stored/{name}/file``, written atomically into
``recordings.directory`` with its SHA-256, the metadata row is handed to the CDR writer
(``recordings`` table, linked to the call), the stored recording is deleted from Asterisk, and
the ``recording_finished`` hook fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
import time
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from callcenter.asterisk.ari import AriConflict, AriNotFound, AriRequestError
from callcenter.asterisk.events import AriEvent, RecordingFailed, RecordingFinished
from callcenter.asterisk.ids import BridgeId, ChannelId, RecordingName
from callcenter.clock import Clock, SystemClock
from callcenter.config import RecordingPolicy
from callcenter.errors import CallCenterError
from callcenter.recording.policy import expires_at, recording_name
from callcenter.recording.storage import LocalStorage, StoredFile

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient
    from callcenter.cdr.record import CallRecordBuilder
    from callcenter.config import CallCenterConfig

log = logging.getLogger("callcenter.recording")

MAX_PARTS = 20
DOWNLOAD_ATTEMPTS = 8
FORGET_AFTER_SECONDS = 3600.0
DOWNLOAD_MAX_DELAY = 5.0


class RecordingError(CallCenterError):
    code = "recording-error"


class RecordingSink(Protocol):
    """What the recorder needs of the CDR writer."""

    def submit_recording(self, row: dict[str, Any]) -> None: ...

    async def flush(self) -> None: ...


class HookSink(Protocol):
    def emit(self, event: str, payload: Mapping[str, Any]) -> None: ...


class RecordingFollowUp(Protocol):
    """What else happens when one recording is stored (a voicemail message becomes one)."""

    kind: str
    """The recording's ``kind`` in its row (``voicemail``)."""

    async def stored(self, recording: Mapping[str, Any], audio: bytes | None) -> None:
        """Its ``recordings`` row was submitted (``audio`` None: not fetched, still in
        Asterisk); submit more rows here: the recorder's flush makes them durable too. Long
        work goes to a thread: this runs on the event loop."""
        ...

    def announce(self) -> None:
        """The rows are durable (and Asterisk's copy deleted): tell people."""
        ...


@dataclass
class ActiveRecording:
    name: RecordingName
    call_id: str
    target: str
    """``bridge`` or ``channel``."""
    policy: RecordingPolicy
    started_at: dt.datetime
    agent_id: str | None = None
    queue_id: str | None = None
    paused: bool = False
    finished_at: float | None = None
    """``time.monotonic()`` when it was stored or given up."""
    finishing: bool = False
    """Its RecordingFinished/Failed arrived (Asterisk may send one twice)."""
    follow_up: RecordingFollowUp | None = None
    stored: asyncio.Future[StoredRecordingInfo | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class StoredRecordingInfo:
    """What ends up in the ``recordings`` row."""

    name: str
    call_id: str
    agent_id: str | None
    queue_id: str | None
    target: str
    started_at: dt.datetime
    duration_seconds: float | None
    format: str
    size_bytes: int
    storage_url: str
    sha256: str
    expires_at: dt.datetime
    kind: str = "call"

    def row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "queue_id": self.queue_id,
            "target": self.target,
            "started_at": self.started_at,
            "duration_seconds": self.duration_seconds,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "storage_url": self.storage_url,
            "sha256": self.sha256,
            "expires_at": self.expires_at,
            "deleted_at": None,
            "kind": self.kind,
        }


def wav_duration(data: bytes) -> float | None:
    """Seconds of audio in a WAV file, or None if it is not one."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate = reader.getframerate()
            return round(reader.getnframes() / rate, 3) if rate else None
    except (wave.Error, EOFError):
        return None


class Recorder:
    """Starts, pauses, resumes and stops call recordings, and stores them when finished."""

    def __init__(
        self,
        ari: AriClient,
        storage: LocalStorage,
        cdr: RecordingSink | None = None,
        hooks: HookSink | None = None,
        *,
        delete_from_asterisk: bool = True,
        download_attempts: int = DOWNLOAD_ATTEMPTS,
        clock: Clock | None = None,
    ) -> None:
        """``clock``: the PBX's (what the call records use), for when a recording started."""
        self.ari = ari
        self.clock: Clock = clock or SystemClock()
        self.download_attempts = download_attempts
        self.storage = storage
        self.cdr = cdr
        self.hooks = hooks
        self.delete_from_asterisk = delete_from_asterisk
        self._by_name: dict[str, ActiveRecording] = {}
        self._by_call: dict[str, list[ActiveRecording]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_config(
        cls,
        config: CallCenterConfig,
        ari: AriClient,
        cdr: RecordingSink | None = None,
        hooks: HookSink | None = None,
        clock: Clock | None = None,
    ) -> Recorder:
        return cls(ari, LocalStorage(config.recordings.directory), cdr, hooks, clock=clock)

    # --- control -----------------------------------------------------------------------------

    async def start_for_call(
        self,
        call_id: str,
        *,
        policy: RecordingPolicy,
        bridge_id: BridgeId | str | None = None,
        channel_id: ChannelId | str | None = None,
        agent_id: str | None = None,
        queue_id: str | None = None,
        record: CallRecordBuilder | None = None,
    ) -> RecordingName | None:
        """Start recording the bridge (or the channel) if the policy says so; returns the name."""
        if policy.record == "none":
            return None
        if (bridge_id is None) == (channel_id is None):
            raise ValueError("give exactly one of bridge_id and channel_id")
        if policy.consent_prompt:
            await self._play_consent(call_id, policy.consent_prompt, bridge_id, channel_id)
        self._prune()
        part = len(self._by_call.get(call_id, [])) + 1
        while part <= MAX_PARTS:
            name = recording_name(call_id, part)
            try:
                if bridge_id is not None:
                    started = await self.ari.record_bridge(
                        BridgeId(bridge_id), name, policy.format, if_exists="fail"
                    )
                else:
                    started = await self.ari.record_channel(
                        ChannelId(str(channel_id)), name, policy.format, if_exists="fail"
                    )
                break
            except AriConflict:
                # 409 "Recording 'NAME' already exists and can not be overwritten": try NAME-2.
                part += 1
        else:
            raise RecordingError(f"call {call_id}: no free recording name", call_id=call_id)
        active = self.track(
            started,
            call_id,
            target="bridge" if bridge_id is not None else "channel",
            policy=policy,
            agent_id=agent_id,
            queue_id=queue_id,
        )
        if record is not None:
            record.recording_started(started, active.started_at)
        log.info("call %s: recording %s started (%s)", call_id, started, active.target)
        return started

    def track(
        self,
        name: RecordingName | str,
        call_id: str,
        *,
        target: str,
        policy: RecordingPolicy,
        started_at: dt.datetime | None = None,
        agent_id: str | None = None,
        queue_id: str | None = None,
        follow_up: RecordingFollowUp | None = None,
    ) -> ActiveRecording:
        """Expect this recording's end: when its RecordingFinished arrives (however late, after
        its call is gone) the file is fetched and stored. For recordings this worker did not
        start itself: a conversation adopted after a restart, a voicemail."""
        existing = self._by_name.get(name)
        if existing is not None:
            return existing
        active = ActiveRecording(
            RecordingName(name),
            call_id,
            target,
            policy,
            started_at or self.clock.now(),
            agent_id,
            queue_id,
            follow_up=follow_up,
        )
        self._by_name[active.name] = active
        self._by_call.setdefault(call_id, []).append(active)
        return active

    def give_up(self, name: str) -> None:
        """A tracked recording that never started (Asterisk refused it): expect nothing."""
        active = self._by_name.get(name)
        if active is not None and not active.stored.done():
            active.finishing = True
            active.finished_at = time.monotonic()
            active.stored.set_result(None)

    async def store_finished(
        self,
        name: RecordingName | str,
        call_id: str,
        *,
        audio_format: str,
        policy: RecordingPolicy,
        started_at: dt.datetime | None = None,
        agent_id: str | None = None,
        queue_id: str | None = None,
        target: str = "bridge",
        follow_up: RecordingFollowUp | None = None,
    ) -> StoredRecordingInfo | None:
        """Fetch and store a recording that finished while nobody listened (found in
        Asterisk's spool at start-up); None if it could not be fetched (a row without file
        is kept, as for any recording that could not be fetched)."""
        active = self.track(
            name,
            call_id,
            target=target,
            policy=policy,
            started_at=started_at,
            agent_id=agent_id,
            queue_id=queue_id,
            follow_up=follow_up,
        )
        if active.finishing:
            return await asyncio.shield(active.stored)
        active.finishing = True
        try:
            await self._finish_active(active, audio_format, None)
        finally:
            active.finished_at = time.monotonic()
        return active.stored.result() if active.stored.done() else None

    async def pause(self, call_id: str) -> list[str]:
        """Pause the call's live recordings (e.g. while a card number is read out)."""
        return await self._each_live(call_id, "pause")

    async def resume(self, call_id: str) -> list[str]:
        return await self._each_live(call_id, "resume")

    async def stop(self, call_id: str) -> list[str]:
        """Stop the call's live recordings; storing follows their RecordingFinished."""
        return await self._each_live(call_id, "stop")

    def tracks(self, name: str) -> bool:
        """True when this recorder expects (or already stored) the recording ``name``."""
        return name in self._by_name

    def recordings_of(self, call_id: str) -> list[ActiveRecording]:
        return list(self._by_call.get(call_id, []))

    def forget(self, call_id: str) -> None:
        """Drop what we keep about a call whose recordings are all finished (call it at the
        end of the call; calls not forgotten are dropped an hour after their last one)."""
        actives = self._by_call.get(call_id, [])
        if all(a.stored.done() for a in actives):
            for active in self._by_call.pop(call_id, []):
                self._by_name.pop(active.name, None)

    def _prune(self) -> None:
        # A long-running worker must not keep every recording it ever made in memory.
        limit = time.monotonic() - FORGET_AFTER_SECONDS
        for call_id, actives in list(self._by_call.items()):
            if all(a.finished_at is not None and a.finished_at < limit for a in actives):
                self.forget(call_id)

    # --- finishing ---------------------------------------------------------------------------

    def on_event(self, event: AriEvent) -> bool:
        """Feed ARI events here (every one: a worker listener); True if it was one of our
        recordings finishing. Never awaits; a second RecordingFinished of one name is ignored."""
        if not isinstance(event, RecordingFinished | RecordingFailed):
            return False
        active = self._by_name.get(event.name)
        if active is None:
            return False
        if not active.finishing:
            active.finishing = True
            task = asyncio.create_task(self._finish(event), name=f"recording-{event.name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def on_recording_finished(self, event: RecordingFinished) -> StoredRecordingInfo | None:
        """Fetch, store, record and delete a finished recording (awaitable form of on_event);
        None if it is not ours or could not be fetched."""
        active = self._by_name.get(event.name)
        if active is None:
            return None
        if active.finishing:
            return await asyncio.shield(active.stored)
        active.finishing = True
        await self._finish(event)
        return active.stored.result() if active.stored.done() else None

    async def wait_stored(self, name: str, within: float = 10.0) -> StoredRecordingInfo | None:
        """Wait until a recording is stored (None if it failed)."""
        active = self._by_name.get(name)
        if active is None:
            raise RecordingError(f"unknown recording {name}", name=name)
        return await asyncio.wait_for(asyncio.shield(active.stored), within)

    def unfinished(self) -> list[str]:
        """Names of the recordings started but not yet stored (or given up on)."""
        return [name for name, active in self._by_name.items() if not active.stored.done()]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _each_live(self, call_id: str, action: str) -> list[str]:
        done: list[str] = []
        for active in self._by_call.get(call_id, []):
            if active.stored.done():
                continue
            try:
                if action == "pause" and not active.paused:
                    await self.ari.pause_recording(active.name)
                    active.paused = True
                elif action == "resume" and active.paused:
                    await self.ari.unpause_recording(active.name)
                    active.paused = False
                elif action == "stop":
                    await self.ari.stop_recording(active.name)
                else:
                    continue
            except AriNotFound:
                continue  # it already ended: RecordingFinished is on its way
            done.append(active.name)
            log.info("call %s: recording %s %s", call_id, active.name, action)
        return done

    async def _play_consent(
        self, call_id: str, media: str, bridge_id: str | None, channel_id: str | None
    ) -> None:
        try:
            if bridge_id is not None:
                await self.ari.play_on_bridge(BridgeId(bridge_id), media)
            else:
                await self.ari.play(ChannelId(str(channel_id)), media)
        except AriRequestError as exc:
            log.warning("call %s: consent prompt %s not played: %s", call_id, media, exc)

    async def _finish(self, event: RecordingFinished | RecordingFailed) -> None:
        active = self._by_name[event.name]
        try:
            if isinstance(event, RecordingFailed):
                log.error(
                    "call %s: recording %s failed: %s", active.call_id, event.name, event.cause
                )
                if not active.stored.done():
                    active.stored.set_result(None)
                return
            await self._finish_active(active, event.format, event.duration)
        finally:
            active.finished_at = time.monotonic()

    async def _finish_active(
        self, active: ActiveRecording, audio_format: str, duration: int | None
    ) -> None:
        audio_format = audio_format or active.policy.format
        try:
            await self._store(active, audio_format, duration)
        except CallCenterError as exc:
            log.error(
                "call %s: recording %s not fetched, left in Asterisk: %s",
                active.call_id,
                active.name,
                exc,
            )
            # Still record that it exists (no storage URL yet): `recordings verify` lists it
            # as not fetched, and the audio stays in Asterisk under its name.
            row = self._unfetched_row(active, audio_format, duration)
            if self.cdr is not None:
                self.cdr.submit_recording(row)
            if active.follow_up is not None:
                await active.follow_up.stored(row, None)
                if self.cdr is not None:
                    with contextlib.suppress(CallCenterError):
                        await self.cdr.flush()
                active.follow_up.announce()
            if not active.stored.done():
                active.stored.set_result(None)

    @staticmethod
    def _unfetched_row(
        active: ActiveRecording, audio_format: str, duration: int | None
    ) -> dict[str, Any]:
        return {
            "name": active.name,
            "call_id": active.call_id,
            "agent_id": active.agent_id,
            "queue_id": active.queue_id,
            "target": active.target,
            "started_at": active.started_at,
            "duration_seconds": float(duration) if duration is not None else None,
            "format": audio_format,
            "size_bytes": None,
            "storage_url": None,
            "sha256": None,
            "expires_at": expires_at(active.started_at, active.policy),
            "deleted_at": None,
            "kind": active.follow_up.kind if active.follow_up else "call",
        }

    async def _store(
        self, active: ActiveRecording, audio_format: str, event_duration: int | None
    ) -> StoredRecordingInfo | None:
        if active.stored.done():
            return active.stored.result()
        data = await self._download(active)
        stored: StoredFile = await asyncio.to_thread(
            self.storage.store, active.name, audio_format, data, active.started_at
        )
        # Read back what is on disk before Asterisk's copy may go.
        check = await asyncio.to_thread(self.storage.verify, stored.url, stored.sha256)
        if check != "ok":
            raise RecordingError(f"stored copy of {active.name} is {check}", name=active.name)
        duration = wav_duration(data) if audio_format == "wav" else None
        if duration is None and event_duration is not None:
            duration = float(event_duration)
        info = StoredRecordingInfo(
            name=active.name,
            call_id=active.call_id,
            agent_id=active.agent_id,
            queue_id=active.queue_id,
            target=active.target,
            started_at=active.started_at,
            duration_seconds=duration,
            format=audio_format,
            size_bytes=stored.size_bytes,
            storage_url=stored.url,
            sha256=stored.sha256,
            expires_at=expires_at(active.started_at, active.policy),
            kind=active.follow_up.kind if active.follow_up else "call",
        )
        if self.cdr is not None:
            self.cdr.submit_recording(info.row())
        if active.follow_up is not None:
            await active.follow_up.stored(info.row(), data)
        if self.cdr is not None:
            # Asterisk's copy goes only once the row is acknowledged (committed or spooled):
            # a crash in between leaves a duplicate, never a file nobody can find.
            await self.cdr.flush()
        if self.delete_from_asterisk:
            with contextlib.suppress(AriNotFound):
                await self.ari.delete_stored_recording(active.name)
        if self.hooks is not None:
            payload = info.row()
            payload.pop("deleted_at")
            self.hooks.emit("recording_finished", payload)
        if active.follow_up is not None:
            active.follow_up.announce()
        log.info(
            "call %s: recording %s stored at %s (%d bytes, sha256 %s)",
            active.call_id,
            active.name,
            stored.path,
            stored.size_bytes,
            stored.sha256[:12],
        )
        if not active.stored.done():
            active.stored.set_result(info)
        return info

    async def _download(self, active: ActiveRecording) -> bytes:
        delay = 0.1
        for attempt in range(1, self.download_attempts + 1):
            try:
                return await self.ari.download_recording(active.name)
            except AriRequestError as exc:
                # 404: the file can appear a moment after RecordingFinished on a busy box;
                # time-outs and refused connections: Asterisk is restarting or overloaded.
                if attempt == self.download_attempts or exc.status in {400, 401, 403}:
                    raise
                log.warning(
                    "call %s: fetching recording %s failed (%s), retrying",
                    active.call_id,
                    active.name,
                    exc.message,
                )
                await asyncio.sleep(delay)
                delay = min(DOWNLOAD_MAX_DELAY, delay * 2)
        raise AssertionError("unreachable")
