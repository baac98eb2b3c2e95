"""Faults: PostgreSQL cut mid-run (a TCP proxy on loopback), and a writer SIGKILLed mid-call.

Records must spool, land exactly once when the database returns, and nothing acknowledged
may be lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.testing import CuttableProxy, free_port
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade

pytestmark = pytest.mark.pg

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def via(url: str, port: int) -> str:
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


def rows(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = tuple(
            conn.execute(text(f"select count(*) from {t}")).scalar_one()
            for t in ("calls", "call_legs", "call_events")
        )
    engine.dispose()
    return found  # type: ignore[return-value]


def complete_call(call_id: str) -> CallRecordBuilder:
    rec = CallRecordBuilder(call_id, T0, caller_number="0601", worker_id="w1")
    rec.queue_entered("sales", T0 + dt.timedelta(seconds=2))
    leg = rec.leg_ringing("a1", "PJSIP/1001", at=T0 + dt.timedelta(seconds=3))
    rec.leg_answered(leg, T0 + dt.timedelta(seconds=5))
    rec.leg_ended(leg, at=T0 + dt.timedelta(seconds=30), cause=16)
    rec.ended(T0 + dt.timedelta(seconds=30), side="caller", cause=16)
    return rec


async def test_database_cut_mid_run_spools_then_lands_exactly_once(
    pg_url: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    proxy = CuttableProxy(5432)
    await proxy.start()
    writer = CdrWriter(
        via(pg_url, proxy.port),
        tmp_path / "spool",
        batch_size=20,
        flush_interval_ms=10,
        db_timeout=2.0,
        retry_initial=0.05,
        retry_max=0.2,
    )
    await writer.start()
    try:
        for n in range(20):
            writer.submit(complete_call(f"before{n}"))
        await writer.flush()
        assert rows(pg_url)[0] == 20

        await proxy.cut()
        for n in range(30):
            rec = complete_call(f"during{n}")
            writer.submit(rec)
        await writer.flush()  # acknowledged: fsync'd to the spool
        assert writer.stats.spooled > 0 and not writer.database_up
        assert rows(pg_url)[0] == 20
        assert writer.spool.pending_records() > 0

        await proxy.start()
        assert await writer.drain_spool(within=20)
    finally:
        await writer.close()
        await proxy.cut()
    events_per_call = len(complete_call("x").event_rows())
    assert rows(pg_url) == (50, 50, 50 * events_per_call)
    assert writer.spool.is_empty()


WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, datetime as dt, sys
    from callcenter.cdr.record import CallRecordBuilder
    from callcenter.cdr.writer import CdrWriter

    async def main(url, spool):
        writer = CdrWriter(url, spool, batch_size=10, flush_interval_ms=5, db_timeout=2.0)
        await writer.start()
        n = 0
        while True:
            rec = CallRecordBuilder(f"k{n}", dt.datetime.now(dt.UTC), worker_id="wk")
            rec.ivr_entered("main")
            writer.submit(rec)          # the call is now in progress
            await writer.flush()
            print(f"ACK k{n}", flush=True)
            n += 1

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize("database", ["reachable", "unreachable"])
async def test_sigkilled_writer_loses_nothing_acknowledged(
    pg_url: str, tmp_path: Path, database: str
) -> None:
    upgrade(pg_url)
    spool = tmp_path / "spool"
    url = pg_url if database == "reachable" else via(pg_url, free_port())
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER_SCRIPT,
        url,
        str(spool),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    acked: list[str] = []
    try:
        assert proc.stdout is not None
        while len(acked) < 25:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "the writer process died"
            acked.append(line.decode().split()[1])
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-call: the last call is in progress
        await proc.wait()

    # The next run of the worker: replays the spool, then ends the calls it had in progress.
    writer = CdrWriter(pg_url, spool, flush_interval_ms=10)
    await writer.start()
    recovered = await writer.recover_in_progress("wk")
    await writer.close()
    assert set(acked) <= set(recovered)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        found = dict(conn.execute(text("select call_id, disposition from calls")).all())
        dup = conn.execute(
            text("select count(*) from call_events group by call_id, seq having count(*) > 1")
        ).all()
    engine.dispose()
    assert set(acked) <= set(found)
    assert {found[c] for c in acked} == {"failed"}
    assert dup == []


async def test_a_hung_database_times_out_to_the_spool_and_nothing_lands_twice(
    pg_url: str, tmp_path: Path
) -> None:
    upgrade(pg_url)
    proxy = CuttableProxy(5432)
    await proxy.start()
    writer = CdrWriter(
        via(pg_url, proxy.port),
        tmp_path / "spool",
        batch_size=20,
        flush_interval_ms=10,
        db_timeout=1.0,
        retry_initial=0.05,
        retry_max=0.2,
    )
    await writer.start()
    try:
        writer.submit(complete_call("warm"))
        await writer.flush()
        proxy.stall()  # the database stops answering; the writes already sent hang
        for n in range(10):
            writer.submit(complete_call(f"hung{n}"))
        await writer.flush()  # acknowledged by the spool once the time-out passed
        assert writer.stats.spooled > 0 and writer.stats.db_failures > 0
        proxy.resume()  # the held statements now run too: the replay must not duplicate them
        assert await writer.drain_spool(within=20)
    finally:
        await writer.close()
        await proxy.cut()
    events_per_call = len(complete_call("x").event_rows())
    assert rows(pg_url) == (11, 11, 11 * events_per_call)
