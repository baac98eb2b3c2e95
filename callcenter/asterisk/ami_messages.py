"""Typed AMI messages: what raw manager frames become at the edge of the AMI adapter.

Pure data and parsers, no I/O and no panoramisk: ``AmiEvent`` and ``AmiResponse`` keep every
header in wire order (a header may repeat, e.g. ``Output`` of a Command), and the list actions
get small result types (``QueueStatus``, ``QueueSummary``, ``PjsipEndpoint``, ``OriginateResult``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from callcenter.asterisk.ids import ChannelId

Headers = tuple[tuple[str, str], ...]

# AMI answers that mean the action failed (manager.c astman_send_error writes "Error";
# OriginateResponse uses "Failure"; some modules answer "Fail").
FAILED_RESPONSES = frozenset({"error", "fail", "failure"})


def _first(headers: Headers, name: str, default: str) -> str:
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return default


def _all(headers: Headers, name: str) -> list[str]:
    lowered = name.lower()
    return [value for key, value in headers if key.lower() == lowered]


@dataclass(frozen=True)
class AmiEvent:
    """One AMI event (``Event: Name`` frame), headers in wire order."""

    name: str
    headers: Headers

    @cached_property
    def _index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for key, value in self.headers:
            index.setdefault(key.lower(), value)
        return index

    def get(self, name: str, default: str = "") -> str:
        """First value of header ``name`` (case-insensitive), ``default`` when absent."""
        return self._index.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        """Every value of a header that may repeat."""
        return _all(self.headers, name)

    @property
    def channel(self) -> str:
        """``Channel`` (e.g. ``PJSIP/agent1-0000000c``), empty for non-channel events."""
        return self.get("Channel")

    @property
    def uniqueid(self) -> ChannelId:
        """The channel's ``Uniqueid``: ARI's channel id for the same channel."""
        return ChannelId(self.get("Uniqueid"))

    @property
    def linkedid(self) -> ChannelId:
        """``Linkedid``: the uniqueid of the call's first channel, shared by all its legs."""
        return ChannelId(self.get("Linkedid"))

    @property
    def action_id(self) -> str:
        """``ActionID`` of list items and OriginateResponse, empty for unsolicited events."""
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict (the first value of repeated headers wins)."""
        result: dict[str, str] = {}
        for key, value in self.headers:
            result.setdefault(key, value)
        return result


@dataclass(frozen=True)
class AmiResponse:
    """The answer to one action; ``events`` holds the items of an EventList answer."""

    action: str
    status: str
    message: str
    headers: Headers
    events: tuple[AmiEvent, ...] = ()

    @property
    def ok(self) -> bool:
        """False when Asterisk answered Error/Fail/Failure."""
        return self.status.lower() not in FAILED_RESPONSES

    def get(self, name: str, default: str = "") -> str:
        """First value of header ``name`` of the response frame."""
        return _first(self.headers, name, default)

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeated response header (``Output`` of Command)."""
        return _all(self.headers, name)

    def items(self, event_name: str) -> list[AmiEvent]:
        """EventList items called ``event_name`` (case-insensitive)."""
        lowered = event_name.lower()
        return [event for event in self.events if event.name.lower() == lowered]


def build_response(action: str, frames: Iterable[Headers]) -> AmiResponse:
    """Assemble an AmiResponse from the response frame followed by any list item frames."""
    frames = list(frames)
    if not frames:
        raise ValueError("an AMI answer has at least one frame")
    first, rest = frames[0], frames[1:]
    events = tuple(
        AmiEvent(name=_first(frame, "Event", ""), headers=frame)
        for frame in rest
        if _first(frame, "Event", "")
    )
    return AmiResponse(
        action=action,
        status=_first(first, "Response", ""),
        message=_first(first, "Message", ""),
        headers=first,
        events=events,
    )


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


@dataclass(frozen=True)
class QueueParams:
    """One ``QueueParams`` item of QueueStatus: the queue's counters."""

    queue: str
    strategy: str
    calls: int
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    service_level: int
    max_callers: int
    weight: int


@dataclass(frozen=True)
class QueueMember:
    """One ``QueueMember`` item of QueueStatus. ``status`` is app_queue's device state number
    (1 not in use, 2 in use, 5 unavailable, 6 ringing)."""

    queue: str
    interface: str
    name: str
    membership: str
    penalty: int
    calls_taken: int
    last_call: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str


