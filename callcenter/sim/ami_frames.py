"""AMI wire frames as the simulated Asterisk 22.10.1 writes them.

A frame is an ordered list of ``(header, value)`` pairs; the order matters because real clients
(and our capture tests) read headers in the order Asterisk sends them. Header names, their order
and the fixed texts below come from /work/shared/asterisk/captures/*.jsonl.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Frame = list[tuple[str, str]]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EOL = "\r\n"

# ast_state2str() of Asterisk 22 (main/channel.c), keyed by the AST_STATE_* number.
CHANNEL_STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}
CHANNEL_STATE_BY_NAME = {desc.lower(): number for number, desc in CHANNEL_STATE_DESC.items()}

# Q.850 cause texts Asterisk prints in the Hangup event's Cause-txt (ast_cause2str).
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    27: "Destination out of order",
    31: "Normal, unspecified",
    32: "Circuit/channel congestion",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    127: "Interworking, unspecified",
}


def encode_frame(frame: Iterable[tuple[str, str]]) -> bytes:
    """Serialise one frame: ``Key: Value`` lines, CRLF, then an empty line."""
    return ("".join(f"{key}: {value}{EOL}" for key, value in frame) + EOL).encode()


def state_number(state: int | str) -> int:
    """Turn a channel state given as number or ARI-style name ("Up", "Ringing") into AST_STATE_*."""
    if isinstance(state, int):
        return state
    if state.isdigit():
        return int(state)
    return CHANNEL_STATE_BY_NAME.get(state.lower(), 0)


@dataclass(frozen=True)
class ChannelSnapshot:
    """What AMI prints about a channel (ast_manager_build_channel_state_string)."""

    name: str
    uniqueid: str
    linkedid: str
    state: int = 0
    caller_number: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_number: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    account_code: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1


def channel_headers(channel: ChannelSnapshot, prefix: str = "") -> Frame:
    """The 14-header channel block every channel event carries, optionally ``Dest``-prefixed."""
    return [
        (f"{prefix}Channel", channel.name),
        (f"{prefix}ChannelState", str(channel.state)),
        (f"{prefix}ChannelStateDesc", CHANNEL_STATE_DESC.get(channel.state, "Unknown")),
        (f"{prefix}CallerIDNum", channel.caller_number or "<unknown>"),
        (f"{prefix}CallerIDName", channel.caller_name or "<unknown>"),
        (f"{prefix}ConnectedLineNum", channel.connected_number or "<unknown>"),
        (f"{prefix}ConnectedLineName", channel.connected_name or "<unknown>"),
        (f"{prefix}Language", channel.language),
        (f"{prefix}AccountCode", channel.account_code),
        (f"{prefix}Context", channel.context),
        (f"{prefix}Exten", channel.exten),
        (f"{prefix}Priority", str(channel.priority)),
        (f"{prefix}Uniqueid", channel.uniqueid),
        (f"{prefix}Linkedid", channel.linkedid),
    ]


@dataclass(frozen=True)
class BridgeSnapshot:
    """What AMI prints about a bridge (ast_manager_build_bridge_state_string)."""

    uniqueid: str
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"
    num_channels: int = 0
    video_source_mode: str = "none"


def bridge_headers(bridge: BridgeSnapshot) -> Frame:
    """The bridge block of BridgeCreate/BridgeEnter/BridgeLeave/BridgeDestroy."""
    return [
        ("BridgeUniqueid", bridge.uniqueid),
        ("BridgeType", bridge.bridge_type),
        ("BridgeTechnology", bridge.technology),
        ("BridgeCreator", bridge.creator or "<unknown>"),
        ("BridgeName", bridge.name or "<unknown>"),
        ("BridgeNumChannels", str(bridge.num_channels)),
        ("BridgeVideoSourceMode", bridge.video_source_mode),
    ]


def event(name: str, privilege: str, *blocks: Sequence[tuple[str, str]]) -> Frame:
    """An unsolicited event: ``Event``, ``Privilege``, then the given header blocks in order."""
    frame: Frame = [("Event", name), ("Privilege", privilege)]
    for block in blocks:
        frame.extend(block)
    return frame


def channel_event(
    name: str,
    channel: ChannelSnapshot,
    *extra: tuple[str, str],
    privilege: str = "call,all",
) -> Frame:
    """A channel event (Newchannel, Newstate, Hangup, VarSet, DTMFBegin...)."""
    return event(name, privilege, channel_headers(channel), list(extra))


def dial_event(
    name: str,
    caller: ChannelSnapshot | None,
    peer: ChannelSnapshot,
    *extra: tuple[str, str],
) -> Frame:
    """DialBegin/DialState/DialEnd: the caller block only when a calling channel exists.

    Capture: ARI ``channels/{id}/dial`` gives DialBegin with the Dest block only; app_queue's
    dial gives the caller block first, then the Dest block.
    """
    blocks: list[Sequence[tuple[str, str]]] = []
    if caller is not None:
        blocks.append(channel_headers(caller))
    blocks.append(channel_headers(peer, prefix="Dest"))
    blocks.append(list(extra))
    return event(name, "call,all", *blocks)


def event_tv(when: dt.datetime | None = None) -> str:
    """Security events' EventTV/SessionTV format: ``2026-11-24T15:19:15.889+0000``."""
    when = when or dt.datetime.now(dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def privilege_class(frame: Frame) -> str | None:
    """The event class of a frame (``call`` of ``call,all``), None for list items without one."""
    for key, value in frame:
        if key == "Privilege":
            return value.split(",", 1)[0].lower()
    return None
