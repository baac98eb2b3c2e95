"""The report / recordings / cdr commands over a real PostgreSQL, through click's CliRunner."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import wave
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.store import CdrStore
from callcenter.cli import main
from callcenter.db.engine import upgrade
from callcenter.recording.storage import LocalStorage, path_of

pytestmark = pytest.mark.pg

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
WINDOW = ["--since", "2026-11-25T00:00+00:00", "--until", "2026-11-26T00:00+00:00"]


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make_call(
    n: int, outcome: str, wait: float, talk: float = 0, wrapup: float = 0
) -> CallRecordBuilder:
    start = n * 600.0
    rec = CallRecordBuilder(
        f"call{n}", at(start), caller_number=f"+4420{n:04d}", dialled_number="100"
    )
    rec.channel_uniqueid = rec.linkedid = f"1764061200.{n}"
    rec.queue_entered("sales", at(start))
    if outcome == "answered":
        leg = rec.leg_ringing("a1", "PJSIP/1001", at=at(start + wait - 2))
        rec.leg_answered(leg, at(start + wait))
        rec.leg_ended(leg, at=at(start + wait + talk), cause=16)
        rec.ended(at(start + wait + talk), side="caller", cause=16)
        rec.wrapup_done(at(start + wait + talk + wrapup))
    else:
        rec.ended(at(start + wait), side="caller", cause=16)
    return rec


def wav_bytes(path: Path, seconds: float = 0.5) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x00" * int(8000 * seconds))
    return path.read_bytes()


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> dict[str, Any]:
    upgrade(pg_url)
    config = tmp_path / "callcenter.yaml"
    config.write_text(
        f"""
asterisk:
  ari: {{password: x}}
  ami: {{secret: y}}
database: {{url: "{pg_url}", spool_dir: "{tmp_path / "spool"}"}}
recordings: {{directory: "{tmp_path / "rec"}"}}
queues:
  sales: {{name: Sales, service_level_seconds: 20}}
ivr:
  numbers: {{"100": main}}
  menus:
    main: {{type: menu, choices: {{"1": {{queue: sales}}}}}}
  operator_queue: sales
