"""Voicemail end to end through the simulated Asterisk: a caller reaches a closed queue,
leaves a message and hangs up; the message's RecordingFinished comes after the caller's
StasisEnd (as on Asterisk 22); the recorder stores it anyway (checksummed, linked to the call,
deleted from Asterisk), the message gets its row, and the signed ``voicemail`` webhook fires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from callcenter.asterisk.events import AriEvent, RecordingFinished, StasisEnd
from callcenter.cdr.queries import RecordingFilter, list_recordings
from callcenter.cdr.writer import CdrWriter
from callcenter.cli import main
from callcenter.config import CallCenterConfig, WebhookSettings
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call
from callcenter.hooks import Hooks
from callcenter.hooks.testing import WebhookReceiver, webhook_receiver
from callcenter.hooks.webhooks import WebhookSender
from callcenter.recording.storage import LocalStorage, sha256_of
from callcenter.routing.testing import CenterUnderTest, make_config, running_center
from callcenter.sim.pbx import SimCall
from callcenter.voicemail.service import VoicemailService
from callcenter.voicemail.store import MessageFilter, list_messages

SECRET = "voicemail-hook-secret"
CALLER = "+15550107"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver(SECRET) as found:
        yield found


def closed_billing(tmp_path: Path, **box: Any) -> CallCenterConfig:
    """Billing is closed (no opening hours) and sends callers to its voicemail box."""
    queues = make_config().model_dump(mode="json", exclude_none=True)["queues"]
    queues["billing"].update(hours="never", closed={"voicemail": "billing"})
    return make_config(
        queues=queues,
        business_hours={"never": {"weekly": {}}},
        voicemail={"billing": {"name": "Billing voicemail", "queue": "billing", **box}},
        recordings={"directory": str(tmp_path / "recordings")},
    )


@dataclass
class Rig:
    center: CenterUnderTest
    config: CallCenterConfig
    url: str
    writer: CdrWriter
    seen: list[tuple[str, str]]
    """(event type, channel id or recording name) of every ARI event the worker got."""

    def messages(self) -> list[dict[str, Any]]:
        engine = make_engine(self.url)
        try:
            return list_messages(engine, MessageFilter())
        finally:
            engine.dispose()

    async def wait_for_message(self, within: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                await self.writer.flush()
                found = self.messages()
                if found:
                    return found[0]
                await asyncio.sleep(0.05)


@pytest.fixture
async def rig(
    tmp_path: Path, receiver: WebhookReceiver, request: pytest.FixtureRequest
) -> AsyncIterator[Rig]:
    box = getattr(request, "param", {})
    config = closed_billing(tmp_path, **box)
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    webhook = WebhookSettings(
        url=receiver.url, secret=SECRET, events=["voicemail"], allow_private_network=True
    )
    hooks = Hooks(WebhookSender([webhook], tmp_path / "webhooks", backoff_initial=0.05))
    await hooks.start()
    voicemail = VoicemailService(config, cdr=writer, hooks=hooks)
    try:
        async with running_center(
            config,
            tmp_path / "asterisk",
            login=["bill1"],
            cdr=writer,
            record_calls=True,
            voicemail=voicemail,
        ) as center:
            seen: list[tuple[str, str]] = []

            def note(event: AriEvent) -> None:
                if isinstance(event, RecordingFinished):
                    seen.append(("RecordingFinished", str(event.name)))
                elif isinstance(event, StasisEnd):
                    seen.append(("StasisEnd", str(event.channel.id)))

            center.worker.add_event_listener(note)
            yield Rig(center, config, url, writer, seen)
            await center.settle()
    finally:
        await hooks.close()
        await writer.close()


def stored_file(message: dict[str, Any]) -> Path:
    """The message's file, there and matching its checksum."""
    path = Path(message["storage_url"].removeprefix("file://"))
    assert path.is_file() and sha256_of(path) == message["sha256"]
    return path


