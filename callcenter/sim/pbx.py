"""The simulated Asterisk 22 PBX core: channels, bridges, playbacks, recordings, endpoints.

Everything runs on the asyncio loop of the caller; nothing here touches a socket. The ARI server
(``ari_server.py``) and the AMI server are thin adapters on top of this object.

Public API (for the AMI server, the ARI adapter tests and the synthetic callers/agents)::

    pbx = SimulatedAsterisk(speed=20.0, recordings_dir=tmp_path)   # 20x faster than real time
    pbx.dialplan.route("100", Stasis("callcenter", "ivr"))         # context "from-callers"
    pbx.dialplan.route("999", Reject(cause=21))
    agent = pbx.register_endpoint("PJSIP", "1001", EndpointBehaviour.answer_after(2.0))
    server = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", "secret")  # ari_server

    call = pbx.place_inbound_call("100", "+15550001", caller_name="Alice")  # -> SimCall
    await call.wait_for("answered")             # CallEvent kinds: see SimCall.wait_for
    call.send_dtmf("1", duration_ms=280)
    call.heard                                  # media URIs played to this phone, in order
    call.bridged_with                           # channel ids sharing its bridge
    call.hangup(cause=16)
    agent_call = await agent.next_call()        # the agent's phone for the next dial
    agent_call.hangup()
    agent.behaviour = EndpointBehaviour.busy()  # or a callable SimCall -> EndpointBehaviour
    pbx.add_sound("custom/welcome", 3.0)        # unknown sounds fail like a missing file
    await pbx.close()

Raw-ARI test helpers (REST + events WebSocket, no aioari) live in ``ari_testing.py``.
Dialplan targets: ``Stasis(app, *args)``, ``Reject(cause)``, ``PlayThenHangup(sound)``,
``Queue(name)`` (app_queue: ``pbx.add_queue(name, ["PJSIP/agent1", ...], strategy="linear"|
"rrmemory", ring_seconds=15, retry_seconds=5, max_wait_seconds=None)``, live state in
``pbx.queues[name]``, ``pbx.set_queue_member_paused(name, interface, paused)``).
Endpoint behaviours: ``answer_after(s, talk_seconds=None)``, ``busy()`` (17), ``reject()``
(21), ``never_answer()`` (19 at the dial time-out), ``manual()`` (``SimCall.answer()``),
``EndpointBehaviour("unavailable")`` (20).

Listeners (``pbx.add_listener(callback)``) receive small frozen dataclasses, synchronously and
in the order things happen. All carry ``at`` (a UTC datetime); channel ones carry a
``ChannelSnapshot`` (uniqueid, linkedid, name, state, caller id, dialplan location, endpoint):

- ``ChannelCreated``, ``ChannelStateChanged``, ``ChannelDialplanChanged`` (app/app_data),
  ``ChannelVarSet`` (variable, value), ``ChannelHangupRequested`` (cause or None),
  ``ChannelHungUp`` (cause, cause_txt): the channel is gone.
- ``DialBegan`` (caller snapshot or None, peer, dialstring), ``DialEnded`` (caller, peer,
  dialstatus ANSWER/BUSY/NOANSWER/CANCEL/CHANUNAVAIL/CONGESTION).
- ``BridgeCreated``/``BridgeDestroyed`` (BridgeSnapshot), ``BridgeEntered``/``BridgeLeft``
  (bridge, channel).
- ``DtmfReceived`` (channel, digit, duration_ms), ``HoldChanged`` (channel, on_hold,
  music_class), ``MusicOnHoldChanged`` (channel, playing, music_class).
- ``DeviceStateChanged`` (device e.g. ``PJSIP/1001``, state e.g. ``NOT_INUSE``).
- app_queue: ``QueueCallerJoined``/``QueueCallerLeft`` (queue, channel, position, count),
  ``QueueCallerAbandoned``, ``QueueAgentCalled`` (queue, caller, member, interface),
  ``QueueAgentRingNoAnswer``, ``QueueAgentConnected`` (holdtime, ringtime),
  ``QueueAgentCompleted`` (holdtime, talktime, reason caller/agent),
  ``QueueMemberStatusChanged`` (queue, interface, status as AMI numbers it, paused); the dial
  to a member also gives ``DialBegan``/``DialEnded`` with the caller set.

Times: ``speed`` scales every simulated duration (prompt lengths, ring times, dial time-outs);
recordings measure simulated seconds, so a 3 s recording at speed 20 takes 0.15 s and writes a
3 s WAV file. Hang-up causes follow Q.850 as Asterisk reports them (16, 17, 19, 21, 32).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from callcenter.sim import ari_models, wav
from callcenter.sim.voice import Voice
from callcenter.sounds import core_sounds

log = logging.getLogger(__name__)

Json = dict[str, Any]

# Q.850 cause texts as Asterisk prints them in ChannelDestroyed.cause_txt.
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format (incomplete number)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}

# ARI DELETE /channels/{id}?reason=... -> Q.850 cause (res/ari/resource_channels.c).
HANGUP_REASONS: dict[str, int] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}

# Cause Asterisk reports on the ChannelHangupRequest raised by an ARI hangup or a dial time-out.
APP_HANGUP_REQUEST_CAUSE = 32

# Lengths in seconds of some of the core sounds a stock Asterisk 22 has (every core sound
# exists: callcenter/sounds.py). Anything else fails like a missing file (201, PlaybackStarted,
# PlaybackFinished "failed"), as the capture shows for sound:no-such-sound-file.
STANDARD_SOUNDS: dict[str, float] = {
    "hello-world": 1.4,
    "vm-press": 0.72,
    "beep": 0.42,
    "demo-congrats": 19.0,
    "vm-goodbye": 0.9,
    "goodbye": 0.7,
    "tt-monkeys": 8.0,
    "tt-weasels": 3.2,
    "pls-hold-while-try": 2.4,
    "queue-thankyou": 2.9,
    "queue-youarenext": 1.4,
    "queue-thereare": 1.1,
    "queue-callswaiting": 1.6,
    "queue-holdtime": 2.7,
    "queue-minutes": 0.7,
    "queue-periodic-announce": 3.8,
    "agent-pass": 1.6,
    "agent-loginok": 1.0,
    "conf-onlyperson": 2.0,
    "invalid": 1.4,
    "please-try-again": 1.2,
    "silence/1": 1.0,
    "silence/2": 2.0,
    "silence/3": 3.0,
    "silence/5": 5.0,
    "silence/10": 10.0,
}
SECONDS_PER_SPOKEN_DIGIT = 0.6
DEFAULT_SOUND_SECONDS = 2.0

RECORDING_FORMATS: dict[str, int] = {
    # format -> bytes per second of the file we write (wav gets a real RIFF header on top)
    "wav": 16000,
    "sln": 16000,
    "ulaw": 8000,
    "alaw": 8000,
    "gsm": 1650,
    "g722": 8000,
}

Outcome = Literal["answer", "busy", "no_answer", "reject", "manual", "unavailable"]


class PbxError(Exception):
    """An operation the PBX refuses, with the HTTP status and body Asterisk's ARI would send."""

    def __init__(self, status: int, message: str, *, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key

    def body(self) -> Json:
        return {self.key: self.message}


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Listener events (for the AMI server): small, frozen, in order.


@dataclass(frozen=True, kw_only=True)
class ChannelSnapshot:
    """A channel as it was when the event happened."""

    uniqueid: str
    linkedid: str
    name: str
    state: str
    caller_name: str
    caller_number: str
    connected_name: str
    connected_number: str
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str
    language: str
    accountcode: str
    creationtime: datetime
    endpoint: str | None  # "PJSIP/1001" for endpoint channels, None for Snoop/...


@dataclass(frozen=True, kw_only=True)
class BridgeSnapshot:
    """A bridge as it was when the event happened."""

    id: str
    name: str
    bridge_type: str
    technology: str
    channel_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PbxEvent:
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ChannelCreated(PbxEvent):
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class ChannelStateChanged(PbxEvent):
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class ChannelDialplanChanged(PbxEvent):
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class ChannelVarSet(PbxEvent):
    channel: ChannelSnapshot
    variable: str
    value: str


@dataclass(frozen=True, kw_only=True)
class ChannelHangupRequested(PbxEvent):
    channel: ChannelSnapshot
    cause: int | None


@dataclass(frozen=True, kw_only=True)
class ChannelHungUp(PbxEvent):
    channel: ChannelSnapshot
    cause: int
    cause_txt: str


@dataclass(frozen=True, kw_only=True)
class DialBegan(PbxEvent):
    caller: ChannelSnapshot | None
    peer: ChannelSnapshot
    dialstring: str


@dataclass(frozen=True, kw_only=True)
class DialEnded(PbxEvent):
    caller: ChannelSnapshot | None
    peer: ChannelSnapshot
    dialstatus: str


@dataclass(frozen=True, kw_only=True)
class BridgeCreated(PbxEvent):
    bridge: BridgeSnapshot


@dataclass(frozen=True, kw_only=True)
class BridgeDestroyed(PbxEvent):
    bridge: BridgeSnapshot


@dataclass(frozen=True, kw_only=True)
class BridgeEntered(PbxEvent):
    bridge: BridgeSnapshot
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class BridgeLeft(PbxEvent):
    bridge: BridgeSnapshot
    channel: ChannelSnapshot


@dataclass(frozen=True, kw_only=True)
class DtmfReceived(PbxEvent):
    channel: ChannelSnapshot
    digit: str
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class HoldChanged(PbxEvent):
    channel: ChannelSnapshot
    on_hold: bool
    music_class: str


@dataclass(frozen=True, kw_only=True)
class MusicOnHoldChanged(PbxEvent):
    channel: ChannelSnapshot
    playing: bool
    music_class: str


@dataclass(frozen=True, kw_only=True)
class DeviceStateChanged(PbxEvent):
    device: str
    state: str


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoined(PbxEvent):
    queue: str
    channel: ChannelSnapshot
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerLeft(PbxEvent):
    queue: str
    channel: ChannelSnapshot
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerAbandoned(PbxEvent):
    queue: str
    channel: ChannelSnapshot
    position: int
    original_position: int
    holdtime: int


@dataclass(frozen=True, kw_only=True)
class QueueAgentCalled(PbxEvent):
    queue: str
    caller: ChannelSnapshot
    member: ChannelSnapshot
    interface: str
    member_name: str


@dataclass(frozen=True, kw_only=True)
class QueueAgentRingNoAnswer(PbxEvent):
    queue: str
    caller: ChannelSnapshot
    member: ChannelSnapshot
    interface: str
    member_name: str
    ringtime: int


@dataclass(frozen=True, kw_only=True)
class QueueAgentConnected(PbxEvent):
    queue: str
    caller: ChannelSnapshot
    member: ChannelSnapshot
    interface: str
    member_name: str
    holdtime: int
    ringtime: int


@dataclass(frozen=True, kw_only=True)
class QueueAgentCompleted(PbxEvent):
    queue: str
    caller: ChannelSnapshot
    member: ChannelSnapshot
    interface: str
    member_name: str
    holdtime: int
    talktime: int
    reason: str  # "caller" or "agent": who hung up


@dataclass(frozen=True, kw_only=True)
class QueueMemberStatusChanged(PbxEvent):
    queue: str
    interface: str
    member_name: str
    status: int  # AMI's numbers: 1 NOT_INUSE, 2 INUSE, 5 UNAVAILABLE, 6 RINGING ...
    paused: bool


Listener = Callable[[PbxEvent], None]

# AMI QueueMember Status numbers per device state (app_queue.c / devicestate.h order).
DEVICE_STATE_NUMBERS: dict[str, int] = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}


@dataclass
class QueueMember:
    """One member (agent phone) of an app_queue queue."""

    interface: str  # "PJSIP/agent1"
    member_name: str
    paused: bool = False
    calls_taken: int = 0
    last_call_at: float = 0.0  # loop time


@dataclass
class QueueState:
    """An app_queue queue: members, strategy, waiting callers and counters (for QueueStatus)."""

    name: str
    members: list[QueueMember]
    strategy: str = "linear"  # linear (list order) or rrmemory (round robin with memory)
    ring_seconds: float = 15.0  # how long one member rings (queues.conf timeout)
    retry_seconds: float = 5.0  # pause after every member was tried (queues.conf retry)
    max_wait_seconds: float | None = None  # Queue(..., timeout): caller leaves with TIMEOUT
    music_class: str = "default"
    waiting: list[str] = field(default_factory=list)  # caller channel ids, first = head
    completed: int = 0
    abandoned: int = 0
    holdtime_total: float = 0.0
    talktime_total: float = 0.0
    rr_next: int = 0
    retry_timer: asyncio.TimerHandle | None = None

    def member(self, interface: str) -> QueueMember | None:
        return next((m for m in self.members if m.interface == interface), None)


@dataclass
class QueueCall:
    """One caller in a queue: who is being rung, who answered."""

    queue: str
    caller_id: str
    joined_at: float
    original_position: int
    tried: set[str] = field(default_factory=set)
    ringing_channel: str | None = None
    ringing_interface: str | None = None
    ring_started_at: float = 0.0
    member_channel: str | None = None
    member_interface: str | None = None
    connected_at: float = 0.0
    bridge: Bridge | None = None


# ---------------------------------------------------------------------------------------------
# Dialplan model: exten -> what happens to an inbound call.


@dataclass(frozen=True)
class Stasis:
    """``Stasis(app, args...)``: hand the channel to an ARI application."""

    app: str
    args: tuple[str, ...] = ()

    def __init__(self, app: str, *args: str | Iterable[str]) -> None:
        # Stasis(app, "a", "b"), Stasis(app, ["a", "b"]) and Stasis(app, "a,b") are the same
        # dialplan line: Asterisk splits the application data on commas.
        flat: list[str] = []
        for arg in args:
            parts = arg.split(",") if isinstance(arg, str) else list(arg)
            flat.extend(parts)
        object.__setattr__(self, "app", app)
        object.__setattr__(self, "args", tuple(flat))

    @property
    def app_data(self) -> str:
        return ",".join((self.app, *self.args))


