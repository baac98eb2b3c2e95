"""The call flow of the Asterisk 22 capture, replayed over the wire against the simulated ARI.

Each test pins one behaviour listed in /work/shared/asterisk/README.md (event order, fields).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from callcenter.sim.ari_testing import AriEvents, SimEnv, running_sim
from callcenter.sim.pbx import EndpointBehaviour, PlayThenHangup, SimCall, Stasis

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls

APP = "callcenter-test"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


async def _caller_in_app(
    sim: SimEnv, events: AriEvents, *, answer: bool = True
) -> tuple[SimCall, str]:
    sim.pbx.dialplan.route("100", Stasis(APP))
    call = sim.pbx.place_inbound_call("100", "+15550001", "Caller 1")
    start = await events.expect("StasisStart")
    channel_id = start["channel"]["id"]
    if answer:
        status, _ = await sim.rest("POST", f"/channels/{channel_id}/answer")
        assert status == 204
        await events.expect("ChannelStateChange")
    return call, channel_id


async def test_inbound_call_gives_stasis_start_with_the_capture_fields() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        sim.pbx.dialplan.route("100", Stasis(APP, "ivr", "fr"))
        sim.pbx.place_inbound_call("100", "+15550001", "Caller 1")
        start = await events.expect("StasisStart")
        assert list(start) == ["type", "timestamp", "args", "channel", "asterisk_id", "application"]
        assert start["args"] == ["ivr", "fr"]
        assert TIMESTAMP.match(start["timestamp"])
        assert start["application"] == APP
        assert start["asterisk_id"] == "02:fc:00:00:00:01"
        channel = start["channel"]
        assert channel["state"] == "Ring"
        assert re.match(r"^\d+\.\d+$", channel["id"])
        assert re.match(r"^PJSIP/callers-[0-9a-f]{8}$", channel["name"])
        assert channel["caller"] == {"name": "Caller 1", "number": "+15550001"}
        assert channel["dialplan"] == {
            "context": "from-callers",
            "exten": "100",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": f"{APP},ivr,fr",
        }
        # StasisStart is the first event of that channel the app sees.
        assert events.seen[0] is start


async def test_answer_variables_and_playbacks_as_in_the_capture() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        call, cid = await _caller_in_app(sim, events)
        assert call.answered

        assert (
            await sim.rest(
                "POST", f"/channels/{cid}/variable", {"variable": "CC_TEST", "value": "hello"}
            )
        )[0] == 204
        varset = await events.expect("ChannelVarset")
        assert (varset["variable"], varset["value"]) == ("CC_TEST", "hello")
        assert await sim.rest("GET", f"/channels/{cid}/variable", {"variable": "CC_TEST"}) == (
            200,
            {"value": "hello"},
        )
        assert await sim.rest("GET", f"/channels/{cid}/variable", {"variable": "NO_SUCH_VAR"}) == (
            404,
            {"message": "Provided variable was not found"},
        )

        status, playback = await sim.rest(
            "POST", f"/channels/{cid}/play", {"media": "sound:hello-world"}
        )
        assert status == 201
        assert playback["state"] == "queued"
        assert playback["target_uri"] == f"channel:{cid}"
        started = await events.expect("PlaybackStarted")
        assert started["playback"]["state"] == "playing"
        finished = await events.expect("PlaybackFinished")
        assert finished["playback"]["state"] == "done"
        # Once finished, the playback is gone: stopping it is a 404 (a digit raced the end).
        assert await sim.rest("DELETE", f"/playbacks/{playback['id']}") == (
            404,
            {"message": "Playback not found"},
        )
        assert await sim.rest("GET", f"/playbacks/{playback['id']}") == (
            404,
            {"message": "Playback not found"},
        )

        # A missing file still answers 201, then Started and Finished(failed) at once.
        status, missing = await sim.rest(
            "POST", f"/channels/{cid}/play", {"media": "sound:no-such-sound-file"}
        )
        assert status == 201
        status, digits = await sim.rest("POST", f"/channels/{cid}/play", {"media": "digits:1234"})
        seq = await events.collect_until(
            "PlaybackFinished", lambda e: e["playback"]["id"] == digits["id"]
        )
        summary = [
            (e["type"], e["playback"]["id"], e["playback"]["state"]) for e in seq if "playback" in e
        ]
        assert summary == [
            ("PlaybackStarted", missing["id"], "playing"),
            ("PlaybackFinished", missing["id"], "failed"),
            ("PlaybackStarted", digits["id"], "playing"),
            ("PlaybackFinished", digits["id"], "done"),
        ]
        assert call.heard == ["sound:hello-world", "digits:1234"]


async def test_dtmf_arrives_with_digit_and_duration_and_stopping_a_prompt_works() -> None:
    async with running_sim(speed=5.0) as sim:
        events = await sim.events(APP)
        call, cid = await _caller_in_app(sim, events)
        _, playback = await sim.rest("POST", f"/channels/{cid}/play", {"media": "sound:tt-monkeys"})
        await events.expect("PlaybackStarted")
        call.send_dtmf("1", duration_ms=280)
        dtmf = await events.expect("ChannelDtmfReceived")
        assert (dtmf["digit"], dtmf["duration_ms"]) == ("1", 280)
        assert dtmf["channel"]["id"] == cid
        # No barge-in option on play: the app stops the prompt itself.
        assert (await sim.rest("DELETE", f"/playbacks/{playback['id']}"))[0] == 204
        finished = await events.expect("PlaybackFinished")
        assert finished["playback"]["state"] == "done"
        for digit in "234#":
            call.send_dtmf(digit)
        digits = [(await events.expect("ChannelDtmfReceived"))["digit"] for _ in range(4)]
        assert "".join(digits) == "234#"


async def test_agent_created_dialled_bridged_then_hung_up_by_the_app() -> None:
    async with running_sim() as sim:
        sim.pbx.register_endpoint(
            "PJSIP", "agent1", EndpointBehaviour.answer_after(1.0), context="from-agents"
        )
        events = await sim.events(APP)
        call, caller_id = await _caller_in_app(sim, events)

        status, bridge = await sim.rest("POST", "/bridges", {"type": "mixing", "name": "cc-test"})
        assert status == 200
        assert bridge["bridge_type"] == "mixing" and bridge["channels"] == []
        assert (
            await sim.rest("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": caller_id})
        )[0] == 204
        entered = await events.expect("ChannelEnteredBridge")
        assert entered["bridge"]["channels"] == [caller_id]

        status, agent = await sim.rest(
            "POST",
            "/channels/create",
            {"endpoint": "PJSIP/agent1", "app": APP, "appArgs": "agent,x", "originator": caller_id},
        )
        assert status == 200
        assert agent["state"] == "Down"
        assert agent["dialplan"]["app_name"] == ""  # snapshot taken before Stasis, as on Asterisk
        agent_id = agent["id"]
        # channels/create: StasisStart (Down) comes at once, before any dial.
        seq = await events.collect_until("StasisStart")
        assert types(seq) == ["ChannelDialplan", "ChannelVarset", "StasisStart"]
        assert seq[-1]["args"] == ["agent", "x"] and seq[-1]["channel"]["state"] == "Down"
        connected = await events.expect("ChannelConnectedLine")
        assert connected["channel"]["connected"] == {"name": "Caller 1", "number": "+15550001"}

        assert (
            await sim.rest(
                "POST", f"/channels/{agent_id}/dial", {"caller": caller_id, "timeout": 15}
            )
        ) == (204, None)
        dial = await events.expect("Dial")
        assert (dial["dialstatus"], dial["dialstring"], dial["forward"]) == ("", "agent1", "")
        assert dial["peer"]["id"] == agent_id
        assert (
            await sim.rest("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": agent_id})
        )[0] == 204
        # As in this call-flow capture (and the bridged-calls one): Ringing, then Dial RINGING.
        state = await events.expect("ChannelStateChange")
        assert state["channel"]["state"] == "Ringing"
        ringing = await events.expect("Dial")
        assert ringing["dialstatus"] == "RINGING"
        seq = await events.collect_until("Dial", lambda e: e["dialstatus"] == "ANSWER")
        assert [e["channel"]["state"] for e in seq if e["type"] == "ChannelStateChange"] == ["Up"]
        peers = {
            e["channel"]["id"]: e["value"]
            for e in events.seen
            if e.get("variable") == "BRIDGEPEER" and e["value"]
        }
        assert set(peers) == {caller_id, agent_id}
        assert sorted(call.bridged_with) == [agent_id]

        status, channels = await sim.rest("GET", "/channels")
        assert {c["id"]: c["state"] for c in channels} == {caller_id: "Up", agent_id: "Up"}

        # The app hangs the agent up: HangupRequest, LeftBridge, StasisEnd, Destroyed.
        assert (await sim.rest("DELETE", f"/channels/{agent_id}", {"reason": "normal"}))[0] == 204
        seq = await events.collect_until(
            "ChannelDestroyed", lambda e: e["channel"]["id"] == agent_id
        )
        agent_events = [
            e
            for e in seq
            if e.get("channel", {}).get("id") == agent_id and e["type"] != "ChannelVarset"
        ]
        assert types(agent_events) == [
            "ChannelHangupRequest",
            "ChannelLeftBridge",
            "StasisEnd",
            "ChannelDestroyed",
        ]
        assert agent_events[0]["cause"] == 32 and agent_events[0]["soft"] is True
        assert (agent_events[-1]["cause"], agent_events[-1]["cause_txt"]) == (16, "Normal Clearing")
        assert agent_events[-1]["channel"]["dialplan"]["app_name"] == ""
        agent_phone = sim.pbx.endpoints["PJSIP/agent1"].handle
        assert agent_phone is not None and agent_phone.calls[0].hangup_cause == 16

        # The caller hangs up while in the bridge: ChannelDestroyed does reach the app here.
        call.hangup()
        seq = await events.collect_until("ChannelDestroyed")
        assert types([e for e in seq if e["type"] != "ChannelVarset"]) == [
            "ChannelHangupRequest",
            "ChannelLeftBridge",
            "StasisEnd",
            "ChannelHangupRequest",
            "ChannelDestroyed",
        ]
        assert "cause" not in seq[[e["type"] for e in seq].index("ChannelHangupRequest")]
        assert await sim.rest("DELETE", f"/channels/{caller_id}") == (
            404,
            {"message": "Channel not found"},
        )

        # Bridges outlive their channels until the app deletes them.
        status, bridges = await sim.rest("GET", "/bridges")
        assert [b["id"] for b in bridges] == [bridge["id"]]
        assert (await sim.rest("DELETE", f"/bridges/{bridge['id']}"))[0] == 204
        destroyed = await events.expect("BridgeDestroyed")
        assert destroyed["bridge"]["id"] == bridge["id"]
        assert await sim.rest("GET", "/bridges") == (200, [])


async def test_caller_hanging_up_outside_a_bridge_gets_no_channel_destroyed() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        call, cid = await _caller_in_app(sim, events)
        call.hangup()
        seq = await events.collect_until("StasisEnd")
        assert types([e for e in seq if e["type"] != "ChannelVarset"]) == [
            "ChannelHangupRequest",
            "StasisEnd",
        ]
        # Make sure nothing else about that channel follows.
        sim.pbx.dialplan.route("101", Stasis(APP, "marker"))
        sim.pbx.place_inbound_call("101", "+15550002")
        after = await events.collect_until("StasisStart")
        assert [e for e in after if e.get("channel", {}).get("id") == cid] == []
        assert call.hangup_cause == 16


async def test_music_on_hold_on_a_bridge_and_its_errors() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        call, cid = await _caller_in_app(sim, events)
        _, bridge = await sim.rest("POST", "/bridges", {"type": "holding", "name": "cc-hold"})
        assert bridge["technology"] == "holding_bridge" and bridge["bridge_type"] == "holding"
        await sim.rest(
            "POST", f"/bridges/{bridge['id']}/addChannel", {"channel": cid, "role": "participant"}
        )
        assert await sim.rest("DELETE", f"/bridges/{bridge['id']}/moh") == (
            409,
            {"message": "Bridge isn't playing music"},
        )
        assert (await sim.rest("POST", f"/bridges/{bridge['id']}/moh", {"mohClass": "default"}))[
            0
        ] == 204
        await call.wait_for("moh_started")
        assert (await sim.rest("DELETE", f"/bridges/{bridge['id']}/moh"))[0] == 204
        assert (await sim.rest("POST", f"/bridges/{bridge['id']}/removeChannel", {"channel": cid}))[
            0
        ] == 204
        left = await events.expect("ChannelLeftBridge")
        assert left["bridge"]["channels"] == []
        assert await sim.rest(
            "POST", f"/bridges/{bridge['id']}/removeChannel", {"channel": "gone.1"}
        ) == (
            400,
            {"message": "Channel not found"},
        )
        _, status_app = await sim.rest("GET", f"/applications/{APP}")
        assert status_app["bridge_ids"] == [bridge["id"]]
        assert status_app["channel_ids"] == [cid]


async def test_snoop_channel_enters_the_app_and_ends_with_its_target() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        call, cid = await _caller_in_app(sim, events)
        status, snoop = await sim.rest(
            "POST", f"/channels/{cid}/snoop", {"spy": "both", "app": APP, "appArgs": "snoop"}
        )
        assert status == 200
        assert snoop["name"].startswith(f"Snoop/{cid}-")
        assert snoop["state"] == "Up"
        start = await events.expect("StasisStart")
        assert start["args"] == ["snoop"] and start["channel"]["id"] == snoop["id"]
        assert start["channel"]["dialplan"]["app_data"] == f"{APP},snoop"
        call.hangup()
        end = await events.expect("StasisEnd", lambda e: e["channel"]["id"] == snoop["id"])
        assert end["channel"]["name"] == snoop["name"]


@pytest.mark.parametrize("speed", [50.0])
async def test_continue_in_dialplan_ends_stasis_at_once(speed: float) -> None:
    async with running_sim(speed=speed) as sim:
        events = await sim.events(APP)
        sim.pbx.dialplan.route("200", PlayThenHangup("hello-world"))
        call, cid = await _caller_in_app(sim, events)
        status, _ = await sim.rest(
            "POST",
            f"/channels/{cid}/continue",
            {"context": "from-callers", "extension": "200", "priority": 1},
        )
        assert status == 204
        end = await events.expect("StasisEnd")
        assert end["channel"]["id"] == cid
        await call.wait_for("hangup")
        assert call.heard[-1] == "sound:hello-world"


async def test_bridge_helpers_show_in_bridgepeer_like_the_capture(tmp_path: Any) -> None:
    async with running_sim(recordings_dir=tmp_path) as sim:
        sim.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(0.1))
        events = await sim.events(APP)
        _, caller = await _caller_in_app(sim, events)
        _, bridge = await sim.rest("POST", "/bridges", {"type": "mixing"})
        await sim.rest("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": caller})
        await sim.rest("POST", f"/bridges/{bridge['id']}/moh")
        moh_peer = await events.expect("ChannelVarset", lambda e: e["variable"] == "BRIDGEPEER")
        assert re.match(r"^Announcer/ARI_MOH-[0-9a-f]{8};2$", moh_peer["value"])
        await sim.rest("DELETE", f"/bridges/{bridge['id']}/moh")
        _, agent = await sim.rest(
            "POST", "/channels/create", {"endpoint": "PJSIP/agent1", "app": APP}
        )
        await sim.rest("POST", f"/channels/{agent['id']}/dial", {"caller": caller})
        # The dial's caller becomes the agent's connected line.
        connected = await events.expect("ChannelConnectedLine")
        assert connected["channel"]["connected"]["number"] == "+15550001"
        await events.expect("Dial", lambda e: e["dialstatus"] == "ANSWER")
        await sim.rest("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": agent["id"]})
        await sim.rest("POST", f"/bridges/{bridge['id']}/record", {"name": "r1", "format": "wav"})
        with_recorder = await events.expect(
            "ChannelVarset", lambda e: e["variable"] == "BRIDGEPEER" and "Recorder" in e["value"]
        )
        assert re.match(r"^Recorder/ARI-[0-9a-f]{8};2,PJSIP/", with_recorder["value"])
        await sim.rest("POST", "/recordings/live/r1/stop")
        back = await events.expect(
            "ChannelVarset",
            lambda e: e["variable"] == "BRIDGEPEER" and e["channel"]["id"] == caller,
        )
        assert back["value"] == agent["name"]


async def test_after_continue_the_app_hears_nothing_more_of_the_channel() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        sim.pbx.dialplan.route("200", PlayThenHangup("beep"))
        call, cid = await _caller_in_app(sim, events)
        await sim.rest("POST", f"/channels/{cid}/continue", {"extension": "200"})
        await events.expect("StasisEnd")
        await call.wait_for("hangup")
        sim.pbx.dialplan.route("101", Stasis(APP, "marker"))
        sim.pbx.place_inbound_call("101", "+15550002")
        after = await events.collect_until("StasisStart")
        assert [e for e in after if e.get("channel", {}).get("id") == cid] == []
