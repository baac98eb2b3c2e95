"""The simulated PBX core without any socket: ARI events go to a list, listeners to another."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callcenter.sim import pbx as sim
from callcenter.sim.pbx import EndpointBehaviour, PbxError, Reject, SimulatedAsterisk, Stasis

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls

APP = "app"


class Harness:
    """A PBX with one connected app (events in ``ari``), listener events in ``internal``."""

    def __init__(self, speed: float = 100.0, recordings_dir: Path | None = None) -> None:
        self.pbx = SimulatedAsterisk(speed=speed, recordings_dir=recordings_dir)
        self.ari: list[dict[str, Any]] = []
        self.internal: list[sim.PbxEvent] = []
        self.pbx.connect_app(APP, self.ari.append)
        self.pbx.add_listener(self.internal.append)
        self.pbx.dialplan.route("100", Stasis(APP, "a", "b"))

    def ari_types(self, channel_id: str | None = None) -> list[str]:
        return [
            e["type"]
            for e in self.ari
            if channel_id is None or e.get("channel", e.get("peer", {})).get("id") == channel_id
        ]

    def internal_types(self) -> list[str]:
        return [type(e).__name__ for e in self.internal]

    async def until(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Let the loop run the PBX's timers until ``condition`` holds (no timing asserted)."""
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 (polls plain sim state)
                await asyncio.sleep(0.002)


@pytest.fixture
async def harness() -> Any:
    h = Harness()
    yield h
    await h.pbx.close()


async def test_inbound_call_enters_stasis_with_args_and_listeners_see_it(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "+15550001", "Alice")
    assert harness.ari_types() == ["StasisStart"]
    assert harness.ari[0]["args"] == ["a", "b"]
    assert harness.internal_types() == ["ChannelCreated", "ChannelDialplanChanged", "ChannelVarSet"]
    created = harness.internal[0]
    assert isinstance(created, sim.ChannelCreated)
    assert created.channel.caller_number == "+15550001"
    assert created.channel.endpoint is None  # no PJSIP/callers endpoint registered
    assert harness.pbx.apps[APP].channel_ids == {call.channel_id}


