"""``callcenter voicemail list|play|handle|callback`` and ``recordings list --kind`` on a
SQLite database holding one conversation and two messages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from callcenter.cdr.store import CdrStore
from callcenter.cli import main
from callcenter.config import load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call, Recording
from callcenter.sim import wav
from callcenter.voicemail.testing import message_records, stored_audio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'cc.db'}"}
    raw["recordings"]["directory"] = str(tmp_path / "rec")
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path, env={})
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    with Session(engine) as session:
        session.add(Call(call_id="talk1", caller_number="+15550001", started_at=T0, updated_at=T0))
        session.add(
            Recording(name="talk1", call_id="talk1", started_at=T0, format="wav", kind="call")
        )
        session.commit()
    engine.dispose()
    store = CdrStore(config.database.url)
    for box, call_id, caller, talk in (
        ("sales", "vm1", "+15550002", 4.0),
        ("billing", "vm2", "+15550003", 0.5),
    ):
        audio = tmp_path / "rec" / f"voicemail-{box}-{call_id}.wav"
        wav.write_wav(audio, talk)
        left = T0 + dt.timedelta(minutes=len(call_id) + talk)
        store.write(message_records(config, box, call_id, caller, left, stored_audio(audio)))
    store.dispose()
    # No audio player on the PATH: `play` says where the file is.
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_list_new_messages_by_box_and_caller(setup: Path) -> None:
    rows = as_json(run(setup, "voicemail", "list", "--json"))
    assert [r["recording_name"] for r in rows] == ["voicemail-sales-vm1", "voicemail-billing-vm2"]
    sales = rows[0]
    assert sales["caller_number"] == "+15550002" and sales["status"] == "new"
    assert sales["sound_seconds"] == pytest.approx(4.0, abs=0.05)
    assert rows[1]["empty"] is True  # half a second of sound: less than the 2 s minimum
    rows = as_json(run(setup, "voicemail", "list", "--json", "--box", "billing"))
    assert [r["mailbox"] for r in rows] == ["billing"]
    rows = as_json(run(setup, "voicemail", "list", "--json", "--caller", "0002"))
    assert [r["call_id"] for r in rows] == ["vm1"]
    text = run(setup, "voicemail", "list").output
    assert "voicemail-sales-vm1" in text and "+15550002" in text


def test_unknown_box_is_a_usage_error(setup: Path) -> None:
    result = run(setup, "voicemail", "list", "--box", "salse")
    assert result.exit_code == 2
    assert "no voicemail box 'salse' (boxes: billing, general, sales)" in result.output


def test_handle_once_then_refused(setup: Path) -> None:
    done = as_json(
        run(setup, "voicemail", "handle", "vm1", "--note", "called back", "--by", "sara", "--json")
    )
    assert done["status"] == "handled" and done["handled_by"] == "sara"
    assert done["note"] == "called back"
    again = run(setup, "voicemail", "handle", "voicemail-sales-vm1", "--by", "bob")
    assert again.exit_code == 1
    assert "already handled by sara" in again.output
    assert (
        as_json(run(setup, "voicemail", "list", "--json", "--status", "handled"))[0][
            "recording_name"
        ]
        == "voicemail-sales-vm1"
    )
    missing = run(setup, "voicemail", "handle", "nothing")
    assert missing.exit_code == 1 and "no voicemail message or call 'nothing'" in missing.output


def test_callback_request_and_play(setup: Path) -> None:
    request = as_json(run(setup, "voicemail", "callback", "vm2", "--by", "erin", "--json"))
    assert (request["number"], request["status"], request["queue_id"]) == (
        "+15550003",
        "pending",
        "billing",
    )
    assert run(setup, "voicemail", "callback", "vm2").exit_code == 1
    played = run(setup, "voicemail", "play", "vm2")
    assert played.exit_code == 0
    assert "no audio player found" in played.output
    assert "voicemail-billing-vm2.wav" in played.output


def test_recordings_list_tells_kinds_apart(setup: Path) -> None:
    everything = as_json(run(setup, "recordings", "list", "--json"))
    assert {(r["name"], r["kind"]) for r in everything} == {
        ("talk1", "call"),
        ("voicemail-sales-vm1", "voicemail"),
        ("voicemail-billing-vm2", "voicemail"),
    }
    calls = as_json(run(setup, "recordings", "list", "--json", "--kind", "call"))
    assert [r["name"] for r in calls] == ["talk1"]
    messages = as_json(run(setup, "recordings", "list", "--json", "--kind", "voicemail"))
    assert len(messages) == 2
    assert run(setup, "recordings", "list", "--kind", "fax").exit_code == 2


def test_a_database_never_migrated_is_one_clear_line(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'empty.db'}"}
    config = tmp_path / "callcenter.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = run(config, "voicemail", "list")
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot read the database (no such table")
    assert "callcenter db upgrade" in result.output
