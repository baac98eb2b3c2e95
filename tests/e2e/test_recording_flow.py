"""A whole recorded call through the simulated Asterisk (ARI over the wire) into real
PostgreSQL: the CDR, its legs, the recording row, and a valid WAV file whose checksum matches."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from callcenter.asterisk.ari import AriClient, AriNotFound, AriSettings
from callcenter.asterisk.events import AriEvent, Dial, RecordingFinished, StasisStart
from callcenter.asterisk.ids import RecordingName, new_channel_id
from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.writer import CdrWriter
from callcenter.cli import main
from callcenter.config import RecordingPolicy
from callcenter.db.engine import upgrade
from callcenter.hooks import Hooks
from callcenter.recording.recorder import Recorder
from callcenter.recording.storage import LocalStorage, path_of
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimulatedAsterisk, Stasis

pytestmark = pytest.mark.pg

APP = "cc-rec"
E = TypeVar("E", bound=AriEvent)


class Events:
    """Events from the adapter; recordings are also handed to the recorder, as a worker does."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[AriEvent] = asyncio.Queue()
        self.recorder: Recorder | None = None

    def on_event(self, event: AriEvent) -> None:
        if self.recorder is not None:
            self.recorder.on_event(event)
        self.queue.put_nowait(event)

    async def next(self, kind: type[E], **fields: Any) -> E:
        async with asyncio.timeout(5):
            while True:
                event = await self.queue.get()
                if isinstance(event, kind) and all(
                    getattr(event, k) == v for k, v in fields.items()
                ):
                    return event


class HookLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def on_hook(self, event: str, payload: Any) -> None:
        self.events.append((event, dict(payload)))


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    pbx = SimulatedAsterisk(speed=20.0, recordings_dir=tmp_path / "asterisk")
    pbx.dialplan.route("100", Stasis(APP))
    yield pbx
    await pbx.close()


@pytest.fixture
async def server(pbx: SimulatedAsterisk) -> AsyncIterator[AriServer]:
    server = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", "secret")
    yield server
    await server.close()


@pytest.fixture
async def events() -> Events:
    return Events()


@pytest.fixture
async def ari(server: AriServer, events: Events) -> AsyncIterator[AriClient]:
    settings = AriSettings(server.url, "callcenter", "secret", APP, request_timeout=3.0)
    client = AriClient(settings, events.on_event)
    await client.start()
    await client.wait_connected(within=5)
    yield client
    await client.close()


