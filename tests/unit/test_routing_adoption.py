"""What a conversation bridge's name tells a restarted worker, and the CDR of an adopted
conversation (pure: no Asterisk, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.cdr.record import CallRecordBuilder
from callcenter.recording.policy import call_id_of, recording_name
from callcenter.routing.adoption import TalkFacts, parse_talk_bridge, talk_bridge_name

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CALL = "5f95ef3a01454d7ba1519d0857acacdc"


def test_a_conversation_bridge_name_carries_call_agent_queue_and_times() -> None:
    facts = TalkFacts(
        call_id=CALL,
        agent_id="sale1",
        queue_id="sales",
        answered_at=1796393704.743,
        waited=12.5,
        priority=10,
    )
    name = talk_bridge_name(facts)
    assert name.startswith("callcenter-talk;")
    assert parse_talk_bridge(name) == facts
    assert facts.talking_for(1796393714.743) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "b1",
        "callcenter-talk",
        "callcenter-talk;call=x;agent=a",
        "callcenter-talk;call=x;agent=a;queue=q;answered=soon",
        "other;call=x;agent=a;queue=q;answered=1.0",
    ],
)
def test_any_other_bridge_name_says_nothing(name: str) -> None:
    assert parse_talk_bridge(name) is None


def test_recording_names_give_back_their_call_id() -> None:
    assert call_id_of(recording_name(CALL)) == CALL
    assert call_id_of(recording_name(CALL, 3)) == CALL
    assert call_id_of(f"voicemail-sales-{CALL}") == CALL
    assert call_id_of("conf-rec") is None
    assert call_id_of(f"{CALL}x") is None
    assert call_id_of(f"{CALL}\n") is None


def test_an_adopted_leg_keeps_its_answer_time_and_the_talk_spans_the_restart() -> None:
    stored = {
        "call_id": "c1",
        "started_at": START,
        "caller_number": "+15550001",
        "dialled_number": "100",
        "worker_id": "w1",
        "channel_uniqueid": "ch-1",
        "linkedid": "ch-1",
        "ivr_path": ["main"],
        "digits": ["2"],
        "variables": {},
        "transfers": 0,
        "queue_id": "sales",
        "priority": 0,
        # SQLite gives naive UTC datetimes back.
        "queue_entered_at": (START + dt.timedelta(seconds=10)).replace(tzinfo=None),
        "wait_seconds": 5.0,
        "answered_at": (START + dt.timedelta(seconds=15)).replace(tzinfo=None),
        "agent_id": "sale1",
        "recording_name": "c1",
    }
    record = CallRecordBuilder.resume(stored, legs=2, events=9, worker_id="w1")
    leg = record.leg_adopted(
        "sale1",
        "PJSIP/1001",
        "agent-1",
        START + dt.timedelta(seconds=15),
        seq=2,
        rang_at=START + dt.timedelta(seconds=13),
    )
    assert leg == 2
    record.leg_ended(leg, at=START + dt.timedelta(seconds=75), cause=16)
    record.ended(at=START + dt.timedelta(seconds=75), side="caller")
    row, legs, events = record.take_changes()
    assert (row["disposition"], row["agent_id"], row["queue_id"]) == ("answered", "sale1", "sales")
    assert row["answered_at"] == START + dt.timedelta(seconds=15)
    assert row["talk_seconds"] == 60.0  # answered before the restart, ended after it
    assert row["wait_seconds"] == 5.0 and row["recording_name"] == "c1"
    assert [(item["seq"], item["outcome"], item["rang_at"]) for item in legs] == [
        (2, "answered", START + dt.timedelta(seconds=13))
    ]
    assert [e["kind"] for e in events][:2] == ["resumed", "agent_adopted"]
    # A leg rung after the adopted one follows the stored legs.
    assert record.leg_ringing("sale2", "PJSIP/1002", "agent-2") == 3
