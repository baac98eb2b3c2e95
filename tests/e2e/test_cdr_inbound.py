"""Calls through the simulated PBX and the real inbound flow into PostgreSQL: a recorded call
gives the right CDR, leg and recording (valid WAV, matching checksum); while PostgreSQL goes
away calls go on, their CDRs spool, and land exactly once when the database is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import wave
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callcenter.cdr.testing import CuttableProxy
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade
from callcenter.recording.storage import path_of
from callcenter.routing.testing import CenterUnderTest, make_config, running_center
from callcenter.sim.pbx import EndpointBehaviour

pytestmark = pytest.mark.pg


async def answered_call(center: CenterUnderTest, number: str) -> None:
    caller = center.pbx.place_inbound_call("100", number, caller_name="Bob")
    await caller.wait_for("playback_started", timeout=5)
    caller.send_dtmf("1")  # billing
    await caller.wait_for("bridged", timeout=5)
    caller.hangup()
    await center.settle()


async def test_calls_go_on_while_postgres_is_cut_and_land_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    proxy = CuttableProxy(5432)
    await proxy.start()
    writer = CdrWriter(
        pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
        tmp_path / "spool",
        flush_interval_ms=10,
        db_timeout=2.0,
        retry_initial=0.05,
        retry_max=0.2,
    )
    await writer.start()
    try:
        async with running_center(make_config(), tmp_path, cdr=writer) as center:
            await answered_call(center, "+15550001")
            await writer.flush()
            assert writer.stats.committed > 0 and writer.stats.spooled == 0

            await proxy.cut()
            for n in range(2, 5):
                await answered_call(center, f"+1555000{n}")  # the calls go on
            await writer.flush()
            assert writer.stats.spooled > 0

            await proxy.start()
            assert await writer.drain_spool(within=20)
    finally:
        await writer.close()
        await proxy.cut()

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        calls = conn.execute(
            text("select caller_number, disposition, agent_id from calls order by caller_number")
        ).all()
        legs = conn.execute(text("select count(*), count(distinct call_id) from call_legs")).one()
        dup_events = conn.execute(
            text("select count(*) from call_events group by call_id, seq having count(*) > 1")
        ).all()
    engine.dispose()
    assert [c[0] for c in calls] == [f"+1555000{n}" for n in range(1, 5)]
    assert {c[1] for c in calls} == {"answered"}
    assert all(c[2] in {"bill1", "bill2"} for c in calls)
    assert tuple(legs) == (4, 4)
    assert dup_events == []


async def test_recorded_call_through_the_inbound_flow_gives_cdr_legs_and_recording(
    pg_url: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    writer = CdrWriter(pg_url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"]["recording"] = {"record": "agent", "retention_days": 7}
    config = make_config(queues=queues, recordings={"directory": str(tmp_path / "rec")})
    behaviours = {"bill1": EndpointBehaviour.answer_after(0.2, talk_seconds=2.0)}
    engine = create_engine(pg_url)
    try:
        async with running_center(
            config, tmp_path, behaviours=behaviours, login=["bill1"], cdr=writer, record_calls=True
        ) as center:
            caller = center.pbx.place_inbound_call("100", "+15550777", caller_name="Ann")
            await caller.wait_for("playback_started", timeout=5)
            caller.send_dtmf("1")
            await caller.wait_for("bridged", timeout=5)
            await caller.wait_for("hangup", timeout=5)  # the agent ends the call
            await center.settle()
            async with asyncio.timeout(10):  # stored once Asterisk reports RecordingFinished
                while True:
                    await writer.flush()
                    with engine.connect() as conn:
                        if conn.execute(text("select count(*) from recordings")).scalar_one():
                            break
                    await asyncio.sleep(0.05)
        await writer.flush()
        with engine.connect() as conn:
            call = conn.execute(text("select * from calls")).mappings().one()
            legs = conn.execute(text("select * from call_legs")).mappings().all()
            rec = conn.execute(text("select * from recordings")).mappings().one()
    finally:
        await writer.close()
        engine.dispose()

    assert call["caller_number"] == "+15550777" and call["dialled_number"] == "100"
    assert call["disposition"] == "answered" and call["agent_id"] == "bill1"
    assert call["queue_id"] == "billing" and call["ivr_path"] == ["main"]
    assert call["digits"] == ["1"] and call["wait_seconds"] is not None
    assert call["talk_seconds"] is not None and call["ended_at"] is not None
    assert call["recording_name"] == rec["name"] == call["call_id"]
    assert [(leg["agent_id"], leg["outcome"]) for leg in legs] == [("bill1", "answered")]
    assert rec["call_id"] == call["call_id"] and rec["agent_id"] == "bill1"
    assert rec["queue_id"] == "billing" and rec["format"] == "wav"
    path = path_of(rec["storage_url"])
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == rec["sha256"] and len(data) == rec["size_bytes"]
    with wave.open(str(path)) as audio:
        assert audio.getnframes() > 0
    assert rec["expires_at"] - rec["started_at"] == dt.timedelta(days=7)
