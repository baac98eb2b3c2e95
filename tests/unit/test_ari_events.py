"""ARI event dicts become typed events; unexpected input never raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.events import (
    ApplicationReplaced,
    BridgeDestroyed,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    Dial,
    EndpointStateChange,
    PlaybackContinuing,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
    Unknown,
    parse_event,
)

CHANNEL: dict[str, Any] = {
    "id": "1795533558.26",
    "name": "PJSIP/callers-0000000b",
    "state": "Ring",
    "protocol_id": "1-8845@127.0.0.2",
    "caller": {"name": "Caller 1", "number": "+15550001"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-callers",
        "exten": "100",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "callcenter-test",
    },
    "creationtime": "2026-11-24T15:19:18.945+0000",
    "language": "en",
}
AGENT = {**CHANNEL, "id": "1795533564.29", "name": "PJSIP/agent1-0000000c", "state": "Down"}
BRIDGE = {"id": "e18f", "bridge_type": "mixing", "name": "cc-test", "channels": ["1795533558.26"]}
TS = "2026-11-24T15:19:18.946+0000"


def test_stasis_start_carries_the_caller_and_the_dialled_number() -> None:
    event = parse_event(
        {"type": "StasisStart", "timestamp": TS, "args": ["ivr", "x"], "channel": CHANNEL}
    )
    assert isinstance(event, StasisStart)
    assert event.channel.id == "1795533558.26"
    assert event.channel.caller_number == "+15550001"
    assert event.channel.exten == "100"
    assert event.channel.state == "Ring"
    assert event.args == ("ivr", "x")
    assert event.channel_ids == ("1795533558.26",)
    assert event.timestamp == TS


@pytest.mark.parametrize(
    ("raw", "expected_type", "fields"),
    [
        ({"type": "StasisEnd", "channel": CHANNEL}, StasisEnd, {}),
        (
            {"type": "ChannelDtmfReceived", "digit": "1", "duration_ms": 280, "channel": CHANNEL},
            ChannelDtmfReceived,
            {"digit": "1", "duration_ms": 280},
        ),
        (
            {"type": "ChannelHangupRequest", "cause": 17, "soft": True, "channel": AGENT},
            ChannelHangupRequest,
            {"cause": 17, "soft": True},
        ),
        (
            {"type": "ChannelHangupRequest", "channel": CHANNEL},
            ChannelHangupRequest,
            {"cause": None},
        ),
        (
            {
                "type": "ChannelDestroyed",
                "cause": 19,
                "cause_txt": "No user responding",
                "channel": AGENT,
            },
            ChannelDestroyed,
            {"cause": 19, "cause_txt": "No user responding"},
        ),
        (
            {"type": "ChannelStateChange", "channel": {**CHANNEL, "state": "Up"}},
            ChannelStateChange,
            {"state": "Up"},
        ),
        (
            {"type": "ChannelEnteredBridge", "bridge": BRIDGE, "channel": CHANNEL},
            ChannelEnteredBridge,
            {"bridge_id": "e18f"},
        ),
        (
            {"type": "ChannelLeftBridge", "bridge": BRIDGE, "channel": CHANNEL},
            ChannelLeftBridge,
            {"bridge_id": "e18f"},
        ),
        ({"type": "ApplicationReplaced", "application": "cc"}, ApplicationReplaced, {}),
    ],
)
def test_channel_events_parse_to_their_types(
    raw: dict[str, Any], expected_type: type, fields: dict[str, Any]
) -> None:
    event = parse_event(raw)
    assert type(event) is expected_type
    for name, value in fields.items():
        assert getattr(event, name) == value


def test_dial_concerns_the_peer_and_the_caller() -> None:
    event = parse_event({"type": "Dial", "dialstatus": "ANSWER", "peer": AGENT, "caller": CHANNEL})
    assert isinstance(event, Dial)
    assert event.peer_id == "1795533564.29"
    assert event.caller_id == "1795533558.26"
    assert event.dialstatus == "ANSWER"
    assert set(event.channel_ids) == {"1795533564.29", "1795533558.26"}


def test_dial_without_caller() -> None:
    event = parse_event({"type": "Dial", "dialstatus": "", "peer": AGENT})
    assert isinstance(event, Dial)
    assert event.caller_id is None
    assert event.channel_ids == ("1795533564.29",)


def test_playback_events_route_by_target_uri() -> None:
    playback = {
        "id": "pb1",
        "media_uri": "sound:hello-world",
        "target_uri": "channel:1795533558.26",
        "state": "playing",
    }
    started = parse_event({"type": "PlaybackStarted", "playback": playback})
    assert isinstance(started, PlaybackStarted)
    assert started.playback_id == "pb1"
    assert started.channel_ids == ("1795533558.26",)
    assert started.bridge_ids == ()
    finished = parse_event(
        {
            "type": "PlaybackFinished",
            "playback": {**playback, "target_uri": "bridge:e18f", "state": "failed"},
        }
    )
    assert isinstance(finished, PlaybackFinished)
    assert finished.state == "failed"
    assert finished.channel_ids == ()
    assert finished.bridge_ids == ("e18f",)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("RecordingStarted", RecordingStarted),
        ("RecordingFinished", RecordingFinished),
        ("RecordingFailed", RecordingFailed),
    ],
)
def test_recording_events(kind: str, cls: type) -> None:
    event = parse_event(
        {
            "type": kind,
            "recording": {
                "name": "cc-1",
                "format": "wav",
                "state": "done",
                "target_uri": "bridge:e18f",
                "duration": 2,
            },
        }
    )
    assert type(event) is cls
    assert event.name == "cc-1"
    assert event.format == "wav"
    assert event.duration == 2
    assert event.bridge_ids == ("e18f",)


def test_bridge_destroyed_concerns_its_bridge() -> None:
    event = parse_event({"type": "BridgeDestroyed", "bridge": BRIDGE})
    assert isinstance(event, BridgeDestroyed)
    assert event.bridge_ids == ("e18f",)


def test_unmodelled_event_is_unknown_but_still_routable() -> None:
    raw = {"type": "ChannelVarset", "variable": "X", "value": "1", "channel": CHANNEL}
    event = parse_event(raw)
    assert isinstance(event, Unknown)
    assert event.type == "ChannelVarset"
    assert event.channel_ids == ("1795533558.26",)
    assert event.raw == raw


def test_playback_continuing_is_typed_and_routed_to_its_channel() -> None:
    # Asterisk 22.10.1, one play of "sound:hello-world,sound:vm-press": Started,
    # Continuing (hello-world ended), Started (vm-press), one Finished at the end.
    continuing = parse_event(
        {
            "type": "PlaybackContinuing",
            "playback": {
                "id": "p",
                "media_uri": "sound:hello-world",
                "target_uri": "channel:c1",
                "state": "continuing",
            },
        }
    )
    assert isinstance(continuing, PlaybackContinuing)
    assert continuing.playback_id == "p"
    assert continuing.media_uri == "sound:hello-world"
    assert continuing.state == "continuing"
    assert continuing.channel_ids == ("c1",)


def test_unmodelled_bridge_events_are_routable() -> None:
    on_bridge = parse_event({"type": "BridgeBlindTransfer", "bridge": BRIDGE})
    assert isinstance(on_bridge, Unknown)
    assert on_bridge.bridge_ids == ("e18f",)


ENDPOINT_1001 = {"technology": "PJSIP", "resource": "1001", "state": "offline", "channel_ids": []}


def test_endpoint_state_change_names_the_endpoint_and_its_state() -> None:
    event = parse_event({"type": "EndpointStateChange", "endpoint": ENDPOINT_1001})
    assert isinstance(event, EndpointStateChange)
    assert (event.endpoint, event.state, event.source) == (
        "PJSIP/1001",
        "offline",
        "EndpointStateChange",
    )
    assert event.channel_ids == () and event.bridge_ids == ()


def test_contact_and_peer_status_changes_carry_the_endpoint_state_too() -> None:
    # As a real Asterisk 22.10.1 sent them when a phone stopped answering qualify (capture).
    contact = parse_event(
        {
            "type": "ContactStatusChange",
            "endpoint": ENDPOINT_1001,
            "contact_info": {
                "uri": "sip:1001@127.0.0.3:5081",
                "contact_status": "Unreachable",
                "aor": "1001",
                "roundtrip_usec": "0",
            },
        }
    )
    assert isinstance(contact, EndpointStateChange)
    assert (contact.endpoint, contact.state, contact.contact_status) == (
        "PJSIP/1001",
        "offline",
        "Unreachable",
    )
    peer = parse_event(
        {
            "type": "PeerStatusChange",
            "endpoint": {**ENDPOINT_1001, "state": "online"},
            "peer": {"peer_status": "Reachable"},
        }
    )
    assert isinstance(peer, EndpointStateChange)
    assert (peer.state, peer.source) == ("online", "PeerStatusChange")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        42,
        "StasisStart",
        [],
        {},
        {"type": None},
        {"type": "StasisStart"},
        {"type": "StasisStart", "channel": None},
        {"type": "StasisStart", "channel": {"name": "no id"}},
        {"type": "StasisStart", "channel": CHANNEL, "args": 5},
        {"type": "ChannelDtmfReceived", "channel": CHANNEL},
        {"type": "ChannelDestroyed", "channel": CHANNEL, "cause": "not a number"},
        {"type": "Dial", "peer": "x"},
        {"type": "PlaybackStarted", "playback": []},
        {"type": "RecordingFinished", "recording": {"name": "r", "duration": "x"}},
        {"type": "ChannelEnteredBridge", "channel": CHANNEL},
    ],
)
def test_parse_event_never_raises(raw: Any) -> None:
    event = parse_event(raw)
    assert isinstance(event, Unknown)


@pytest.mark.shared
def test_every_event_of_the_real_asterisk_captures_parses(shared_asterisk: Path) -> None:
    """Every WebSocket message a real Asterisk 22.10.1 sent parses; modelled ones are typed."""
    modelled = {
        "StasisStart",
        "StasisEnd",
        "ChannelDtmfReceived",
        "ChannelHangupRequest",
        "ChannelDestroyed",
        "ChannelStateChange",
        "Dial",
        "ChannelEnteredBridge",
        "ChannelLeftBridge",
        "BridgeDestroyed",
        "PlaybackStarted",
        "PlaybackFinished",
        "RecordingStarted",
        "RecordingFinished",
        "RecordingFailed",
        "ApplicationReplaced",
        "PlaybackContinuing",
        "EndpointStateChange",
        "ContactStatusChange",
        "PeerStatusChange",
    }
    count = 0
    for capture in sorted((shared_asterisk / "captures").glob("*.jsonl")):
        for line in capture.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") != "ari_event":
                continue
            raw = record["event"]
            event = parse_event(raw)
            count += 1
            if raw["type"] in modelled:
                assert not isinstance(event, Unknown), raw
            if "channel" in raw:
                assert raw["channel"]["id"] in event.channel_ids
    assert count > 50
