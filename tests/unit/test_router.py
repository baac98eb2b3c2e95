"""EventRouter: claimed channels and bridges get their events; the rest go to the default."""

from __future__ import annotations

import asyncio

from callcenter.asterisk.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelSnapshot,
    Dial,
    PlaybackFinished,
    RecordingFinished,
    StasisStart,
    Unknown,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, PlaybackId, RecordingName
from callcenter.worker.router import EventRouter

CALLER = ChannelId("caller-1")
AGENT = ChannelId("agent-1")
BRIDGE = BridgeId("bridge-1")


def snap(channel_id: str) -> ChannelSnapshot:
    return ChannelSnapshot(id=ChannelId(channel_id))


def drain(queue: asyncio.Queue[AriEvent]) -> list[AriEvent]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def test_unclaimed_events_go_to_the_default_handler() -> None:
    seen: list[AriEvent] = []
    router = EventRouter(default_handler=seen.append)
    start = StasisStart(channel=snap(CALLER))
    router.dispatch(start)
    assert seen == [start]
    assert router.unclaimed == 1


def test_claimed_channel_events_go_to_its_inbox_only() -> None:
    seen: list[AriEvent] = []
    router = EventRouter(default_handler=seen.append)
    inbox: asyncio.Queue[AriEvent] = asyncio.Queue()
    router.claim(CALLER, inbox)
    dtmf = ChannelDtmfReceived(channel=snap(CALLER), digit="5")
    router.dispatch(dtmf)
    assert drain(inbox) == [dtmf]
    assert seen == []


def test_playback_and_recording_route_by_target_uri() -> None:
    router = EventRouter()
    call: asyncio.Queue[AriEvent] = asyncio.Queue()
    router.claim(CALLER, call)
    router.claim_bridge(BRIDGE, call)
    on_channel = PlaybackFinished(playback_id=PlaybackId("p"), target_uri=f"channel:{CALLER}")
    on_bridge = RecordingFinished(name=RecordingName("r"), target_uri=f"bridge:{BRIDGE}")
    router.dispatch(on_channel)
    router.dispatch(on_bridge)
    assert drain(call) == [on_channel, on_bridge]


def test_event_of_two_channels_of_one_call_is_delivered_once() -> None:
    router = EventRouter()
    call: asyncio.Queue[AriEvent] = asyncio.Queue()
    router.claim(CALLER, call)
    router.claim(AGENT, call)
    dial = Dial(peer=snap(AGENT), caller=snap(CALLER), dialstatus="ANSWER")
    router.dispatch(dial)
    assert drain(call) == [dial]


def test_event_of_channels_of_two_calls_reaches_both() -> None:
    router = EventRouter()
    first: asyncio.Queue[AriEvent] = asyncio.Queue()
    second: asyncio.Queue[AriEvent] = asyncio.Queue()
    router.claim(CALLER, first)
    router.claim(AGENT, second)
    dial = Dial(peer=snap(AGENT), caller=snap(CALLER))
    router.dispatch(dial)
    assert drain(first) == [dial]
    assert drain(second) == [dial]


def test_release_and_channel_destroyed_drop_the_claim() -> None:
    seen: list[AriEvent] = []
    router = EventRouter(default_handler=seen.append)
    inbox: asyncio.Queue[AriEvent] = asyncio.Queue()
    router.claim(CALLER, inbox)
    router.claim(AGENT, inbox)
    router.release(CALLER)
    router.dispatch(ChannelDtmfReceived(channel=snap(CALLER), digit="1"))
    assert len(seen) == 1
    destroyed = ChannelDestroyed(channel=snap(AGENT), cause=16)
    router.dispatch(destroyed)
    assert drain(inbox) == [destroyed]
    assert router.owner_of(AGENT) is None


class _BrokenInbox:
    def put_nowait(self, item: AriEvent, /) -> None:
        raise RuntimeError("inbox broken")


def test_nothing_crashes_the_dispatch() -> None:
    def broken_default(event: AriEvent) -> None:
        raise ValueError("default handler broken")

    router = EventRouter(default_handler=broken_default)
    router.claim(CALLER, _BrokenInbox())
    router.dispatch(ChannelDtmfReceived(channel=snap(CALLER), digit="1"))
    router.dispatch(Unknown(type="Whatever"))
    assert router.failures == 2
