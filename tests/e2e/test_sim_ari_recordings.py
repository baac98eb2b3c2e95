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


async def _answered_caller(sim: SimEnv, events: AriEvents) -> tuple[SimCall, str]:
    """A caller in the app, answered, in no bridge (as one leaving a voicemail)."""
    sim.pbx.dialplan.route("100", Stasis(APP))
    call = sim.pbx.place_inbound_call("100", "+15550002")
    caller = (await events.expect("StasisStart"))["channel"]["id"]
    await sim.rest("POST", f"/channels/{caller}/answer")
    return call, caller


async def test_max_silence_ends_a_channel_recording_and_reports_talk(tmp_path: Path) -> None:
    from callcenter.voicemail.sound import sound_seconds

    async with running_sim(recordings_dir=tmp_path, speed=20.0) as sim:
        events = await sim.events(APP)
        call, caller = await _answered_caller(sim, events)
        call.fall_silent()
        await sim.rest(
            "POST",
            f"/channels/{caller}/record",
            {"name": "vm", "format": "wav", "maxDurationSeconds": 60, "maxSilenceSeconds": 3},
        )
        await events.expect("RecordingStarted")
        call.speak(4.0)  # then silence: 3 s of it end the recording (~7 s in all)
        finished = await events.expect("RecordingFinished", timeout=5)
        recording = finished["recording"]
        assert recording["state"] == "done"
        assert 6 <= recording["duration"] <= 8
        assert recording["talking_duration"] == 4
        assert recording["silence_duration"] == recording["duration"] - 4
        assert not call.ended  # the recording ended, the call did not
        _, audio = await sim.rest("GET", "/recordings/stored/vm/file")
        assert sound_seconds(audio, "wav") == pytest.approx(4.0, abs=0.3)
        call.hangup()


async def test_without_max_silence_no_talking_duration(tmp_path: Path) -> None:
    async with running_sim(recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        call, caller = await _answered_caller(sim, events)
        await sim.rest(
            "POST",
            f"/channels/{caller}/record",
            {"name": "m", "maxDurationSeconds": 2, "format": "wav"},
        )
        finished = await events.expect("RecordingFinished")
        assert finished["recording"]["duration"] == 2
        assert "talking_duration" not in finished["recording"]
        call.hangup()


async def test_channel_recording_finishes_after_the_callers_stasis_end(tmp_path: Path) -> None:
    """The caller hangs up while recorded, in no bridge: StasisEnd (and the app's interest in
    the channel) ends first; RecordingFinished still reaches the app, after it."""
    async with running_sim(recordings_dir=tmp_path) as sim:
        events = await sim.events(APP)
        call, caller = await _answered_caller(sim, events)
        await sim.rest(
            "POST", f"/channels/{caller}/record", {"name": "late", "format": "wav", "beep": "true"}
        )
        await events.expect("RecordingStarted")
        await asyncio.sleep(0.05)
        call.hangup()
        seen = await events.collect_until("RecordingFinished")
        kinds = [e["type"] for e in seen]
        assert kinds.index("StasisEnd") < kinds.index("RecordingFinished")
        assert seen[-1]["recording"]["name"] == "late"
        assert seen[-1]["recording"]["state"] == "done"
        assert seen[-1]["recording"]["duration"] >= 1
        assert (tmp_path / "late.wav").is_file()
