"""EventRouter: claimed channels and bridges get their events; the rest go to the default.
CallSession: the call's inbox, its claims and its tasks."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.asterisk.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelSnapshot,
    Dial,
    PlaybackFinished,
    RecordingFinished,
    StasisEnd,
    StasisStart,
    Unknown,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, PlaybackId, RecordingName
from callcenter.call.router import EventRouter
from callcenter.call.session import CallEnded, CallSession

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


# --- CallSession: the call's side of the router -------------------------------------------


def new_session(router: EventRouter) -> CallSession:
    caller = ChannelSnapshot(id=CALLER, caller_number="+15550001", exten="100")
    return CallSession(caller, ari=None, router=router)  # type: ignore[arg-type]


async def test_session_claims_its_caller_and_reads_events_in_order() -> None:
    router = EventRouter()
    session = new_session(router)
    assert router.owner_of(CALLER) is session.inbox
    assert session.context.caller_number == "+15550001" and session.context.dialled == "100"
    first = ChannelDtmfReceived(channel=snap(CALLER), digit="1")
    second = ChannelDtmfReceived(channel=snap(CALLER), digit="2")
    router.dispatch(first)
    router.dispatch(second)
    assert await session.next_event(timeout=1) is first
    assert await session.next_event(timeout=1) is second
    assert await session.next_event(timeout=0.01) is None  # nothing came


async def test_session_after_stasis_end_raises_call_ended_and_cancels_its_tasks() -> None:
    router = EventRouter()
    session = new_session(router)
    helper = session.spawn(asyncio.sleep(3600), "helper")
    router.dispatch(StasisEnd(channel=snap(CALLER)))
    assert session.caller_left
    await asyncio.sleep(0)
    assert helper.cancelled()
    assert isinstance(await session.next_event(timeout=1), StasisEnd)
    with pytest.raises(CallEnded):
        await session.next_event(timeout=1)
    coro = asyncio.sleep(1)
    with pytest.raises(CallEnded):
        session.spawn(coro)


async def test_session_close_releases_every_claim() -> None:
    seen: list[AriEvent] = []
    router = EventRouter(default_handler=seen.append)
    session = new_session(router)
    session.watch(AGENT)
    session.watch_bridge(BRIDGE)
    assert session.channels == {CALLER, AGENT}
    await session.close()
    assert router.claimed_channels == frozenset()
    router.dispatch(PlaybackFinished(playback_id=PlaybackId("p"), target_uri=f"bridge:{BRIDGE}"))
    assert len(seen) == 1