async def leave_message(center: CenterUnderTest, talk_seconds: float | None) -> SimCall:
    """Call, choose billing (closed), hear the greeting, say something (or nothing)."""
    caller = center.pbx.place_inbound_call("100", CALLER, caller_name="Dana")
    await caller.wait_for("playback_started", timeout=5)
    caller.send_dtmf("1")
    await caller.wait_for(
        "playback_started", timeout=5, predicate=lambda e: e.detail == "sound:vm-intro"
    )
    caller.fall_silent()
    await center.wait_until(lambda: bool(center.pbx.live_recordings))
    if talk_seconds:
        caller.speak(talk_seconds)
        await asyncio.sleep(talk_seconds / center.pbx.speed + 0.05)
    return caller


async def test_message_in_a_closed_queue_is_stored_listed_and_announced(
    rig: Rig, receiver: WebhookReceiver
) -> None:
    center = rig.center
    caller = await leave_message(center, talk_seconds=6.0)
    call_id = next(iter(center.worker.sessions))
    name = f"voicemail-billing-{call_id}"
    caller.hangup()
    message = await rig.wait_for_message()
    recorder = center.flow.recorder
    assert recorder is not None
    assert await recorder.wait_stored(name, within=10) is not None  # and Asterisk's copy gone

    # RecordingFinished came after the caller's StasisEnd; the message was stored anyway.
    order = [kind for kind, what in rig.seen if what in {caller.channel_id, name}]
    assert order == ["StasisEnd", "RecordingFinished"]

    assert message["recording_name"] == name
    assert message["call_id"] == call_id
    assert message["mailbox"] == "billing" and message["queue_id"] == "billing"
    assert message["caller_number"] == CALLER and message["caller_name"] == "Dana"
    assert message["status"] == "new" and message["empty"] is False
    assert message["sound_seconds"] == pytest.approx(6.0, abs=0.5)
    assert message["duration_seconds"] >= message["sound_seconds"]

    # Stored like a recording: the file, its checksum, linked to the call, gone from Asterisk.
    path = stored_file(message)
    assert path.is_relative_to(Path(rig.config.recordings.directory).resolve())  # noqa: ASYNC240
    assert name not in [n for n, _ in center.pbx.stored_recordings()]
    engine = make_engine(rig.url)
    try:
        [recording] = list_recordings(engine, RecordingFilter(kind="voicemail"))
        assert recording["name"] == name and recording["kind"] == "voicemail"
        assert list_recordings(engine, RecordingFilter(kind="call")) == []
        with engine.connect() as conn:
            call = conn.execute(sa.select(Call).where(Call.call_id == call_id)).one()
    finally:
        engine.dispose()
    assert call.disposition == "voicemail" and call.recording_name == name
    assert message["expires_at"] > message["left_at"]

    # The signed webhook.
    [hook] = await receiver.wait_for(1)
    assert receiver.bad_signatures == 0
    assert hook["event"] == "voicemail"
    data = hook["data"]
    assert (data["call_id"], data["message"], data["mailbox"]) == (call_id, name, "billing")
    assert data["mailbox_name"] == "Billing voicemail"
    assert data["caller_number"] == CALLER and data["empty"] is False
    assert data["sha256"] == message["sha256"] and data["fetched"] is True
    await center.settle()
    assert center.pbx.channels == {} and center.pbx.bridges == {}


async def test_a_silent_message_is_kept_but_marked_empty(rig: Rig) -> None:
    caller = await leave_message(rig.center, talk_seconds=None)
    await asyncio.sleep(1.0 / rig.center.pbx.speed)
    caller.hangup()
    message = await rig.wait_for_message()
    assert message["empty"] is True
    assert message["sound_seconds"] == 0.0
    stored_file(message)


