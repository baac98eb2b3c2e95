"""A call record resumed from its stored row after a worker restart (pure, no database)."""

from __future__ import annotations

import datetime as dt

from callcenter.cdr.record import CallRecordBuilder

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def stored_row() -> dict[str, object]:
    return {
        "call_id": "c1",
        "started_at": START,
        "caller_number": "+15550001",
        "caller_name": None,
        "dialled_number": "100",
        "worker_id": "w1",
        "channel_uniqueid": "ch-1",
        "linkedid": "ch-1",
        "ivr_path": ["main", "more"],
        "digits": ["3", "4"],
        "variables": {"order": "1234"},
        "transfers": 0,
    }


def test_a_resumed_record_keeps_the_ivr_and_numbers_after_stored_legs_and_events() -> None:
    record = CallRecordBuilder.resume(stored_row(), legs=2, events=5, worker_id="w1")
    record.queue_entered("sales", at=START + dt.timedelta(seconds=10))
    leg = record.leg_ringing("a1", "PJSIP/1001", "ch-2", at=START + dt.timedelta(seconds=70))
    record.leg_answered(leg, at=START + dt.timedelta(seconds=72))
    record.leg_ended(leg, at=START + dt.timedelta(seconds=100))
    record.ended(at=START + dt.timedelta(seconds=100), side="caller")

    row, legs, events = record.take_changes()
    assert leg == 3 and [item["seq"] for item in legs] == [3]
    assert [e["seq"] for e in events] == list(range(6, 6 + len(events)))
    assert events[0]["kind"] == "resumed"
    assert "call_start" not in [e["kind"] for e in events]
    assert row["ivr_path"] == ["main", "more"] and row["digits"] == ["3", "4"]
    assert row["variables"] == {"order": "1234"}
    assert row["started_at"] == START and row["channel_uniqueid"] == "ch-1"
    assert row["disposition"] == "answered"
    assert row["wait_seconds"] == 62.0  # from the first entry, not from the resume
