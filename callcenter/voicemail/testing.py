"""Voicemail messages as the recorder and the service leave them, for tests and demos.

``message_records(config, box, call_id, caller, left_at, audio)`` returns the CDR records of
one stored message (its ``recordings`` row, then its ``voicemail_messages`` row), ready for
``CdrStore.write`` or a ``CdrWriter``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from callcenter.cdr.spool import Record
from callcenter.config import CallCenterConfig
from callcenter.recording.policy import expires_at
from callcenter.voicemail.messages import LeftMessage, StoredAudio, message_name, message_row
from callcenter.voicemail.sound import sound_seconds


def stored_audio(path: Path, duration: float | None = None) -> StoredAudio:
    """A WAV file already in the recordings directory, as the recorder would describe it."""
    import hashlib

    from callcenter.recording.recorder import wav_duration

    data = path.read_bytes()
    return StoredAudio(
        duration_seconds=duration if duration is not None else wav_duration(data),
        sound_seconds=sound_seconds(data, "wav"),
        format="wav",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_url=path.as_uri(),
    )


def message_records(
    config: CallCenterConfig,
    box_id: str,
    call_id: str,
    caller_number: str | None,
    left_at: dt.datetime,
    audio: StoredAudio,
    *,
    caller_name: str | None = "Dana",
) -> list[Record]:
    """The ``recordings`` and ``voicemail_messages`` records of one message."""
    name = message_name(box_id, call_id)
    box = config.mailbox(box_id)
    recording: dict[str, Any] = {
        "name": name,
        "call_id": call_id,
        "agent_id": None,
        "queue_id": box.queue,
        "target": "channel",
        "started_at": left_at,
        "duration_seconds": audio.duration_seconds,
        "format": audio.format,
        "size_bytes": audio.size_bytes,
        "storage_url": audio.storage_url,
        "sha256": audio.sha256,
        "expires_at": expires_at(left_at, config.mailbox_recording(box_id)),
        "deleted_at": None,
        "kind": "voicemail",
    }
    left = LeftMessage(name, call_id, box_id, None, caller_number, caller_name, left_at)
    return [
        {"table": "recordings", "row": recording},
        {"table": "voicemail_messages", "row": message_row(left, box, audio)},
    ]