@dataclass(frozen=True)
class QueueStatus:
    """QueueStatus as typed lists of queues and members."""

    queues: tuple[QueueParams, ...]
    members: tuple[QueueMember, ...]

    def members_of(self, queue: str) -> list[QueueMember]:
        """Members of one queue."""
        return [member for member in self.members if member.queue == queue]


def parse_queue_status(response: AmiResponse) -> QueueStatus:
    """Read a QueueStatus answer (QueueParams/QueueMember items, then QueueStatusComplete)."""
    queues = tuple(
        QueueParams(
            queue=item.get("Queue"),
            strategy=item.get("Strategy"),
            calls=_int(item.get("Calls")),
            holdtime=_int(item.get("Holdtime")),
            talktime=_int(item.get("TalkTime")),
            completed=_int(item.get("Completed")),
            abandoned=_int(item.get("Abandoned")),
            service_level=_int(item.get("ServiceLevel")),
            max_callers=_int(item.get("Max")),
            weight=_int(item.get("Weight")),
        )
        for item in response.items("QueueParams")
    )
    members = tuple(
        QueueMember(
            queue=item.get("Queue"),
            interface=item.get("Location") or item.get("Interface"),
            name=item.get("Name"),
            membership=item.get("Membership"),
            penalty=_int(item.get("Penalty")),
            calls_taken=_int(item.get("CallsTaken")),
            last_call=_int(item.get("LastCall")),
            in_call=item.get("InCall") == "1",
            status=_int(item.get("Status")),
            paused=item.get("Paused") == "1",
            paused_reason=item.get("PausedReason"),
        )
        for item in response.items("QueueMember")
    )
    return QueueStatus(queues=queues, members=members)


@dataclass(frozen=True)
class QueueSummary:
    """One ``QueueSummary`` item: how many members are logged in and free, callers waiting."""

    queue: str
    logged_in: int
    available: int
    callers: int
    hold_time: int
    talk_time: int
    longest_hold_time: int


def parse_queue_summary(response: AmiResponse) -> list[QueueSummary]:
    """Read a QueueSummary answer."""
    return [
        QueueSummary(
            queue=item.get("Queue"),
            logged_in=_int(item.get("LoggedIn")),
            available=_int(item.get("Available")),
            callers=_int(item.get("Callers")),
            hold_time=_int(item.get("HoldTime")),
            talk_time=_int(item.get("TalkTime")),
            longest_hold_time=_int(item.get("LongestHoldTime")),
        )
        for item in response.items("QueueSummary")
    ]


@dataclass(frozen=True)
class PjsipEndpoint:
    """One ``EndpointList`` item of PJSIPShowEndpoints."""

    name: str
    aor: str
    contacts: tuple[str, ...]
    device_state: str
    active_channels: int


def parse_pjsip_endpoints(response: AmiResponse) -> list[PjsipEndpoint]:
    """Read a PJSIPShowEndpoints answer (``Contacts`` is comma-terminated: ``aor/uri,``)."""
    return [
        PjsipEndpoint(
            name=item.get("ObjectName"),
            aor=item.get("Aor"),
            contacts=tuple(c for c in item.get("Contacts").split(",") if c),
            device_state=item.get("DeviceState"),
            active_channels=_int(item.get("ActiveChannels")),
        )
        for item in response.items("EndpointList")
    ]


@dataclass(frozen=True)
class OriginateResult:
    """The ``OriginateResponse`` event that ends an async Originate.

    ``reason`` is Asterisk's outgoing-call result: 4 answered, 5 busy, 3 no answer (timed out),
    8 congestion, 0 failed/no such channel, 1 hung up.
    """

    ok: bool
    reason: int
    channel: str
    uniqueid: str

    @property
    def answered(self) -> bool:
        """True when the originated channel was answered (Reason 4)."""
        return self.ok and self.reason == 4


def parse_originate(event: AmiEvent) -> OriginateResult:
    """Read an OriginateResponse event."""
    return OriginateResult(
        ok=event.get("Response").lower() == "success",
        reason=_int(event.get("Reason")),
        channel=event.get("Channel"),
        uniqueid=event.get("Uniqueid"),
    )
