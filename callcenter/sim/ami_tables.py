"""Plain tables the simulated AMI answers list actions from (QueueStatus, PJSIPShowEndpoints...).

The server uses these when no PBX core supplies the data, and tests fill them to shape answers.
Each ``*_frame`` function renders one EventList item with the header order of the capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.sim.ami_frames import Frame

# app_queue member Status values (AST_DEVICE_*): 1 = not in use, 2 = in use, 5 = unavailable,
# 6 = ringing. The capture shows 1 idle, 6 while ringing and 2 while talking.
MEMBER_NOT_IN_USE = 1
MEMBER_IN_USE = 2
MEMBER_UNAVAILABLE = 5
MEMBER_RINGING = 6


@dataclass
class QueueMemberRow:
    """One member line of ``QueueStatus`` (app_queue's QueueMember list item)."""

    interface: str
    membership: str = "static"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0
    status: int = MEMBER_NOT_IN_USE
    paused: bool = False
    paused_reason: str = ""
    wrapuptime: int = 0


@dataclass
class QueueRow:
    """One queue of ``QueueStatus``/``QueueSummary`` with its members."""

    name: str
    strategy: str = "linear"
    max_callers: int = 0
    calls: int = 0
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    service_level: int = 0
    weight: int = 0
    longest_hold_time: int = 0
    members: list[QueueMemberRow] = field(default_factory=list)


@dataclass
class EndpointRow:
    """One PJSIP endpoint of ``PJSIPShowEndpoints``."""

    name: str
    aor: str = ""
    contacts: list[str] = field(default_factory=list)
    device_state: str = "Not in use"
    active_channels: int = 0
    transport: str = ""
    auths: str = ""
    outbound_auths: str = ""


def queue_params_frame(queue: QueueRow, action_id: str | None) -> Frame:
    """QueueParams: ActionID comes last, after Weight (capture)."""
    frame: Frame = [
        ("Event", "QueueParams"),
        ("Queue", queue.name),
        ("Max", str(queue.max_callers)),
        ("Strategy", queue.strategy),
        ("Calls", str(queue.calls)),
        ("Holdtime", str(queue.holdtime)),
        ("TalkTime", str(queue.talktime)),
        ("Completed", str(queue.completed)),
        ("Abandoned", str(queue.abandoned)),
        ("ServiceLevel", str(queue.service_level)),
        ("ServicelevelPerf", "0.0"),
        ("ServicelevelPerf2", "0.0"),
        ("Weight", str(queue.weight)),
    ]
    return _with_trailing_action_id(frame, action_id)


def queue_member_frame(queue: QueueRow, member: QueueMemberRow, action_id: str | None) -> Frame:
    """QueueMember list item: Name, Location and StateInterface all carry the interface."""
    frame: Frame = [
        ("Event", "QueueMember"),
        ("Queue", queue.name),
        ("Name", member.interface),
        ("Location", member.interface),
        ("StateInterface", member.interface),
        ("Membership", member.membership),
        ("Penalty", str(member.penalty)),
        ("CallsTaken", str(member.calls_taken)),
        ("LastCall", str(member.last_call)),
        ("LastPause", str(member.last_pause)),
        ("LoginTime", str(member.login_time)),
        ("InCall", str(member.in_call)),
        ("Status", str(member.status)),
        ("Paused", "1" if member.paused else "0"),
        ("PausedReason", member.paused_reason),
        ("Wrapuptime", str(member.wrapuptime)),
    ]
    return _with_trailing_action_id(frame, action_id)


def queue_summary_frame(queue: QueueRow, action_id: str | None) -> Frame:
    """QueueSummary list item: LoggedIn counts reachable members, Available the idle unpaused."""
    logged_in = sum(1 for m in queue.members if m.status != MEMBER_UNAVAILABLE)
    available = sum(1 for m in queue.members if m.status == MEMBER_NOT_IN_USE and not m.paused)
    frame: Frame = [
        ("Event", "QueueSummary"),
        ("Queue", queue.name),
        ("LoggedIn", str(logged_in)),
        ("Available", str(available)),
        ("Callers", str(queue.calls)),
        ("HoldTime", str(queue.holdtime)),
        ("TalkTime", str(queue.talktime)),
        ("LongestHoldTime", str(queue.longest_hold_time)),
    ]
    return _with_trailing_action_id(frame, action_id)


def endpoint_list_frame(endpoint: EndpointRow, action_id: str | None) -> Frame:
    """EndpointList item: ActionID right after Event; no Contacts header without contacts."""
    frame: Frame = [("Event", "EndpointList")]
    if action_id is not None:
        frame.append(("ActionID", action_id))
    frame += [
        ("ObjectType", "endpoint"),
        ("ObjectName", endpoint.name),
        ("Transport", endpoint.transport),
        ("Aor", endpoint.aor),
        ("Auths", endpoint.auths),
        ("OutboundAuths", endpoint.outbound_auths),
    ]
    if endpoint.contacts:
        # Capture: "Contacts: agent1/sip:agent1@127.0.0.3:5081," (aor/uri, comma-terminated).
        frame.append(("Contacts", "".join(f"{c}," for c in endpoint.contacts)))
    frame += [
        ("DeviceState", endpoint.device_state),
        ("ActiveChannels", str(endpoint.active_channels)),
    ]
    return frame


def list_complete_frame(
    event_name: str, action_id: str | None, items: int, *extra: tuple[str, str]
) -> Frame:
    """The closing item of an EventList: ``EventList: Complete`` and ``ListItems``."""
    frame: Frame = [("Event", event_name)]
    if action_id is not None:
        frame.append(("ActionID", action_id))
    frame += [("EventList", "Complete"), ("ListItems", str(items)), *extra]
    return frame


def _with_trailing_action_id(frame: Frame, action_id: str | None) -> Frame:
    if action_id is not None:
        frame.append(("ActionID", action_id))
    return frame
