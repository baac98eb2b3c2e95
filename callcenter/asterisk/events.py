"""ARI events as small frozen dataclasses, parsed at the edge.

``parse_event(raw)`` turns one WebSocket message (a dict) into an ``AriEvent`` and never
raises: anything unexpected becomes ``Unknown``. Every event knows the channels
(``channel_ids``) and bridges (``bridge_ids``) it concerns, which is what the worker's router
needs. Playback and recording events name their target as ``target_uri`` (``channel:ID`` or
``bridge:ID``), so their ids come from there.

``Reconnected`` is not an ARI event: the adapter emits it after the WebSocket came back, with
what Asterisk still holds (real Asterisk keeps channels in the app while the WebSocket is down
and sends no new StasisStart for them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.asterisk.ids import BridgeId, ChannelId, PlaybackId, RecordingName

__all__ = [
    "ApplicationReplaced",
    "AriEvent",
    "BridgeDestroyed",
    "BridgeSnapshot",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelEnteredBridge",
    "ChannelHangupRequest",
    "ChannelLeftBridge",
    "ChannelSnapshot",
    "ChannelStateChange",
    "Dial",
    "EndpointStateChange",
    "PlaybackContinuing",
    "PlaybackFinished",
    "PlaybackStarted",
    "Reconnected",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingStarted",
    "StasisEnd",
    "StasisStart",
    "Unknown",
    "parse_event",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSnapshot:
    """What an event says about a channel (ARI model ``Channel``), the fields we use."""

    id: ChannelId
    name: str = ""
    state: str = ""
    caller_number: str = ""
    caller_name: str = ""
    connected_number: str = ""
    context: str = ""
    exten: str = ""
    app_data: str = ""
    language: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ChannelSnapshot:
        """Build from the ARI ``Channel`` JSON; raises KeyError without an ``id``."""
        caller = raw.get("caller") or {}
        connected = raw.get("connected") or {}
        dialplan = raw.get("dialplan") or {}
        return cls(
            id=ChannelId(str(raw["id"])),
            name=str(raw.get("name", "")),
            state=str(raw.get("state", "")),
            caller_number=str(caller.get("number", "")),
            caller_name=str(caller.get("name", "")),
            connected_number=str(connected.get("number", "")),
            context=str(dialplan.get("context", "")),
            exten=str(dialplan.get("exten", "")),
            app_data=str(dialplan.get("app_data", "")),
            language=str(raw.get("language", "")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeSnapshot:
    """What Asterisk says about a bridge (ARI model ``Bridge``)."""

    id: BridgeId
    bridge_type: str = ""
    name: str = ""
    channels: tuple[ChannelId, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BridgeSnapshot:
        """Build from the ARI ``Bridge`` JSON; raises KeyError without an ``id``."""
        return cls(
            id=BridgeId(str(raw["id"])),
            bridge_type=str(raw.get("bridge_type", "")),
            name=str(raw.get("name", "")),
            channels=tuple(ChannelId(str(c)) for c in raw.get("channels") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AriEvent:
    """Base of every event. ``timestamp`` is Asterisk's, as sent."""

    timestamp: str = ""

    @property
    def channel_ids(self) -> tuple[ChannelId, ...]:
        """Channels this event concerns (for routing)."""
        return ()

    @property
    def bridge_ids(self) -> tuple[BridgeId, ...]:
        """Bridges this event concerns (for routing events that name no channel)."""
        return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelEvent(AriEvent):
    channel: ChannelSnapshot

    @property
    def channel_ids(self) -> tuple[ChannelId, ...]:
        return (self.channel.id,)

    @property
    def channel_id(self) -> ChannelId:
        """The channel this event is about."""
        return self.channel.id


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(_ChannelEvent):
    """A channel entered our app (``Stasis(app,args...)`` or ``channels/create``)."""

    args: tuple[str, ...] = ()
    replace_channel_id: ChannelId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(_ChannelEvent):
    """The channel left our app: the reliable "this channel is gone for us"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(_ChannelEvent):
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(_ChannelEvent):
    """A hang-up was asked for; the cause tells busy (17) from no answer (19) on agent legs."""

    cause: int | None = None
    soft: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(_ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(_ChannelEvent):
    state: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(AriEvent):
    """Progress of a dial; Asterisk 22 sends no BUSY/NOANSWER here (read the hang-up cause)."""

    peer: ChannelSnapshot
    caller: ChannelSnapshot | None = None
    dialstatus: str = ""
    dialstring: str = ""

    @property
    def peer_id(self) -> ChannelId:
        return self.peer.id

    @property
    def caller_id(self) -> ChannelId | None:
        return self.caller.id if self.caller is not None else None

    @property
    def channel_ids(self) -> tuple[ChannelId, ...]:
        if self.caller is None:
            return (self.peer.id,)
        return (self.peer.id, self.caller.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(_ChannelEvent):
    bridge_id: BridgeId


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(_ChannelEvent):
    bridge_id: BridgeId


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(AriEvent):
    bridge_id: BridgeId

    @property
    def bridge_ids(self) -> tuple[BridgeId, ...]:
        return (self.bridge_id,)


def _channel_of(target_uri: str) -> tuple[ChannelId, ...]:
    if target_uri.startswith("channel:"):
        return (ChannelId(target_uri[8:]),)
    return ()


def _bridge_of(target_uri: str) -> tuple[BridgeId, ...]:
    if target_uri.startswith("bridge:"):
        return (BridgeId(target_uri[7:]),)
    return ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _TargetedEvent(AriEvent):
    target_uri: str = ""

    @property
    def channel_ids(self) -> tuple[ChannelId, ...]:
        return _channel_of(self.target_uri)

    @property
    def bridge_ids(self) -> tuple[BridgeId, ...]:
        return _bridge_of(self.target_uri)


@dataclass(frozen=True, slots=True, kw_only=True)
class _PlaybackEvent(_TargetedEvent):
    playback_id: PlaybackId
    media_uri: str = ""
    state: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(_PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackContinuing(_PlaybackEvent):
    """One media of a multi-media play ended and the next starts (``media_uri`` is the one
    that ended; the same playback id goes on). Seen on Asterisk 22.10.1 between
    ``sound:hello-world`` and ``sound:vm-press`` of one play: one PlaybackFinished follows,
    after the last media."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(_PlaybackEvent):
    """``state`` is "done" normally; "failed" when the media could not be played."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _RecordingEvent(_TargetedEvent):
    name: RecordingName
    format: str = ""
    state: str = ""
    duration: int | None = None
    cause: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(_RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(_RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFailed(_RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStateChange(AriEvent):
    """An endpoint (an agent's phone, ``PJSIP/1001``) went ``online`` or ``offline``.

    Asterisk sends endpoint events only to apps subscribed to the endpoint
    (``POST /applications/{app}/subscription?eventSource=endpoint:PJSIP/1001``). Besides
    EndpointStateChange, a subscribed app gets ContactStatusChange (a contact's qualify answered
    or not: ``Reachable``/``Unreachable``) and PeerStatusChange, each carrying the endpoint's
    new ``state``; they parse into this same event (``source`` names the one it was), so a
    phone that stops answering OPTIONS is seen whichever of them arrives.
    """

    technology: str
    resource: str
    state: str
    """``online``, ``offline`` or ``unknown`` (the endpoint's state after the change)."""
    source: str = "EndpointStateChange"
    contact_status: str = ""
    """ContactStatusChange only: ``Reachable``, ``Unreachable``, ``Created``, ``Removed``..."""

    @property
    def endpoint(self) -> str:
        """``PJSIP/1001``, as agents' ``endpoint`` is written in the config."""
        return f"{self.technology}/{self.resource}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationReplaced(AriEvent):
    """Another WebSocket took our app name: this connection gets no more events."""

    application: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unknown(AriEvent):
    """Any event we do not model, or one we could not parse; ``raw`` is the message as sent."""

    type: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    channel_ids_: tuple[ChannelId, ...] = ()
    bridge_ids_: tuple[BridgeId, ...] = ()

    @property
    def channel_ids(self) -> tuple[ChannelId, ...]:
        return self.channel_ids_

    @property
    def bridge_ids(self) -> tuple[BridgeId, ...]:
        return self.bridge_ids_


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected(AriEvent):
    """The WebSocket is back; what Asterisk holds now (GET /channels, /bridges, /applications).

    ``initial``: this is the first connection of the process (channels in the app then belong
    to a worker that is gone).
    """

    initial: bool = False
    channels: tuple[ChannelSnapshot, ...] = ()
    bridges: tuple[BridgeSnapshot, ...] = ()
    app_channel_ids: frozenset[ChannelId] = frozenset()
    app_bridge_ids: frozenset[BridgeId] = frozenset()


# --- parsing ---------------------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _stasis_start(raw: Mapping[str, Any], ts: str) -> AriEvent:
    replace = raw.get("replace_channel")
    return StasisStart(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        args=tuple(str(a) for a in raw.get("args") or ()),
        replace_channel_id=ChannelId(str(replace["id"])) if replace else None,
    )


def _stasis_end(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return StasisEnd(timestamp=ts, channel=ChannelSnapshot.from_json(raw["channel"]))


def _dtmf(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ChannelDtmfReceived(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        digit=str(raw["digit"]),
        duration_ms=int(raw.get("duration_ms") or 0),
    )


def _hangup_request(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ChannelHangupRequest(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        cause=_int_or_none(raw.get("cause")),
        soft=bool(raw.get("soft", False)),
    )


def _destroyed(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ChannelDestroyed(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        cause=int(raw.get("cause") or 0),
        cause_txt=str(raw.get("cause_txt", "")),
    )


def _state_change(raw: Mapping[str, Any], ts: str) -> AriEvent:
    channel = ChannelSnapshot.from_json(raw["channel"])
    return ChannelStateChange(timestamp=ts, channel=channel, state=channel.state)


def _dial(raw: Mapping[str, Any], ts: str) -> AriEvent:
    caller = raw.get("caller")
    return Dial(
        timestamp=ts,
        peer=ChannelSnapshot.from_json(raw["peer"]),
        caller=ChannelSnapshot.from_json(caller) if caller else None,
        dialstatus=str(raw.get("dialstatus", "")),
        dialstring=str(raw.get("dialstring", "")),
    )


def _entered_bridge(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ChannelEnteredBridge(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        bridge_id=BridgeId(str(raw["bridge"]["id"])),
    )


def _left_bridge(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ChannelLeftBridge(
        timestamp=ts,
        channel=ChannelSnapshot.from_json(raw["channel"]),
        bridge_id=BridgeId(str(raw["bridge"]["id"])),
    )


def _bridge_destroyed(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return BridgeDestroyed(timestamp=ts, bridge_id=BridgeId(str(raw["bridge"]["id"])))


def _playback(cls: type[_PlaybackEvent]) -> Callable[[Mapping[str, Any], str], AriEvent]:
    def parse(raw: Mapping[str, Any], ts: str) -> AriEvent:
        playback = raw["playback"]
        return cls(
            timestamp=ts,
            playback_id=PlaybackId(str(playback["id"])),
            media_uri=str(playback.get("media_uri", "")),
            target_uri=str(playback.get("target_uri", "")),
            state=str(playback.get("state", "")),
        )

    return parse


def _recording(cls: type[_RecordingEvent]) -> Callable[[Mapping[str, Any], str], AriEvent]:
    def parse(raw: Mapping[str, Any], ts: str) -> AriEvent:
        recording = raw["recording"]
        return cls(
            timestamp=ts,
            name=RecordingName(str(recording["name"])),
            format=str(recording.get("format", "")),
            state=str(recording.get("state", "")),
            target_uri=str(recording.get("target_uri", "")),
            duration=_int_or_none(recording.get("duration")),
            cause=str(recording.get("cause", "")),
        )

    return parse


def _endpoint_state(raw: Mapping[str, Any], ts: str) -> AriEvent:
    endpoint = raw["endpoint"]
    contact = raw.get("contact_info") or {}
    return EndpointStateChange(
        timestamp=ts,
        technology=str(endpoint["technology"]),
        resource=str(endpoint["resource"]),
        state=str(endpoint.get("state", "")),
        source=str(raw["type"]),
        contact_status=str(contact.get("contact_status", "")),
    )


def _application_replaced(raw: Mapping[str, Any], ts: str) -> AriEvent:
    return ApplicationReplaced(timestamp=ts, application=str(raw.get("application", "")))


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], AriEvent]] = {
    "StasisStart": _stasis_start,
    "StasisEnd": _stasis_end,
    "ChannelDtmfReceived": _dtmf,
    "ChannelHangupRequest": _hangup_request,
    "ChannelDestroyed": _destroyed,
    "ChannelStateChange": _state_change,
    "Dial": _dial,
    "ChannelEnteredBridge": _entered_bridge,
    "ChannelLeftBridge": _left_bridge,
    "BridgeDestroyed": _bridge_destroyed,
    "PlaybackStarted": _playback(PlaybackStarted),
    "PlaybackContinuing": _playback(PlaybackContinuing),
    "PlaybackFinished": _playback(PlaybackFinished),
    "RecordingStarted": _recording(RecordingStarted),
    "RecordingFinished": _recording(RecordingFinished),
    "RecordingFailed": _recording(RecordingFailed),
    "ApplicationReplaced": _application_replaced,
    "EndpointStateChange": _endpoint_state,
    "ContactStatusChange": _endpoint_state,
    "PeerStatusChange": _endpoint_state,
}


def _unknown(raw: Any) -> Unknown:
    if not isinstance(raw, Mapping):
        return Unknown(type="", raw={"value": raw})
    # Still routable: the channels and bridges it names (PlaybackContinuing, ChannelVarset...).
    channels: list[ChannelId] = []
    bridges: list[BridgeId] = []
    for key in ("channel", "peer", "caller"):
        item = raw.get(key)
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            channels.append(ChannelId(item["id"]))
    bridge = raw.get("bridge")
    if isinstance(bridge, Mapping) and isinstance(bridge.get("id"), str):
        bridges.append(BridgeId(bridge["id"]))
    for key in ("playback", "recording"):
        item = raw.get(key)
        target = item.get("target_uri") if isinstance(item, Mapping) else None
        if isinstance(target, str):
            channels.extend(_channel_of(target))
            bridges.extend(_bridge_of(target))
    return Unknown(
        timestamp=str(raw.get("timestamp", "")),
        type=str(raw.get("type", "")),
        raw=raw,
        channel_ids_=tuple(channels),
        bridge_ids_=tuple(bridges),
    )


def parse_event(raw: Any) -> AriEvent:
    """One ARI WebSocket message (decoded JSON) to an ``AriEvent``; never raises."""
    try:
        parser = _PARSERS.get(raw["type"])
        if parser is None:
            return _unknown(raw)
        return parser(raw, str(raw.get("timestamp", "")))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return _unknown(raw)
