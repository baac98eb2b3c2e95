"""CdrWriter against the real PostgreSQL: rows land right, once, in any order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.store import CdrStore
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade

pytestmark = pytest.mark.pg

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def answered_call(call_id: str, worker: str = "w1") -> CallRecordBuilder:
    rec = CallRecordBuilder(
        call_id, T0, caller_number="0601", dialled_number="100", worker_id=worker
    )
    rec.ivr_entered("main", at(1))
    rec.queue_entered("sales", at(5))
    leg = rec.leg_ringing("a1", "PJSIP/1001", "ch-1", at(6))
    rec.leg_answered(leg, at(10))
    rec.leg_ended(leg, at=at(70), cause=16)
    rec.ended(at(70), side="caller", cause=16)
    return rec


def counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        result = tuple(
            conn.execute(text(f"select count(*) from {t}")).scalar_one()
            for t in ("calls", "call_legs", "call_events")
        )
    engine.dispose()
    return result  # type: ignore[return-value]


async def test_complete_call_lands_with_legs_and_events(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    writer = CdrWriter(pg_url, tmp_path / "spool", batch_size=50, flush_interval_ms=20)
    await writer.start()
    rec = CallRecordBuilder("c1", T0, caller_number="0601", worker_id="w1")
    writer.submit(rec)  # the in-progress row first, as the inbound flow does
    await writer.flush()
    full = answered_call("c1")
    writer.submit(full)
    await writer.flush()
    await writer.close()

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        call = conn.execute(text("select * from calls where call_id='c1'")).mappings().one()
        legs = conn.execute(text("select * from call_legs where call_id='c1'")).mappings().all()
        kinds = conn.execute(
            text("select kind from call_events where call_id='c1' order by seq")
        ).scalars()
        kinds_list = list(kinds)
    engine.dispose()
    assert call["disposition"] == "answered" and call["wait_seconds"] == 5.0
    assert call["talk_seconds"] == 60.0 and call["agent_id"] == "a1"
    assert call["ivr_path"] == ["main"]
    assert [(leg["agent_id"], leg["outcome"]) for leg in legs] == [("a1", "answered")]
    assert kinds_list[0] == "call_start" and kinds_list[-1] == "call_end"
    assert writer.stats.spooled == 0


def test_store_is_idempotent_and_newest_snapshot_wins(pg_url: str) -> None:
    upgrade(pg_url)
    store = CdrStore(pg_url)
    rec = CallRecordBuilder("c2", T0, worker_id="w1")
    early = rec.call_row()
    leg = rec.leg_ringing("a1", at=at(1))
    early_leg = rec.leg_rows()[0]
    rec.leg_answered(leg, at(2))
    rec.ended(at(30), side="caller", cause=16)
    late = rec.call_row()
    records = [{"table": "calls", "row": late}] + [
        {"table": "call_events", "row": e} for e in rec.event_rows()
    ]
    records += [{"table": "call_legs", "row": r} for r in rec.leg_rows()]
    store.write(records)
    store.write(records)  # a replay of the same batch
    store.write([{"table": "calls", "row": early}, {"table": "call_legs", "row": early_leg}])
    assert counts(pg_url) == (1, 1, len(rec.event_rows()))
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        disposition = conn.execute(text("select disposition from calls")).scalar_one()
        outcome = conn.execute(text("select outcome from call_legs")).scalar_one()
    engine.dispose()
    store.dispose()
    assert disposition == "answered" and outcome == "answered"


def test_events_before_their_call_row_get_a_placeholder(pg_url: str) -> None:
    upgrade(pg_url)
    store = CdrStore(pg_url)
    rec = CallRecordBuilder("c3", T0)
    rec.digit("5", at(3))
    store.write([{"table": "call_events", "row": e} for e in rec.event_rows()])
    store.write([{"table": "calls", "row": rec.call_row()}])
    store.dispose()
    assert counts(pg_url) == (1, 0, 2)


async def test_recover_in_progress_ends_orphaned_calls(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    writer = CdrWriter(pg_url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    for call_id in ("dead", "live"):
        rec = CallRecordBuilder(call_id, T0, worker_id="w9")
        rec.leg_ringing("a1", at=at(2))
        writer.submit(rec)
    writer.submit(answered_call("done", worker="w9"))
    recovered = await writer.recover_in_progress("w9", live_call_ids=["live"])
    await writer.close()
    assert recovered == ["dead"]
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("select call_id, disposition from calls")).all())
        leg = conn.execute(text("select outcome from call_legs where call_id='dead'")).scalar_one()
        end = conn.execute(
            text("select detail from call_events where call_id='dead' order by seq desc limit 1")
        ).scalar_one()
    engine.dispose()
    assert rows == {"dead": "failed", "live": "in_progress", "done": "answered"}
    assert leg == "failed" and end["recovered"] is True


def test_large_batches_go_through_copy_and_stay_idempotent(pg_url: str) -> None:
    upgrade(pg_url)
    store = CdrStore(pg_url)
    records = []
    for n in range(150):
        rec = answered_call(f"bulk{n}")
        rec.variable("account", str(n))
        records += [{"table": "calls", "row": rec.call_row()}]
        records += [{"table": "call_legs", "row": r} for r in rec.leg_rows()]
        records += [{"table": "call_events", "row": e} for e in rec.event_rows()]
    store.write(records)
    store.write(records)
    store.dispose()
    events = len(answered_call("x").event_rows())
    assert counts(pg_url) == (150, 150, 150 * events)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        row = conn.execute(text("select * from calls where call_id='bulk7'")).mappings().one()
    engine.dispose()
    assert row["variables"] == {"account": "7"} and row["ivr_path"] == ["main"]
    assert row["started_at"] == T0 and row["disposition"] == "answered"


async def test_a_bad_row_is_set_aside_and_the_rest_lands(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    writer = CdrWriter(pg_url, tmp_path / "spool", batch_size=100, flush_interval_ms=10)
    await writer.start()
    good = [answered_call(f"ok{n}") for n in range(5)]
    too_long = answered_call("x" * 40)  # calls.call_id is 32 characters at most
    naive = CallRecordBuilder("naive", T0).call_row() | {"ended_at": dt.datetime(2026, 1, 1)}
    for rec in good[:3]:
        writer.submit(rec)
    writer.submit(too_long)
    writer.submit_call(naive)
    for rec in good[3:]:
        writer.submit(rec)
    await writer.flush()
    assert writer.database_up  # bad data is not an outage: nothing spooled
    await writer.close()
    assert counts(pg_url)[0] == 5
    assert writer.stats.rejected >= 2 and writer.stats.spooled == 0
    rejected = (tmp_path / "spool" / "rejected.jsonl").read_bytes().splitlines()
    assert len(rejected) == writer.stats.rejected