async def test_app_answer_and_hangup_give_state_change_and_hangup_with_cause(
    harness: Harness,
) -> None:
    call = harness.pbx.place_inbound_call("100", "+15550001")
    harness.pbx.answer(call.channel_id)
    harness.pbx.hangup(call.channel_id, reason="busy")
    types = [t for t in harness.ari_types(call.channel_id) if t != "ChannelVarset"]
    assert types[-3:] == [
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    destroyed = harness.ari[-1]
    assert (destroyed["cause"], destroyed["cause_txt"]) == (17, "User busy")
    hung_up = [e for e in harness.internal if isinstance(e, sim.ChannelHungUp)]
    assert [(e.cause, e.cause_txt) for e in hung_up] == [(17, "User busy")]
    assert call.hangup_cause == 17
    assert call.channel_id not in harness.pbx.channels
    with pytest.raises(PbxError) as info:
        harness.pbx.answer(call.channel_id)
    assert (info.value.status, info.value.body()) == (404, {"message": "Channel not found"})


async def test_hangup_reason_must_be_one_asterisk_knows(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "+15550001")
    with pytest.raises(PbxError) as info:
        harness.pbx.hangup(call.channel_id, reason="because")
    assert info.value.status == 400
    harness.pbx.hangup(call.channel_id, reason_code="21")
    assert harness.ari[-1]["cause"] == 21


async def test_calls_to_unknown_or_rejected_extensions_end_with_their_cause() -> None:
    h = Harness()
    h.pbx.dialplan.route("999", Reject(cause=21))
    rejected = h.pbx.place_inbound_call("999", "1")
    unknown = h.pbx.place_inbound_call("555", "1")
    assert (rejected.hangup_cause, unknown.hangup_cause) == (21, 1)
    assert h.ari == []  # never in Stasis: the app hears nothing
    await h.pbx.close()


async def test_stasis_app_without_websocket_fails_the_call() -> None:
    pbx = SimulatedAsterisk(speed=100)
    pbx.dialplan.route("100", Stasis("nobody"))
    call = pbx.place_inbound_call("100", "1")
    assert call.ended and call.hangup_cause == 16
    await pbx.close()


async def test_create_then_dial_answer_flow_and_internal_dial_events(harness: Harness) -> None:
    agent_phone = harness.pbx.register_endpoint(
        "PJSIP", "1001", EndpointBehaviour.answer_after(1.0)
    )
    caller = harness.pbx.place_inbound_call("100", "+15550001", "Alice")
    agent, snapshot = harness.pbx.create_channel(
        "PJSIP/1001", APP, "agent", originator=caller.channel_id
    )
    assert snapshot["state"] == "Down" and snapshot["dialplan"]["app_name"] == ""
    assert agent.linkedid == caller.channel_id  # same call for AMI (Linkedid)
    harness.pbx.dial(agent.id, caller=caller.channel_id, timeout=15)
    await harness.until(lambda: any(e.get("dialstatus") == "ANSWER" for e in harness.ari))
    assert [e["dialstatus"] for e in harness.ari if e["type"] == "Dial"] == [
        "",
        "RINGING",
        "ANSWER",
    ]
    began = [e for e in harness.internal if isinstance(e, sim.DialBegan)]
    ended = [e for e in harness.internal if isinstance(e, sim.DialEnded)]
    assert began[0].dialstring == "PJSIP/1001" and began[0].caller is not None
    assert [e.dialstatus for e in ended] == ["ANSWER"]
    ringing_call = await agent_phone.next_call(timeout=1)
    assert ringing_call.answered
    with pytest.raises(PbxError):
        harness.pbx.dial(agent.id)  # not Down any more


@pytest.mark.parametrize(
    ("behaviour", "cause", "dialstatus"),
    [
        (EndpointBehaviour.busy(), 17, "BUSY"),
        (EndpointBehaviour.reject(), 21, "CONGESTION"),
        (EndpointBehaviour("unavailable"), 20, "CHANUNAVAIL"),
        (EndpointBehaviour.never_answer(), 19, "NOANSWER"),
    ],
)
async def test_dial_failures_end_with_the_q850_cause(
    harness: Harness, behaviour: EndpointBehaviour, cause: int, dialstatus: str
) -> None:
    harness.pbx.register_endpoint("PJSIP", "1002", behaviour)
    agent, _ = harness.pbx.create_channel("PJSIP/1002", APP)
    harness.pbx.dial(agent.id, timeout=2)
    await harness.until(lambda: agent.gone)
    assert agent.gone
    assert harness.ari[-1]["type"] == "ChannelDestroyed" and harness.ari[-1]["cause"] == cause
    assert [e.dialstatus for e in harness.internal if isinstance(e, sim.DialEnded)] == [dialstatus]
    # No Dial event other than "" and RINGING reaches the app.
    assert {e["dialstatus"] for e in harness.ari if e["type"] == "Dial"} <= {"", "RINGING"}


async def test_behaviour_can_be_chosen_per_call(harness: Harness) -> None:
    choices = iter([EndpointBehaviour.busy(), EndpointBehaviour.answer_after(0.1)])
    harness.pbx.register_endpoint("PJSIP", "1003", lambda call: next(choices))
    first, _ = harness.pbx.create_channel("PJSIP/1003", APP)
    harness.pbx.dial(first.id)
    second, _ = harness.pbx.create_channel("PJSIP/1003", APP)
    harness.pbx.dial(second.id)
    await harness.until(lambda: first.gone and second.state == "Up")
    assert first.gone and second.state == "Up"


async def test_agent_talks_then_hangs_up_by_itself(harness: Harness) -> None:
    harness.pbx.register_endpoint(
        "PJSIP", "1004", EndpointBehaviour.answer_after(0.1, talk_seconds=1.0)
    )
    agent, _ = harness.pbx.create_channel("PJSIP/1004", APP)
    harness.pbx.dial(agent.id)
    await harness.until(lambda: agent.gone)
    # The agent's BYE outside any bridge: StasisEnd is the last thing the app hears.
    assert agent.gone and harness.ari[-1]["type"] == "StasisEnd"


async def test_device_state_follows_the_agent_channel(harness: Harness) -> None:
    harness.pbx.register_endpoint("PJSIP", "1005", EndpointBehaviour.answer_after(0.5))
    agent, _ = harness.pbx.create_channel("PJSIP/1005", APP)
    harness.pbx.dial(agent.id)
    await harness.until(lambda: agent.state == "Up")
    harness.pbx.hangup(agent.id)
    states = [
        e.state
        for e in harness.internal
        if isinstance(e, sim.DeviceStateChanged) and e.device == "PJSIP/1005"
    ]
    assert states == ["NOT_INUSE", "INUSE", "RINGING", "INUSE", "NOT_INUSE"]


async def test_playbacks_on_one_channel_play_one_after_the_other(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "1")
    first = harness.pbx.play(
        f"channel:{call.channel_id}", ["sound:beep"], language=None, playback_id=None
    )
    second = harness.pbx.play(
        f"channel:{call.channel_id}", ["digits:12"], language=None, playback_id=None
    )
    await harness.until(lambda: len(call.heard) == 2 and second["id"] not in harness.pbx.playbacks)
    order = [(e["type"], e["playback"]["id"]) for e in harness.ari if "playback" in e]
    assert order == [
        ("PlaybackStarted", first["id"]),
        ("PlaybackFinished", first["id"]),
        ("PlaybackStarted", second["id"]),
        ("PlaybackFinished", second["id"]),
    ]
    assert call.heard == ["sound:beep", "digits:12"]


async def test_media_durations() -> None:
    pbx = SimulatedAsterisk(sounds={"custom/welcome": 3.0})
    assert pbx.media_duration("sound:custom/welcome") == 3.0
    assert pbx.media_duration("sound:hello-world") == pytest.approx(1.4)
    assert pbx.media_duration("digits:1234") == pytest.approx(2.4)
    assert pbx.media_duration("number:42") == pytest.approx(1.2)
    assert pbx.media_duration("sound:no-such-sound-file") is None
    assert pbx.media_duration("bogus:x") is None
    pbx.add_sound("custom/bye")
    assert pbx.media_duration("sound:custom/bye") == sim.DEFAULT_SOUND_SECONDS


async def test_bridge_outlives_its_channels_until_destroyed(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "1")
    bridge = harness.pbx.create_bridge("mixing", "b", None)
    harness.pbx.add_to_bridge(bridge.id, [call.channel_id])
    call.hangup()
    assert bridge.id in harness.pbx.bridges and bridge.channel_ids == []
    harness.pbx.destroy_bridge(bridge.id)
    assert harness.ari[-1]["type"] == "BridgeDestroyed"
    assert [type(e).__name__ for e in harness.internal if "Bridge" in type(e).__name__] == [
        "BridgeCreated",
        "BridgeEntered",
        "BridgeLeft",
        "BridgeDestroyed",
    ]


async def test_event_filter_allowed_and_disallowed() -> None:
    app = sim.StasisApp("x", events_allowed=[{"type": "StasisStart"}, {"type": "Dial"}])
    assert app.wants("StasisStart") and not app.wants("ChannelVarset")
    app.events_disallowed = [{"type": "Dial"}]
    assert not app.wants("Dial")


async def test_websocket_replacement_and_disconnect_keep_the_app(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "1")
    later: list[dict[str, Any]] = []
    previous = harness.pbx.connect_app(APP, later.append)
    assert previous == harness.ari.append
    harness.pbx.disconnect_app(APP, later.append)
    harness.pbx.answer(call.channel_id)  # nobody listening: lost, like on Asterisk
    harness.pbx.connect_app(APP, later.append)
    harness.pbx.receive_dtmf(call.channel_id, "5")
    assert [e["type"] for e in later] == ["ChannelDtmfReceived"]
    assert harness.pbx.apps[APP].channel_ids == {call.channel_id}


async def test_sim_call_waits_and_history(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "1")
    harness.pbx.answer(call.channel_id)
    harness.pbx.send_dtmf(call.channel_id, "42")
    event = await call.wait_for("dtmf", timeout=1, predicate=lambda e: e.detail == "2")
    assert event.detail == "2" and call.dtmf_heard == ["4", "2"]
    assert [e.kind for e in call.history] == ["answered", "dtmf", "dtmf"]
    with pytest.raises(ValueError):
        await call.wait_for("nonsense")
    with pytest.raises(TimeoutError):
        await call.wait_for("hangup", timeout=0.01)


async def test_caller_id_parsing() -> None:
    assert sim._parse_caller_id('"Call Center" <100>') == ("Call Center", "100")
    assert sim._parse_caller_id("Callcenter <100>") == ("Callcenter", "100")
    assert sim._parse_caller_id("100") == ("", "100")


async def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SimulatedAsterisk(speed=0)


async def test_channels_can_be_found_by_name(harness: Harness) -> None:
    call = harness.pbx.place_inbound_call("100", "1")
    channel = harness.pbx.channel_by_name(call.channel_name)
    assert channel is not None and channel.id == call.channel_id
    call.hangup()
    assert harness.pbx.channel_by_name(call.channel_name) is None


async def test_stasis_arguments_are_split_like_dialplan_application_data() -> None:
    assert Stasis("app", "a", "b").args == ("a", "b")
    assert Stasis("app", ["a", "b"]).args == ("a", "b")
    assert Stasis("app", "a,b").app_data == "app,a,b"
    assert Stasis("app").args == ()
