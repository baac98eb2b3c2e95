"""E-mail about new voicemail messages, through the SMTP server in ``smtp:``.

``VoicemailMailer.send(notice, recipients, audio_path)`` returns at once; the mail goes
through a :class:`~callcenter.hooks.outbox.DurableOutbox` (fsync'd spool, retried with
backoff, kept in ``given-up.jsonl`` when refused), so a mail server that is down for an hour
delays the mail, never loses it. The audio is read when the mail is sent and attached when it
is at most ``smtp.max_attachment_kb``; a larger (or missing) file is only linked
(``smtp.inbox_url``).

SMTP replies: 2xx sent; 5xx (mailbox unknown, message refused) given up at once; anything else
(4xx, a refused connection, a time-out) retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
import uuid
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from callcenter.cdr.spool import Record
from callcenter.config import SmtpSettings
from callcenter.hooks.outbox import DurableOutbox, Outcome

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]+")


def _plain(value: Any, default: str = "unknown") -> str:
    """A caller's number or name (from the SIP From header: anything) made safe for a mail
    header: control characters (line ends) and runs of spaces become one space."""
    text = _CONTROL.sub(" ", str(value or "")).strip()
    return text[:80] or default


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown length"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def compose(
    smtp: SmtpSettings,
    notice: Mapping[str, Any],
    recipients: Sequence[str],
    audio: bytes | None,
) -> EmailMessage:
    """The mail about one message (``notice``: the ``voicemail`` hook payload); ``audio`` is
    attached when given."""
    caller = _plain(notice.get("caller_number"))
    name = _plain(notice.get("caller_name"), "")
    box = _plain(notice.get("mailbox_name") or notice.get("mailbox"))
    empty = bool(notice.get("empty"))
    mail = EmailMessage()
    mail["From"] = smtp.from_address
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=smtp.from_address.rsplit("@", 1)[1])
    mail["Subject"] = (
        f"{'Empty voicemail' if empty else 'Voicemail'} from {caller}"
        f"{f' ({name})' if name else ''} in {box}, {_duration(notice.get('duration_seconds'))}"
    )
    lines = [
        f"A caller left a message in {box}.",
        "",
        f"Caller: {caller}{f' ({name})' if name else ''}",
        f"Left at: {notice.get('left_at')}",
        f"Length: {_duration(notice.get('duration_seconds'))}",
        f"Message: {notice.get('message')}",
    ]
    if empty:
        lines += ["", "The message is (almost) silent: the caller may have hung up at the beep."]
    if notice.get("link"):
        lines += ["", f"Listen, call back and mark it handled: {notice['link']}"]
    if audio is None and not notice.get("link"):
        lines += ["", "Find it with: callcenter voicemail list"]
    mail.set_content("\n".join(lines) + "\n")
    if audio is not None:
        mail.add_attachment(
            audio,
            maintype="audio",
            subtype="wav" if notice.get("format") == "wav" else "octet-stream",
            filename=f"{notice.get('message', 'voicemail')}.{notice.get('format', 'wav')}",
        )
    return mail


def smtp_send(smtp: SmtpSettings, mail: EmailMessage) -> None:
    """Send one mail (blocking: run it in a thread); raises ``smtplib.SMTPException`` or
    ``OSError``."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password)
        client.send_message(mail)


class VoicemailMailer(DurableOutbox):
    """Mails voicemail notices; see the module docstring."""

    kind = "voicemail e-mail"

    def __init__(
        self,
        smtp: SmtpSettings,
        spool_dir: str | Path,
        *,
        max_attempts: int = 10,
        backoff_initial: float = 5.0,
        backoff_max: float = 600.0,
    ) -> None:
        super().__init__(
            spool_dir,
            max_attempts=max_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            concurrency=2,
        )
        self.smtp = smtp

    def send(
        self, notice: Mapping[str, Any], recipients: Sequence[str], audio_path: str | None
    ) -> None:
        """Queue one mail to ``recipients`` about ``notice``; never awaits."""
        if recipients:
            self.enqueue(
                [
                    {
                        "id": str(uuid.uuid4()),
                        "to": list(recipients),
                        "notice": dict(notice),
                        "audio_path": audio_path,
                    }
                ]
            )

    def describe(self, delivery: Record) -> str:
        notice = delivery["notice"]
        return (
            f"to {', '.join(delivery['to'])} about {notice.get('message')} "
            f"(call {notice.get('call_id')})"
        )

    def _audio(self, delivery: Record) -> bytes | None:
        path = delivery.get("audio_path")
        if not path or not self.smtp.attach_audio:
            return None
        file = Path(path)
        try:
            if file.stat().st_size > self.smtp.max_attachment_kb * 1024:
                return None
            return file.read_bytes()
        except OSError:
            return None  # purged or moved meanwhile: the mail still says where to listen

    async def attempt(self, delivery: Record) -> Outcome:
        audio = await asyncio.to_thread(self._audio, delivery)
        mail = compose(self.smtp, delivery["notice"], delivery["to"], audio)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(smtp_send, self.smtp, mail), self.smtp.timeout_seconds * 3
            )
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            self._log_failure(delivery, f"{exc.smtp_code} {exc.smtp_error!r}")
            return "refused" if permanent else "retry"
        except smtplib.SMTPRecipientsRefused as exc:
            self._log_failure(delivery, f"recipients refused: {exc.recipients}")
            return "refused"
        except (smtplib.SMTPException, OSError, TimeoutError) as exc:
            self._log_failure(delivery, str(exc) or type(exc).__name__)
            return "retry"
        return "ok"

    def _log_failure(self, delivery: Record, why: str) -> None:
        log.warning("%s %s failed: %s", self.kind, self.describe(delivery), why)
