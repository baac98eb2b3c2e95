"""``VoicemailService``: a stored voicemail recording becomes a message people hear about.

The call hands the recorder the message's recording with a follow-up
(``service.follow_up(left)``). When the recorder has stored the audio (or failed to fetch it,
which leaves it in Asterisk for ``recordings fetch``), the follow-up

1. measures the message's sound (:mod:`callcenter.voicemail.sound`) and submits the
   ``voicemail_messages`` row to the CDR writer, right behind the recording's row, so the
   recorder's flush makes both durable before Asterisk's copy is deleted;
2. once they are durable, fires the signed ``voicemail`` webhook (when the box's ``notify``
   says ``webhook``) and queues the e-mail to the box's addresses (through ``smtp``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from callcenter.config import NOTIFY_WEBHOOK, CallCenterConfig, RecordingPolicy
from callcenter.recording.storage import StorageError, path_of
from callcenter.voicemail.email import VoicemailMailer
from callcenter.voicemail.messages import (
    LeftMessage,
    StoredAudio,
    announcement,
    box_of,
    inbox_link,
    message_row,
    voicemail_policy,
)
from callcenter.voicemail.sound import sound_seconds

log = logging.getLogger("callcenter.voicemail")


class VoicemailSink(Protocol):
    """What the service needs of the CDR writer."""

    def submit_voicemail(self, row: dict[str, Any]) -> None: ...


class HookSink(Protocol):
    def emit(self, event: str, payload: Mapping[str, Any]) -> None: ...


class VoicemailService:
    """Writes and announces voicemail messages; see the module docstring."""

    def __init__(
        self,
        config: CallCenterConfig,
        cdr: VoicemailSink | None = None,
        hooks: HookSink | None = None,
        mailer: VoicemailMailer | None = None,
    ) -> None:
        self.config = config
        self.cdr = cdr
        self.hooks = hooks
        self.mailer = mailer

    @classmethod
    def from_config(
        cls,
        config: CallCenterConfig,
        cdr: VoicemailSink | None = None,
        hooks: HookSink | None = None,
        worker_id: str = "worker",
    ) -> VoicemailService:
        """With a mailer (spooled in ``database.spool_dir/voicemail-mail-<worker>``) when a box
        mails anyone."""
        mailer = None
        mails = any(t != NOTIFY_WEBHOOK for box in config.voicemail.values() for t in box.notify)
        if config.smtp is not None and mails:
            spool = Path(config.database.spool_dir) / f"voicemail-mail-{worker_id}"
            mailer = VoicemailMailer(config.smtp, spool)
        return cls(config, cdr, hooks, mailer)

    async def start(self) -> None:
        if self.mailer is not None:
            await self.mailer.start()

    async def close(self) -> None:
        if self.mailer is not None:
            await self.mailer.close()

    def follow_up(self, left: LeftMessage) -> MessageFollowUp:
        """What the recorder does besides storing the message's recording."""
        return MessageFollowUp(self, left)

    def adopted(
        self, name: str, call: Mapping[str, Any]
    ) -> tuple[MessageFollowUp, RecordingPolicy] | None:
        """For a recording an earlier run of this worker left in Asterisk's spool: when it is
        a voicemail message (its name says so), its follow-up and policy, rebuilt from the
        call's row (when it was left is then the call's start: the closest known)."""
        box_id = box_of(name)
        if box_id is None:
            return None
        left = LeftMessage(
            name=name,
            call_id=str(call["call_id"]),
            box_id=box_id,
            queue_id=call.get("queue_id"),
            caller_number=call.get("caller_number"),
            caller_name=call.get("caller_name"),
            left_at=call["started_at"],
        )
        return self.follow_up(left), voicemail_policy(self.config, box_id)


class MessageFollowUp:
    """One message's row and announcements, driven by the recorder (``stored`` before its
    flush, ``announce`` after)."""

    kind = "voicemail"

    def __init__(self, service: VoicemailService, left: LeftMessage) -> None:
        self.service = service
        self.left = left
        self.box = service.config.mailbox(left.box_id)
        self.audio: StoredAudio | None = None

    async def stored(self, recording: Mapping[str, Any], audio: bytes | None) -> None:
        """The recording's row is submitted (``audio``: its bytes, None when not fetched):
        measure the sound (in a thread: ~0.1 s for 2 minutes), submit the message's row."""
        sound = None
        if audio is not None:
            try:
                sound = await asyncio.to_thread(sound_seconds, audio, str(recording["format"]))
            except ValueError as exc:
                log.warning(
                    "call=%s voicemail %s: sound not measured: %s",
                    self.left.call_id,
                    self.left.name,
                    exc,
                )
        self.audio = StoredAudio(
            duration_seconds=recording.get("duration_seconds"),
            sound_seconds=sound,
            format=str(recording["format"]),
            size_bytes=recording.get("size_bytes"),
            sha256=recording.get("sha256"),
            storage_url=recording.get("storage_url"),
        )
        if self.service.cdr is not None:
            self.service.cdr.submit_voicemail(message_row(self.left, self.box, self.audio))

    def announce(self) -> None:
        """The message's rows are durable: fire the webhook, queue the e-mails."""
        if self.audio is None:
            return
        smtp = self.service.config.smtp
        notice = announcement(
            self.left,
            self.box,
            self.audio,
            link=inbox_link(smtp.inbox_url if smtp else None, self.left.name),
        )
        log.info(
            "call=%s voicemail %s in box %s from %s (%s s, %s s of sound)",
            self.left.call_id,
            self.left.name,
            self.left.box_id,
            self.left.caller_number,
            self.audio.duration_seconds,
            self.audio.sound_seconds,
        )
        if NOTIFY_WEBHOOK in self.box.notify and self.service.hooks is not None:
            self.service.hooks.emit("voicemail", notice)
        emails = [t for t in self.box.notify if t != NOTIFY_WEBHOOK]
        if emails and self.service.mailer is not None:
            self.service.mailer.send(notice, emails, self._audio_path())

    def _audio_path(self) -> str | None:
        if self.audio is None or not self.audio.storage_url:
            return None
        try:
            return str(path_of(self.audio.storage_url))
        except StorageError:
            return None
