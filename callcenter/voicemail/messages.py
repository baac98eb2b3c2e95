"""A voicemail message as the call leaves it and as the inbox, hooks and e-mails see it. Pure.

The call knows who left the message and in which box (:class:`LeftMessage`); the recorder
knows the stored audio (its name, file, checksum, duration). :func:`message_row` joins them
into the ``voicemail_messages`` row, :func:`announcement` into what the ``voicemail`` webhook
and the e-mail say.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from callcenter.config import CallCenterConfig, Mailbox, RecordingPolicy
from callcenter.voicemail.sound import is_empty

_NAME = re.compile(r"^voicemail-([a-z][a-z0-9_-]{0,39})-([A-Za-z0-9_-]{1,40})$")
MESSAGE_STATUSES = ("new", "handled")


def message_name(box_id: str, call_id: str) -> str:
    """The recording name of the message ``call_id`` leaves in ``box_id``: one per call and
    box, so a message can never overwrite another (recorded with ``ifExists=fail``)."""
    return f"voicemail-{box_id}-{call_id}"


def is_message_name(name: str) -> bool:
    return _NAME.match(name) is not None


def box_of(name: str) -> str | None:
    """The box a message's recording name says it was left in, or None: not a message."""
    found = _NAME.match(name)
    return found.group(1) if found else None


def voicemail_policy(config: CallCenterConfig, box_id: str) -> RecordingPolicy:
    """How a box's messages are recorded and kept: wav, retention of the box's queue."""
    return config.mailbox_recording(box_id).model_copy(update={"format": "wav"})


@dataclass(frozen=True)
class LeftMessage:
    """What the call knew when the caller started leaving a message."""

    name: str
    call_id: str
    box_id: str
    queue_id: str | None
    caller_number: str | None
    caller_name: str | None
    left_at: dt.datetime


@dataclass(frozen=True)
class StoredAudio:
    """The message's audio as the recorder stored it (``storage_url`` None: still in
    Asterisk, the fetch failed; ``recordings fetch`` brings it later)."""

    duration_seconds: float | None
    sound_seconds: float | None
    format: str
    size_bytes: int | None
    sha256: str | None
    storage_url: str | None


def message_row(left: LeftMessage, box: Mailbox, audio: StoredAudio) -> dict[str, Any]:
    """The ``voicemail_messages`` row of a new message (status ``new``)."""
    return {
        "recording_name": left.name,
        "call_id": left.call_id,
        "mailbox": left.box_id,
        "queue_id": box.queue or left.queue_id,
        "caller_number": left.caller_number,
        "caller_name": left.caller_name,
        "left_at": left.left_at,
        "duration_seconds": audio.duration_seconds,
        "sound_seconds": audio.sound_seconds,
        "empty": is_empty(audio.sound_seconds, box.min_sound_seconds),
        "status": "new",
        "handled_at": None,
        "handled_by": None,
        "note": None,
    }


def inbox_link(base_url: str | None, name: str) -> str | None:
    """The message's page for people (``<web base>/voicemail/<name>``), when the base is known."""
    return f"{base_url.rstrip('/')}/voicemail/{name}" if base_url else None


def announcement(
    left: LeftMessage, box: Mailbox, audio: StoredAudio, *, link: str | None = None
) -> dict[str, Any]:
    """What the ``voicemail`` webhook carries (and the e-mail says): the message, its box,
    the caller and the audio's checksum; never the audio itself."""
    return {
        "call_id": left.call_id,
        "message": left.name,
        "mailbox": left.box_id,
        "mailbox_name": box.name,
        "queue_id": box.queue or left.queue_id,
        "caller_number": left.caller_number,
        "caller_name": left.caller_name,
        "left_at": left.left_at.isoformat(),
        "duration_seconds": audio.duration_seconds,
        "sound_seconds": audio.sound_seconds,
        "empty": is_empty(audio.sound_seconds, box.min_sound_seconds),
        "format": audio.format,
        "size_bytes": audio.size_bytes,
        "sha256": audio.sha256,
        "fetched": audio.storage_url is not None,
        "link": link,
    }