@dataclass(frozen=True)
class Reject:
    """Hang the call up at once with a Q.850 cause (21 call rejected by default)."""

    cause: int = 21


@dataclass(frozen=True)
class PlayThenHangup:
    """``Playback(sound)`` then ``Hangup()``: where ``continue`` may send a channel."""

    sound: str = "hello-world"


@dataclass(frozen=True)
class Queue:
    """``Answer()`` then ``Queue(name)`` (app_queue): see ``SimulatedAsterisk.add_queue``."""

    name: str


DialplanTarget = Stasis | Reject | PlayThenHangup | Queue


@dataclass(frozen=True)
class DialplanRoute:
    context: str
    exten: str
    priority: int
    target: DialplanTarget


class Dialplan:
    """A tiny extensions.conf: ``route(exten, target, context=...)`` and ``lookup``."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], DialplanRoute] = {}

    def route(
        self,
        exten: str,
        target: DialplanTarget,
        *,
        context: str = "from-callers",
        priority: int = 1,
    ) -> None:
        """Send calls for ``exten`` in ``context`` to ``target``."""
        self._routes[(context, exten)] = DialplanRoute(context, exten, priority, target)

    def lookup(self, context: str, exten: str) -> DialplanRoute | None:
        """The route for an extension, or None (Asterisk then hangs up with cause 1)."""
        return self._routes.get((context, exten))

    def routes(self) -> list[DialplanRoute]:
        """Every route, for ``dialplan show`` over AMI."""
        return list(self._routes.values())


# ---------------------------------------------------------------------------------------------
# Endpoints and what their phones do when dialled.


@dataclass(frozen=True)
class EndpointBehaviour:
    """How a synthetic phone answers a dial: outcome after ``after`` simulated seconds.

    ``answer``: rings, answers after ``after`` s (then hangs up after ``talk_seconds`` if set).
    ``busy``: SIP 486, cause 17. ``reject``: SIP 603, cause 21. ``no_answer``: rings until the
    dial time-out (cause 19). ``manual``: rings until the test calls ``SimCall.answer()``.
    ``unavailable``: not reachable, cause 20.
    """

    outcome: Outcome = "answer"
    after: float = 1.0
    talk_seconds: float | None = None

    @classmethod
    def answer_after(
        cls, seconds: float = 1.0, *, talk_seconds: float | None = None
    ) -> EndpointBehaviour:
        return cls("answer", seconds, talk_seconds)

    @classmethod
    def busy(cls, after: float = 0.0) -> EndpointBehaviour:
        return cls("busy", after)

    @classmethod
    def never_answer(cls) -> EndpointBehaviour:
        return cls("no_answer", 0.0)

    @classmethod
    def reject(cls, after: float = 0.0) -> EndpointBehaviour:
        return cls("reject", after)

    @classmethod
    def manual(cls) -> EndpointBehaviour:
        return cls("manual", 0.0)


BehaviourChoice = EndpointBehaviour | Callable[["SimCall"], EndpointBehaviour]


@dataclass
class EndpointRecord:
    technology: str
    resource: str
    behaviour: BehaviourChoice
    context: str
    online: bool = True
    # Live channels (a dict as an ordered set) and how many are in each state / on hold, so
    # the device state is O(1) even when thousands of calls share one endpoint.
    channels: dict[str, None] = field(default_factory=dict)
    state_counts: dict[str, int] = field(default_factory=dict)
    on_hold_count: int = 0
    handle: EndpointHandle | None = None

    @property
    def channel_ids(self) -> list[str]:
        return list(self.channels)

    def count(self, state: str, delta: int) -> None:
        self.state_counts[state] = self.state_counts.get(state, 0) + delta

    @property
    def device(self) -> str:
        return f"{self.technology}/{self.resource}"


class EndpointHandle:
    """A synthetic agent's phone: receives the calls dialled to it."""

    def __init__(self, pbx: SimulatedAsterisk, record: EndpointRecord) -> None:
        self._pbx = pbx
        self._record = record
        self._incoming: asyncio.Queue[SimCall] = asyncio.Queue()
        self.calls: list[SimCall] = []

    @property
    def device(self) -> str:
        return self._record.device

    @property
    def behaviour(self) -> BehaviourChoice:
        return self._record.behaviour

    @behaviour.setter
    def behaviour(self, value: BehaviourChoice) -> None:
        self._record.behaviour = value

    def set_online(self, online: bool) -> None:
        """Register or unregister the phone (endpoint state online/offline)."""
        self._pbx.set_endpoint_online(self._record, online)

    async def next_call(self, timeout: float = 5.0) -> SimCall:  # noqa: ASYNC109 (test helper)
        """The next call that rang this phone (waits up to ``timeout`` real seconds)."""
        return await asyncio.wait_for(self._incoming.get(), timeout)

    def _ringing(self, call: SimCall) -> None:
        self.calls.append(call)
        self._incoming.put_nowait(call)


# ---------------------------------------------------------------------------------------------
# The far end of a channel: a synthetic caller's or agent's phone.


@dataclass(frozen=True)
class CallEvent:
    """Something the phone noticed. ``kind`` is one of SimCall.EVENT_KINDS."""

    kind: str
    detail: str = ""
    peers: tuple[str, ...] = ()


class SimCall:
    """The phone at the far end of one channel (a synthetic caller or agent)."""

    EVENT_KINDS = (
        "ringing",  # our phone rings (agent side) or hears ringback (caller side, ARI ring)
        "answered",
        "playback_started",  # detail = media URI
        "playback_finished",
        "moh_started",  # detail = music class
        "moh_stopped",
        "bridged",  # peers = channel ids now in the same bridge
        "unbridged",
        "dtmf",  # detail = digit sent to this phone (ARI sendDTMF)
        "hangup",  # detail = cause
    )

    def __init__(self, pbx: SimulatedAsterisk, channel: Channel) -> None:
        self._pbx = pbx
        self.channel_id = channel.id
        self.channel_name = channel.name
        self.heard: list[str] = []
        self.dtmf_heard: list[str] = []
        self.history: list[CallEvent] = []
        self.answered = False
        self.hangup_cause: int | None = None
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()

    def __repr__(self) -> str:
        return f"SimCall({self.channel_name}, {self.channel_id})"

    @property
    def ended(self) -> bool:
        return self.hangup_cause is not None

    @property
    def bridged_with(self) -> list[str]:
        """Ids of the other channels in this channel's bridge (empty if not bridged)."""
        channel = self._pbx.channels.get(self.channel_id)
        if channel is None or channel.bridge is None:
            return []
        return [cid for cid in channel.bridge.channel_ids if cid != self.channel_id]

    def send_dtmf(self, digit: str, duration_ms: int = 280) -> None:
        """Press a key: the app gets ChannelDtmfReceived (RFC 4733 and SIP INFO look alike)."""
        self._pbx.receive_dtmf(self.channel_id, digit, duration_ms)

    def hangup(self, cause: int = 16) -> None:
        """Hang up from this phone (SIP BYE / CANCEL)."""
        self._pbx.remote_hangup(self.channel_id, cause)

    def answer(self) -> None:
        """Answer a ringing agent phone (for EndpointBehaviour.manual())."""
        self._pbx.answer_dialled(self.channel_id)

    def speak(self, seconds: float) -> None:
        """Talk for ``seconds`` (simulated) from now, then fall silent (see ``sim.voice``)."""
        self._pbx.set_voice(self.channel_id, talk_seconds=seconds)

    def fall_silent(self) -> None:
        """Stop talking (a phone starts out talking for ever)."""
        self._pbx.set_voice(self.channel_id, talk_seconds=None)

    async def next_event(self, timeout: float = 5.0) -> CallEvent:  # noqa: ASYNC109
        """The next thing this phone noticed."""
        return await asyncio.wait_for(self._events.get(), timeout)

    async def wait_for(
        self,
        kind: str,
        timeout: float = 5.0,  # noqa: ASYNC109 (a budget in real seconds, for tests)
        predicate: Callable[[CallEvent], bool] | None = None,
    ) -> CallEvent:
        """Skip events until one of ``kind`` (and ``predicate``) arrives; TimeoutError if not."""
        if kind not in self.EVENT_KINDS:
            raise ValueError(f"unknown call event kind {kind!r}")

        async def _wait() -> CallEvent:
            while True:
                event = await self._events.get()
                if event.kind == kind and (predicate is None or predicate(event)):
                    return event

        return await asyncio.wait_for(_wait(), timeout)

    def _notice(self, kind: str, detail: str = "", peers: Iterable[str] = ()) -> None:
        event = CallEvent(kind, detail, tuple(peers))
        if kind == "playback_started":
            self.heard.append(detail)
        elif kind == "dtmf":
            self.dtmf_heard.append(detail)
        elif kind == "answered":
            self.answered = True
        elif kind == "hangup":
            self.hangup_cause = int(detail)
        self.history.append(event)
        self._events.put_nowait(event)


# ---------------------------------------------------------------------------------------------
# Core objects.


@dataclass
class CallerId:
    name: str = ""
    number: str = ""


@dataclass
class DialplanLocation:
    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""


@dataclass
class DialAttempt:
    caller_id: str | None
    timeout: float
    dialstring: str
    via_originate: bool = False
    answered: bool = False


@dataclass
class OriginateTarget:
    """Where an originated channel goes once answered: an app, or a dialplan location."""

    app: str | None
    app_args: list[str]
    context: str
    exten: str
    priority: int


class Channel:
    """One Asterisk channel (PJSIP/1001-00000001, Snoop/...)."""

    def __init__(
        self,
        *,
        channel_id: str,
        name: str,
        state: str,
        caller: CallerId,
        dialplan: DialplanLocation,
        protocol_id: str,
        endpoint: EndpointRecord | None,
        linkedid: str | None = None,
    ) -> None:
        self.id = channel_id
        self.name = name
        self.state = state
        self.caller = caller
        self.connected = CallerId()
        self.accountcode = ""
        self.dialplan = dialplan
        self.creationtime = _now()
        self.language = "en"
        self.protocol_id = protocol_id
        self.endpoint = endpoint
        self.linkedid = linkedid or channel_id
        self.variables: dict[str, str] = {}
        self.stasis_app: str | None = None
        self.stasis_args: list[str] = []
        self.bridge: Bridge | None = None
        self.dial: DialAttempt | None = None
        self.originate: OriginateTarget | None = None
        self.far_end: SimCall | None = None
        self.moh_class: str | None = None
        self.on_hold = False
        self.muted = False
        self.gone = False
        self.hangup_requested = False
        self.snoop_target: str | None = None
        self.snoop_ids: list[str] = []
        self.timers: set[asyncio.TimerHandle] = set()
        self.voice = Voice()
        """When the far end talks (``SimCall.speak``): what a recording of it holds."""

    @property
    def is_pjsip(self) -> bool:
        return self.endpoint is not None and self.endpoint.technology == "PJSIP"

    def snapshot(self) -> ChannelSnapshot:
        return ChannelSnapshot(
            uniqueid=self.id,
            linkedid=self.linkedid,
            name=self.name,
            state=self.state,
            caller_name=self.caller.name,
            caller_number=self.caller.number,
            connected_name=self.connected.name,
            connected_number=self.connected.number,
            context=self.dialplan.context,
            exten=self.dialplan.exten,
            priority=self.dialplan.priority,
            app_name=self.dialplan.app_name,
            app_data=self.dialplan.app_data,
            language=self.language,
            accountcode=self.accountcode,
            creationtime=self.creationtime,
            endpoint=self.endpoint.device if self.endpoint else None,
        )


class Bridge:
    """A mixing or holding bridge; it outlives its channels until someone destroys it."""

    def __init__(self, bridge_id: str, bridge_type: str, name: str) -> None:
        self.id = bridge_id
        self.bridge_type = bridge_type
        self.name = name
        self.creationtime = _now()
        self.channel_ids: list[str] = []
        self.moh_class: str | None = None
        self.variables: dict[str, str] = {}
        self.technology = "holding_bridge" if bridge_type == "holding" else "simple_bridge"
        # Helper channels Asterisk puts in a bridge (MOH announcer, recorder): they show up in
        # the members' BRIDGEPEER, e.g. "Recorder/ARI-00000007;2,PJSIP/agent1-0000000c".
        self.helper_channels: dict[str, str] = {}

    def technology_for(self, channels: dict[str, Channel]) -> str:
        """Asterisk's pick: native_rtp for two answered SIP channels, softmix for more."""
        if self.bridge_type == "holding":
            return "holding_bridge"
        if len(self.channel_ids) > 2:
            return "softmix"
        members = [channels.get(cid) for cid in self.channel_ids]
        if len(members) == 2 and all(
            m is not None and m.is_pjsip and m.state == "Up" for m in members
        ):
            return "native_rtp"
        return "simple_bridge"

    def snapshot(self) -> BridgeSnapshot:
        return BridgeSnapshot(
            id=self.id,
            name=self.name,
            bridge_type=self.bridge_type,
            technology=self.technology,
            channel_ids=tuple(self.channel_ids),
        )


class Playback:
    """One ARI playback: a list of media URIs played in turn to a channel or a bridge."""

    def __init__(self, playback_id: str, media: list[str], target_uri: str, language: str) -> None:
        self.id = playback_id
        self.media = media
        self.index = 0
        self.target_uri = target_uri
        self.language = language
        self.state = "queued"
        self.timer: asyncio.TimerHandle | None = None
        self.remaining: float = 0.0  # simulated seconds left when paused
        self.ends_at: float = 0.0  # loop time
        self.paused = False

    @property
    def media_uri(self) -> str:
        return self.media[min(self.index, len(self.media) - 1)]

    @property
    def next_media_uri(self) -> str | None:
        if self.index + 1 < len(self.media):
            return self.media[self.index + 1]
        return None


