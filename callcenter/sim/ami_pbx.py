"""Wiring between the simulated PBX core (callcenter/sim/pbx.py) and the AMI server.

Turns the core's listener events into AMI events (names, privileges and header order from the
capture) and runs the channel actions (Originate, Hangup, MixMonitor, Status, ...) on the core.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.sim import pbx as core
from callcenter.sim import wav
from callcenter.sim.ami_frames import (
    CAUSE_TEXT,
    BridgeSnapshot,
    ChannelSnapshot,
    Frame,
    bridge_headers,
    channel_event,
    channel_headers,
    dial_event,
    event,
    state_number,
)
from callcenter.sim.ami_tables import EndpointRow, QueueMemberRow, QueueRow, list_complete_frame

if TYPE_CHECKING:
    from callcenter.sim.ami_server import ActionHandler, AmiServer, AmiSession, Headers

# Device states as PJSIPShowEndpoints prints them (ast_devstate_str).
DEVICE_STATE_TEXT = {
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "BUSY": "Busy",
    "INVALID": "Invalid",
    "UNAVAILABLE": "Unavailable",
    "RINGING": "Ringing",
    "RINGINUSE": "Ring+Inuse",
    "ONHOLD": "On Hold",
    "UNKNOWN": "Unknown",
}
# OriginateResponse Reason (AST_CONTROL_* of the outgoing call) per DialEnd status.
ORIGINATE_REASON = {
    "ANSWER": 4,
    "BUSY": 5,
    "NOANSWER": 3,
    "CONGESTION": 8,
    "CHANUNAVAIL": 0,
    "CANCEL": 1,
}


def snapshot(channel: core.ChannelSnapshot) -> ChannelSnapshot:
    """The AMI view of a core channel snapshot."""
    return ChannelSnapshot(
        name=channel.name,
        uniqueid=channel.uniqueid,
        linkedid=channel.linkedid,
        state=state_number(channel.state),
        caller_number=channel.caller_number,
        caller_name=channel.caller_name,
        connected_number=channel.connected_number,
        connected_name=channel.connected_name,
        language=channel.language,
        account_code=channel.accountcode,
        context=channel.context,
        exten=channel.exten,
        priority=channel.priority,
    )


def bridge_snapshot(bridge: core.BridgeSnapshot) -> BridgeSnapshot:
    """Bridges of the core are made over ARI: AMI shows them as type stasis, creator Stasis."""
    return BridgeSnapshot(
        uniqueid=bridge.id,
        bridge_type="stasis",
        technology=bridge.technology,
        creator="Stasis",
        name=bridge.name or "<unknown>",
        num_channels=len(bridge.channel_ids),
        video_source_mode="talker",
    )


def frames_for(pbx_event: core.PbxEvent) -> list[Frame]:
    """The AMI events Asterisk 22 sends for one core event (none for unknown ones)."""
    match pbx_event:
        case core.ChannelCreated(channel=channel):
            return [channel_event("Newchannel", snapshot(channel))]
        case core.ChannelStateChanged(channel=channel):
            return [channel_event("Newstate", snapshot(channel))]
        case core.ChannelDialplanChanged(channel=channel):
            return [
                channel_event(
                    "Newexten",
                    snapshot(channel),
                    ("Extension", channel.exten),
                    ("Application", channel.app_name),
                    ("AppData", channel.app_data),
                    privilege="dialplan,all",
                )
            ]
        case core.ChannelVarSet(channel=channel, variable=variable, value=value):
            return [
                channel_event(
                    "VarSet",
                    snapshot(channel),
                    ("Variable", variable),
                    ("Value", value),
                    privilege="dialplan,all",
                )
            ]
        case core.ChannelHangupRequested(channel=channel, cause=cause):
            # Capture: a BYE gives HangupRequest without Cause; the app's or a dial time-out's
            # hang-up gives SoftHangupRequest Cause 32; a failed dial HangupRequest Cause 17...
            if cause is None:
                return [channel_event("HangupRequest", snapshot(channel))]
            name = "SoftHangupRequest" if cause == 32 else "HangupRequest"
            return [channel_event(name, snapshot(channel), ("Cause", str(cause)))]
        case core.ChannelHungUp(channel=channel, cause=cause, cause_txt=cause_txt):
            text = cause_txt or CAUSE_TEXT.get(cause, "Unknown")
            return [
                channel_event(
                    "Hangup", snapshot(channel), ("Cause", str(cause)), ("Cause-txt", text)
                )
            ]
        case core.DialBegan(caller=caller, peer=peer, dialstring=dialstring):
            return [
                dial_event(
                    "DialBegin",
                    snapshot(caller) if caller else None,
                    snapshot(peer),
                    ("DialString", dialstring),
                )
            ]
        case core.DialEnded(caller=caller, peer=peer, dialstatus=dialstatus):
            return [
                dial_event(
                    "DialEnd",
                    snapshot(caller) if caller else None,
                    snapshot(peer),
                    ("DialStatus", dialstatus),
                )
            ]
        case core.BridgeCreated(bridge=bridge):
            return [event("BridgeCreate", "call,all", bridge_headers(bridge_snapshot(bridge)))]
        case core.BridgeDestroyed(bridge=bridge):
            return [event("BridgeDestroy", "call,all", bridge_headers(bridge_snapshot(bridge)))]
        case core.BridgeEntered(bridge=bridge, channel=channel):
            return [
                event(
                    "BridgeEnter",
                    "call,all",
                    bridge_headers(bridge_snapshot(bridge)),
                    channel_headers(snapshot(channel)),
                )
            ]
        case core.BridgeLeft(bridge=bridge, channel=channel):
            return [
                event(
                    "BridgeLeave",
                    "call,all",
                    bridge_headers(bridge_snapshot(bridge)),
                    channel_headers(snapshot(channel)),
                )
            ]
        case core.DtmfReceived(channel=channel, digit=digit, duration_ms=duration_ms):
            # The core reports a whole digit; Asterisk sends DTMFBegin, then DTMFEnd.
            ami_channel = snapshot(channel)
            return [
                channel_event(
                    "DTMFBegin",
                    ami_channel,
                    ("Digit", digit),
                    ("Direction", "Received"),
                    privilege="dtmf,all",
                ),
                channel_event(
                    "DTMFEnd",
                    ami_channel,
                    ("Digit", digit),
                    ("DurationMs", str(duration_ms)),
                    ("Direction", "Received"),
                    privilege="dtmf,all",
                ),
            ]
        case core.MusicOnHoldChanged(channel=channel, playing=playing, music_class=music_class):
            if playing:
                return [
                    channel_event("MusicOnHoldStart", snapshot(channel), ("Class", music_class))
                ]
            return [channel_event("MusicOnHoldStop", snapshot(channel))]
        case core.HoldChanged(channel=channel, on_hold=on_hold, music_class=music_class):
            if on_hold:
                return [channel_event("Hold", snapshot(channel), ("MusicClass", music_class))]
            return [channel_event("Unhold", snapshot(channel))]
        case core.DeviceStateChanged(device=device, state=state):
            return [event("DeviceStateChange", "call,all", [("Device", device), ("State", state)])]
    return []


def queue_frames(pbx_event: Any, member_row: QueueMemberRow | None = None) -> list[Frame]:
    """app_queue's AMI events (privilege agent,all) for the core's queue events.

    Matched by class name so the AMI server keeps working with a core that has no app_queue.
    Header order of QueueCallerJoin/AgentCalled/AgentConnect/AgentComplete/QueueMemberStatus
    is the capture's; the others follow app_queue.c.
    """
    kind = type(pbx_event).__name__
    if kind in ("QueueCallerJoined", "QueueCallerLeft"):
        name = "QueueCallerJoin" if kind == "QueueCallerJoined" else "QueueCallerLeave"
        return [
            channel_event(
                name,
                snapshot(pbx_event.channel),
                ("Queue", pbx_event.queue),
                ("Position", str(pbx_event.position)),
                ("Count", str(pbx_event.count)),
                privilege="agent,all",
            )
        ]
    if kind == "QueueCallerAbandoned":
        return [
            channel_event(
                "QueueCallerAbandon",
                snapshot(pbx_event.channel),
                ("Queue", pbx_event.queue),
                ("Position", str(pbx_event.position)),
                ("OriginalPosition", str(pbx_event.original_position)),
                ("HoldTime", str(pbx_event.holdtime)),
                privilege="agent,all",
            )
        ]
    agent_events = {
        "QueueAgentCalled": ("AgentCalled", ()),
        "QueueAgentRingNoAnswer": ("AgentRingNoAnswer", ("RingTime",)),
        "QueueAgentConnected": ("AgentConnect", ("HoldTime", "RingTime")),
        "QueueAgentCompleted": ("AgentComplete", ("HoldTime", "TalkTime", "Reason")),
    }
    if kind in agent_events:
        name, extra_headers = agent_events[kind]
        extra = [(h, str(getattr(pbx_event, h.lower()))) for h in extra_headers]
        return [
            event(
                name,
                "agent,all",
                channel_headers(snapshot(pbx_event.caller)),
                channel_headers(snapshot(pbx_event.member), prefix="Dest"),
                [
                    ("Queue", pbx_event.queue),
                    ("Interface", pbx_event.interface),
                    ("MemberName", pbx_event.member_name),
                    *extra,
                ],
            )
        ]
    if kind == "QueueMemberStatusChanged":
        row = member_row or QueueMemberRow(pbx_event.interface)
        return [
            event(
                "QueueMemberStatus",
                "agent,all",
                [
                    ("Queue", pbx_event.queue),
                    ("MemberName", pbx_event.member_name),
                    ("Interface", pbx_event.interface),
                    ("StateInterface", pbx_event.interface),
                    ("Membership", row.membership),
                    ("Penalty", str(row.penalty)),
                    ("CallsTaken", str(row.calls_taken)),
                    ("LastCall", str(row.last_call)),
                    ("LastPause", str(row.last_pause)),
                    ("LoginTime", str(row.login_time)),
                    ("InCall", str(row.in_call)),
                    ("Status", str(pbx_event.status)),
                    ("Paused", "1" if pbx_event.paused else "0"),
                    ("PausedReason", row.paused_reason),
                    ("Ringinuse", "1"),
                    ("Wrapuptime", str(row.wrapuptime)),
                ],
            )
        ]
    return []


@dataclass
class _PendingOriginate:
    action_id: str
    channel: str
    context: str
    exten: str
    application: str
    data: str
    caller_number: str
    caller_name: str


@dataclass
class _MixMonitor:
    path: Path
    started_at: float
    muted: bool = False


class PbxBridge:
    """Listens to the PBX core and answers channel actions from it."""

    def __init__(self, server: AmiServer, pbx: core.SimulatedAsterisk) -> None:
        self.server = server
        self.pbx = pbx
        self._remove_listener: Any = None
        self._originates: dict[str, _PendingOriginate] = {}
        self._mixmonitors: dict[str, _MixMonitor] = {}

    @property
    def monitor_dir(self) -> Path:
        """Where MixMonitor writes relative file names (Asterisk: /var/spool/asterisk/monitor)."""
        return Path(self.pbx.recordings_dir) / "monitor"

    def attach(self) -> None:
        """Start listening to the core."""
        if self._remove_listener is None:
            self._remove_listener = self.pbx.add_listener(self._on_pbx_event)

    def detach(self) -> None:
        """Stop listening to the core."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    def _on_pbx_event(self, pbx_event: core.PbxEvent) -> None:
        frames = frames_for(pbx_event)
        if not frames and type(pbx_event).__name__.startswith("Queue"):
            frames = queue_frames(pbx_event, self._member_row(pbx_event))
        for frame in frames:
            self.server.publish(frame)
        if isinstance(pbx_event, core.DialEnded):
            self._originate_finished(pbx_event.peer, pbx_event.dialstatus)
        elif isinstance(pbx_event, core.ChannelHungUp):
            self._originate_finished(pbx_event.channel, "CHANUNAVAIL")
            monitor = self._mixmonitors.pop(pbx_event.channel.uniqueid, None)
            if monitor is not None:
                self._finish_recording(monitor)
            self.server.call_finished()

    # --- actions -----------------------------------------------------------------------------

    def action_handlers(self) -> dict[str, ActionHandler]:
        """AMI actions that need the core (lower-case name -> handler)."""
        return {
            "originate": self._originate,
            "hangup": self._hangup,
            "mixmonitor": self._mixmonitor,
            "stopmixmonitor": self._stop_mixmonitor,
            "mixmonitormute": self._mixmonitor_mute,
            "queuepause": self._queue_pause,
            "status": self._status,
            "coreshowchannels": self._core_show_channels,
        }

    def _channel_by_name(self, name: str) -> core.Channel | None:
        for channel in self.pbx.channels.values():
            if channel.name == name and not channel.gone:
                return channel
        return None

    async def _originate(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        target = header(request, "Channel")
        if not target:
            session.send(response("Error", request, message="Channel not specified"))
            return True
        application = header(request, "Application")
        exten = header(request, "Exten")
        if not application and not exten:
            session.send(response("Error", request, message="Exten not specified"))
            return True
        caller_id = header(request, "CallerID")
        variables = dict(
            value.split("=", 1)
            for key, value in request
            if key.lower() == "variable" and "=" in value
        )
        timeout_ms = int(header(request, "Timeout", "30000") or "30000")
        pending = _PendingOriginate(
            action_id=header(request, "ActionID"),
            channel=target,
            context=header(request, "Context", "default"),
            exten=exten or "s",
            application=application,
            data=header(request, "Data"),
            caller_number=caller_id or "<unknown>",
            caller_name="<unknown>",
        )
        # Asterisk acks at once and reports the outcome in OriginateResponse (Async: true; a
        # synchronous Originate is not simulated).
        session.send(response("Success", request, message="Originate successfully queued"))
        app = None
        app_args = None
        if application.lower() == "stasis":
            app, _, app_args = pending.data.partition(",")
        try:
            created = self.pbx.originate(
                target,
                app=app,
                app_args=app_args or None,
                context=pending.context if app is None else None,
                extension=pending.exten if app is None else None,
                priority=int(header(request, "Priority", "1") or "1") if app is None else None,
                caller_id=caller_id or None,
                timeout=max(1, math.ceil(timeout_ms / 1000)),
                variables=variables,
            )
        except core.PbxError:
            self._send_originate_response(pending, success=False, reason=0, uniqueid="<null>")
            return True
        self._originates[str(created["id"])] = pending
        return True

    def _originate_finished(self, peer: core.ChannelSnapshot, dialstatus: str) -> None:
        pending = self._originates.pop(peer.uniqueid, None)
        if pending is None:
            return
        pending.channel = peer.name
        self._send_originate_response(
            pending,
            success=dialstatus == "ANSWER",
            reason=ORIGINATE_REASON.get(dialstatus, 0),
            uniqueid=peer.uniqueid,
        )

    def _send_originate_response(
        self, pending: _PendingOriginate, *, success: bool, reason: int, uniqueid: str
    ) -> None:
        frame: Frame = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
        if pending.action_id:
            frame.append(("ActionID", pending.action_id))
        frame += [("Response", "Success" if success else "Failure"), ("Channel", pending.channel)]
        if pending.application:
            frame += [("Application", pending.application), ("Data", pending.data)]
        else:
            frame += [("Context", pending.context), ("Exten", pending.exten)]
        frame += [
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", pending.caller_number),
            ("CallerIDName", pending.caller_name),
        ]
        self.server.publish(frame)

    async def _hangup(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        name = header(request, "Channel")
        if not name:
            session.send(response("Error", request, message="No channel specified"))
            return True
        channel = self._channel_by_name(name)
        if channel is None:
            session.send(response("Error", request, message="No such channel"))
            return True
        cause = header(request, "Cause", "16") or "16"
        self.pbx.hangup(channel.id, reason_code=cause if cause.isdigit() else "16")
        session.send(response("Success", request, message="Channel Hungup"))
        return True

    async def _mixmonitor(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        channel = self._channel_by_name(header(request, "Channel"))
        if channel is None:
            session.send(response("Error", request, message="No such channel"))
            return True
        file_name = header(request, "File") or f"{channel.id}.wav"
        path = Path(file_name)
        if not path.is_absolute():
            path = self.monitor_dir / path
        self._mixmonitors[channel.id] = _MixMonitor(path=path, started_at=self.pbx.loop_time())
        # Capture: a bare Success, then VarSet MIXMONITOR_FILENAME and MixMonitorStart.
        session.send(response("Success", request))
        self.pbx.set_variable(channel, "MIXMONITOR_FILENAME", str(path))
        self.server.publish(channel_event("MixMonitorStart", snapshot(channel.snapshot())))
        return True

    async def _stop_mixmonitor(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        channel = self._channel_by_name(header(request, "Channel"))
        if channel is None:
            session.send(response("Error", request, message="No such channel"))
            return True
        monitor = self._mixmonitors.pop(channel.id, None)
        if monitor is None:
            session.send(response("Error", request, message="Could not stop MixMonitor"))
            return True
        self._finish_recording(monitor)
        session.send(response("Success", request))
        self.server.publish(channel_event("MixMonitorStop", snapshot(channel.snapshot())))
        return True

    async def _mixmonitor_mute(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        channel = self._channel_by_name(header(request, "Channel"))
        if channel is None:
            session.send(response("Error", request, message="No such channel"))
            return True
        monitor = self._mixmonitors.get(channel.id)
        if monitor is None:
            session.send(response("Error", request, message="Cannot set mute flag"))
            return True
        monitor.muted = header(request, "State") in ("1", "yes", "true", "on")
        session.send(response("Success", request))
        return True

    def _finish_recording(self, monitor: _MixMonitor) -> None:
        seconds = (self.pbx.loop_time() - monitor.started_at) * self.pbx.speed
        wav.write_wav(monitor.path, seconds, silent=monitor.muted)

    async def _queue_pause(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, response

        interface = header(request, "Interface")
        if not interface:
            session.send(response("Error", request, message="Need 'Interface' parameter."))
            return True
        paused = header(request, "Paused").lower() in ("1", "yes", "true", "on")
        wanted = header(request, "Queue")
        queues = getattr(self.pbx, "queues", None) or {}
        changed = False
        for state in queues.values():
            if wanted and state.name != wanted:
                continue
            if state.member(interface) is not None:
                self.pbx.set_queue_member_paused(state.name, interface, paused)
                changed = True
        if not changed:
            session.send(response("Error", request, message="Interface not found"))
            return True
        word = "paused" if paused else "unpaused"
        session.send(response("Success", request, message=f"Interface {word} successfully"))
        return True

    async def _status(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, list_start

        action_id = header(request, "ActionID") or None
        session.send(list_start(request, "Channel status will follow"))
        channels = [c for c in self.pbx.channels.values() if not c.gone]
        for channel in channels:
            frame: Frame = [("Event", "Status"), ("Privilege", "Call")]
            frame += channel_headers(snapshot(channel.snapshot()))
            seconds = int(
                (datetime.now(UTC) - channel.creationtime).total_seconds() * self.pbx.speed
            )
            frame += [
                ("Type", channel.name.split("/", 1)[0]),
                ("DNID", channel.dialplan.exten),
                ("EffectiveConnectedLineNum", channel.connected.number or "<unknown>"),
                ("EffectiveConnectedLineName", channel.connected.name or "<unknown>"),
                ("TimeToHangup", "0"),
                ("BridgeID", channel.bridge.id if channel.bridge else ""),
                ("Application", channel.dialplan.app_name),
                ("Data", channel.dialplan.app_data),
                ("Nativeformats", "(ulaw)"),
                ("Readformat", "slin"),
                ("Readtrans", "(ulaw@8000)->(slin@8000)"),
                ("Writeformat", "slin"),
                ("Writetrans", "(slin@8000)->(ulaw@8000)"),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(seconds)),
            ]
            if action_id:
                frame.append(("ActionID", action_id))
            session.send(frame)
        count = str(len(channels))
        session.send(
            list_complete_frame("StatusComplete", action_id, len(channels), ("Items", count))
        )
        return True

    async def _core_show_channels(self, session: AmiSession, request: Headers) -> bool:
        from callcenter.sim.ami_server import header, list_start

        action_id = header(request, "ActionID") or None
        session.send(list_start(request, "Channels will follow"))
        channels = [c for c in self.pbx.channels.values() if not c.gone]
        for channel in channels:
            frame: Frame = [("Event", "CoreShowChannel")]
            if action_id:
                frame.append(("ActionID", action_id))
            frame += channel_headers(snapshot(channel.snapshot()))
            seconds = int(
                (datetime.now(UTC) - channel.creationtime).total_seconds() * self.pbx.speed
            )
            hours, rest = divmod(seconds, 3600)
            frame += [
                ("Application", channel.dialplan.app_name),
                ("ApplicationData", channel.dialplan.app_data),
                ("Duration", f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"),
                ("BridgeId", channel.bridge.id if channel.bridge else ""),
            ]
            session.send(frame)
        session.send(list_complete_frame("CoreShowChannelsComplete", action_id, len(channels)))
        return True

    # --- data sources ------------------------------------------------------------------------

    def queue_rows(self) -> Iterable[QueueRow] | None:
        """The core's app_queue queues; None (use the server's table) when it has none."""
        queues = getattr(self.pbx, "queues", None)
        if not queues:
            return None
        rows = []
        for state in queues.values():
            completed = int(getattr(state, "completed", 0))
            rows.append(
                QueueRow(
                    name=state.name,
                    strategy=state.strategy,
                    calls=len(getattr(state, "waiting", [])),
                    holdtime=_average(getattr(state, "holdtime_total", 0.0), completed),
                    talktime=_average(getattr(state, "talktime_total", 0.0), completed),
                    completed=completed,
                    abandoned=int(getattr(state, "abandoned", 0)),
                    members=[self._queue_member_row(member) for member in state.members],
                )
            )
        return rows

    def _queue_member_row(self, member: Any) -> QueueMemberRow:
        state = self.pbx.device_state(member.interface)
        status = core.DEVICE_STATE_NUMBERS.get(state, 0)
        last_call_at = float(getattr(member, "last_call_at", 0.0))
        last_call = (
            int(time.time() - (self.pbx.loop_time() - last_call_at) * self.pbx.speed)
            if last_call_at
            else 0
        )
        return QueueMemberRow(
            interface=member.interface,
            calls_taken=int(getattr(member, "calls_taken", 0)),
            last_call=last_call,
            login_time=int(self.pbx.startup_time.timestamp()),
            in_call=1 if state in ("INUSE", "BUSY", "ONHOLD", "RINGINUSE") else 0,
            status=status,
            paused=bool(getattr(member, "paused", False)),
        )

    def _member_row(self, pbx_event: Any) -> QueueMemberRow | None:
        queues = getattr(self.pbx, "queues", None) or {}
        state = queues.get(getattr(pbx_event, "queue", ""))
        interface = getattr(pbx_event, "interface", None)
        if state is None or interface is None:
            return None
        member = state.member(interface)
        return self._queue_member_row(member) if member is not None else None

    def endpoint_rows(self) -> Iterable[EndpointRow] | None:
        """PJSIP endpoints registered on the core."""
        rows = []
        for record in self.pbx.endpoints.values():
            if record.technology != "PJSIP":
                continue
            live = [cid for cid in record.channel_ids if cid in self.pbx.channels]
            state = self.pbx.endpoint_device_state(record)
            contacts = (
                [f"{record.resource}/sip:{record.resource}@127.0.0.1:5060"] if record.online else []
            )
            rows.append(
                EndpointRow(
                    name=record.resource,
                    aor=record.resource,
                    contacts=contacts,
                    device_state=DEVICE_STATE_TEXT.get(state, "Unknown"),
                    active_channels=len(live),
                )
            )
        return rows or None

    def channel_snapshots(self) -> Iterable[ChannelSnapshot]:
        """Live channels of the core."""
        return [snapshot(c.snapshot()) for c in self.pbx.channels.values() if not c.gone]


def _average(total: float, count: int) -> int:
    return int(total / count) if count else 0
