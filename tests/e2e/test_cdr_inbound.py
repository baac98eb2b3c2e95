"""Calls through the simulated PBX and the real inbound flow while PostgreSQL goes away:
calls go on, their CDRs spool, and land exactly once when the database is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callcenter.cdr.testing import CuttableProxy
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade
from callcenter.routing.testing import CenterUnderTest, make_config, running_center

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
