"""Voicemail messages in SQLite: written through the CDR store, listed per box, handled once,
called back once; a replayed batch never undoes what a person did; who sees which box."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.auth.model import Role
from callcenter.cdr.store import CdrStore
from callcenter.config import CallCenterConfig, Mailbox
from callcenter.db.engine import make_engine, upgrade
from callcenter.routing.testing import make_config
from callcenter.voicemail.access import VoicemailAccess, serves_queue
from callcenter.voicemail.messages import StoredAudio, message_name
from callcenter.voicemail.store import (
    AlreadyHandled,
    CallbackNotPossible,
    MessageFilter,
    MessageNotFound,
    find_message,
    get_message,
    list_messages,
    mark_handled,
    pending_callbacks,
    request_callback,
)
from callcenter.voicemail.testing import message_records

T0 = dt.datetime(2026, 12, 8, 19, 0, tzinfo=dt.UTC)


def config() -> CallCenterConfig:
    return make_config(
        voicemail={
            "billing": {"name": "Billing voicemail", "queue": "billing"},
            "sales": {"name": "Sales voicemail", "queue": "sales", "min_sound_seconds": 3},
            "night": {"name": "Night"},
        }
    )


def batch(box: str, call_id: str, caller: str | None, at: dt.datetime, sound: float) -> list[Any]:
    name = message_name(box, call_id)
    audio = StoredAudio(9.5, sound, "wav", 152_044, "ab" * 32, f"file:///rec/{name}.wav")
    return message_records(config(), box, call_id, caller, at, audio)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'vm.db'}"
    upgrade(url)
    cdr = CdrStore(url)
    cdr.write(batch("billing", "c1", "+15550001", T0, 6.0))
    cdr.write(batch("sales", "c2", "+15550002", T0 + dt.timedelta(minutes=5), 1.0))
    cdr.write(batch("night", "c3", None, T0 + dt.timedelta(minutes=9), 4.0))
    engine = make_engine(url)
    yield cdr, engine
    engine.dispose()
    cdr.dispose()


def test_messages_are_listed_newest_first_with_their_audio(store: Any) -> None:
    _, engine = store
    rows = list_messages(engine, MessageFilter())
    assert [r["recording_name"] for r in rows] == [
        "voicemail-night-c3",
        "voicemail-sales-c2",
        "voicemail-billing-c1",
    ]
    billing = rows[2]
    assert billing["caller_number"] == "+15550001"
    assert billing["queue_id"] == "billing"
    assert billing["status"] == "new" and billing["empty"] is False
    assert billing["sha256"] == "ab" * 32 and billing["size_bytes"] == 152_044
    # Sales wants 3 s of sound: 1 s is an empty message, kept.
    assert rows[1]["empty"] is True


def test_listing_by_box_status_and_caller(store: Any) -> None:
    _, engine = store
    billing = list_messages(engine, MessageFilter(boxes=frozenset({"billing"})))
    assert [r["mailbox"] for r in billing] == ["billing"]
    assert list_messages(engine, MessageFilter(boxes=frozenset())) == []
    assert len(list_messages(engine, MessageFilter(caller="0002"))) == 1
    assert list_messages(engine, MessageFilter(status="handled")) == []
    with pytest.raises(ValueError):
        MessageFilter(status="deleted")


def test_handled_once_with_a_note_and_a_replay_keeps_it(store: Any) -> None:
    cdr, engine = store
    later = T0 + dt.timedelta(hours=1)
    done = mark_handled(engine, "voicemail-billing-c1", "bill", "  called back, sorted  ", later)
    assert done["status"] == "handled"
    assert done["handled_by"] == "bill" and done["note"] == "called back, sorted"
    assert done["handled_at"] == later
    with pytest.raises(AlreadyHandled) as info:
        mark_handled(engine, "voicemail-billing-c1", "sara", None, later)
    assert "already handled by bill" in info.value.message
    # The writer replays its spool after a crash: the message's facts, never its handling.
    cdr.write(batch("billing", "c1", "+15550001", T0, 6.0))
    again = get_message(engine, "voicemail-billing-c1")
    assert again["status"] == "handled" and again["note"] == "called back, sorted"
    assert [r["recording_name"] for r in list_messages(engine, MessageFilter(status="new"))] == [
        "voicemail-night-c3",
        "voicemail-sales-c2",
    ]
    with pytest.raises(MessageNotFound):
        mark_handled(engine, "voicemail-billing-nope", "bill", None, later)


def test_call_back_is_a_pending_request_for_the_dialer(store: Any) -> None:
    _, engine = store
    request = request_callback(engine, "voicemail-billing-c1", "bill", "before 5pm", T0)
    assert request["number"] == "+15550001"
    assert request["queue_id"] == "billing" and request["call_id"] == "c1"
    assert request["source"] == "voicemail" and request["status"] == "pending"
    [pending] = pending_callbacks(engine)
    assert pending["id"] == request["id"] and pending["voicemail"] == "voicemail-billing-c1"
    assert get_message(engine, "voicemail-billing-c1")["callbacks"][0]["requested_by"] == "bill"
    with pytest.raises(CallbackNotPossible, match="already pending"):
        request_callback(engine, "voicemail-billing-c1", "sara", None, T0)
    with pytest.raises(CallbackNotPossible, match="no caller number"):
        request_callback(engine, "voicemail-night-c3", "sara", None, T0)


def test_find_by_name_or_call_id(store: Any) -> None:
    _, engine = store
    assert find_message(engine, "c2")["recording_name"] == "voicemail-sales-c2"
    assert find_message(engine, "voicemail-sales-c2")["call_id"] == "c2"
    with pytest.raises(MessageNotFound):
        find_message(engine, "nothing")


def test_agents_open_the_boxes_of_their_queues_supervisors_all() -> None:
    cfg = config()
    assert serves_queue(cfg, "bill2", "billing")
    assert not serves_queue(cfg, "sale1", "billing")
    assert not serves_queue(cfg, "nobody", "billing")
    bill = VoicemailAccess.of(cfg, Role.AGENT, "bill1")
    assert bill.boxes == {"billing"} and bill.may_open("billing")
    assert not bill.may_open("sales") and not bill.may_open("night")
    assert VoicemailAccess.of(cfg, "agent", "both1").boxes == {"sales"}
    supervisor = VoicemailAccess.of(cfg, Role.SUPERVISOR, None)
    assert all(supervisor.may_open(b) for b in ("billing", "sales", "night"))
    assert not VoicemailAccess.of(cfg, Role.QA, None).any_box
    assert not VoicemailAccess.of(cfg, Role.AGENT, None).any_box


def test_unknown_box_gets_defaults() -> None:
    assert config().mailbox("elsewhere") == Mailbox(name="elsewhere")


def test_retention_follows_the_queue_recording_policy_and_purges_the_message(
    tmp_path: Path,
) -> None:
    from callcenter.recording.retention import purge_expired
    from callcenter.recording.storage import LocalStorage
    from callcenter.sim import wav
    from callcenter.voicemail.testing import stored_audio

    raw = config().model_dump(mode="json", exclude_none=True)
    raw["queues"]["billing"]["recording"] = {"record": "agent", "retention_days": 30}
    cfg = CallCenterConfig.model_validate(raw)
    url = f"sqlite:///{tmp_path / 'vm.db'}"
    upgrade(url)
    files = tmp_path / "rec"
    store = CdrStore(url)
    for box, call_id in (("billing", "c1"), ("sales", "c2")):
        path = files / f"{message_name(box, call_id)}.wav"
        wav.write_wav(path, 3.0)
        store.write(message_records(cfg, box, call_id, "+1555", T0, stored_audio(path)))
    store.dispose()
    engine = make_engine(url)
    try:
        expiry = {r["mailbox"]: r["expires_at"] for r in list_messages(engine, MessageFilter())}
        assert expiry == {
            "billing": T0 + dt.timedelta(days=30),  # the billing queue's policy
            "sales": T0 + dt.timedelta(days=90),  # the default policy
        }
        result = purge_expired(url, LocalStorage(files), now=T0 + dt.timedelta(days=31))
        assert result.deleted == ["voicemail-billing-c1"]
        assert [r["recording_name"] for r in list_messages(engine, MessageFilter())] == [
            "voicemail-sales-c2"
        ]
        assert not (files / "voicemail-billing-c1.wav").exists()
        with engine.connect() as conn:  # the message's row went with its recording's
            assert conn.execute(text("select recording_name from voicemail_messages")).all() == [
                ("voicemail-sales-c2",)
            ]
        with pytest.raises(MessageNotFound):
            get_message(engine, "voicemail-billing-c1")
    finally:
        engine.dispose()
