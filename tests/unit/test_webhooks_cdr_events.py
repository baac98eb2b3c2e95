"""CdrWithHooks: the call's hooks fire from the CDR the flow submits, once each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import upgrade
from callcenter.hooks import Hooks
from callcenter.hooks.cdr_events import CdrWithHooks

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_hook(self, event: str, payload: Any) -> None:
        self.events.append((event, dict(payload)))


async def test_each_hook_fires_once_in_order_and_rows_are_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", flush_interval_ms=5)
    await writer.start()
    hooks, seen = Hooks(), Seen()
    hooks.add(seen)
    sink = CdrWithHooks(writer, hooks)

    rec = CallRecordBuilder("c1", T0, caller_number="0601", dialled_number="100")
    sink.submit(rec)
    rec.queue_entered("sales", T0 + dt.timedelta(seconds=5))
    leg = rec.leg_ringing("a1", at=T0 + dt.timedelta(seconds=6))
    rec.leg_answered(leg, T0 + dt.timedelta(seconds=9))
    sink.submit(rec)
    rec.ended(T0 + dt.timedelta(seconds=70), side="caller", cause=16)
    sink.submit(rec)
    sink.submit(rec)  # nothing new: no hook again
    await hooks.drain()
    await writer.flush()
    await writer.close()
    await hooks.close()

    assert [e for e, _ in seen.events] == ["call_start", "queue_entry", "agent_connect", "call_end"]
    end = seen.events[-1][1]
    assert end["call_id"] == "c1" and end["disposition"] == "answered"
    assert end["wait_seconds"] == 4.0 and end["agent_id"] == "a1"
    assert end["ended_at"] == "2026-11-25T09:01:10+00:00"
    assert seen.events[1][1]["queue"] == "sales"
    assert writer.stats.committed == writer.stats.submitted > 0