@pytest.fixture
async def writer(pg_url: str, tmp_path: Path) -> AsyncIterator[CdrWriter]:
    upgrade(pg_url)
    writer = CdrWriter(pg_url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    yield writer
    await writer.close()


async def connected_call(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events
) -> tuple[Any, str, str, str, CallRecordBuilder, int]:
    """Caller answered, agent a1 rung and answered, both in a mixing bridge."""
    pbx.register_endpoint("PJSIP", "1001", EndpointBehaviour.answer_after(0.2))
    call = pbx.place_inbound_call("100", "+15550001", caller_name="Alice")
    start = await events.next(StasisStart)
    caller = start.channel.id
    record = CallRecordBuilder(
        "c0ffee" + caller.replace(".", ""),
        dt.datetime.now(dt.UTC),
        caller_number="+15550001",
        dialled_number="100",
        worker_id="w1",
        channel_uniqueid=caller,
        linkedid=caller,
    )
    await ari.answer(caller)
    record.queue_entered("sales")
    bridge = await ari.create_bridge("mixing", name="cc-rec")
    await ari.add_to_bridge(bridge, caller)
    leg_id = new_channel_id()
    seq = record.leg_ringing("a1", "PJSIP/1001", leg_id)
    await ari.create_channel("PJSIP/1001", app_args="agent", channel_id=leg_id)
    await events.next(StasisStart)
    await ari.dial(leg_id, caller=caller, ring_timeout=10)
    await events.next(Dial, dialstatus="ANSWER")
    await ari.add_to_bridge(bridge, leg_id)
    record.leg_answered(seq)
    return call, caller, leg_id, bridge, record, seq


async def test_recorded_call_gives_cdr_legs_recording_row_and_valid_wav(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events, writer: CdrWriter, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "recordings")
    hooks, seen = Hooks(), HookLog()
    hooks.add(seen)
    recorder = Recorder(ari, storage, cdr=writer, hooks=hooks)
    events.recorder = recorder
    call, caller, leg, bridge, record, seq = await connected_call(ari, pbx, events)
    writer.submit(record)  # the call in progress

    policy = RecordingPolicy(record="agent", retention_days=30)
    name = await recorder.start_for_call(
        record.call_id,
        bridge_id=bridge,
        policy=policy,
        agent_id="a1",
        queue_id="sales",
        record=record,
    )
    assert name == record.call_id
    await asyncio.sleep(0.1)
    assert await recorder.pause(record.call_id) == [name]
    assert await recorder.resume(record.call_id) == [name]
    await asyncio.sleep(0.1)
    assert await recorder.stop(record.call_id) == [name]
    info = await recorder.wait_stored(name, within=5)
    assert info is not None

    await ari.hangup(leg)
    record.leg_ended(seq, cause=16)
    await ari.hangup(caller)
    record.ended(side="system", cause=16)
    await ari.destroy_bridge(bridge)
    writer.submit(record)
    await writer.flush()

    # The file: where the row says, a valid WAV, the checksum matches, gone from Asterisk.
    path = path_of(info.storage_url)
    assert path.is_file() and path.is_relative_to(tmp_path / "recordings")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == info.sha256 and len(data) == info.size_bytes
    with wave.open(str(path)) as audio:
        assert audio.getnframes() > 0 and audio.getframerate() > 0
    with pytest.raises(AriNotFound):
        await ari.get_stored_recording(RecordingName(name))
    await hooks.drain()
    assert [(event, p["call_id"], p["sha256"]) for event, p in seen.events] == [
        ("recording_finished", record.call_id, info.sha256)
    ]

    engine = create_engine(writer.store.url)
    with engine.connect() as conn:
        cdr = (
            conn.execute(text("select * from calls where call_id = :c"), {"c": record.call_id})
            .mappings()
            .one()
        )
        legs = (
            conn.execute(text("select * from call_legs where call_id = :c"), {"c": record.call_id})
            .mappings()
            .all()
        )
        rec_row = (
            conn.execute(text("select * from recordings where call_id = :c"), {"c": record.call_id})
            .mappings()
            .one()
        )
    engine.dispose()
    assert cdr["disposition"] == "answered" and cdr["agent_id"] == "a1"
    assert cdr["recording_name"] == name and cdr["channel_uniqueid"] == caller
    assert cdr["caller_number"] == "+15550001" and cdr["dialled_number"] == "100"
    assert [(leg["agent_id"], leg["outcome"], leg["hangup_cause"]) for leg in legs] == [
        ("a1", "answered", 16)
    ]
    assert rec_row["sha256"] == info.sha256 and rec_row["size_bytes"] == len(data)
    assert rec_row["agent_id"] == "a1" and rec_row["queue_id"] == "sales"
    assert rec_row["format"] == "wav" and rec_row["storage_url"] == info.storage_url
    assert rec_row["expires_at"] - rec_row["started_at"] == dt.timedelta(days=30)
    recorder.forget(record.call_id)  # the call is over: nothing kept in memory
    assert recorder.recordings_of(record.call_id) == []
    await recorder.close()
    await call.wait_for("hangup")


async def test_name_taken_in_asterisk_gets_the_next_suffix_and_none_policy_records_nothing(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path / "recordings")
    call, caller, leg, bridge, record, _ = await connected_call(ari, pbx, events)
    policy = RecordingPolicy(record="call")
    assert (
        await Recorder(ari, storage).start_for_call(
            record.call_id, bridge_id=bridge, policy=RecordingPolicy(record="none")
        )
        is None
    )
    # A recording of this call is already stored in Asterisk (e.g. by a worker that crashed).
    await ari.record_bridge(bridge, record.call_id, if_exists="fail")
    await ari.stop_recording(RecordingName(record.call_id))
    await events.next(RecordingFinished, name=record.call_id)

    recorder = Recorder(ari, storage)  # a fresh worker knows nothing of it
    events.recorder = recorder
    name = await recorder.start_for_call(record.call_id, bridge_id=bridge, policy=policy)
    assert name == f"{record.call_id}-2"  # 409 on the first name, never an overwrite
    await ari.hangup(leg)
    await ari.hangup(caller)
    await ari.destroy_bridge(bridge)  # Asterisk ends the bridge's recording itself
    info = await recorder.wait_stored(name, within=5)
    assert info is not None and path_of(info.storage_url).name == f"{name}.wav"
    await recorder.close()
    await call.wait_for("hangup")


async def test_whole_call_policy_records_the_caller_channel_after_a_consent_prompt(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events, tmp_path: Path
) -> None:
    call = pbx.place_inbound_call("100", "+15550002")
    caller = (await events.next(StasisStart)).channel.id
    await ari.answer(caller)
    recorder = Recorder(ari, LocalStorage(tmp_path / "recordings"))
    events.recorder = recorder
    policy = RecordingPolicy(record="call", consent_prompt="sound:this-call-may-be-recorded")
    name = await recorder.start_for_call("call42", channel_id=caller, policy=policy)
    assert name == "call42"
    await asyncio.sleep(0.1)
    await ari.hangup(caller)  # the channel's recording ends with it
    info = await recorder.wait_stored("call42", within=5)
    assert info is not None and info.target == "channel"
    with wave.open(str(path_of(info.storage_url))) as audio:
        assert audio.getnframes() > 0
    assert await recorder.pause("call42") == []  # nothing live any more
    await recorder.close()
    await call.wait_for("hangup")


async def test_a_recording_that_cannot_be_fetched_still_gets_a_row(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events, writer: CdrWriter, tmp_path: Path
) -> None:
    call = pbx.place_inbound_call("100", "+15550003")
    caller = (await events.next(StasisStart)).channel.id
    await ari.answer(caller)
    recorder = Recorder(ari, LocalStorage(tmp_path / "rec"), cdr=writer, download_attempts=2)
    name = await recorder.start_for_call(
        "call43", channel_id=caller, policy=RecordingPolicy(record="call")
    )
    assert name is not None
    await ari.stop_recording(name)
    finished = await events.next(RecordingFinished, name=name)
    await ari.delete_stored_recording(name)  # gone before we could fetch it
    assert await recorder.on_recording_finished(finished) is None
    await writer.flush()
    engine = create_engine(writer.store.url)
    with engine.connect() as conn:
        row = conn.execute(text("select * from recordings where name = 'call43'")).mappings().one()
    engine.dispose()
    assert row["call_id"] == "call43" and row["storage_url"] is None and row["sha256"] is None
    await ari.hangup(caller)
    await recorder.close()
    await call.wait_for("hangup")


async def test_recordings_fetch_completes_rows_of_recordings_left_in_asterisk(
    ari: AriClient,
    pbx: SimulatedAsterisk,
    events: Events,
    writer: CdrWriter,
    server: AriServer,
    tmp_path: Path,
) -> None:
    call = pbx.place_inbound_call("100", "+15550004")
    caller = (await events.next(StasisStart)).channel.id
    await ari.answer(caller)
    await ari.record_channel(caller, "call44", if_exists="fail")
    await asyncio.sleep(0.05)
    await ari.stop_recording(RecordingName("call44"))
    await events.next(RecordingFinished, name="call44")
    started = dt.datetime.now(dt.UTC)
    writer.submit_recording(  # what the recorder writes when the fetch failed at the time
        {
            "name": "call44",
            "call_id": "call44",
            "agent_id": None,
            "queue_id": None,
            "target": "channel",
            "started_at": started,
            "duration_seconds": None,
            "format": "wav",
            "size_bytes": None,
            "storage_url": None,
            "sha256": None,
            "expires_at": started + dt.timedelta(days=1),
            "deleted_at": None,
        }
    )
    await writer.flush()
    config = tmp_path / "callcenter.yaml"
    config.write_text(
        f"""
asterisk:
  ari: {{url: "{server.url}", username: callcenter, password: secret, app: cc-fetch}}
  ami: {{secret: y}}
database: {{url: "{writer.store.url}"}}
recordings: {{directory: "{tmp_path / "fetched"}"}}
queues: {{sales: {{name: Sales}}}}
ivr:
  numbers: {{"100": main}}
  menus: {{main: {{type: menu, choices: {{"1": {{queue: sales}}}}}}}}
  operator_queue: sales
"""
    )
    runner = CliRunner()
    args = ["recordings", "fetch", "-c", str(config), "--json"]
    result = await asyncio.to_thread(runner.invoke, main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"fetched": ["call44"], "gone": [], "failed": []}
    verify = await asyncio.to_thread(
        runner.invoke, main, ["recordings", "verify", "-c", str(config)]
    )
    assert verify.exit_code == 0, verify.output
    with pytest.raises(AriNotFound):
        await ari.get_stored_recording(RecordingName("call44"))
    await ari.hangup(caller)
    await call.wait_for("hangup")


async def test_a_recording_known_only_by_its_name_is_stored_once_after_its_call_is_gone(
    ari: AriClient, pbx: SimulatedAsterisk, events: Events, writer: CdrWriter, tmp_path: Path
) -> None:
    """Started by a worker that died, finished after both legs were destroyed, reported twice
    (a subscribeAll app hears it twice on Asterisk 22.10.1): stored once, by its name."""
    storage = LocalStorage(tmp_path / "recordings")
    hooks, seen = Hooks(), HookLog()
    hooks.add(seen)
    recorder = Recorder(ari, storage, cdr=writer, hooks=hooks)
    events.recorder = recorder
    call, _, leg, bridge, _, _ = await connected_call(ari, pbx, events)
    call_id = "9" * 32
    name = await ari.record_bridge(bridge, call_id, "wav")  # the earlier worker's
    recorder.track(
        name,
        call_id,
        target="bridge",
        policy=RecordingPolicy(record="agent"),
        agent_id="a1",
        queue_id="sales",
    )
    await asyncio.sleep(0.1)
    call.hangup()
    await ari.hangup(leg)
    # Both legs gone, the recorder channel alone: RecordingFinished, nobody's call.
    finished = await events.next(RecordingFinished, name=name)
    info = await recorder.wait_stored(name, within=5)
    assert info is not None and info.call_id == call_id and info.agent_id == "a1"
    assert recorder.on_event(finished)  # the repeat is ours, and ignored
    await ari.destroy_bridge(bridge)
    await writer.flush()
    await hooks.drain()
    assert [event for event, _ in seen.events] == ["recording_finished"]
    engine = create_engine(writer.store.url)
    with engine.connect() as conn:
        rows = conn.execute(text("select name, sha256 from recordings")).all()
    engine.dispose()
    assert rows == [(name, info.sha256)]
    await recorder.close()
