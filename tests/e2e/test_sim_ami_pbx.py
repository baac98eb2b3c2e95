"""AMI events and channel actions of the simulated AMI on top of the simulated PBX core."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.ami_messages import AmiEvent
from callcenter.errors import AsteriskError
from callcenter.sim.ami_server import AmiServer, start_ami_server
from callcenter.sim.pbx import (
    EndpointBehaviour,
    PlayThenHangup,
    Queue,
    Reject,
    SimulatedAsterisk,
    Stasis,
)

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls

SPEED = 50.0
QUEUE_SEQUENCE = {
    "QueueCallerJoin", "AgentCalled", "DialBegin", "DialEnd", "QueueCallerLeave", "AgentConnect",
}  # fmt: skip
CHANNEL_BLOCK = [
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten",
    "Priority", "Uniqueid", "Linkedid",
]  # fmt: skip


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    sim = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path / "recordings")
    sim.dialplan.route("200", PlayThenHangup("demo-congrats"), context="default")
    sim.dialplan.route("999", Reject(cause=21))
    yield sim
    await sim.close()


@pytest.fixture
async def ami(pbx: SimulatedAsterisk) -> AsyncIterator[AmiServer]:
    server = await start_ami_server(pbx, speed=SPEED)
    # These tests drive the actions of the PBX core, some of which (MixMonitor, Hangup as
    # "system") need a manager.conf user granted `system` in write; ours is not (see
    # test_sim_ami.py::test_actions_outside_the_users_write_classes_are_refused).
    server.write_perm = server.write_perm | {"system"}
    yield server
    await server.close()


@pytest.fixture
async def client(ami: AmiServer) -> AsyncIterator[AmiClient]:
    ami_client = AmiClient(
        "127.0.0.1", ami.port, "callcenter", "callcenter", action_timeout=2.0,
        keepalive_interval=None,
    )  # fmt: skip
    await ami_client.connect()
    yield ami_client
    await ami_client.close()


class Recorder:
    """Collects every event the client receives."""

    def __init__(self, client: AmiClient) -> None:
        self.queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        client.on_event("*", self.queue.put_nowait)

    async def until(self, name: str, **headers: str) -> list[AmiEvent]:
        """Events up to and including the first ``name`` event with these header values."""
        seen: list[AmiEvent] = []
        while True:
            event = await asyncio.wait_for(self.queue.get(), 5)
            seen.append(event)
            if event.name == name and all(event.get(k) == v for k, v in headers.items()):
                return seen


async def test_rejected_inbound_call_events(pbx: SimulatedAsterisk, client: AmiClient) -> None:
    events = Recorder(client)
    pbx.place_inbound_call("999", "+15550001", caller_name="Caller 1")
    seen = await events.until("Hangup")
    names = [e.name for e in seen if e.name != "VarSet"]
    assert names[0] == "Newchannel"
    assert "Newexten" in names
    newchannel, hangup = seen[0], seen[-1]
    assert [k for k, _ in newchannel.headers] == ["Event", "Privilege", *CHANNEL_BLOCK]
    assert newchannel.get("CallerIDNum") == "+15550001"
    assert newchannel.get("Context") == "from-callers"
    assert [k for k, _ in hangup.headers] == [
        "Event", "Privilege", *CHANNEL_BLOCK, "Cause", "Cause-txt",
    ]  # fmt: skip
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("21", "Call Rejected")
    assert hangup.uniqueid == newchannel.uniqueid


async def test_originate_dial_events_and_response(
    pbx: SimulatedAsterisk, client: AmiClient
) -> None:
    pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(1.0))
    events = Recorder(client)
    result = await client.originate("PJSIP/agent1", context="default", exten="200")
    assert result.ok and result.answered
    assert result.channel.startswith("PJSIP/agent1-")
    seen = await events.until("DialEnd")
    begin = next(e for e in seen if e.name == "DialBegin")
    assert begin.get("DestChannel") == result.channel
    assert begin.get("DialString") == "PJSIP/agent1"
    assert "Channel" not in dict(begin.headers)  # no calling channel for an originate
    assert seen[-1].get("DialStatus") == "ANSWER"
    states = [e.get("State") for e in seen if e.name == "DeviceStateChange"]
    assert "NOT_INUSE" not in states[-1:]


async def test_originate_to_busy_endpoint_fails(pbx: SimulatedAsterisk, client: AmiClient) -> None:
    pbx.register_endpoint("PJSIP", "agent2", EndpointBehaviour.busy())
    result = await client.originate("PJSIP/agent2", context="default", exten="200")
    assert not result.ok
    assert result.reason == 5


async def test_originate_to_unknown_endpoint_fails(client: AmiClient) -> None:
    result = await client.originate("PJSIP/nobody", context="default", exten="200")
    assert (result.ok, result.reason) == (False, 0)


async def test_mixmonitor_writes_a_wav_and_hangup_ends_the_call(
    pbx: SimulatedAsterisk, ami: AmiServer, client: AmiClient, tmp_path: Path
) -> None:
    pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(0.5))
    pbx.add_sound("long-hold", 600.0)
    pbx.dialplan.route("300", PlayThenHangup("long-hold"), context="default")
    events = Recorder(client)
    result = await client.originate("PJSIP/agent1", context="default", exten="300")
    assert result.answered
    await client.mix_monitor(result.channel, "cc-mixmon-test.wav", options="b")
    started = await events.until("MixMonitorStart")
    variable = next(e for e in started if e.name == "VarSet" and e.get("Variable") ==
                    "MIXMONITOR_FILENAME")  # fmt: skip
    path = Path(variable.get("Value"))
    assert path == tmp_path / "recordings" / "monitor" / "cc-mixmon-test.wav"
    status = await client.send_action({"Action": "Status"})
    [item] = status.items("Status")
    assert item.get("Channel") == result.channel
    assert status.items("StatusComplete")[0].get("Items") == "1"
    await asyncio.sleep(0.1)
    await client.stop_mix_monitor(result.channel)
    await events.until("MixMonitorStop")
    with wave.open(str(path)) as recorded:
        assert recorded.getnframes() > 0
    with pytest.raises(AsteriskError, match="Could not stop MixMonitor"):
        await client.stop_mix_monitor(result.channel)
    await client.hangup(result.channel)
    hangup = (await events.until("Hangup", Channel=result.channel))[-1]
    assert hangup.get("Cause") == "16"
    with pytest.raises(AsteriskError, match="No such channel"):
        await client.hangup(result.channel)


async def test_pjsip_endpoints_come_from_the_core(
    pbx: SimulatedAsterisk, client: AmiClient
) -> None:
    pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(1.0))
    agent2 = pbx.register_endpoint("PJSIP", "agent2", EndpointBehaviour.answer_after(1.0))
    agent2.set_online(False)
    endpoints = {e.name: e for e in await client.pjsip_endpoints()}
    assert endpoints["agent1"].device_state == "Not in use"
    assert endpoints["agent1"].contacts
    assert endpoints["agent2"].device_state == "Unavailable"
    assert endpoints["agent2"].contacts == ()


async def test_stasis_call_dtmf_and_bridge_events(
    pbx: SimulatedAsterisk, client: AmiClient
) -> None:
    pbx.connect_app("cc", lambda event: None)  # an ARI app is listening (no WebSocket needed)
    pbx.dialplan.route("100", Stasis("cc"))
    events = Recorder(client)
    call = pbx.place_inbound_call("100", "+15550001", caller_name="Caller 1")
    channel_id = call.channel_id
    pbx.answer(channel_id)
    pbx.receive_dtmf(channel_id, "5", duration_ms=280)
    seen = await events.until("DTMFEnd")
    begin, end = seen[-2], seen[-1]
    assert begin.name == "DTMFBegin"
    assert [k for k, _ in begin.headers][-2:] == ["Digit", "Direction"]
    assert [(k, v) for k, v in end.headers][-3:] == [
        ("Digit", "5"), ("DurationMs", "280"), ("Direction", "Received"),
    ]  # fmt: skip
    assert end.get("Privilege") == "dtmf,all"
    assert end.get("ChannelStateDesc") == "Up"
    newexten = next(e for e in seen if e.name == "Newexten")
    assert [k for k, _ in newexten.headers] == [
        "Event", "Privilege", *CHANNEL_BLOCK, "Extension", "Application", "AppData",
    ]  # fmt: skip
    assert (newexten.get("Application"), newexten.get("AppData")) == ("Stasis", "cc")
    varset = next(e for e in seen if e.name == "VarSet")
    assert [k for k, _ in varset.headers] == [
        "Event", "Privilege", *CHANNEL_BLOCK, "Variable", "Value",
    ]  # fmt: skip
    # STASISSTATUS is set to "" on entry: the empty last header survives our framing.
    assert varset.headers[-2:] == (("Variable", "STASISSTATUS"), ("Value", ""))
    assert varset.get("Privilege") == "dialplan,all"
    newstate = next(e for e in seen if e.name == "Newstate")
    assert (newstate.get("ChannelState"), newstate.get("ChannelStateDesc")) == ("6", "Up")
    bridge = pbx.create_bridge("mixing", "cc-test", None)
    pbx.add_to_bridge(bridge.id, [channel_id])
    enter = (await events.until("BridgeEnter"))[-1]
    assert [k for k, _ in enter.headers][:9] == [
        "Event", "Privilege", "BridgeUniqueid", "BridgeType", "BridgeTechnology",
        "BridgeCreator", "BridgeName", "BridgeNumChannels", "BridgeVideoSourceMode",
    ]  # fmt: skip
    assert (enter.get("BridgeType"), enter.get("BridgeName")) == ("stasis", "cc-test")
    assert enter.get("BridgeNumChannels") == "1"
    assert enter.uniqueid == channel_id
    call.hangup()
    tail = await events.until("Hangup", Uniqueid=channel_id)
    names = [e.name for e in tail]
    assert names.index("HangupRequest") < names.index("BridgeLeave") < names.index("Hangup")


async def test_app_queue_event_sequence(pbx: SimulatedAsterisk, client: AmiClient) -> None:
    pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(1.0))
    pbx.add_queue("baseline", ["PJSIP/agent1"])
    pbx.dialplan.route("300", Queue("baseline"))
    events = Recorder(client)
    call = pbx.place_inbound_call("300", "+15550001", caller_name="Caller 1")
    connected = await events.until("AgentConnect")
    order = [e.name for e in connected if e.name in QUEUE_SEQUENCE]
    assert order == [
        "QueueCallerJoin", "AgentCalled", "DialBegin", "DialEnd", "QueueCallerLeave",
        "AgentConnect",
    ]  # fmt: skip
    join = next(e for e in connected if e.name == "QueueCallerJoin")
    assert [k for k, _ in join.headers] == [
        "Event", "Privilege", *CHANNEL_BLOCK, "Queue", "Position", "Count",
    ]  # fmt: skip
    assert (join.get("Privilege"), join.get("Position"), join.get("Count")) == (
        "agent,all", "1", "1",
    )  # fmt: skip
    dial = next(e for e in connected if e.name == "DialBegin")
    assert dial.get("Channel") == join.get("Channel")  # app_queue dials with a caller block
    assert dial.get("DestChannel").startswith("PJSIP/agent1-")
    agent_connect = connected[-1]
    assert [k for k, _ in agent_connect.headers][-5:] == [
        "Queue", "Interface", "MemberName", "HoldTime", "RingTime",
    ]  # fmt: skip
    status = await client.queue_status("baseline")
    [member] = status.members
    assert (member.interface, member.status) == ("PJSIP/agent1", 2)  # in use
    call.hangup()
    complete = (await events.until("AgentComplete"))[-1]
    assert complete.get("Reason") == "caller"
    assert [k for k, _ in complete.headers][-3:] == ["HoldTime", "TalkTime", "Reason"]


async def test_queue_pause(pbx: SimulatedAsterisk, client: AmiClient) -> None:
    pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(1.0))
    pbx.add_queue("baseline", ["PJSIP/agent1"])
    events = Recorder(client)
    await client.queue_pause("PJSIP/agent1", True, queue="baseline", reason="lunch")
    member_status = (await events.until("QueueMemberStatus"))[-1]
    assert member_status.get("Paused") == "1"
    [summary] = await client.queue_summary()
    assert (summary.logged_in, summary.available) == (1, 0)
    with pytest.raises(AsteriskError, match="Interface not found"):
        await client.queue_pause("PJSIP/nobody", True)