@pytest.mark.parametrize("rig", [{"max_silence_seconds": 3, "notify": []}], indirect=True)
async def test_silence_ends_the_message_and_the_call(rig: Rig, receiver: WebhookReceiver) -> None:
    caller = await leave_message(rig.center, talk_seconds=2.5)
    # The caller stays on the line, silent: after 3 s of silence Asterisk ends the recording
    # and the worker hangs up.
    await caller.wait_for("hangup", timeout=5)
    message = await rig.wait_for_message()
    assert message["sound_seconds"] == pytest.approx(2.5, abs=0.5)
    assert message["empty"] is False  # 2.5 s of sound: more than the 2 s minimum
    await asyncio.sleep(0.2)
    assert receiver.received == []  # notify: [] (no webhook for this box)


@pytest.mark.parametrize("rig", [{"min_sound_seconds": 3}], indirect=True)
async def test_a_message_not_fetched_at_first_is_fetched_and_measured_later(
    rig: Rig, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    """The recordings directory cannot be written when the message ends: the message is
    still listed and announced (audio left in Asterisk); ``recordings fetch`` brings the audio
    later and measures its sound."""
    recorder = rig.center.flow.recorder
    assert recorder is not None
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    recorder.storage = LocalStorage(blocked / "recordings")
    caller = await leave_message(rig.center, talk_seconds=4.0)
    caller.hangup()
    message = await rig.wait_for_message()
    name = message["recording_name"]
    assert message["storage_url"] is None and message["sound_seconds"] is None
    assert message["empty"] is False  # unknown is not empty
    assert name in [n for n, _ in rig.center.pbx.stored_recordings()]  # still in Asterisk
    [hook] = await receiver.wait_for(1)
    assert hook["data"]["fetched"] is False

    config = tmp_path / "callcenter.yaml"
    raw = rig.config.model_dump(mode="json", exclude_none=True)
    raw["asterisk"]["ari"]["url"] = rig.center.server.url
    raw["database"] = {"url": rig.url}
    config.write_text(yaml.safe_dump(raw))
    args = ["recordings", "fetch", "-c", str(config), "--json"]
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fetched"] == [name]
    [message] = rig.messages()
    assert message["sound_seconds"] == pytest.approx(4.0, abs=0.5)
    assert message["empty"] is False
    stored_file(message)
    assert name not in [n for n, _ in rig.center.pbx.stored_recordings()]


async def test_a_message_left_when_the_worker_died_is_adopted_at_start_up(
    rig: Rig, receiver: WebhookReceiver
) -> None:
    """An earlier run of this worker recorded a message and died before its RecordingFinished:
    the next start finds it in Asterisk's spool and stores it as a voicemail message."""
    from callcenter.recording.fetch import adopt_stored_recordings
    from callcenter.sim import wav

    center = rig.center
    call_id = "a" * 32
    name = f"voicemail-billing-{call_id}"
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
    engine = make_engine(rig.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(Call).values(
                    call_id=call_id,
                    caller_number=CALLER,
                    caller_name="Dana",
                    started_at=started,
                    updated_at=started,
                    disposition="voicemail",
                    queue_id="billing",
                    worker_id=center.service.worker_id,
                    ivr_path=[],
                    digits=[],
                    variables={},
                )
            )
        await asyncio.to_thread(
            wav.write_wav_segments, center.pbx.recordings_dir / f"{name}.wav", [(3.0, False)]
        )
        recorder, voicemail = center.flow.recorder, center.flow.voicemail
        assert recorder is not None and voicemail is not None
        result = await adopt_stored_recordings(
            center.worker.ari,
            recorder,
            engine,
            center.service.worker_id,
            rig.config,
            follow_up_for=voicemail.adopted,
        )
    finally:
        engine.dispose()
    assert result.fetched == [name]
    message = await rig.wait_for_message()
    assert (message["recording_name"], message["mailbox"]) == (name, "billing")
    assert message["caller_number"] == CALLER and message["sound_seconds"] == pytest.approx(3.0)
    stored_file(message)
    assert name not in [n for n, _ in center.pbx.stored_recordings()]
    [hook] = await receiver.wait_for(1)
    assert hook["data"]["message"] == name
