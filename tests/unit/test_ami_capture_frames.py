"""The simulated AMI's frame builders against the real Asterisk 22.10.1 capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.sim.ami_frames import (
    BANNER,
    BridgeSnapshot,
    ChannelSnapshot,
    bridge_headers,
    channel_event,
    dial_event,
    encode_frame,
    event,
)
from callcenter.sim.ami_tables import (
    EndpointRow,
    QueueMemberRow,
    QueueRow,
    endpoint_list_frame,
    queue_member_frame,
    queue_params_frame,
)

CAPTURE = "captures/asterisk-22.10.1-call-flow.jsonl"


def captured_frames(shared: Path) -> list[list[tuple[str, str]]]:
    frames = []
    for line in (shared / CAPTURE).read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "ami_recv":
            frames.append([tuple(h.split(": ", 1)) if ": " in h else (h.rstrip(":"), "")
                           for h in record["frame"]])  # fmt: skip
    return frames  # type: ignore[return-value]


def first(frames: list[list[tuple[str, str]]], **where: str) -> list[tuple[str, str]]:
    for frame in frames:
        fields = dict(frame)
        if all(fields.get(k) == v for k, v in where.items()):
            return frame
    raise AssertionError(f"no captured frame with {where}")


CALLER = ChannelSnapshot(
    name="PJSIP/callers-0000000b",
    uniqueid="1795533558.26",
    linkedid="1795533558.26",
    state=6,
    caller_number="+15550001",
    caller_name="Caller 1",
    context="from-callers",
    exten="100",
    priority=2,
)


def test_encode_frame_is_crlf_terminated() -> None:
    assert BANNER == b"Asterisk Call Manager/11.0.0\r\n"
    assert encode_frame([("Response", "Success"), ("ActionID", "a")]) == (
        b"Response: Success\r\nActionID: a\r\n\r\n"
    )


@pytest.mark.shared
def test_channel_events_match_the_capture(shared_asterisk: Path) -> None:
    frames = captured_frames(shared_asterisk)
    dtmf = first(frames, Event="DTMFEnd", Digit="1")
    assert channel_event(
        "DTMFEnd", CALLER, ("Digit", "1"), ("DurationMs", "280"), ("Direction", "Received"),
        privilege="dtmf,all",
    ) == dtmf  # fmt: skip
    hangup = first(frames, Event="Hangup", Channel="PJSIP/callers-0000000b")
    assert [k for k, _ in channel_event("Hangup", CALLER, ("Cause", "16"),
                                        ("Cause-txt", "Normal Clearing"))] == [
        k for k, _ in hangup
    ]  # fmt: skip


@pytest.mark.shared
def test_dial_and_bridge_events_match_the_capture(shared_asterisk: Path) -> None:
    frames = captured_frames(shared_asterisk)
    agent = ChannelSnapshot(
        name="PJSIP/agent1-0000000c",
        uniqueid="1795533564.29",
        linkedid="1795533558.26",
        state=0,
        connected_number="+15550001",
        connected_name="Caller 1",
        context="from-agents",
    )
    assert dial_event("DialBegin", None, agent, ("DialString", "agent1")) == first(
        frames, Event="DialBegin", DestChannel="PJSIP/agent1-0000000c"
    )
    bridge = BridgeSnapshot(
        uniqueid="e18f26cc-1072-4a1b-89cc-f1199096fd76",
        bridge_type="stasis",
        creator="Stasis",
        name="cc-test",
        num_channels=0,
        video_source_mode="talker",
    )
    assert event("BridgeCreate", "call,all", bridge_headers(bridge)) == first(
        frames, Event="BridgeCreate", BridgeName="cc-test"
    )
    queue_dial = first(frames, Event="DialBegin", Channel="PJSIP/callers-0000000e")
    caller = ChannelSnapshot(
        name="PJSIP/callers-0000000e", uniqueid="1795533575.34", linkedid="1795533575.34",
        state=6, caller_number="+15550001", caller_name="Caller 1", context="from-callers",
        exten="300", priority=2,
    )  # fmt: skip
    peer = ChannelSnapshot(
        name="PJSIP/agent1-0000000f", uniqueid="1795533576.35", linkedid="1795533575.34",
        caller_number="300", context="from-agents",
    )  # fmt: skip
    assert dial_event("DialBegin", caller, peer, ("DialString", "PJSIP/agent1")) == queue_dial


@pytest.mark.shared
def test_list_items_match_the_capture(shared_asterisk: Path) -> None:
    frames = captured_frames(shared_asterisk)
    queue = QueueRow("baseline", abandoned=1)
    assert queue_params_frame(queue, "a4") == first(frames, Event="QueueParams")
    member = QueueMemberRow("PJSIP/agent1", login_time=1795533552)
    assert queue_member_frame(queue, member, "a4") == first(
        frames, Event="QueueMember", Name="PJSIP/agent1"
    )
    endpoint = EndpointRow("agent1", aor="agent1", contacts=["agent1/sip:agent1@127.0.0.3:5081"])
    assert endpoint_list_frame(endpoint, "a6") == first(
        frames, Event="EndpointList", ObjectName="agent1"
    )
    callers = EndpointRow("callers", device_state="Unavailable")
    assert endpoint_list_frame(callers, "a6") == first(
        frames, Event="EndpointList", ObjectName="callers"
    )
