"""The CDR writer on SQLite (the embedded default database): same upserts, same idempotence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import make_engine, upgrade

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


async def test_snapshots_fold_and_replays_change_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", batch_size=3, flush_interval_ms=5)
    await writer.start()
    rec = CallRecordBuilder("c1", T0, caller_number="0601", worker_id="w1")
    writer.submit(rec)
    leg = rec.leg_ringing("a1", at=T0 + dt.timedelta(seconds=4))
    rec.leg_answered(leg, T0 + dt.timedelta(seconds=6))
    writer.submit(rec)
    rec.ended(T0 + dt.timedelta(seconds=60), side="caller", cause=16)
    writer.submit(rec)
    await writer.flush()
    again = [
        {"table": "calls", "row": rec.call_row()},
        *({"table": "call_events", "row": e} for e in rec.event_rows()),
        *({"table": "call_legs", "row": r} for r in rec.leg_rows()),
    ]
    writer.store.write(again)  # a replay of what already landed
    await writer.close()

    engine = make_engine(url)
    with engine.connect() as conn:
        calls = conn.execute(sa.text("select disposition, talk_seconds from calls")).all()
        legs = conn.execute(sa.text("select outcome from call_legs")).all()
        events = conn.execute(sa.text("select count(*) from call_events")).scalar_one()
    engine.dispose()
    assert calls == [("answered", 54.0)]
    assert legs == [("answered",)]
    assert events == len(rec.event_rows())
    assert writer.stats.spooled == 0 and writer.stats.committed == writer.stats.submitted
