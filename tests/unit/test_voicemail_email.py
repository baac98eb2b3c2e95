"""Voicemail e-mail through a real SMTP server on loopback (aiosmtpd): attached audio, a link
for large files, retries on 4xx, given up on 5xx, login, and caller ids that try to add
headers."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from callcenter.config import SmtpSettings
from callcenter.voicemail.email import VoicemailMailer

AUDIO = b"RIFF" + bytes(range(256)) * 40


@dataclass
class Inbox:
    """An SMTP handler keeping what it accepts; answers ``refuse`` codes first."""

    refuse: list[str] = field(default_factory=list)
    mails: list[EmailMessage] = field(default_factory=list)
    rcpt: list[list[str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return self.refuse.pop(0)
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        self.rcpt.append(list(envelope.rcpt_tos))
        self.arrived.set()
        return "250 OK"


@dataclass
class Server:
    inbox: Inbox
    port: int
    logins: list[tuple[bytes, bytes]]


@pytest.fixture
async def smtp_server() -> AsyncIterator[Server]:
    inbox = Inbox()
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"right", handled=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, authenticator=authenticate, auth_require_tls=False),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield Server(inbox, port, logins)
    finally:
        server.close()
        await server.wait_closed()


def settings(port: int, **extra: Any) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        from_address="voicemail@example.com",
        timeout_seconds=5,
        **extra,
    )


NOTICE = {
    "call_id": "c1",
    "message": "voicemail-sales-c1",
    "mailbox": "sales",
    "mailbox_name": "Sales voicemail",
    "caller_number": "+15550107",
    "caller_name": "Dana",
    "left_at": "2026-12-08T19:00:00+00:00",
    "duration_seconds": 75.4,
    "empty": False,
    "format": "wav",
    "link": "https://cc.example.com/voicemail/voicemail-sales-c1",
}


async def deliver(mailer: VoicemailMailer, *args: Any) -> None:
    await mailer.start()
    try:
        mailer.send(*args)
        await asyncio.wait_for(mailer.wait_delivered(), 20)
    finally:
        await mailer.close()


async def test_mail_with_the_audio_attached(smtp_server: Server, tmp_path: Path) -> None:
    audio = tmp_path / "voicemail-sales-c1.wav"
    audio.write_bytes(AUDIO)
    mailer = VoicemailMailer(settings(smtp_server.port), tmp_path / "spool")
    await deliver(mailer, NOTICE, ["sales@example.com", "boss@example.com"], str(audio))
    [mail] = smtp_server.inbox.mails
    assert smtp_server.inbox.rcpt == [["sales@example.com", "boss@example.com"]]
    assert mail["Subject"] == "Voicemail from +15550107 (Dana) in Sales voicemail, 1:15"
    assert mail["From"] == "voicemail@example.com"
    body = mail.get_body(("plain",))
    assert body is not None
    assert NOTICE["link"] in body.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "voicemail-sales-c1.wav"
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_content() == AUDIO
    assert mailer.delivered == 1


async def test_large_audio_is_linked_not_attached(smtp_server: Server, tmp_path: Path) -> None:
    audio = tmp_path / "big.wav"
    audio.write_bytes(b"\0" * 3000)
    mailer = VoicemailMailer(settings(smtp_server.port, max_attachment_kb=2), tmp_path / "spool")
    await deliver(mailer, {**NOTICE, "empty": True}, ["sales@example.com"], str(audio))
    [mail] = smtp_server.inbox.mails
    assert list(mail.iter_attachments()) == []
    assert mail["Subject"].startswith("Empty voicemail from +15550107")
    assert "hung up at the beep" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_busy_server_is_tried_again(smtp_server: Server, tmp_path: Path) -> None:
    smtp_server.inbox.refuse = ["451 try again later", "421 closing"]
    mailer = VoicemailMailer(settings(smtp_server.port), tmp_path / "spool", backoff_initial=0.01)
    await deliver(mailer, NOTICE, ["sales@example.com"], None)
    assert len(smtp_server.inbox.mails) == 1
    assert mailer.delivered == 1 and mailer.given_up == 0


async def test_a_refused_mail_is_given_up_and_kept(smtp_server: Server, tmp_path: Path) -> None:
    smtp_server.inbox.refuse = ["554 no thanks"]
    mailer = VoicemailMailer(settings(smtp_server.port), tmp_path / "spool", backoff_initial=0.01)
    await deliver(mailer, NOTICE, ["sales@example.com"], None)
    assert smtp_server.inbox.mails == []
    assert mailer.given_up == 1
    assert b"voicemail-sales-c1" in (tmp_path / "spool" / "given-up.jsonl").read_bytes()


async def test_unreachable_server_keeps_the_mail_for_the_next_run(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    probe = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    first = VoicemailMailer(settings(port), tmp_path / "spool", backoff_initial=5.0)
    await first.start()
    first.send(NOTICE, ["sales@example.com"], None)
    await first.flush()  # fsync'd: durable from here on
    # Its first try must be over (refused) before the port has a server again: a try cut
    # short by close() goes on in its thread, and could deliver the mail a second time.
    async with asyncio.timeout(20):
        while first.attempts == 0:  # noqa: ASYNC110 (a counter, no event to wait on)
            await asyncio.sleep(0.01)
    await first.close()
    inbox = Inbox()
    server = await loop.create_server(lambda: SMTP(inbox), "127.0.0.1", port)
    try:
        second = VoicemailMailer(settings(port), tmp_path / "spool", backoff_initial=0.01)
        await second.start()
        await asyncio.wait_for(second.wait_delivered(), 20)
        await second.close()
    finally:
        server.close()
        await server.wait_closed()
    assert [m["Subject"] for m in inbox.mails] == [
        "Voicemail from +15550107 (Dana) in Sales voicemail, 1:15"
    ]


async def test_login_and_a_caller_id_that_tries_to_add_headers(
    smtp_server: Server, tmp_path: Path
) -> None:
    hostile = {**NOTICE, "caller_name": "Eve\r\nBcc: all@example.net", "link": None}
    mailer = VoicemailMailer(
        settings(smtp_server.port, username="cc", password="right"), tmp_path / "spool"
    )
    await deliver(mailer, hostile, ["sales@example.com"], None)
    assert smtp_server.logins == [(b"cc", b"right")]
    [mail] = smtp_server.inbox.mails
    assert mail["Bcc"] is None
    assert smtp_server.inbox.rcpt == [["sales@example.com"]]
    # One line: the line end became a space (a long header may be folded, never split).
    assert mail["Subject"].strip() == (
        "Voicemail from +15550107 (Eve Bcc: all@example.net) in Sales voicemail, 1:15"
    )
    assert "callcenter voicemail list" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_wrong_password_is_given_up(smtp_server: Server, tmp_path: Path) -> None:
    mailer = VoicemailMailer(
        settings(smtp_server.port, username="cc", password="wrong"),
        tmp_path / "spool",
        backoff_initial=0.01,
    )
    await deliver(mailer, NOTICE, ["sales@example.com"], None)
    assert smtp_server.inbox.mails == [] and mailer.given_up == 1