class LiveRecording:
    """A recording in progress on a channel or a bridge (time measured in loop time)."""

    def __init__(
        self,
        pbx: SimulatedAsterisk,
        *,
        name: str,
        audio_format: str,
        target_uri: str,
        max_duration: int,
        terminate_on: str,
        if_exists: str,
        max_silence: int = 0,
        app: str | None = None,
        voice: Voice | None = None,
    ) -> None:
        self._pbx = pbx
        self.name = name
        self.format = audio_format
        self.target_uri = target_uri
        self.state = "queued"
        self.cause = ""
        self.max_duration = max_duration
        self.max_silence = max_silence
        self.app = app
        """The app that asked for it: recording events go to it (``stasis_app_control_publish``)
        even once its channel is gone."""
        self.voice = voice
        """A channel recording's far end (what it hears); None for a bridge."""
        self.talking_seconds: float | None = None
        """Simulated seconds of talking, once stopped (``maxSilenceSeconds`` set)."""
        self.silence_timer: asyncio.TimerHandle | None = None
        self.terminate_on = terminate_on
        self.if_exists = if_exists
        self.started_at: float = 0.0
        self.paused_since: float | None = None
        self.paused_total = 0.0
        self.muted = False
        self.stopped_at: float | None = None
        self.timer: asyncio.TimerHandle | None = None

    def duration_seconds(self) -> float:
        """Simulated seconds recorded so far (pauses excluded)."""
        if self.started_at == 0.0:
            return 0.0
        end = self.stopped_at if self.stopped_at is not None else self._pbx.loop_time()
        paused = self.paused_total
        if self.paused_since is not None:
            paused += end - self.paused_since
        return max(0.0, (end - self.started_at - paused) * self._pbx.speed)


@dataclass
class StasisApp:
    """An ARI application: its WebSocket sink (if connected) and what it is subscribed to."""

    name: str
    sink: Callable[[Json], None] | None = None
    subscribe_all: bool = False
    channel_ids: set[str] = field(default_factory=set)
    bridge_ids: set[str] = field(default_factory=set)
    endpoint_ids: set[str] = field(default_factory=set)
    device_names: set[str] = field(default_factory=set)
    events_allowed: list[Json] = field(default_factory=list)
    events_disallowed: list[Json] = field(default_factory=list)

    def wants(self, event_type: str) -> bool:
        """The app's event filter (PUT /applications/{app}/eventFilter)."""
        if self.events_allowed and not any(
            item.get("type") == event_type for item in self.events_allowed
        ):
            return False
        return not any(item.get("type") == event_type for item in self.events_disallowed)


# ---------------------------------------------------------------------------------------------
# The PBX.


