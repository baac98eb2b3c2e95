"""Live and stored recordings through the simulated ARI: real WAV files of the recorded length."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import pytest

from callcenter.sim.ari_testing import AriEvents, SimEnv, running_sim
from callcenter.sim.pbx import EndpointBehaviour, SimCall, Stasis

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls

APP = "callcenter-test"


async def _bridged_call(sim: SimEnv, events: AriEvents) -> tuple[SimCall, str, str]:
    sim.pbx.dialplan.route("100", Stasis(APP))
    sim.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(0.1))
    call = sim.pbx.place_inbound_call("100", "+15550001")
    caller = (await events.expect("StasisStart"))["channel"]["id"]
    await sim.rest("POST", f"/channels/{caller}/answer")
    _, bridge = await sim.rest("POST", "/bridges", {"type": "mixing"})
    _, agent = await sim.rest("POST", "/channels/create", {"endpoint": "PJSIP/agent1", "app": APP})
    await sim.rest("POST", f"/channels/{agent['id']}/dial", {"caller": caller})
    await events.expect("Dial", lambda e: e["dialstatus"] == "ANSWER")
    await sim.rest(
        "POST", f"/bridges/{bridge['id']}/addChannel", {"channel": f"{caller},{agent['id']}"}
    )
    return call, caller, bridge["id"]


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        return audio.getnframes() / audio.getframerate()


async def test_bridge_recording_with_pause_becomes_a_stored_wav_of_the_recorded_time(
    tmp_path: Path,
) -> None:
    async with running_sim(speed=20.0, recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        _, _, bridge_id = await _bridged_call(sim, events)
        status, live = await sim.rest(
            "POST",
            f"/bridges/{bridge_id}/record",
            {"name": "cc-capture-1", "format": "wav", "ifExists": "overwrite"},
        )
        assert (status, live["target_uri"], live["state"]) == (201, f"bridge:{bridge_id}", "queued")
        started = await events.expect("RecordingStarted")
        assert started["recording"]["state"] == "recording"
        loop = asyncio.get_running_loop()
        began = loop.time()
        sim_loop_wait = 1.0 / sim.pbx.speed
        await asyncio.sleep(sim_loop_wait)  # 1 simulated second recorded
        assert (await sim.rest("POST", "/recordings/live/cc-capture-1/pause"))[0] == 204
        assert (await sim.rest("GET", "/recordings/live/cc-capture-1"))[1]["state"] == "paused"
        await asyncio.sleep(sim_loop_wait)  # 1 simulated second paused: not recorded
        assert (await sim.rest("DELETE", "/recordings/live/cc-capture-1/pause"))[0] == 204
        await asyncio.sleep(sim_loop_wait)
        assert (await sim.rest("POST", "/recordings/live/cc-capture-1/stop"))[0] == 204
        elapsed = (loop.time() - began) * sim.pbx.speed  # simulated seconds, pause included
        finished = await events.expect("RecordingFinished")
        assert finished["recording"]["state"] == "done"
        assert finished["recording"]["duration"] >= 2  # whole seconds

        assert await sim.rest("GET", "/recordings/stored") == (
            200,
            [{"name": "cc-capture-1", "format": "wav"}],
        )
        assert await sim.rest("GET", "/recordings/stored/cc-capture-1") == (
            200,
            {"name": "cc-capture-1", "format": "wav"},
        )
        status, data = await sim.rest("GET", "/recordings/stored/cc-capture-1/file")
        assert status == 200 and data[:4] == b"RIFF"
        # At least the two recorded seconds, and the (at least one) paused second left out.
        assert 2.0 <= _wav_seconds(data) <= elapsed - 0.5
        assert (tmp_path / "cc-capture-1.wav").read_bytes() == data
        assert await sim.rest("GET", "/recordings/live/cc-capture-1") == (
            404,
            {"message": "Recording not found"},
        )


async def test_stored_recording_copy_delete_and_errors(tmp_path: Path) -> None:
    async with running_sim(recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        _, caller, _ = await _bridged_call(sim, events)
        await sim.rest(
            "POST",
            f"/channels/{caller}/record",
            {"name": "one", "format": "wav", "maxDurationSeconds": 2},
        )
        finished = await events.expect("RecordingFinished")
        assert finished["recording"]["duration"] == 2
        assert await sim.rest(
            "POST", "/recordings/stored/one/copy", {"destinationRecordingName": "two"}
        ) == (
            200,
            {"name": "two", "format": "wav"},
        )
        assert (
            await sim.rest(
                "POST", "/recordings/stored/one/copy", {"destinationRecordingName": "two"}
            )
        )[0] == 409
        assert (await sim.rest("DELETE", "/recordings/stored/one"))[0] == 204
        assert await sim.rest("GET", "/recordings/stored/one") == (
            404,
            {"message": "Recording not found"},
        )
        assert (await sim.rest("GET", "/recordings/stored/one/file"))[0] == 404
        assert (
            await sim.rest(
                "POST", "/recordings/stored/nope/copy", {"destinationRecordingName": "x"}
            )
        )[0] == 404
        assert [r["name"] for r in (await sim.rest("GET", "/recordings/stored"))[1]] == ["two"]


async def test_append_cancel_and_terminate_on_dtmf(tmp_path: Path) -> None:
    async with running_sim(recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        call, caller, _ = await _bridged_call(sim, events)
        await sim.rest(
            "POST",
            f"/channels/{caller}/record",
            {"name": "msg", "format": "wav", "maxDurationSeconds": 1},
        )
        await events.expect("RecordingFinished")
        params = {"name": "msg", "format": "wav", "maxDurationSeconds": 1, "ifExists": "append"}
        assert (await sim.rest("POST", f"/channels/{caller}/record", params))[0] == 201
        await events.expect("RecordingFinished")
        _, data = await sim.rest("GET", "/recordings/stored/msg/file")
        assert _wav_seconds(data) >= 2.0

        await sim.rest("POST", f"/channels/{caller}/record", {"name": "dropped", "format": "wav"})
        await events.expect("RecordingStarted")
        assert (await sim.rest("DELETE", "/recordings/live/dropped"))[0] == 204
        canceled = await events.expect("RecordingFinished")
        assert canceled["recording"]["state"] == "canceled"
        assert (await sim.rest("GET", "/recordings/stored/dropped"))[0] == 404

        await sim.rest(
            "POST",
            f"/channels/{caller}/record",
            {"name": "vm", "format": "wav", "terminateOn": "#"},
        )
        await events.expect("RecordingStarted")
        call.send_dtmf("#")
        stopped = await events.expect("RecordingFinished")
        assert stopped["recording"]["name"] == "vm" and stopped["recording"]["state"] == "done"

        status, _body = await sim.rest(
            "POST", f"/channels/{caller}/record", {"name": "../evil", "format": "wav"}
        )
        assert status == 400


async def test_recording_ends_when_the_channel_hangs_up(tmp_path: Path) -> None:
    async with running_sim(recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        call, caller, _ = await _bridged_call(sim, events)
        await sim.rest("POST", f"/channels/{caller}/record", {"name": "cut", "format": "ulaw"})
        await events.expect("RecordingStarted")
        call.hangup()
        finished = await events.expect("RecordingFinished")
        assert finished["recording"]["state"] == "done"
        assert (tmp_path / "cut.ulaw").is_file()
        assert await sim.rest("GET", "/recordings/stored/cut") == (
            200,
            {"name": "cut", "format": "ulaw"},
        )
