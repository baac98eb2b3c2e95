"""CallRecordBuilder: the facts of a call become the right rows (hand-checked times)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.cdr.record import CallRecordBuilder, utc

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_answered_call_has_wait_talk_hold_and_legs() -> None:
    rec = CallRecordBuilder("c1", T0, caller_number="0601", dialled_number="100", worker_id="w1")
    rec.ivr_entered("main", at(1))
    rec.digit("1", at(4))
    rec.queue_entered("sales", at(5))
    first = rec.leg_ringing("a1", "PJSIP/1001", "ch-a1", at(6))
    rec.leg_ended(first, "no_answer", at(21), cause=19)
    second = rec.leg_ringing("a2", "PJSIP/1002", "ch-a2", at(22))
    rec.leg_answered(second, at(25))
    rec.hold_started(at(40))
    rec.hold_ended(at(50))
    rec.leg_ended(second, at=at(125), cause=16)
    rec.ended(at(125), side="agent", cause=16)
    rec.wrapup_done(at(140))

    row = rec.call_row()
    assert row["disposition"] == "answered"
    assert row["wait_seconds"] == 20.0  # 5 -> 25
    assert row["talk_seconds"] == 90.0  # 25 -> 125 minus 10 s hold
    assert row["hold_seconds"] == 10.0
    assert row["wrapup_seconds"] == 15.0
    assert row["agent_id"] == "a2"
    assert row["answered_at"] == at(25)
    assert row["ivr_path"] == ["main"] and row["digits"] == ["1"]
    assert row["hangup_side"] == "agent" and row["hangup_cause"] == 16
    legs = rec.leg_rows()
    assert [(leg["seq"], leg["agent_id"], leg["outcome"]) for leg in legs] == [
        (1, "a1", "no_answer"),
        (2, "a2", "answered"),
    ]
    kinds = [e["kind"] for e in rec.event_rows()]
    assert kinds[0] == "call_start" and "agent_connect" in kinds and "call_end" in kinds
    assert [e["seq"] for e in rec.event_rows()] == list(range(1, len(kinds) + 1))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], "abandoned_ivr"),
        (["queue"], "abandoned_queue"),
        (["queue", "overflow"], "overflowed"),
        (["queue", "callback"], "callback"),
    ],
)
def test_disposition_is_inferred(steps: list[str], expected: str) -> None:
    rec = CallRecordBuilder("c2", T0)
    if "queue" in steps:
        rec.queue_entered("sales", at(2))
    if "overflow" in steps:
        rec.queue_left("overflowed", at(30), to="support")
    if "callback" in steps:
        rec.queue_left("callback", at(30))
    rec.ended(at(40), side="caller", cause=16)
    row = rec.call_row()
    assert row["disposition"] == expected
    if "queue" in steps and len(steps) == 1:
        assert row["wait_seconds"] == 38.0


def test_take_changes_returns_only_new_events_and_changed_legs() -> None:
    rec = CallRecordBuilder("c3", T0)
    leg = rec.leg_ringing("a1", at=at(1))
    call, legs, events = rec.take_changes()
    assert call["disposition"] == "in_progress"
    assert len(legs) == 1 and [e["kind"] for e in events] == ["call_start", "agent_ringing"]
    call2, legs2, events2 = rec.take_changes()
    assert legs2 == [] and events2 == []
    assert call2["updated_at"] > call["updated_at"]
    rec.leg_answered(leg, at(3))
    _, legs3, events3 = rec.take_changes()
    assert legs3[0]["outcome"] == "answered" and [e["kind"] for e in events3] == ["agent_connect"]


def test_epoch_floats_and_naive_datetimes() -> None:
    assert utc(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        utc(dt.datetime(2026, 1, 1))
    rec = CallRecordBuilder("c4", T0.timestamp())
    assert rec.call_row()["started_at"] == T0


def test_transfer_detail_keeps_its_kind() -> None:
    rec = CallRecordBuilder("c5", T0)
    rec.transferred("200", at(5), kind="attended")
    assert rec.call_row()["transfers"] == 1
    assert rec.event_rows()[-1]["detail"] == {"to": "200", "kind": "attended"}