"""
    )
    calls = [
        make_call(1, "answered", 10, talk=120, wrapup=30),
        make_call(2, "answered", 30, talk=210, wrapup=10),
        make_call(3, "abandoned", 3),
        make_call(4, "abandoned", 40),
    ]
    storage = LocalStorage(tmp_path / "rec")
    sample = wav_bytes(tmp_path / "sample.wav")
    records: list[dict[str, Any]] = []
    for rec in calls:
        records.append({"table": "calls", "row": rec.call_row()})
        records += [{"table": "call_legs", "row": r} for r in rec.leg_rows()]
        records += [{"table": "call_events", "row": e} for e in rec.event_rows()]
    for n, expires in ((1, dt.datetime(2099, 1, 1, tzinfo=dt.UTC)), (2, T0 - dt.timedelta(days=1))):
        stored = storage.store(f"call{n}", "wav", sample, at(n * 600))
        records.append(
            {
                "table": "recordings",
                "row": {
                    "name": f"call{n}",
                    "call_id": f"call{n}",
                    "agent_id": "a1",
                    "queue_id": "sales",
                    "target": "bridge",
                    "started_at": at(n * 600 + 10),
                    "duration_seconds": 0.5 * n,
                    "format": "wav",
                    "size_bytes": stored.size_bytes,
                    "storage_url": stored.url,
                    "sha256": stored.sha256,
                    "expires_at": expires,
                    "deleted_at": None,
                },
            }
        )
    store = CdrStore(pg_url)
    store.write(records)
    store.dispose()
    return {"config": str(config), "url": pg_url, "tmp": tmp_path}


def run(setup: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> Any:
    depth = 1 if args[0] == "report" else 2  # -c goes after the (sub)command
    return CliRunner().invoke(main, [*args[:depth], "-c", setup["config"], *args[depth:]], env=env)


def test_report_json_csv_and_table(setup: dict[str, Any]) -> None:
    result = run(setup, "report", "--by", "queue", *WINDOW, "--json")
    assert result.exit_code == 0, result.output
    [sales] = json.loads(result.output)["rows"]
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (4, 2, 2)
    assert sales["short_abandoned"] == 1
    assert sales["service_level"] == pytest.approx(33.33)  # 1 within 20 s / (4 - 1)
    assert sales["asa_seconds"] == 20.0 and sales["aht_seconds"] == 185.0
    assert sales["longest_wait_seconds"] == 40.0
    result = run(setup, "report", "--by", "hour", *WINDOW, "--csv")
    lines = result.output.splitlines()
    assert lines[0].startswith("group,offered,answered") and len(lines) == 2
    result = run(setup, "report", "--by", "agent", *WINDOW)
    assert result.exit_code == 0 and "a1" in result.output


def test_report_plot_writes_png_or_says_how_to_install(setup: dict[str, Any]) -> None:
    png = setup["tmp"] / "chart.png"
    result = run(setup, "report", "--by", "day", *WINDOW, "--plot", str(png))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.exit_code == 1
        assert "pip install 'callcenter[plot]'" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recordings_list_filters_and_show(setup: dict[str, Any]) -> None:
    result = run(setup, "recordings", "list", "--json", "--agent", "a1")
    assert result.exit_code == 0, result.output
    assert [r["call_id"] for r in json.loads(result.output)] == ["call2", "call1"]
    result = run(setup, "recordings", "list", "--json", "--min-duration", "0.8")
    assert [r["call_id"] for r in json.loads(result.output)] == ["call2"]
    result = run(setup, "recordings", "list", "--json", "--caller", "+44200001")
    assert [r["call_id"] for r in json.loads(result.output)] == ["call1"]
    result = run(setup, "recordings", "list", "--json", "--disposition", "abandoned_queue")
    assert json.loads(result.output) == []
    assert "call1" in run(setup, "recordings", "list").output

    result = run(setup, "recordings", "show", "call1", "--json")
    detail = json.loads(result.output)
    assert detail["call"]["disposition"] == "answered"
    assert [leg["outcome"] for leg in detail["legs"]] == ["answered"]
    assert detail["events"][0]["kind"] == "call_start"
    assert detail["recordings"][0]["name"] == "call1"
    assert "answered" in run(setup, "recordings", "show", "call1").output
    missing = run(setup, "recordings", "show", "nope")
    assert missing.exit_code == 1 and "no call 'nope'" in missing.output


def test_play_without_a_player_says_where_the_file_is(setup: dict[str, Any]) -> None:
    empty = setup["tmp"] / "empty-bin"
    empty.mkdir()
    result = run(setup, "recordings", "play", "call1", env={"PATH": str(empty)})
    assert result.exit_code == 0, result.output
    assert "the file is" in result.output and "call1.wav" in result.output


def test_export_verify_and_purge(setup: dict[str, Any]) -> None:
    out = setup["tmp"] / "export"
    result = run(setup, "recordings", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(m["file"] for m in manifest) == ["call1.wav", "call2.wav"]
    with wave.open(str(out / "call1.wav")) as audio:
        assert audio.getnframes() == 4000

    assert run(setup, "recordings", "verify").exit_code == 0
    listed = json.loads(run(setup, "recordings", "list", "--json").output)
    path = path_of(next(r["storage_url"] for r in listed if r["call_id"] == "call1"))
    path.write_bytes(path.read_bytes()[:-2] + b"\x00\x00")
    bad = run(setup, "recordings", "verify", "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.output)["bad"] == [
        {"name": "call1", "call_id": "call1", "status": "mismatch"}
    ]

    # call2's recording has expired: the file and its row go, the CDR stays.
    dry = run(setup, "recordings", "purge", "--dry-run", "--json")
    assert json.loads(dry.output)["deleted"] == ["call2"]
    result = run(setup, "recordings", "purge")
    assert result.exit_code == 0 and "deleted 1" in result.output
    remaining = json.loads(run(setup, "recordings", "list", "--json").output)
    assert [r["call_id"] for r in remaining] == ["call1"]
    engine = create_engine(setup["url"])
    with engine.connect() as conn:
        call2 = conn.execute(text("select recording_name from calls where call_id='call2'")).one()
    engine.dispose()
    assert call2 == (None,)
    assert not (setup["tmp"] / "rec" / "2026" / "11" / "25" / "call2.wav").exists()


def test_cdr_reconcile_reports_differences(setup: dict[str, Any]) -> None:
    engine = create_engine(setup["url"])
    with engine.begin() as conn:  # `db upgrade` made it: take it away to see the message
        conn.execute(text("drop table asterisk_cdr"))
    missing = run(setup, "cdr", "reconcile", *WINDOW)
    assert missing.exit_code == 1 and "callcenter db upgrade creates it" in missing.output
    assert run(setup, "cdr", "init-asterisk-table").exit_code == 0
    with engine.begin() as conn:
        rows = [  # call1..3 as Asterisk saw them; call4 missing; one call only Asterisk saw
            ("1764061200.1", at(600), "+44200001", 130),
            ("1764061200.2", at(1200), "+44200002", 200),
            ("1764061200.3", at(1800 + 30), "+44200003", 3),
            ("1764061200.9", at(5000), "+44200009", 20),
        ]
        for uid, when, src, duration in rows:
            conn.execute(
                text(
                    "insert into asterisk_cdr (calldate, src, dst, duration, billsec, disposition, "
                    "uniqueid, linkedid) values (:w, :s, '100', :d, :d, 'ANSWERED', :u, :u)"
                ),
                {"w": when, "s": src, "d": duration, "u": uid},
            )
    engine.dispose()
    result = run(setup, "cdr", "reconcile", *WINDOW, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    kinds = sorted((d["kind"], d["linkedid"]) for d in report["differences"])
    assert kinds == [
        ("asterisk_only", "1764061200.9"),
        ("duration", "1764061200.2"),  # ours 240 s, Asterisk 200 s
        ("ours_only", "1764061200.4"),
        ("start", "1764061200.3"),  # 30 s apart
    ]
    assert report["matched"] == 3


def test_every_command_has_help() -> None:
    def walk(command: click.Command, path: list[str]) -> None:
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert command.help or command.short_help or command.callback.__doc__, path  # type: ignore[union-attr]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    for name in ("report", "recordings", "cdr"):
        walk(main.commands[name], [name])


async def test_cdr_spool_status_and_replay_of_a_stopped_worker(setup: dict[str, Any]) -> None:
    from callcenter.cdr.testing import free_port
    from callcenter.cdr.writer import CdrWriter

    dead_url = setup["url"].replace("127.0.0.1:5432", f"127.0.0.1:{free_port()}")
    writer = CdrWriter(dead_url, setup["tmp"] / "spool" / "cdr-w7", flush_interval_ms=5)
    await writer.start()
    writer.submit(make_call(7, "answered", 12, talk=60))
    await writer.flush()
    await writer.close(drain_timeout=0.1)
    status = json.loads(run(setup, "cdr", "spool", "--json").output)
    assert status == [{"worker": "w7", "pending": writer.stats.spooled, "rejected": 0}]

    result = await asyncio.to_thread(run, setup, "cdr", "replay", "--worker", "w7")
    assert result.exit_code == 0, result.output
    assert f"replayed {writer.stats.spooled}" in result.output
    status = json.loads(run(setup, "cdr", "spool", "--json").output)
    assert status[0]["pending"] == 0
    detail = json.loads(run(setup, "recordings", "show", "call7", "--json").output)
    assert detail["call"]["disposition"] == "answered"