class SimulatedAsterisk:
    """The simulated Asterisk 22: one instance per test or demo, bound to the running loop."""

    version = "22.10.1"
    instances: ClassVar[weakref.WeakSet[SimulatedAsterisk]] = weakref.WeakSet()
    """Every PBX made in this process (tests check none is left holding calls)."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        recordings_dir: Path | None = None,
        asterisk_id: str = "02:fc:00:00:00:01",
        sounds: dict[str, float] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.asterisk_id = asterisk_id
        self.recordings_dir = recordings_dir or Path(
            os.environ.get("CALLCENTER_SIM_RECORDINGS", "/tmp/callcenter-sim-recordings")
        )
        # Asterisk's installer creates astspooldir/recording; without it (a broken install,
        # a test removing it) recording answers 500 and listing stored recordings 500
        # "Allocation failed" (res/ari/resource_recordings.c, seen on 22.10.1).
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        # Every core sound of Asterisk 22 exists (2 s unless STANDARD_SOUNDS knows better).
        self.sounds: dict[str, float] = {
            **dict.fromkeys(core_sounds(), DEFAULT_SOUND_SECONDS),
            **STANDARD_SOUNDS,
            **(sounds or {}),
        }
        self.sound_languages: dict[str, tuple[str, ...]] = {}
        """Languages of a sound's files when not only ``en`` (GET /sounds, sim/sounds.py)."""
        self.startup_time = _now()
        self.last_reload_time = self.startup_time
        self.dialplan = Dialplan()
        self.channels: dict[str, Channel] = {}
        self._channels_by_name: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}
        self.live_recordings: dict[str, LiveRecording] = {}
        self.endpoints: dict[str, EndpointRecord] = {}
        self.apps: dict[str, StasisApp] = {}
        self.custom_device_states: dict[str, str] = {}
        self.queues: dict[str, QueueState] = {}
        self._queue_calls: dict[str, QueueCall] = {}  # caller channel id -> its queue call
        self._queue_member_calls: dict[str, str] = {}  # member channel id -> caller channel id
        self.global_variables: dict[str, str] = {}
        self.processed_calls = 0
        self._listeners: list[Listener] = []
        self._unique_counter = itertools.count(1)
        self._name_counter = itertools.count(1)
        self._snoop_counter = itertools.count(1)
        self._helper_counter = itertools.count(1)
        self._playback_queues: dict[str, list[Playback]] = {}
        self._recording_targets: dict[str, list[LiveRecording]] = {}
        self._pbx_timers: set[asyncio.TimerHandle] = set()
        self._device_states: dict[str, str] = {}
        self._closed = False
        SimulatedAsterisk.instances.add(self)

    # -- clock --------------------------------------------------------------------------------

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def _later(
        self, delay_sim_seconds: float, action: Callable[[], None], owner: Channel | None = None
    ) -> asyncio.TimerHandle:
        """Run ``action`` after a simulated delay; the owning channel cancels it on hang-up."""
        timers = owner.timers if owner is not None else self._pbx_timers

        def fire() -> None:
            timers.discard(handle)
            if self._closed:
                return
            try:
                action()
            except Exception:
                log.exception("sim timer action failed (channel %s)", owner.id if owner else "-")

        handle = asyncio.get_running_loop().call_later(
            max(0.0, delay_sim_seconds) / self.speed, fire
        )
        timers.add(handle)
        return handle

    def leftovers(self) -> list[str]:
        """What is still up: channels (with their dialplan app) and bridges (with their
        members). A test that ends with anything here left a call behind."""
        found = [
            f"channel {c.id} {c.name} ({c.state}, {c.dialplan.app_name or 'no app'})"
            for c in self.channels.values()
        ]
        found += [f"bridge {b.id} {b.name!r} with {b.channel_ids}" for b in self.bridges.values()]
        return found

    async def close(self) -> None:
        """Cancel every pending timer (call at the end of a test)."""
        self._closed = True
        for channel in self.channels.values():
            for handle in channel.timers:
                handle.cancel()
            channel.timers.clear()
        for handle in self._pbx_timers:
            handle.cancel()
        self._pbx_timers.clear()
        for playback in self.playbacks.values():
            if playback.timer:
                playback.timer.cancel()
        for recording in self.live_recordings.values():
            if recording.timer:
                recording.timer.cancel()

    # -- listeners ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Receive internal events (see module docstring); returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, event: PbxEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("sim listener %r failed on %s", listener, type(event).__name__)

    # -- sounds -------------------------------------------------------------------------------

    def add_sound(
        self, name: str, seconds: float = DEFAULT_SOUND_SECONDS, *, language: str = "en"
    ) -> None:
        """Make ``sound:name`` exist (e.g. the project's IVR prompts), ``seconds`` long."""
        self.sounds[name] = seconds
        if language != "en":
            self.sound_languages[name] = (language,)

    def media_duration(self, media_uri: str) -> float | None:
        """Simulated length of a media URI, or None when Asterisk could not play it."""
        scheme, _, value = media_uri.partition(":")
        if scheme == "sound":
            return self.sounds.get(value)
        if scheme in ("digits", "characters"):
            return SECONDS_PER_SPOKEN_DIGIT * len(value) if value else None
        if scheme == "number":
            try:
                int(value)
            except ValueError:
                return None
            return SECONDS_PER_SPOKEN_DIGIT * len(value.lstrip("-"))
        if scheme == "recording":
            path = self._stored_recording_path(value)
            return wav.wav_seconds(path) if path and path.suffix == ".wav" else None
        if scheme == "tone":
            return float("inf")  # tones play until stopped
        return None

    # -- ARI applications and event delivery --------------------------------------------------

    def app(self, name: str) -> StasisApp:
        """The application record, created on first use (as a WebSocket connect would)."""
        app = self.apps.get(name)
        if app is None:
            app = self.apps[name] = StasisApp(name)
        return app

    def connect_app(
        self, name: str, sink: Callable[[Json], None], *, subscribe_all: bool = False
    ) -> Callable[[Json], None] | None:
        """Attach a WebSocket to an app; returns the sink it replaces (gets ApplicationReplaced)."""
        app = self.app(name)
        previous = app.sink
        app.sink = sink
        app.subscribe_all = subscribe_all
        return previous

    def disconnect_app(self, name: str, sink: Callable[[Json], None]) -> None:
        """Detach a closed WebSocket; the app keeps its channels (events are lost meanwhile)."""
        app = self.apps.get(name)
        # == not "is": a bound method (stream.push) is a new object at every attribute access.
        if app is not None and app.sink == sink:
            app.sink = None

    def _envelope(self, event_type: str, fields: Json) -> Json:
        return {
            "type": event_type,
            "timestamp": ari_models.format_timestamp(_now()),
            **fields,
            "asterisk_id": self.asterisk_id,
        }

    def _publish(
        self,
        event_type: str,
        fields: Json,
        *,
        channels: Iterable[Channel] = (),
        bridges: Iterable[Bridge] = (),
        devices: Iterable[str] = (),
        endpoints: Iterable[str] = (),
        apps: tuple[str, ...] = (),
    ) -> None:
        """Send one ARI event to every connected app subscribed to any object it concerns."""
        channel_ids = [channel.id for channel in channels]
        bridge_ids = [bridge.id for bridge in bridges]
        body: Json | None = None
        for app in self.apps.values():
            if app.sink is None:
                continue
            if not (
                app.subscribe_all
                or not app.channel_ids.isdisjoint(channel_ids)
                or not app.bridge_ids.isdisjoint(bridge_ids)
                or app.name in apps
                or not app.device_names.isdisjoint(devices)
                or not app.endpoint_ids.isdisjoint(endpoints)
            ):
                continue
            if (app.events_allowed or app.events_disallowed) and not app.wants(event_type):
                continue
            if body is None:
                body = self._envelope(event_type, fields)
            app.sink({**body, "application": app.name})

    def _publish_channel(self, event_type: str, channel: Channel, **extra: Any) -> None:
        fields: Json = dict(extra)
        fields["channel"] = ari_models.channel_json(channel)
        self._publish(event_type, fields, channels=[channel])

    # -- ids and names ------------------------------------------------------------------------

    def _new_unique_id(self) -> str:
        # Asterisk's uniqueid: "<epoch seconds>.<global counter>".
        return f"{int(time.time())}.{next(self._unique_counter)}"

    def _new_channel_name(self, technology: str, resource: str) -> str:
        return f"{technology}/{resource}-{next(self._name_counter):08x}"

    # -- endpoints ----------------------------------------------------------------------------

    def register_endpoint(
        self,
        technology: str,
        resource: str,
        behaviour: BehaviourChoice | None = None,
        *,
        context: str = "default",
        online: bool = True,
    ) -> EndpointHandle:
        """Declare a phone (e.g. PJSIP/1001) that agents use; dials to it follow ``behaviour``."""
        key = f"{technology}/{resource}"
        record = EndpointRecord(
            technology, resource, behaviour or EndpointBehaviour.answer_after(1.0), context, online
        )
        handle = EndpointHandle(self, record)
        record.handle = handle
        self.endpoints[key] = record
        self._refresh_device_state(record)
        return handle

    def set_endpoint_online(self, record: EndpointRecord, online: bool) -> None:
        """The phone's contact answers qualify again (online) or stops answering (offline).

        As Asterisk 22.10.1 with chan_pjsip: ContactStatusChange (Reachable/Unreachable),
        PeerStatusChange and EndpointStateChange, sent only to apps subscribed to the endpoint
        (``endpoint:PJSIP/1001``, or ``endpoint:PJSIP`` for all) or to every event; then the
        device state. While offline, ``channels/create`` to it answers 500 "Allocation failed".
        """
        if record.online == online:
            return
        record.online = online
        endpoint = ari_models.endpoint_json(record)
        targets = [record.device, record.technology]
        status = "Reachable" if online else "Unreachable"
        self._publish(
            "ContactStatusChange",
            {"endpoint": endpoint, "contact_info": ari_models.contact_info_json(record, status)},
            endpoints=targets,
        )
        self._publish(
            "PeerStatusChange",
            {"endpoint": endpoint, "peer": {"peer_status": status}},
            endpoints=targets,
        )
        self._publish("EndpointStateChange", {"endpoint": endpoint}, endpoints=targets)
        self._refresh_device_state(record)

    def endpoint_device_state(self, record: EndpointRecord) -> str:
        """Device state Asterisk derives from an endpoint's channels."""
        if not record.online:
            return "UNAVAILABLE"
        if not record.channels:
            return "NOT_INUSE"
        if record.on_hold_count:
            return "ONHOLD"
        up = record.state_counts.get("Up", 0) > 0
        ringing = record.state_counts.get("Ringing", 0) > 0
        if up and ringing:
            return "RINGINUSE"
        if ringing:
            return "RINGING"
        return "INUSE"

    def device_state(self, name: str) -> str:
        """State of a device: an endpoint (PJSIP/1001) or a custom one (Stasis:foo)."""
        if name in self.custom_device_states:
            return self.custom_device_states[name]
        record = self.endpoints.get(name)
        if record is not None:
            return self.endpoint_device_state(record)
        return "UNKNOWN"

    def set_custom_device_state(self, name: str, state: str | None) -> None:
        """PUT/DELETE /deviceStates/Stasis:name (None removes it)."""
        if state is None:
            self.custom_device_states.pop(name, None)
            self._device_state_changed(name, "UNKNOWN")
            return
        self.custom_device_states[name] = state
        self._device_state_changed(name, state)

    def _refresh_device_state(self, record: EndpointRecord) -> None:
        self._device_state_changed(record.device, self.endpoint_device_state(record))

    def _device_state_changed(self, name: str, state: str) -> None:
        if self._device_states.get(name) == state:
            return
        self._device_states[name] = state
        for queue in self.queues.values():
            member = queue.member(name)
            if member is not None:
                self._member_status_changed(queue, member)
        if self._listeners:  # snapshots cost; build them only when heard
            self._notify(DeviceStateChanged(at=_now(), device=name, state=state))
        self._publish(
            "DeviceStateChanged",
            {"device_state": ari_models.device_state_json(name, state)},
            devices=[name],
        )

    # -- channel bookkeeping ------------------------------------------------------------------

    def _add_channel(self, channel: Channel) -> None:
        self.channels[channel.id] = channel
        self._channels_by_name[channel.name] = channel
        if channel.endpoint is not None:
            channel.endpoint.channels[channel.id] = None
            channel.endpoint.count(channel.state, 1)
        if self._listeners:
            self._notify(ChannelCreated(at=_now(), channel=channel.snapshot()))
        self._publish_channel("ChannelCreated", channel)
        if channel.endpoint is not None:
            self._refresh_device_state(channel.endpoint)

    def _set_state(self, channel: Channel, state: str) -> None:
        if channel.state == state or channel.gone:
            return
        if channel.endpoint is not None:
            channel.endpoint.count(channel.state, -1)
            channel.endpoint.count(state, 1)
        channel.state = state
        if channel.bridge is not None:
            channel.bridge.technology = channel.bridge.technology_for(self.channels)
        if self._listeners:
            self._notify(ChannelStateChanged(at=_now(), channel=channel.snapshot()))
        self._publish_channel("ChannelStateChange", channel)
        if channel.endpoint is not None:
            self._refresh_device_state(channel.endpoint)

    def _set_dialplan_app(self, channel: Channel, app_name: str, app_data: str) -> None:
        channel.dialplan.app_name = app_name
        channel.dialplan.app_data = app_data
        if self._listeners:
            self._notify(ChannelDialplanChanged(at=_now(), channel=channel.snapshot()))
        self._publish_channel(
            "ChannelDialplan", channel, dialplan_app=app_name, dialplan_app_data=app_data
        )

    def set_variable(self, channel: Channel, variable: str, value: str) -> None:
        """Set a channel variable: ChannelVarset to the app, VarSet to AMI."""
        channel.variables[variable] = value
        if self._listeners:
            self._notify(
                ChannelVarSet(at=_now(), channel=channel.snapshot(), variable=variable, value=value)
            )
        self._publish_channel("ChannelVarset", channel, variable=variable, value=value)

    def get_variable(self, channel: Channel, variable: str) -> str:
        """A channel variable or one of the few dialplan functions the sim knows."""
        functions = {
            "CALLERID(num)": channel.caller.number,
            "CALLERID(name)": channel.caller.name,
            "CONNECTEDLINE(num)": channel.connected.number,
            "CONNECTEDLINE(name)": channel.connected.name,
            "CHANNEL(name)": channel.name,
            "CHANNEL(language)": channel.language,
            "UNIQUEID": channel.id,
            "EXTEN": channel.dialplan.exten,
            "CONTEXT": channel.dialplan.context,
        }
        if variable in functions:
            return functions[variable]
        if variable in channel.variables:
            return channel.variables[variable]
        if variable in self.global_variables:
            return self.global_variables[variable]
        raise PbxError(404, "Provided variable was not found")

    def channel_by_name(self, name: str) -> Channel | None:
        """A live channel by its name (``PJSIP/agent1-0000000c``), as AMI addresses them."""
        return self._channels_by_name.get(name)

    def get_channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise PbxError(404, "Channel not found")
        return channel

    def _media_channel(self, channel_id: str) -> Channel:
        """A Stasis channel whose media or dialplan position the app may touch.

        Asterisk refuses those operations with 412 on an outbound channel that was created
        but not answered yet (state Down or Ringing).
        """
        channel = self._stasis_channel(channel_id)
        if channel.state in ("Down", "Rsrved", "Ringing"):
            raise PbxError(412, "Channel in invalid state")
        return channel

    def stasis_channel(self, channel_id: str) -> Channel:
        """A live channel that is in a Stasis app (404 if unknown, 409 if not in Stasis)."""
        return self._stasis_channel(channel_id)

    def _stasis_channel(self, channel_id: str) -> Channel:
        channel = self.get_channel(channel_id)
        if channel.stasis_app is None:
            raise PbxError(409, "Channel not in Stasis application")
        return channel

    # -- Stasis -------------------------------------------------------------------------------

    def _enter_stasis(self, channel: Channel, app_name: str, args: list[str]) -> None:
        app = self.app(app_name)
        app.channel_ids.add(channel.id)
        channel.stasis_app = app_name
        channel.stasis_args = list(args)
        self._publish_channel("StasisStart", channel, args=list(args))

    def _leave_stasis(self, channel: Channel, *, unsubscribe: bool = False) -> None:
        if channel.stasis_app is None:
            return
        self._publish_channel("StasisEnd", channel)
        channel.stasis_app = None
        if unsubscribe:
            self._unsubscribe_channel(channel)
        self.set_variable(channel, "STASISSTATUS", "SUCCESS")

    def _unsubscribe_channel(self, channel: Channel) -> None:
        for app in self.apps.values():
            app.channel_ids.discard(channel.id)

    def _run_dialplan(self, channel: Channel, route: DialplanRoute | None) -> None:
        """Follow a dialplan route: Stasis, Reject, or Playback+Hangup."""
        if route is None:
            self._end_channel(channel, cause=1, style="dialplan")
            return
        channel.dialplan.context = route.context
        channel.dialplan.exten = route.exten
        channel.dialplan.priority = route.priority
        target = route.target
        if isinstance(target, Stasis):
            self._set_dialplan_app(channel, "Stasis", target.app_data)
            app = self.apps.get(target.app)
            if app is None or app.sink is None:
                # Asterisk: "Stasis app 'x' not registered": STASISSTATUS=FAILED, the dialplan
                # carries on and (here) ends the call.
                log.warning(
                    "sim: Stasis app %s not connected; hanging up %s", target.app, channel.id
                )
                self.set_variable(channel, "STASISSTATUS", "FAILED")
                self._end_channel(channel, cause=16, style="dialplan")
                return
            self.set_variable(channel, "STASISSTATUS", "")
            self._enter_stasis(channel, target.app, list(target.args))
        elif isinstance(target, Queue):
            self._enter_queue(channel, target.name)
        elif isinstance(target, Reject):
            self._set_dialplan_app(channel, "Hangup", str(target.cause))
            self._end_channel(channel, cause=target.cause, style="dialplan")
        else:
            self._set_dialplan_app(channel, "Playback", target.sound)
            seconds = self.sounds.get(target.sound, 0.0)
            if channel.far_end is not None:
                channel.far_end._notice("playback_started", f"sound:{target.sound}")
            self._later(
                seconds, lambda: self._end_channel(channel, cause=16, style="dialplan"), channel
            )

    # -- inbound calls (synthetic callers) ----------------------------------------------------

    def place_inbound_call(
        self,
        exten: str,
        caller_number: str,
        caller_name: str = "",
        *,
        context: str = "from-callers",
        endpoint: str = "callers",
    ) -> SimCall:
        """A SIP INVITE from a caller to ``exten``: the channel follows the dialplan route."""
        record = self.endpoints.get(f"PJSIP/{endpoint}")
        channel = Channel(
            channel_id=self._new_unique_id(),
            name=self._new_channel_name("PJSIP", endpoint),
            state="Ring",
            caller=CallerId(caller_name, caller_number),
            dialplan=DialplanLocation(context, exten, 1),
            protocol_id=f"{uuid.uuid4().hex[:8]}@127.0.0.2",
            endpoint=record,
        )
        call = SimCall(self, channel)
        channel.far_end = call
        self.processed_calls += 1
        self._add_channel(channel)
        self._run_dialplan(channel, self.dialplan.lookup(context, exten))
        return call

    def receive_dtmf(self, channel_id: str, digit: str, duration_ms: int = 280) -> None:
        """A key pressed at the far end of a channel."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.gone:
            return
        if self._listeners:
            self._notify(
                DtmfReceived(
                    at=_now(), channel=channel.snapshot(), digit=digit, duration_ms=duration_ms
                )
            )
        self._publish_channel("ChannelDtmfReceived", channel, digit=digit, duration_ms=duration_ms)
        for recording in list(self._recording_targets.get(f"channel:{channel.id}", [])):
            if recording.terminate_on == "any" or recording.terminate_on == digit:
                self.stop_recording(recording.name)

    def remote_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The far end hung up (BYE)."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.gone:
            return
        if channel.dial is not None and not channel.dial.answered:
            # The agent's phone rejected the ringing call.
            self._dial_failed(channel, cause=cause, tech_cause=603 if cause == 21 else None)
            return
        self._end_channel(channel, cause=cause, style="remote")

    # -- channel operations (ARI) -------------------------------------------------------------

    def answer(self, channel_id: str) -> None:
        channel = self._media_channel(channel_id)
        if channel.state != "Up":
            self._set_state(channel, "Up")
            if channel.far_end is not None:
                channel.far_end._notice("answered")

    def ring(self, channel_id: str, ringing: bool = True) -> None:
        channel = self._media_channel(channel_id)
        if ringing and channel.far_end is not None:
            channel.far_end._notice("ringing")

    def hangup(
        self, channel_id: str, reason: str | None = None, reason_code: str | None = None
    ) -> None:
        """DELETE /channels/{id}: the app hangs a channel up."""
        channel = self.get_channel(channel_id)
        if reason_code is not None and reason is not None:
            raise PbxError(400, "The reason and reason_code can't both be specified")
        if reason_code is not None:
            try:
                cause = int(reason_code)
            except ValueError as exc:
                raise PbxError(400, "Invalid reason for hangup provided") from exc
        elif reason is not None:
            if reason not in HANGUP_REASONS:
                raise PbxError(400, "Invalid reason for hangup provided")
            cause = HANGUP_REASONS[reason]
        else:
            cause = 16
        if channel.dial is not None and not channel.dial.answered:
            self._notify_dial_end(channel, "CANCEL")
        self._end_channel(channel, cause=cause, style="app")

    def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None,
        extension: str | None,
        priority: int | None,
    ) -> None:
        """POST /channels/{id}/continue: StasisEnd at once, then the dialplan carries on.

        Without a location the channel goes on at the next priority, which in our one-step
        dialplan means it falls off the end and hangs up.
        """
        channel = self._media_channel(channel_id)
        moved = context is not None or extension is not None
        context = context or channel.dialplan.context
        extension = extension or channel.dialplan.exten
        target_priority = priority or (1 if moved else channel.dialplan.priority + 1)
        self._leave_stasis(channel, unsubscribe=True)  # the app hears no more of it
        route = self.dialplan.lookup(context, extension)
        channel.dialplan.context = context
        channel.dialplan.exten = extension
        channel.dialplan.priority = target_priority
        if route is not None and target_priority > route.priority:
            route = None
        # The next step runs after the REST answer, as on Asterisk's channel thread.
        self._later(0.0, lambda: self._continue(channel, route), channel)

    def _continue(self, channel: Channel, route: DialplanRoute | None) -> None:
        if channel.gone:
            return
        if route is None:
            self._end_channel(channel, cause=16, style="dialplan")
        else:
            self._run_dialplan(channel, route)

    def redirect(self, channel_id: str, endpoint: str) -> None:
        """POST /channels/{id}/redirect: the channel leaves us for another endpoint."""
        channel = self._media_channel(channel_id)
        tech, slash, resource = endpoint.partition("/")
        if not tech or not slash:
            raise PbxError(422, f"Endpoint parameter '{endpoint}' does not contain tech/resource")
        if not resource:
            raise PbxError(422, f"No resource provided in endpoint parameter '{endpoint}'")
        own_tech = channel.name.split("/", 1)[0]
        if tech.lower() != own_tech.lower():
            raise PbxError(
                422,
                f"Endpoint technology '{tech}' does not match channel technology '{own_tech}'",
            )
        self._leave_stasis(channel, unsubscribe=True)  # the app hears no more of it
        self._later(0.0, lambda: self._end_channel(channel, cause=16, style="dialplan"), channel)

    def send_dtmf(self, channel_id: str, digits: str) -> None:
        channel = self._media_channel(channel_id)
        if not digits:
            raise PbxError(400, "DTMF is required")
        if channel.far_end is not None:
            for digit in digits:
                if digit not in ",":
                    channel.far_end._notice("dtmf", digit)

    def set_hold(self, channel_id: str, on_hold: bool) -> None:
        channel = self._media_channel(channel_id)
        if channel.endpoint is not None and channel.on_hold != on_hold:
            channel.endpoint.on_hold_count += 1 if on_hold else -1
        channel.on_hold = on_hold
        if self._listeners:
            self._notify(
                HoldChanged(at=_now(), channel=channel.snapshot(), on_hold=on_hold, music_class="")
            )
        if on_hold:
            self._publish_channel("ChannelHold", channel)
        else:
            self._publish_channel("ChannelUnhold", channel)
        if channel.endpoint is not None:
            self._refresh_device_state(channel.endpoint)

    def set_mute(self, channel_id: str, muted: bool) -> None:
        channel = self._media_channel(channel_id)
        channel.muted = muted

    def start_channel_moh(self, channel_id: str, music_class: str | None) -> None:
        channel = self._media_channel(channel_id)
        channel.moh_class = music_class or "default"
        if self._listeners:
            self._notify(
                MusicOnHoldChanged(
                    at=_now(),
                    channel=channel.snapshot(),
                    playing=True,
                    music_class=channel.moh_class,
                )
            )
        if channel.far_end is not None:
            channel.far_end._notice("moh_started", channel.moh_class)

    def stop_channel_moh(self, channel_id: str) -> None:
        channel = self._media_channel(channel_id)
        if channel.moh_class is None:
            return
        music_class, channel.moh_class = channel.moh_class, None
        if self._listeners:
            self._notify(
                MusicOnHoldChanged(
                    at=_now(), channel=channel.snapshot(), playing=False, music_class=music_class
                )
            )
        if channel.far_end is not None:
            channel.far_end._notice("moh_stopped", music_class)

    # -- outbound channels: create + dial, originate ------------------------------------------

    def _endpoint_for(self, endpoint: str) -> EndpointRecord:
        record = self.endpoints.get(endpoint)
        if record is None or not record.online:
            # Asterisk cannot build a channel for an endpoint it does not know, nor for one
            # whose contact is unreachable or unqualified (seen on 22.10.1: same 500).
            raise PbxError(500, "Allocation failed", key="error")
        return record

    def create_channel(
        self,
        endpoint: str,
        app: str,
        app_args: str | None = None,
        channel_id: str | None = None,
        originator: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> tuple[Channel, Json]:
        """POST /channels/create: a Down channel, in the app at once (StasisStart before dial).

        Returns the channel and the snapshot the REST answer carries (taken before Stasis,
        so its dialplan app is still empty, as on Asterisk).
        """
        record = self._endpoint_for(endpoint)
        if channel_id is not None and channel_id in self.channels:
            raise PbxError(409, "Channel with given unique ID already exists")
        origin = self.channels.get(originator) if originator else None
        channel = Channel(
            channel_id=channel_id or self._new_unique_id(),
            name=self._new_channel_name(record.technology, record.resource),
            state="Down",
            caller=CallerId(),
            dialplan=DialplanLocation(record.context, "s", 1),
            protocol_id=str(uuid.uuid4()),
            endpoint=record,
            linkedid=origin.linkedid if origin else None,
        )
        for key, value in (variables or {}).items():
            channel.variables[key] = str(value)
        self._add_channel(channel)
        snapshot = ari_models.channel_json(channel)
        args = [arg for arg in (app_args or "").split(",")] if app_args else []
        self.app(app).channel_ids.add(channel.id)
        self._set_dialplan_app(channel, "Stasis", ",".join([app, *args]))
        self.set_variable(channel, "STASISSTATUS", "")
        self._enter_stasis(channel, app, args)
        if origin is not None:
            channel.connected = CallerId(origin.caller.name, origin.caller.number)
            self._publish_channel("ChannelConnectedLine", channel)
        return channel, snapshot

    def dial(self, channel_id: str, caller: str | None = None, timeout: int = 0) -> None:
        """POST /channels/{id}/dial: ring the endpoint of a channel made by channels/create."""
        channel = self._stasis_channel(channel_id)
        if channel.endpoint is None or channel.dial is not None or channel.state != "Down":
            raise PbxError(409, "Channel is not in the 'Down' state")
        caller_channel = self.channels.get(caller) if caller else None
        if caller_channel is not None and (
            channel.connected.name,
            channel.connected.number,
        ) != (caller_channel.caller.name, caller_channel.caller.number):
            # Dial's caller becomes the agent's connected line (ChannelConnectedLine, capture c).
            channel.connected = CallerId(caller_channel.caller.name, caller_channel.caller.number)
            self._publish_channel("ChannelConnectedLine", channel)
        channel.dial = DialAttempt(
            caller_id=caller_channel.id if caller_channel else None,
            timeout=float(timeout),
            dialstring=channel.endpoint.resource,
        )
        self._start_dial(channel)

    def originate(
        self,
        endpoint: str,
        *,
        app: str | None,
        app_args: str | None,
        context: str | None,
        extension: str | None,
        priority: int | None,
        caller_id: str | None,
        timeout: int,
        channel_id: str | None = None,
        originator: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Json:
        """POST /channels: dial at once; StasisStart only once the far end answers."""
        if not endpoint:
            raise PbxError(400, "Endpoint must be specified")
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            raise PbxError(400, "Invalid endpoint specified")
        if app is None and extension is None:
            raise PbxError(400, "Application or extension must be specified")
        record = self._endpoint_for(endpoint)
        if app is None and extension is None:
            raise PbxError(400, "Application or extension must be specified")
        if app is not None and extension is not None:
            raise PbxError(400, "Application and extension are mutually exclusive")
        if channel_id is not None and channel_id in self.channels:
            raise PbxError(409, "Channel with given unique ID already exists")
        name, number = _parse_caller_id(caller_id or "")
        origin = self.channels.get(originator) if originator else None
        channel = Channel(
            channel_id=channel_id or self._new_unique_id(),
            name=self._new_channel_name(record.technology, record.resource),
            state="Down",
            caller=CallerId(name, number),
            dialplan=DialplanLocation(record.context, "s", 1),
            protocol_id=str(uuid.uuid4()),
            endpoint=record,
            linkedid=origin.linkedid if origin else None,
        )
        channel.connected = CallerId(name, number)
        for key, value in (variables or {}).items():
            channel.variables[key] = str(value)
        args = app_args.split(",") if app_args else []
        channel.originate = OriginateTarget(
            app, args, context or "default", extension or "s", priority or 1
        )
        self._add_channel(channel)
        if app is not None:
            # The app is subscribed to an originated channel at once: it sees the Dial events
            # (but not ChannelCreated, which went out before the subscription).
            self.app(app).channel_ids.add(channel.id)
        channel.dialplan.app_name = "AppDial2"
        channel.dialplan.app_data = "(Outgoing Line)"
        snapshot = ari_models.channel_json(channel)
        channel.dial = DialAttempt(
            caller_id=None,
            timeout=float(timeout) if timeout > 0 else 0.0,
            dialstring=record.resource,
            via_originate=True,
        )
        self._later(0.0, lambda: self._start_dial(channel), channel)
        return snapshot

    def _start_dial(self, channel: Channel) -> None:
        assert channel.dial is not None and channel.endpoint is not None
        dial = channel.dial
        record = channel.endpoint
        call = SimCall(self, channel)
        channel.far_end = call
        caller = self.channels.get(dial.caller_id) if dial.caller_id else None
        if self._listeners:
            self._notify(
                DialBegan(
                    at=_now(),
                    caller=caller.snapshot() if caller else None,
                    peer=channel.snapshot(),
                    dialstring=f"{record.technology}/{record.resource}",
                )
            )
        if dial.via_originate:
            # An originate shows the phone ringing before the first Dial event (capture h).
            self._set_state(channel, "Ringing")
        self._publish_dial(channel, "", dial.dialstring)
        behaviour = record.behaviour
        chosen = behaviour(call) if callable(behaviour) else behaviour
        if not record.online or chosen.outcome == "unavailable":
            self._later(0.0, lambda: self._dial_failed(channel, cause=20, tech_cause=None), channel)
            return
        if chosen.outcome == "busy":
            self._later(
                chosen.after, lambda: self._dial_failed(channel, cause=17, tech_cause=486), channel
            )
            return
        if chosen.outcome == "reject":
            self._later(
                chosen.after, lambda: self._dial_failed(channel, cause=21, tech_cause=603), channel
            )
            return
        self._later(0.0, lambda: self._dial_ringing(channel, chosen), channel)
        if dial.timeout > 0:
            self._later(dial.timeout, lambda: self._dial_timed_out(channel), channel)

    def _publish_dial(self, channel: Channel, dialstatus: str, dialstring: str) -> None:
        fields: Json = {
            "dialstatus": dialstatus,
            "forward": "",
            "dialstring": dialstring,
            "peer": ari_models.channel_json(channel),
        }
        self._publish("Dial", fields, channels=[channel])

    def _dial_ringing(self, channel: Channel, behaviour: EndpointBehaviour) -> None:
        if channel.gone or channel.dial is None:
            return
        if channel.dial.via_originate:
            self._publish_dial(channel, "RINGING", channel.dial.dialstring)
        else:
            # Two threads of Asterisk race here: the call-flow and bridged-calls captures show
            # the state change first (three times), the failure-paths one the Dial once.
            self._set_state(channel, "Ringing")
            self._publish_dial(channel, "RINGING", "")
        assert channel.far_end is not None and channel.endpoint is not None
        channel.far_end._notice("ringing")
        if channel.endpoint.handle is not None:
            channel.endpoint.handle._ringing(channel.far_end)
        if behaviour.outcome == "answer":
            self._later(behaviour.after, lambda: self.answer_dialled(channel.id), channel)

    def answer_dialled(self, channel_id: str) -> None:
        """The dialled phone answers (automatic by behaviour, or SimCall.answer())."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.gone or channel.dial is None or channel.dial.answered:
            return
        dial = channel.dial
        dial.answered = True
        for handle in list(channel.timers):
            handle.cancel()  # the dial time-out no longer applies
        channel.timers.clear()
        self._set_state(channel, "Up")
        self._publish_dial(channel, "ANSWER", dial.dialstring if dial.via_originate else "")
        self._notify_dial_end(channel, "ANSWER")
        assert channel.far_end is not None
        channel.far_end._notice("answered")
        if dial.via_originate and channel.originate is not None:
            target = channel.originate
            if target.app is not None:
                # No ChannelDialplan reaches the app here (capture h): set it quietly.
                channel.dialplan.app_name = "Stasis"
                channel.dialplan.app_data = ",".join([target.app, *target.app_args])
                if self._listeners:
                    self._notify(ChannelDialplanChanged(at=_now(), channel=channel.snapshot()))
                self.set_variable(channel, "STASISSTATUS", "")
                self._enter_stasis(channel, target.app, target.app_args)
            else:
                self._run_dialplan(channel, self.dialplan.lookup(target.context, target.exten))
        if channel.id in self._queue_member_calls:
            self._queue_connect(channel)
        chosen = channel.endpoint.behaviour if channel.endpoint else None
        if isinstance(chosen, EndpointBehaviour) and chosen.talk_seconds is not None:
            self._later(chosen.talk_seconds, lambda: self.remote_hangup(channel.id, 16), channel)

    def _notify_dial_end(self, channel: Channel, dialstatus: str) -> None:
        dial = channel.dial
        if dial is None:
            return
        caller = self.channels.get(dial.caller_id) if dial.caller_id else None
        if self._listeners:
            self._notify(
                DialEnded(
                    at=_now(),
                    caller=caller.snapshot() if caller else None,
                    peer=channel.snapshot(),
                    dialstatus=dialstatus,
                )
            )

    def _dial_failed(self, channel: Channel, *, cause: int, tech_cause: int | None) -> None:
        """Busy/rejected/unreachable: no Dial BUSY reaches the app, only the hang-up cause."""
        if channel.gone:
            return
        status = {17: "BUSY", 20: "CHANUNAVAIL", 21: "CONGESTION"}.get(cause, "CONGESTION")
        self._notify_dial_end(channel, status)
        request: Json = {"cause": cause}
        if tech_cause is not None:
            request["tech_cause"] = tech_cause
        self._end_channel(
            channel, cause=cause, style="dial_failed", request=request, tech_cause=tech_cause
        )

    def _dial_timed_out(self, channel: Channel) -> None:
        """No answer before the dial time-out: request cause 32, destroyed with cause 19."""
        if channel.gone or channel.dial is None or channel.dial.answered:
            return
        self._notify_dial_end(channel, "NOANSWER")
        self._end_channel(
            channel,
            cause=19,
            style="dial_failed",
            request={"cause": APP_HANGUP_REQUEST_CAUSE, "soft": True},
            tech_cause=480,
        )

    # -- the end of a channel -----------------------------------------------------------------

    def _qos_varsets(self, channel: Channel) -> None:
        # chan_pjsip sets the RTCP summary variables when an answered call ends.
        if channel.state != "Up" or not channel.is_pjsip:
            return
        zero = "000.000000"
        self.set_variable(
            channel,
            "RTPAUDIOQOS",
            "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;"
            "rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000",
        )
        for suffix, keys in (
            ("JITTER", "rxjitter,txjitter"),
            ("LOSS", "rxlost,txlost"),
            ("RTT", "rtt"),
            ("MES", "rxmes,txmes"),
        ):
            parts = []
            for key in keys.split(","):
                for stat in ("min", "max", "avg", "stdev"):
                    parts.append(f"{stat}{key}={zero}")
            self.set_variable(channel, f"RTPAUDIOQOS{suffix}", ";".join(parts) + ";")

    def _end_channel(
        self,
        channel: Channel,
        *,
        cause: int,
        style: Literal["app", "remote", "dial_failed", "dialplan", "snoop"],
        request: Json | None = None,
        tech_cause: int | None = None,
    ) -> None:
        """Hang a channel up with the event order Asterisk 22 shows for each way a call ends.

        app: HangupRequest(32, soft), [LeftBridge], StasisEnd, Destroyed.
        remote (BYE): HangupRequest(), [LeftBridge], StasisEnd; a caller that was in no
        bridge is gone for the app at StasisEnd (no ChannelDestroyed reaches it).
        dial_failed: HangupRequest(cause), StasisEnd, Destroyed(cause).
        """
        if channel.gone:
            return
        channel.hangup_requested = True
        for handle in list(channel.timers):
            handle.cancel()
        channel.timers.clear()
        was_bridged = channel.bridge is not None
        if style in ("app", "remote"):
            self._qos_varsets(channel)
        if style == "app":
            request = {"cause": APP_HANGUP_REQUEST_CAUSE, "soft": True}
        elif style == "remote":
            request = {}
        if request is not None:
            if self._listeners:
                self._notify(
                    ChannelHangupRequested(
                        at=_now(), channel=channel.snapshot(), cause=request.get("cause")
                    )
                )
            self._publish_channel("ChannelHangupRequest", channel, **request)
        if channel.id in self._queue_calls or channel.id in self._queue_member_calls:
            self._queue_channel_ending(channel, cause)
        # A channel recording ends with its channel, but its RecordingFinished is published
        # by the recording's own thread once the file is closed: it can reach the app after
        # the channel's StasisEnd and ChannelDestroyed (as a bridge recording's does).
        for recording in self._recording_targets.pop(f"channel:{channel.id}", []):
            recording.stopped_at = self.loop_time()
            self._later(0.0, functools.partial(self._finish_recording, recording))
        self._stop_target_media(f"channel:{channel.id}")
        if channel.bridge is not None:
            self._leave_bridge(channel)
        in_stasis = channel.stasis_app is not None
        # A caller's BYE outside any bridge: the app hears nothing after StasisEnd (capture).
        # A snoop channel ending with its target: StasisEnd is all the app hears (capture).
        self._leave_stasis(
            channel, unsubscribe=style == "snoop" or (style == "remote" and not was_bridged)
        )
        if style == "remote" and in_stasis and was_bridged:
            self._publish_channel("ChannelHangupRequest", channel, cause=cause, soft=True)
        if style == "app" and channel.is_pjsip and channel.state == "Down":
            # chan_pjsip ends a never-answered session with 603 Decline (failure-paths e).
            tech_cause = 603
            self._publish_channel("ChannelHangupRequest", channel, cause=cause, tech_cause=603)
        for snoop_id in channel.snoop_ids:
            snoop = self.channels.get(snoop_id)
            if snoop is not None:
                self._end_channel(snoop, cause=16, style="snoop")
        self._destroy(channel, cause, tech_cause)

    def _destroy(self, channel: Channel, cause: int, tech_cause: int | None) -> None:
        channel.gone = True
        channel.dialplan.app_name = ""
        channel.dialplan.app_data = ""
        fields: Json = {"cause": cause, "cause_txt": CAUSE_TEXT.get(cause, "Unknown")}
        if tech_cause is not None:
            fields["tech_cause"] = tech_cause
        self._publish_channel("ChannelDestroyed", channel, **fields)
        if self._listeners:
            self._notify(
                ChannelHungUp(
                    at=_now(),
                    channel=channel.snapshot(),
                    cause=cause,
                    cause_txt=fields["cause_txt"],
                )
            )
        self.channels.pop(channel.id, None)
        self._channels_by_name.pop(channel.name, None)
        self._unsubscribe_channel(channel)
        if channel.endpoint is not None:
            if channel.endpoint.channels.pop(channel.id, False) is None:
                channel.endpoint.count(channel.state, -1)
                if channel.on_hold:
                    channel.endpoint.on_hold_count -= 1
            self._refresh_device_state(channel.endpoint)
        if channel.far_end is not None:
            channel.far_end._notice("hangup", str(cause))

    # -- app_queue ----------------------------------------------------------------------------

    def add_queue(
        self,
        name: str,
        members: Iterable[str],
        *,
        strategy: str = "linear",
        ring_seconds: float = 15.0,
        retry_seconds: float = 5.0,
        max_wait_seconds: float | None = None,
        music_class: str = "default",
    ) -> QueueState:
        """Declare an app_queue queue; ``members`` are interfaces such as ``PJSIP/agent1``."""
        if strategy not in ("linear", "rrmemory"):
            raise ValueError(f"queue strategy {strategy!r} is not simulated (linear, rrmemory)")
        queue = QueueState(
            name,
            [QueueMember(interface, interface) for interface in members],
            strategy=strategy,
            ring_seconds=ring_seconds,
            retry_seconds=retry_seconds,
            max_wait_seconds=max_wait_seconds,
            music_class=music_class,
        )
        self.queues[name] = queue
        return queue

    def set_queue_member_paused(self, name: str, interface: str, paused: bool) -> None:
        """QueuePause: a paused member is not rung."""
        queue = self.queues[name]
        member = queue.member(interface)
        if member is None:
            raise KeyError(f"{interface} is not a member of queue {name}")
        member.paused = paused
        self._member_status_changed(queue, member)

    def _member_status_changed(self, queue: QueueState, member: QueueMember) -> None:
        state = self.device_state(member.interface)
        if self._listeners:
            self._notify(
                QueueMemberStatusChanged(
                    at=_now(),
                    queue=queue.name,
                    interface=member.interface,
                    member_name=member.member_name,
                    status=DEVICE_STATE_NUMBERS.get(state, 0),
                    paused=member.paused,
                )
            )
        if queue.waiting and state == "NOT_INUSE" and not member.paused:
            self._later(0.0, lambda: self._queue_distribute(queue))

    def _sim_seconds_since(self, loop_moment: float) -> int:
        return int((self.loop_time() - loop_moment) * self.speed)

    def _enter_queue(self, channel: Channel, name: str) -> None:
        queue = self.queues.get(name)
        if queue is None:
            # app_queue: "Unable to join queue": QUEUESTATUS=... and the dialplan ends the call.
            log.warning("sim: no queue %s; hanging up %s", name, channel.id)
            self.set_variable(channel, "QUEUESTATUS", "JOINEMPTY")
            self._end_channel(channel, cause=16, style="dialplan")
            return
        if channel.state != "Up":
            # The capture's dialplan answers before Queue().
            self._set_dialplan_app(channel, "Answer", "")
            self._set_state(channel, "Up")
            if channel.far_end is not None:
                channel.far_end._notice("answered")
        self._set_dialplan_app(channel, "Queue", name)
        for variable in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            self.set_variable(channel, variable, "")
        queue.waiting.append(channel.id)
        call = QueueCall(name, channel.id, self.loop_time(), len(queue.waiting))
        self._queue_calls[channel.id] = call
        if self._listeners:
            self._notify(
                QueueCallerJoined(
                    at=_now(),
                    queue=name,
                    channel=channel.snapshot(),
                    position=len(queue.waiting),
                    count=len(queue.waiting),
                )
            )
        self._caller_moh(channel, queue.music_class, playing=True)
        if queue.max_wait_seconds is not None:
            self._later(queue.max_wait_seconds, lambda: self._queue_timed_out(channel), channel)
        self._later(0.0, lambda: self._queue_distribute(queue))

    def _caller_moh(self, channel: Channel, music_class: str, *, playing: bool) -> None:
        channel.moh_class = music_class if playing else None
        if self._listeners:
            self._notify(
                MusicOnHoldChanged(
                    at=_now(), channel=channel.snapshot(), playing=playing, music_class=music_class
                )
            )
        if channel.far_end is not None:
            channel.far_end._notice("moh_started" if playing else "moh_stopped", music_class)

    def _queue_candidates(self, queue: QueueState, call: QueueCall) -> list[QueueMember]:
        busy = {c.ringing_interface for c in self._queue_calls.values() if c.ringing_interface}
        members = list(queue.members)
        if queue.strategy == "rrmemory" and members:
            start = queue.rr_next % len(members)
            members = members[start:] + members[:start]
        return [
            member
            for member in members
            if not member.paused
            and member.interface not in call.tried
            and member.interface not in busy
            and self.device_state(member.interface) == "NOT_INUSE"
        ]

    def _queue_distribute(self, queue: QueueState) -> None:
        """Offer waiting callers, head first, to free members (one ringing member per caller)."""
        if queue.retry_timer is not None:
            return  # every member was tried: app_queue waits `retry` seconds
        for caller_id in list(queue.waiting):
            call = self._queue_calls.get(caller_id)
            if call is None or call.ringing_channel is not None:
                continue
            candidates = self._queue_candidates(queue, call)
            if not candidates:
                if call.tried:
                    call.tried.clear()
                    queue.retry_timer = self._later(
                        queue.retry_seconds, lambda: self._queue_retry(queue)
                    )
                return
            self._queue_ring(queue, call, candidates[0])

    def _queue_retry(self, queue: QueueState) -> None:
        queue.retry_timer = None
        self._queue_distribute(queue)

    def _queue_ring(self, queue: QueueState, call: QueueCall, member: QueueMember) -> None:
        caller = self.channels[call.caller_id]
        record = self.endpoints.get(member.interface)
        call.tried.add(member.interface)
        if record is None:
            self._later(0.0, lambda: self._queue_distribute(queue))
            return
        if queue.strategy == "rrmemory":
            queue.rr_next = queue.members.index(member) + 1
        channel = Channel(
            channel_id=self._new_unique_id(),
            name=self._new_channel_name(record.technology, record.resource),
            state="Down",
            caller=CallerId(),
            dialplan=DialplanLocation(record.context, "s", 1),
            protocol_id=str(uuid.uuid4()),
            endpoint=record,
            linkedid=caller.linkedid,
        )
        channel.connected = CallerId(caller.caller.name, caller.caller.number)
        self._add_channel(channel)
        self._set_dialplan_app(channel, "AppQueue", "(Outgoing Line)")
        self.set_variable(channel, "DIALEDPEERNUMBER", record.resource)
        call.ringing_channel = channel.id
        call.ringing_interface = member.interface
        call.ring_started_at = self.loop_time()
        self._queue_member_calls[channel.id] = caller.id
        if self._listeners:
            self._notify(
                QueueAgentCalled(
                    at=_now(),
                    queue=queue.name,
                    caller=caller.snapshot(),
                    member=channel.snapshot(),
                    interface=member.interface,
                    member_name=member.member_name,
                )
            )
        channel.dial = DialAttempt(
            caller_id=caller.id, timeout=queue.ring_seconds, dialstring=record.resource
        )
        self._start_dial(channel)

    def _queue_connect(self, member_channel: Channel) -> None:
        """The rung member answered: the caller leaves the queue and both are bridged."""
        call = self._queue_calls.get(self._queue_member_calls[member_channel.id])
        caller = self.channels.get(call.caller_id) if call else None
        if call is None or caller is None:
            return
        queue = self.queues[call.queue]
        member = queue.member(call.ringing_interface or "")
        position = queue.waiting.index(caller.id) + 1
        queue.waiting.remove(caller.id)
        call.member_channel, call.member_interface = member_channel.id, call.ringing_interface
        call.ringing_channel = call.ringing_interface = None
        call.connected_at = self.loop_time()
        holdtime = self._sim_seconds_since(call.joined_at)
        ringtime = self._sim_seconds_since(call.ring_started_at)
        queue.holdtime_total += holdtime
        if self._listeners:
            self._notify(
                QueueCallerLeft(
                    at=_now(),
                    queue=queue.name,
                    channel=caller.snapshot(),
                    position=position,
                    count=len(queue.waiting),
                )
            )
        self._caller_moh(caller, queue.music_class, playing=False)
        self.set_variable(caller, "QUEUEPOSITION", str(position))
        self.set_variable(caller, "QUEUEWAIT", str(holdtime))
        if member is not None:
            member.calls_taken += 1
            member.last_call_at = self.loop_time()
            if self._listeners:
                self._notify(
                    QueueAgentConnected(
                        at=_now(),
                        queue=queue.name,
                        caller=caller.snapshot(),
                        member=member_channel.snapshot(),
                        interface=member.interface,
                        member_name=member.member_name,
                        holdtime=holdtime,
                        ringtime=ringtime,
                    )
                )
        # app_queue bridges the two in a basic bridge that ARI does not list.
        bridge = Bridge(str(uuid.uuid4()), "mixing", "")
        call.bridge = bridge
        if self._listeners:
            self._notify(BridgeCreated(at=_now(), bridge=bridge.snapshot()))
        self._join_bridge(bridge, member_channel)
        self._join_bridge(bridge, caller)
        self._later(0.0, lambda: self._queue_distribute(queue))

    def _queue_timed_out(self, channel: Channel) -> None:
        call = self._queue_calls.get(channel.id)
        if call is None or call.member_channel is not None or channel.gone:
            return
        queue = self.queues[call.queue]
        self._queue_leave_waiting(queue, call, channel, abandoned=False)
        self.set_variable(channel, "QUEUESTATUS", "TIMEOUT")
        self._end_channel(channel, cause=16, style="dialplan")

    def _queue_leave_waiting(
        self, queue: QueueState, call: QueueCall, caller: Channel, *, abandoned: bool
    ) -> None:
        """A waiting caller leaves (hung up, or the queue time-out): stop ringing its member."""
        position = queue.waiting.index(caller.id) + 1 if caller.id in queue.waiting else 0
        if caller.id in queue.waiting:
            queue.waiting.remove(caller.id)
        del self._queue_calls[caller.id]
        if abandoned:
            queue.abandoned += 1
        if self._listeners:
            if abandoned:
                self._notify(
                    QueueCallerAbandoned(
                        at=_now(),
                        queue=queue.name,
                        channel=caller.snapshot(),
                        position=position,
                        original_position=call.original_position,
                        holdtime=self._sim_seconds_since(call.joined_at),
                    )
                )
            self._notify(
                QueueCallerLeft(
                    at=_now(),
                    queue=queue.name,
                    channel=caller.snapshot(),
                    position=position,
                    count=len(queue.waiting),
                )
            )
        ringing = self.channels.get(call.ringing_channel or "")
        if ringing is not None:
            self._queue_member_calls.pop(ringing.id, None)
            self._notify_dial_end(ringing, "CANCEL")
            self._end_channel(ringing, cause=16, style="dialplan")
        self._later(0.0, lambda: self._queue_distribute(queue))

    def _queue_channel_ending(self, channel: Channel, cause: int) -> None:
        """A caller or member of a queue call hangs up: app_queue's bookkeeping."""
        if channel.id in self._queue_calls:
            call = self._queue_calls[channel.id]
            queue = self.queues[call.queue]
            if call.member_channel is None:
                self._queue_leave_waiting(queue, call, channel, abandoned=True)
                return
            self._queue_complete(queue, call, ended_by="caller")
            return
        caller_id = self._queue_member_calls.pop(channel.id)
        ringing_call = self._queue_calls.get(caller_id)
        if ringing_call is None:
            return
        call = ringing_call
        queue = self.queues[call.queue]
        if call.member_channel == channel.id:
            self._queue_member_calls[channel.id] = caller_id  # for _queue_complete
            self._queue_complete(queue, call, ended_by="agent")
            return
        # The rung member did not take the call (no answer, busy, rejected).
        caller = self.channels.get(caller_id)
        member = queue.member(call.ringing_interface or "")
        if caller is not None and member is not None and self._listeners and cause == 19:
            self._notify(
                QueueAgentRingNoAnswer(
                    at=_now(),
                    queue=queue.name,
                    caller=caller.snapshot(),
                    member=channel.snapshot(),
                    interface=member.interface,
                    member_name=member.member_name,
                    ringtime=self._sim_seconds_since(call.ring_started_at),
                )
            )
        call.ringing_channel = call.ringing_interface = None
        self._later(0.0, lambda: self._queue_distribute(queue))

    def _queue_complete(self, queue: QueueState, call: QueueCall, *, ended_by: str) -> None:
        """AgentComplete, then the other side goes too (Queue() returns; the member is hung up)."""
        caller = self.channels.get(call.caller_id)
        member_channel = self.channels.get(call.member_channel or "")
        self._queue_calls.pop(call.caller_id, None)
        if member_channel is not None:
            self._queue_member_calls.pop(member_channel.id, None)
        talktime = self._sim_seconds_since(call.connected_at)
        queue.completed += 1
        queue.talktime_total += talktime
        member = queue.member(call.member_interface or "")
        if (
            self._listeners
            and caller is not None
            and member_channel is not None
            and member is not None
        ):
            self._notify(
                QueueAgentCompleted(
                    at=_now(),
                    queue=queue.name,
                    caller=caller.snapshot(),
                    member=member_channel.snapshot(),
                    interface=member.interface,
                    member_name=member.member_name,
                    holdtime=int((call.connected_at - call.joined_at) * self.speed),
                    talktime=talktime,
                    reason=ended_by,
                )
            )
        other = member_channel if ended_by == "caller" else caller
        bridge = call.bridge

        def end_other() -> None:
            if other is not None and not other.gone:
                self._end_channel(other, cause=16, style="dialplan")
            if bridge is not None and self._listeners:
                self._notify(BridgeDestroyed(at=_now(), bridge=bridge.snapshot()))

        self._later(0.0, end_other)

    # -- snoop --------------------------------------------------------------------------------

    def snoop(
        self,
        channel_id: str,
        *,
        app: str,
        app_args: str | None,
        spy: str,
        whisper: str,
        snoop_id: str | None,
    ) -> Json:
        """POST /channels/{id}/snoop: a Snoop/ channel, Up, straight into the app."""
        target = self.get_channel(channel_id)
        for value in (spy, whisper):
            if value not in ("none", "both", "out", "in"):
                raise PbxError(400, "Invalid direction specified")
        if spy == "none" and whisper == "none":
            raise PbxError(400, "Snoop direction not specified")
        channel = Channel(
            channel_id=snoop_id or self._new_unique_id(),
            name=f"Snoop/{target.id}-{next(self._snoop_counter):08x}",
            state="Up",
            caller=CallerId(),
            dialplan=DialplanLocation("default", "s", 1),
            protocol_id="",
            endpoint=None,
            linkedid=target.linkedid,
        )
        channel.snoop_target = target.id
        target.snoop_ids.append(channel.id)
        self._add_channel(channel)
        snapshot = ari_models.channel_json(channel)
        args = app_args.split(",") if app_args else []
        channel.dialplan.app_name = "Stasis"
        channel.dialplan.app_data = ",".join([app, *args])
        self._enter_stasis(channel, app, args)
        return snapshot

    # -- bridges ------------------------------------------------------------------------------

    def create_bridge(
        self, bridge_type: str | None, name: str | None, bridge_id: str | None
    ) -> Bridge:
        """POST /bridges: type is a comma list (mixing, holding, dtmf_events, proxy_media)."""
        kinds = [kind.strip() for kind in (bridge_type or "mixing").split(",") if kind.strip()]
        known = {
            "mixing",
            "holding",
            "dtmf_events",
            "proxy_media",
            "video_sfu",
            "video_single",
            "sdp_label",
        }
        if any(kind not in known for kind in kinds):
            raise PbxError(400, "Invalid bridge type")
        if bridge_id is not None and bridge_id in self.bridges:
            raise PbxError(409, "Bridge with same ID already exists")
        bridge = Bridge(
            bridge_id or str(uuid.uuid4()),
            "holding" if "holding" in kinds else "mixing",
            name or "",
        )
        self.bridges[bridge.id] = bridge
        if self._listeners:
            self._notify(BridgeCreated(at=_now(), bridge=bridge.snapshot()))
        # Only apps that take every event hear it: nobody is subscribed to a new bridge yet.
        self._publish("BridgeCreated", {"bridge": ari_models.bridge_json(bridge)}, bridges=[bridge])
        return bridge

    def get_bridge(self, bridge_id: str) -> Bridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise PbxError(404, "Bridge not found")
        return bridge

    def destroy_bridge(self, bridge_id: str) -> None:
        """DELETE /bridges/{id}: channels still inside leave it first."""
        bridge = self.get_bridge(bridge_id)
        for channel_id in list(bridge.channel_ids):
            channel = self.channels.get(channel_id)
            if channel is not None:
                self._leave_bridge(channel)
        self._stop_target_media(f"bridge:{bridge.id}")
        self._publish(
            "BridgeDestroyed", {"bridge": ari_models.bridge_json(bridge)}, bridges=[bridge]
        )
        if self._listeners:
            self._notify(BridgeDestroyed(at=_now(), bridge=bridge.snapshot()))
        del self.bridges[bridge.id]
        for app in self.apps.values():
            app.bridge_ids.discard(bridge.id)

    def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        """POST /bridges/{id}/addChannel."""
        bridge = self.get_bridge(bridge_id)
        channels = []
        for channel_id in channel_ids:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise PbxError(400, "Channel not found")
            if channel.stasis_app is None:
                raise PbxError(422, "Channel not in Stasis application")
            channels.append(channel)
        for channel in channels:
            if channel.bridge is bridge:
                continue
            if channel.bridge is not None:
                self._leave_bridge(channel)
            self._join_bridge(bridge, channel)

    def remove_from_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        """POST /bridges/{id}/removeChannel."""
        bridge = self.get_bridge(bridge_id)
        channels = []
        for channel_id in channel_ids:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise PbxError(400, "Channel not found")
            if channel.stasis_app is None:
                raise PbxError(422, "Channel not in Stasis application")
            if channel.bridge is not bridge:
                raise PbxError(422, "Channel not in this bridge")
            channels.append(channel)
        for channel in channels:
            self._leave_bridge(channel)

    def _join_bridge(self, bridge: Bridge, channel: Channel) -> None:
        bridge.channel_ids.append(channel.id)
        channel.bridge = bridge
        bridge.technology = bridge.technology_for(self.channels)
        if channel.stasis_app is not None:
            # A Stasis channel joining a bridge subscribes its app to the bridge.
            self.app(channel.stasis_app).bridge_ids.add(bridge.id)
        self._publish(
            "ChannelEnteredBridge",
            {"bridge": ari_models.bridge_json(bridge), "channel": ari_models.channel_json(channel)},
            channels=[channel],
            bridges=[bridge],
        )
        if self._listeners:
            self._notify(
                BridgeEntered(at=_now(), bridge=bridge.snapshot(), channel=channel.snapshot())
            )
        self._update_bridge_peers(bridge)
        if channel.far_end is not None and bridge.moh_class is not None:
            channel.far_end._notice("moh_started", bridge.moh_class)

    def _leave_bridge(self, channel: Channel) -> None:
        bridge = channel.bridge
        if bridge is None:
            return
        if bridge.bridge_type == "mixing" and channel.variables.get("BRIDGEPEER"):
            self.set_variable(channel, "BRIDGEPEER", "")
            self.set_variable(channel, "BRIDGEPVTCALLID", "")
        bridge.channel_ids.remove(channel.id)
        channel.bridge = None
        self._publish(
            "ChannelLeftBridge",
            {"bridge": ari_models.bridge_json(bridge), "channel": ari_models.channel_json(channel)},
            channels=[channel],
            bridges=[bridge],
        )
        if self._listeners:
            self._notify(
                BridgeLeft(at=_now(), bridge=bridge.snapshot(), channel=channel.snapshot())
            )
        # Asterisk re-picks the technology after the leave event went out (capture).
        bridge.technology = bridge.technology_for(self.channels)
        if channel.far_end is not None:
            channel.far_end._notice("unbridged")
        self._update_bridge_peers(bridge)
        if not bridge.channel_ids and f"bridge:{bridge.id}" in self._recording_targets:
            # The recorder channel is "lonely" once no real channel is left: it leaves and the
            # recording ends, a moment after the last leg was destroyed and before the app
            # deletes the bridge (22.10.1: ChannelDestroyed, RecordingFinished, BridgeDestroyed).
            self._later(0.0, lambda: self._finish_lonely_recordings(bridge))

    def _finish_lonely_recordings(self, bridge: Bridge) -> None:
        if self.bridges.get(bridge.id) is not bridge or bridge.channel_ids:
            return
        for recording in list(self._recording_targets.get(f"bridge:{bridge.id}", [])):
            self.stop_recording(recording.name)

    def _update_bridge_peers(self, bridge: Bridge) -> None:
        """BRIDGEPEER / BRIDGEPVTCALLID on every member of a mixing bridge with a peer."""
        members = [self.channels[cid] for cid in bridge.channel_ids if cid in self.channels]
        for member in members:
            if member.far_end is not None:
                member.far_end._notice(
                    "bridged", peers=[other.id for other in members if other is not member]
                )
        if bridge.bridge_type != "mixing":
            return
        helpers = list(bridge.helper_channels.values())
        for member in members:
            others = [other for other in members if other is not member]
            peers = [*helpers, *(other.name for other in others)]
            if not peers:
                continue
            self.set_variable(member, "BRIDGEPEER", ",".join(peers))
            if others:
                self.set_variable(
                    member, "BRIDGEPVTCALLID", others[0].protocol_id if len(peers) == 1 else ""
                )

    def _add_bridge_helper(self, bridge: Bridge, key: str, name_prefix: str) -> None:
        bridge.helper_channels[key] = f"{name_prefix}-{next(self._helper_counter):08x};2"
        self._update_bridge_peers(bridge)

    def _remove_bridge_helper(self, bridge: Bridge, key: str, *, update: bool) -> None:
        if bridge.helper_channels.pop(key, None) is not None and update:
            self._update_bridge_peers(bridge)

    def start_bridge_moh(self, bridge_id: str, music_class: str | None) -> None:
        bridge = self.get_bridge(bridge_id)
        bridge.moh_class = music_class or "default"
        if "moh" not in bridge.helper_channels:
            self._add_bridge_helper(bridge, "moh", "Announcer/ARI_MOH")
        for channel_id in bridge.channel_ids:
            channel = self.channels.get(channel_id)
            if channel is not None and channel.far_end is not None:
                channel.far_end._notice("moh_started", bridge.moh_class)

    def stop_bridge_moh(self, bridge_id: str) -> None:
        bridge = self.get_bridge(bridge_id)
        if bridge.moh_class is None:
            raise PbxError(409, "Bridge isn't playing music")
        music_class, bridge.moh_class = bridge.moh_class, None
        # The announcer leaves quietly: Asterisk updates BRIDGEPEER at the next join (capture).
        self._remove_bridge_helper(bridge, "moh", update=False)
        for channel_id in bridge.channel_ids:
            channel = self.channels.get(channel_id)
            if channel is not None and channel.far_end is not None:
                channel.far_end._notice("moh_stopped", music_class)

    # -- playbacks ----------------------------------------------------------------------------

    def play(
        self,
        target_uri: str,
        media: list[str],
        *,
        language: str | None,
        playback_id: str | None,
    ) -> Json:
        """POST .../play: queue a playback on a channel or a bridge; returns it (state queued)."""
        if not media or any(not uri for uri in media):
            raise PbxError(400, "media is required")
        if playback_id is not None and playback_id in self.playbacks:
            raise PbxError(409, "Playback with given id already exists")
        kind, _, target_id = target_uri.partition(":")
        if kind == "channel":
            channel = self._media_channel(target_id)
            language = language or channel.language
        else:
            self.get_bridge(target_id)
        playback = Playback(playback_id or str(uuid.uuid4()), media, target_uri, language or "en")
        self.playbacks[playback.id] = playback
        queue = self._playback_queues.setdefault(target_uri, [])
        queue.append(playback)
        body = ari_models.playback_json(playback)
        if len(queue) == 1:
            # Asterisk answers 201 first, then starts the playback on the channel's thread.
            self._later(0.0, lambda: self._start_playback(playback))
        return body

    def _playback_listeners(self, playback: Playback) -> list[SimCall]:
        kind, _, target_id = playback.target_uri.partition(":")
        if kind == "channel":
            channel = self.channels.get(target_id)
            return [channel.far_end] if channel and channel.far_end else []
        bridge = self.bridges.get(target_id)
        if bridge is None:
            return []
        calls = []
        for channel_id in bridge.channel_ids:
            channel = self.channels.get(channel_id)
            if channel is not None and channel.far_end is not None:
                calls.append(channel.far_end)
        return calls

    def _publish_playback(self, event_type: str, playback: Playback) -> None:
        kind, _, target_id = playback.target_uri.partition(":")
        channels = (
            [self.channels[target_id]] if kind == "channel" and target_id in self.channels else []
        )
        bridges = (
            [self.bridges[target_id]] if kind == "bridge" and target_id in self.bridges else []
        )
        self._publish(
            event_type,
            {"playback": ari_models.playback_json(playback)},
            channels=channels,
            bridges=bridges,
        )

    def _start_playback(self, playback: Playback) -> None:
        if playback.id not in self.playbacks or playback.state != "queued":
            return
        playback.state = "playing"
        self._publish_playback("PlaybackStarted", playback)
        self._play_current_media(playback)

    def _play_current_media(self, playback: Playback) -> None:
        duration = self.media_duration(playback.media_uri)
        if duration is None:
            # A missing file: Asterisk still answered 201; the playback fails at once.
            self._finish_playback(playback, "failed")
            return
        for call in self._playback_listeners(playback):
            call._notice("playback_started", playback.media_uri)
        if duration != float("inf"):
            self._schedule_media_end(playback, duration)

    def _schedule_media_end(self, playback: Playback, duration: float) -> None:
        playback.remaining = duration
        playback.ends_at = self.loop_time() + duration / self.speed
        playback.timer = self._later(duration, lambda: self._media_ended(playback))

    def _media_ended(self, playback: Playback) -> None:
        playback.timer = None
        for call in self._playback_listeners(playback):
            call._notice("playback_finished", playback.media_uri)
        if playback.next_media_uri is not None:
            # PlaybackContinuing names the media that ended (and the next one), then a
            # PlaybackStarted names the next (capture: hello-world, then vm-press).
            playback.state = "continuing"
            self._publish_playback("PlaybackContinuing", playback)
            playback.index += 1
            playback.state = "playing"
            self._publish_playback("PlaybackStarted", playback)
            self._play_current_media(playback)
            return
        self._finish_playback(playback, "done")

    def _finish_playback(self, playback: Playback, state: str) -> None:
        if playback.timer is not None:
            playback.timer.cancel()
            playback.timer = None
        playback.state = state
        self.playbacks.pop(playback.id, None)
        self._publish_playback("PlaybackFinished", playback)
        queue = self._playback_queues.get(playback.target_uri, [])
        if playback in queue:
            queue.remove(playback)
        if queue:
            self._start_playback(queue[0])
        else:
            self._playback_queues.pop(playback.target_uri, None)

    def get_playback(self, playback_id: str) -> Playback:
        playback = self.playbacks.get(playback_id)
        if playback is None:
            raise PbxError(404, "Playback not found")
        return playback

    def stop_playback(self, playback_id: str) -> None:
        """DELETE /playbacks/{id}: 404 once it already ended (a digit raced the prompt end)."""
        playback = self.get_playback(playback_id)
        if playback.state == "queued":
            queue = self._playback_queues.get(playback.target_uri, [])
            if playback in queue:
                queue.remove(playback)
            self.playbacks.pop(playback.id, None)
            return
        for call in self._playback_listeners(playback):
            call._notice("playback_finished", playback.media_uri)
        self._finish_playback(playback, "done")

    def control_playback(self, playback_id: str, operation: str) -> None:
        """POST /playbacks/{id}/control: restart, pause, unpause, reverse, forward."""
        playback = self.get_playback(playback_id)
        if operation not in ("restart", "pause", "unpause", "reverse", "forward"):
            raise PbxError(400, "Invalid operation")
        if playback.state != "playing":
            raise PbxError(409, "Playback not playing")
        if operation == "pause" and not playback.paused and playback.timer is not None:
            playback.timer.cancel()
            playback.timer = None
            playback.remaining = max(0.0, (playback.ends_at - self.loop_time()) * self.speed)
            playback.paused = True
        elif operation == "unpause" and playback.paused:
            playback.paused = False
            self._schedule_media_end(playback, playback.remaining)
        elif operation == "restart" and not playback.paused:
            duration = self.media_duration(playback.media_uri)
            if playback.timer is not None and duration is not None and duration != float("inf"):
                playback.timer.cancel()
                self._schedule_media_end(playback, duration)

    def _stop_target_media(self, target_uri: str) -> None:
        """A channel hung up or a bridge went away: its playbacks and recordings end."""
        queue = self._playback_queues.pop(target_uri, [])
        for playback in queue:
            if playback.state == "queued":
                self.playbacks.pop(playback.id, None)
                continue
            if playback.timer is not None:
                playback.timer.cancel()
                playback.timer = None
            playback.state = "done"
            self.playbacks.pop(playback.id, None)
            self._publish_playback("PlaybackFinished", playback)
        for recording in list(self._recording_targets.get(target_uri, [])):
            self.stop_recording(recording.name)

    # -- recordings ---------------------------------------------------------------------------

    def _stored_recording_path(self, name: str) -> Path | None:
        if not self.recordings_dir.is_dir():
            return None
        for audio_format in RECORDING_FORMATS:
            path = self.recordings_dir / f"{name}.{audio_format}"
            if path.is_file():
                return path
        return None

    def stored_recordings(self) -> list[tuple[str, str]]:
        """(name, format) of every stored recording."""
        if not self.recordings_dir.is_dir():
            # stasis_app_stored_recording_find_all() gives NULL without the directory.
            raise PbxError(500, "Allocation failed", key="error")
        found = []
        for path in sorted(self.recordings_dir.rglob("*")):
            audio_format = path.suffix.lstrip(".")
            if path.is_file() and audio_format in RECORDING_FORMATS:
                name = str(path.relative_to(self.recordings_dir))[: -len(path.suffix)]
                if name not in self.live_recordings:
                    found.append((name, audio_format))
        return found

    def stored_recording(self, name: str) -> tuple[str, str, Path]:
        path = self._stored_recording_path(name)
        if path is None or name in self.live_recordings:
            raise PbxError(404, "Recording not found")
        return name, path.suffix.lstrip("."), path

    def delete_stored_recording(self, name: str) -> None:
        _, _, path = self.stored_recording(name)
        path.unlink()

    def copy_stored_recording(self, name: str, destination: str) -> tuple[str, str]:
        _, audio_format, path = self.stored_recording(name)
        _check_recording_name(destination)
        if self._stored_recording_path(destination) is not None:
            raise PbxError(409, "A recording with the same name already exists on the system")
        target = self.recordings_dir / f"{destination}.{audio_format}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        return destination, audio_format

    def record(
        self,
        target_uri: str,
        *,
        name: str,
        audio_format: str,
        max_duration: int,
        if_exists: str,
        terminate_on: str,
        max_silence: int = 0,
    ) -> Json:
        """POST .../record on a channel or bridge: a LiveRecording (state queued)."""
        kind, _, target_id = target_uri.partition(":")
        voice: Voice | None = None
        if kind == "channel":
            channel = self._stasis_channel(target_id)
            app, voice = channel.stasis_app, channel.voice
        else:
            bridge = self.get_bridge(target_id)
            app = next((a.name for a in self.apps.values() if bridge.id in a.bridge_ids), None)
        if max_silence < 0:
            raise PbxError(400, "maxSilenceSeconds must be non-negative")
        _check_recording_name(name)
        if max_duration < 0:
            raise PbxError(400, "maxDurationSeconds must be non-negative")
        if if_exists not in ("fail", "overwrite", "append"):
            raise PbxError(400, "ifExists invalid")
        if terminate_on not in ("none", "any", "*", "#"):
            raise PbxError(400, "terminateOn invalid")
        if audio_format not in RECORDING_FORMATS:
            raise PbxError(422, "specified format is unknown on this system")
        if not self.recordings_dir.is_dir():
            # The recording file cannot be opened: an errno record does not map, so
            # resource_bridges.c / resource_channels.c answer a plain 500.
            raise PbxError(500, "Internal Server Error")
        if name in self.live_recordings:
            raise PbxError(409, "Recording already in progress")
        if if_exists == "fail" and self._stored_recording_path(name) is not None:
            raise PbxError(409, f"Recording '{name}' already exists and can not be overwritten")
        recording = LiveRecording(
            self,
            name=name,
            audio_format=audio_format,
            target_uri=target_uri,
            max_duration=max_duration,
            terminate_on=terminate_on,
            if_exists=if_exists,
            max_silence=max_silence,
            app=app,
            voice=voice,
        )
        self.live_recordings[name] = recording
        self._recording_targets.setdefault(target_uri, []).append(recording)
        body = ari_models.live_recording_json(recording)
        self._later(0.0, lambda: self._start_recording(recording))
        return body

    def _publish_recording(
        self, event_type: str, recording: LiveRecording, **options: bool
    ) -> None:
        kind, _, target_id = recording.target_uri.partition(":")
        channels = (
            [self.channels[target_id]] if kind == "channel" and target_id in self.channels else []
        )
        bridges = (
            [self.bridges[target_id]] if kind == "bridge" and target_id in self.bridges else []
        )
        self._publish(
            event_type,
            {"recording": ari_models.live_recording_json(recording, **options)},
            channels=channels,
            bridges=bridges,
            apps=(recording.app,) if recording.app else (),
        )

    def _start_recording(self, recording: LiveRecording) -> None:
        if self.live_recordings.get(recording.name) is not recording or recording.state != "queued":
            return
        recording.state = "recording"
        recording.started_at = self.loop_time()
        bridge = self._recorded_bridge(recording)
        if bridge is not None:
            self._add_bridge_helper(bridge, f"recording:{recording.name}", "Recorder/ARI")
        self._publish_recording("RecordingStarted", recording)
        if recording.max_duration > 0:
            recording.timer = self._later(
                recording.max_duration, lambda: self.stop_recording(recording.name)
            )
        self._watch_silence(recording)

    def set_voice(self, channel_id: str, *, talk_seconds: float | None) -> None:
        """The far end of a channel talks for ``talk_seconds`` from now (None: falls silent);
        recordings of the channel started with ``maxSilenceSeconds`` watch the silence."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.gone:
            return
        now = self.loop_time()
        if talk_seconds is None:
            channel.voice.fall_silent(now)
        else:
            channel.voice.speak(now, talk_seconds / self.speed)
        for recording in self._recording_targets.get(f"channel:{channel.id}", []):
            self._watch_silence(recording)

    def _watch_silence(self, recording: LiveRecording) -> None:
        """As app.c's silence detection: a channel recording with ``maxSilenceSeconds`` ends
        once its far end has been silent that long."""
        if recording.silence_timer is not None:
            recording.silence_timer.cancel()
            recording.silence_timer = None
        voice = recording.voice
        if voice is None or recording.max_silence <= 0 or recording.state != "recording":
            return
        now = self.loop_time()
        quiet_from = voice.next_silence(now)
        if quiet_from is None:
            return  # talking for ever
        since = voice.silent_since(quiet_from)
        start = max(recording.started_at, since if since is not None else quiet_from)
        due = start + recording.max_silence / self.speed
        if due <= now:
            self.stop_recording(recording.name)
            return
        recording.silence_timer = asyncio.get_running_loop().call_later(
            due - now, lambda: self._watch_silence(recording)
        )

    def _recorded_bridge(self, recording: LiveRecording) -> Bridge | None:
        kind, _, target_id = recording.target_uri.partition(":")
        bridge = self.bridges.get(target_id) if kind == "bridge" else None
        return bridge if bridge is not None and bridge.bridge_type == "mixing" else None

    def _finish_recording(self, recording: LiveRecording) -> None:
        if self.live_recordings.get(recording.name) is recording:
            self.stop_recording(recording.name)

    def get_live_recording(self, name: str) -> LiveRecording:
        recording = self.live_recordings.get(name)
        if recording is None:
            raise PbxError(404, "Recording not found")
        return recording

    def stop_recording(self, name: str, *, cancel: bool = False) -> None:
        """POST .../stop (keep the file) or DELETE /recordings/live/{name} (discard it)."""
        recording = self.get_live_recording(name)
        if recording.timer is not None:
            recording.timer.cancel()
            recording.timer = None
        if recording.silence_timer is not None:
            recording.silence_timer.cancel()
            recording.silence_timer = None
        if recording.started_at == 0.0:
            recording.started_at = self.loop_time()
        if recording.stopped_at is None:  # (set already when its channel hung up)
            recording.stopped_at = self.loop_time()
        if recording.paused_since is not None:
            recording.paused_total += recording.stopped_at - recording.paused_since
            recording.paused_since = None
        del self.live_recordings[name]
        bridge = self._recorded_bridge(recording)
        if bridge is not None:
            self._remove_bridge_helper(bridge, f"recording:{recording.name}", update=True)
        targets = self._recording_targets.get(recording.target_uri, [])
        if recording in targets:
            targets.remove(recording)
        if not targets:
            self._recording_targets.pop(recording.target_uri, None)
        if cancel:
            recording.state = "canceled"
            self._publish_recording("RecordingFinished", recording)
            return
        self._write_recording_file(recording)
        recording.state = "done"
        self._publish_recording("RecordingFinished", recording, with_duration=True)

    def _write_recording_file(self, recording: LiveRecording) -> None:
        seconds = recording.duration_seconds()
        path = self.recordings_dir / f"{recording.name}.{recording.format}"
        silent = recording.muted
        segments = self._voice_segments(recording)
        if segments is not None:
            recording.talking_seconds = sum(s for s, quiet in segments if not quiet)
        if segments is not None and recording.format == "wav" and recording.if_exists != "append":
            wav.write_wav_segments(path, segments)
        elif recording.format == "wav":
            if recording.if_exists == "append" and path.is_file():
                wav.append_wav(path, seconds, silent=silent)
            else:
                wav.write_wav(path, seconds, silent=silent)
        else:
            wav.write_raw(path, seconds, RECORDING_FORMATS[recording.format])

    def _voice_segments(self, recording: LiveRecording) -> list[tuple[float, bool]] | None:
        """(simulated seconds, silent) of what a channel recording heard; None for a bridge,
        a paused or muted recording (written as before: tone, or silence when muted)."""
        if recording.voice is None or recording.paused_total or recording.muted:
            return None
        stop = recording.stopped_at if recording.stopped_at is not None else self.loop_time()
        return [
            (seconds * self.speed, silent)
            for seconds, silent in recording.voice.segments(recording.started_at, stop)
        ]

    def pause_recording(self, name: str, paused: bool) -> None:
        recording = self.get_live_recording(name)
        if recording.state not in ("recording", "paused"):
            raise PbxError(409, "Recording not in session")
        now = self.loop_time()
        if paused and recording.paused_since is None:
            recording.paused_since = now
            recording.state = "paused"
        elif not paused and recording.paused_since is not None:
            recording.paused_total += now - recording.paused_since
            recording.paused_since = None
            recording.state = "recording"

    def mute_recording(self, name: str, muted: bool) -> None:
        recording = self.get_live_recording(name)
        if recording.state not in ("recording", "paused"):
            raise PbxError(409, "Recording not in session")
        recording.muted = muted


def _check_recording_name(name: str) -> None:
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise PbxError(400, "Invalid recording name")


def _parse_caller_id(value: str) -> tuple[str, str]:
    """``"Name" <number>`` or ``Name <number>`` or ``number`` -> (name, number)."""
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, number = value[:-1].partition("<")
        return name.strip().strip('"'), number.strip()
    return "", value
