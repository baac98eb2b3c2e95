"""The inbound flow end to end: the real IVR, the queue, an agent, the CDR in the database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call, CallLeg
from callcenter.routing.testing import make_config, running_center
from callcenter.sim.pbx import EndpointBehaviour


async def test_billing_choice_reaches_only_billing_agents_and_is_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    config = make_config()
    # Every agent would answer; only billing agents may be rung for a billing caller.
    async with running_center(config, tmp_path, cdr=writer) as center:
        callers = []
        for n in range(4):
            caller = center.pbx.place_inbound_call("100", f"+1555000{n}", caller_name="Bob")
            await caller.wait_for("playback_started", timeout=5)
            caller.send_dtmf("1")
            callers.append(caller)
        for caller in callers:
            await caller.wait_for("bridged", timeout=5)
            caller.hangup()
        await center.settle()
        billing = {config.agent(a).endpoint for a in ("bill1", "bill2")}
        assert len(center.dials) == 4
        assert {d.endpoint for d in center.dials} <= billing
        assert center.pbx.bridges == {}
    await writer.flush()
    await writer.close()

    engine = make_engine(url)
    with engine.connect() as conn:
        calls = conn.execute(sa.select(Call)).all()
        legs = conn.execute(sa.select(CallLeg)).all()
    engine.dispose()
    assert len(calls) == 4
    for call in calls:
        assert call.disposition == "answered"
        assert call.queue_id == "billing"
        assert call.agent_id in ("bill1", "bill2")
        assert call.ivr_path == ["main"]
        assert call.digits == ["1"]
        assert call.wait_seconds is not None
    assert {leg.outcome for leg in legs} == {"answered"}


async def test_french_speaker_gets_the_agent_with_the_extra_skill(tmp_path: Path) -> None:
    config = make_config()
    async with running_center(config, tmp_path) as center:
        caller = center.pbx.place_inbound_call("100", "+15550100")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("3")
        await caller.wait_for("bridged", timeout=5)
        assert [d.endpoint for d in center.dials] == [config.agent("both1").endpoint]
        caller.hangup()
        await center.settle()


async def test_overflow_after_max_wait_sends_the_caller_to_the_next_queue(
    tmp_path: Path,
) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"]["max_wait_seconds"] = 10
    queues["billing"]["overflow"] = {"queue": "sales"}
    config = make_config(queues=queues)
    async with running_center(config, tmp_path, login=["sale1"]) as center:
        caller = center.pbx.place_inbound_call("100", "+15550101")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        # No billing agent is logged in: after 10 PBX seconds the caller moves to sales.
        await caller.wait_for("bridged", timeout=5)
        assert [d.endpoint for d in center.dials] == [config.agent("sale1").endpoint]
        caller.hangup()
        await center.settle()


async def test_waiting_caller_hears_entry_prompt_moh_and_position(tmp_path: Path) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"].update(
        entry_prompt="sound:queue-thankyou", announce_position_every=10, callback_digit="5"
    )
    config = make_config(queues=queues)
    async with running_center(config, tmp_path, login=[]) as center:
        first = center.pbx.place_inbound_call("100", "+15550102")
        await first.wait_for("playback_started", timeout=5)
        first.send_dtmf("1")
        second = center.pbx.place_inbound_call("100", "+15550103")
        await second.wait_for("playback_started", timeout=5)
        second.send_dtmf("1")
        await second.wait_for("moh_started", timeout=5)
        await second.wait_for("playback_started", timeout=5, predicate=_says("number:2"))
        assert "sound:queue-thankyou" in second.heard
        await second.wait_for("moh_started", timeout=5)
        # The callback digit: the caller leaves the queue with a callback request.
        second.send_dtmf("5")
        await second.wait_for("hangup", timeout=5)
        first.hangup()
        await center.settle()
        assert center.service.status()["queues"][0]["waiting"] == 0


def _says(media: str):  # type: ignore[no-untyped-def]
    return lambda event: event.detail == media


async def test_recorded_queue_stores_the_conversation(tmp_path: Path) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"]["recording"] = {"record": "agent"}
    config = make_config(queues=queues, recordings={"directory": str(tmp_path / "rec")})
    behaviours = {"bill1": EndpointBehaviour.answer_after(0.2, talk_seconds=3.0)}
    async with running_center(
        config, tmp_path, behaviours=behaviours, login=["bill1"], record_calls=True
    ) as center:
        caller = center.pbx.place_inbound_call("100", "+15550105")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("bridged", timeout=5)
        await caller.wait_for("hangup", timeout=5)
        await center.settle()
        # The recorder stores the file once Asterisk reports RecordingFinished.
        folder = tmp_path / "rec"
        await center.wait_until(lambda: any(folder.rglob("*.wav")))
        assert len(list(folder.rglob("*.wav"))) == 1
        assert center.pbx.bridges == {}


async def test_closed_queue_sends_callers_to_its_closed_target(tmp_path: Path) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"].update(hours="never", closed={"queue": "sales"})
    config = make_config(queues=queues, business_hours={"never": {"weekly": {}}})
    async with running_center(config, tmp_path, login=["bill1", "sale1"]) as center:
        caller = center.pbx.place_inbound_call("100", "+15550106")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("bridged", timeout=5)
        assert [d.endpoint for d in center.dials] == [config.agent("sale1").endpoint]
        call = center.service.agent_call("sale1")
        assert call is not None and call.queue_id == "sales"
        caller.hangup()
        await center.settle()


async def test_overflow_to_voicemail_records_a_message(tmp_path: Path) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"].update(max_wait_seconds=10, overflow={"voicemail": "general"})
    config = make_config(queues=queues)
    async with running_center(config, tmp_path, login=[]) as center:
        center.pbx.add_sound("vm-intro", 1.0)  # in Asterisk's core sounds
        caller = center.pbx.place_inbound_call("100", "+15550107")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("moh_started", timeout=5)
        await caller.wait_for(
            "playback_started", timeout=5, predicate=lambda e: e.detail == "sound:vm-intro"
        )
        await center.wait_until(lambda: bool(center.pbx.live_recordings))
        caller.hangup()
        await center.settle()
        names = [name for name, _ in center.pbx.stored_recordings()]
        assert any(name.startswith("voicemail-general-") for name in names)


async def test_abandoned_caller_is_recorded_with_the_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    config = make_config()
    async with running_center(config, tmp_path, login=[], cdr=writer) as center:
        caller = center.pbx.place_inbound_call("100", "+15550108")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("2")
        await caller.wait_for("moh_started", timeout=5)
        await asyncio.sleep(0.1)  # 2 PBX seconds in the queue
        caller.hangup()
        await center.settle()
    await writer.flush()
    await writer.close()
    engine = make_engine(url)
    with engine.connect() as conn:
        call = conn.execute(sa.select(Call)).one()
    engine.dispose()
    assert call.disposition == "abandoned_queue"
    assert call.queue_id == "sales"
    assert call.wait_seconds is not None and call.wait_seconds > 0
    assert call.agent_id is None
