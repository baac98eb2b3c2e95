"""The ARI adapter over the wire against the simulated Asterisk 22 (ARI server + PBX core)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from callcenter.asterisk.ari import (
    AriClient,
    AriConflict,
    AriNotFound,
    AriRequestError,
    AriSettings,
    AriTimeout,
)
from callcenter.asterisk.events import (
    AriEvent,
    ChannelDtmfReceived,
    ChannelStateChange,
    Dial,
    EndpointStateChange,
    PlaybackFinished,
    Reconnected,
    RecordingFinished,
    StasisEnd,
    StasisStart,
    Unknown,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, PlaybackId, RecordingName, new_channel_id
from callcenter.errors import AsteriskUnavailable
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimulatedAsterisk, Stasis

APP = "cc-test"
USER, PASSWORD = "callcenter", "secret"
E = TypeVar("E", bound=AriEvent)


class EventLog:
    """What the adapter handed us: events and reconnect snapshots, awaitable by type."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[AriEvent] = asyncio.Queue()
        self.seen: list[AriEvent] = []
        self.reconnects: asyncio.Queue[Reconnected] = asyncio.Queue()

    def on_event(self, event: AriEvent) -> None:
        self.seen.append(event)
        self.events.put_nowait(event)

    def on_reconnected(self, snapshot: Reconnected) -> None:
        self.reconnects.put_nowait(snapshot)

    async def next(self, kind: type[E], within: float = 3.0, **fields: Any) -> E:
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if isinstance(event, kind) and all(
                    getattr(event, name) == value for name, value in fields.items()
                ):
                    return event


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    pbx = SimulatedAsterisk(speed=50.0, recordings_dir=tmp_path)
    pbx.dialplan.route("100", Stasis(APP))
    yield pbx
    await pbx.close()


@pytest.fixture
async def server(pbx: SimulatedAsterisk) -> AsyncIterator[AriServer]:
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    yield server
    await server.close()


def settings_for(url: str, **overrides: Any) -> AriSettings:
    values: dict[str, Any] = {
        "url": url,
        "username": USER,
        "password": PASSWORD,
        "app": APP,
        "request_timeout": 2.0,
        "connect_timeout": 2.0,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
    }
    values.update(overrides)
    return AriSettings(**values)


@pytest.fixture
async def log() -> EventLog:
    return EventLog()


@pytest.fixture
async def ari(server: AriServer, log: EventLog) -> AsyncIterator[AriClient]:
    client = AriClient(settings_for(server.url), log.on_event, log.on_reconnected)
    await client.start()
    await client.wait_connected(within=5)
    yield client
    await client.close()


async def inbound_call(pbx: SimulatedAsterisk, log: EventLog, number: str = "+15550001") -> Any:
    call = pbx.place_inbound_call("100", number, caller_name="Alice")
    start = await log.next(StasisStart)
    assert start.channel.id == call.channel_id
    return call, start


async def test_connects_reads_asterisk_info_and_sets_the_event_filter(
    ari: AriClient, pbx: SimulatedAsterisk
) -> None:
    info = await ari.asterisk_info()
    assert info["system"]["version"].startswith("22")
    # wait_connected (in the fixture) returns once the filter has been sent.
    disallowed = {item["type"] for item in pbx.app(APP).events_disallowed}
    assert {"ChannelVarset", "ChannelDialplan"} <= disallowed


async def test_inbound_call_answer_play_hangup(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    call, start = await inbound_call(pbx, log)
    assert start.channel.caller_number == "+15550001"
    assert start.channel.exten == "100"

    await ari.answer(start.channel.id)
    await log.next(ChannelStateChange, state="Up")
    playback = await ari.play(start.channel.id, "sound:hello-world")
    finished = await log.next(PlaybackFinished, playback_id=playback)
    assert finished.state == "done"
    assert finished.channel_ids == (start.channel.id,)
    assert call.heard == ["sound:hello-world"]

    await ari.hangup(start.channel.id)
    await log.next(StasisEnd)
    await call.wait_for("hangup")
    # Nothing we filter out came through (ChannelVarset is sent on hang-up: STASISSTATUS).
    assert not [e for e in log.seen if isinstance(e, Unknown) and e.type == "ChannelVarset"]


async def test_dtmf_and_playback_stop(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    call, start = await inbound_call(pbx, log)
    channel = start.channel.id
    await ari.answer(channel)
    playback = await ari.play(channel, ["sound:demo-congrats", "sound:beep"])
    call.send_dtmf("5")
    dtmf = await log.next(ChannelDtmfReceived)
    assert (dtmf.digit, dtmf.duration_ms) == ("5", 280)
    assert await ari.stop_playback(playback) is True
    await log.next(PlaybackFinished, playback_id=playback)
    # A playback that already ended: Asterisk answers 404, which is not an error for us.
    assert await ari.stop_playback(playback) is False
    call.hangup()
    await log.next(StasisEnd)


async def test_rest_errors_are_mapped(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    with pytest.raises(AriNotFound) as not_found:
        await ari.answer(ChannelId("does-not-exist"))
    assert not_found.value.status == 404
    assert not_found.value.asterisk_message == "Channel not found"
    assert not_found.value.operation == "channels.answer"
    assert not_found.value.code == "ari-not-found"

    with pytest.raises(AriRequestError) as alloc:
        await ari.create_channel("PJSIP/no-such-agent")
    assert alloc.value.status == 500
    assert alloc.value.asterisk_message == "Allocation failed"

    _, start = await inbound_call(pbx, log)
    await ari.answer(start.channel.id)
    name = RecordingName("cc-dup")
    await ari.record_channel(start.channel.id, name, max_duration_seconds=1)
    with pytest.raises(AriConflict) as conflict:
        await ari.record_channel(start.channel.id, name)
    assert conflict.value.status == 409
    assert conflict.value.asterisk_message.startswith("Recording")

    with pytest.raises(AriNotFound):
        await ari.get_variable(start.channel.id, "NO_SUCH_VAR")
    await ari.hangup(start.channel.id)
    await log.next(StasisEnd)


async def test_agent_leg_create_dial_bridge_record_download(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    agent = pbx.register_endpoint("PJSIP", "1001", EndpointBehaviour.answer_after(0.5))
    call, start = await inbound_call(pbx, log)
    caller = start.channel.id
    await ari.answer(caller)
    bridge = await ari.create_bridge("mixing", name="cc-test")
    await ari.add_to_bridge(bridge, caller)

    leg = new_channel_id()
    created = await ari.create_channel(
        "PJSIP/1001", app_args="agent", channel_id=leg, variables={"CC_CALL": "x"}
    )
    assert created == leg
    leg_start = await log.next(StasisStart)
    assert leg_start.channel.id == leg and leg_start.args == ("agent",)
    assert await ari.get_variable(leg, "CC_CALL") == "x"
    await ari.dial(leg, caller=caller, ring_timeout=10)
    answered = await log.next(Dial, dialstatus="ANSWER")
    assert answered.peer_id == leg
    await ari.add_to_bridge(bridge, leg)
    agent_call = await agent.next_call()
    await agent_call.wait_for("bridged")

    name = await ari.record_bridge(bridge, "cc-conv", if_exists="overwrite")
    await ari.pause_recording(name)
    await ari.unpause_recording(name)
    await asyncio.sleep(0.05)
    await ari.stop_recording(name)
    finished = await log.next(RecordingFinished, name=name)
    assert finished.bridge_ids == (bridge,)
    stored = await ari.get_stored_recording(name)
    assert stored.format == "wav"
    audio = await ari.download_recording(name)
    assert audio[:4] == b"RIFF"
    await ari.delete_stored_recording(name)
    with pytest.raises(AriNotFound):
        await ari.get_stored_recording(name)

    assert bridge in {b.id for b in await ari.list_bridges()}
    assert {caller, leg} <= {c.id for c in await ari.list_channels()}
    await ari.hangup(leg)
    await ari.hangup(caller)
    await ari.destroy_bridge(bridge)
    await call.wait_for("hangup")


async def test_websocket_dropped_by_asterisk_reconnects_and_keeps_the_call(
    ari: AriClient, server: AriServer, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    call, start = await inbound_call(pbx, log)
    await ari.answer(start.channel.id)
    assert ari.connections == 1

    # Asterisk closes our WebSocket (restart of res_ari, network cut...).
    await server.drop_websockets()

    first = await asyncio.wait_for(log.reconnects.get(), 5)
    assert first.initial and first.app_channel_ids == frozenset()  # connected before the call
    snapshot = await asyncio.wait_for(log.reconnects.get(), 5)
    assert not snapshot.initial
    assert ari.connections == 2 and ari.connected
    # Real Asterisk keeps the channel in the app and sends no new StasisStart for it.
    assert start.channel.id in snapshot.app_channel_ids
    assert start.channel.id in {c.id for c in snapshot.channels}

    call.send_dtmf("7")
    dtmf = await log.next(ChannelDtmfReceived)
    assert (dtmf.channel.id, dtmf.digit) == (start.channel.id, "7")
    await ari.hangup(start.channel.id)
    await log.next(StasisEnd)


async def test_connect_retries_until_asterisk_listens(pbx: SimulatedAsterisk) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = EventLog()
    client = AriClient(settings_for(f"http://127.0.0.1:{port}/"), log.on_event)
    await client.start()
    await asyncio.sleep(0.3)  # a few refused attempts
    assert not client.connected
    server = await start_ari_server(pbx, "127.0.0.1", port, USER, PASSWORD)
    try:
        await client.wait_connected(within=5)
        pbx.place_inbound_call("100", "+15550002")
        start = await log.next(StasisStart)
        await client.hangup(start.channel.id)
        await log.next(StasisEnd)
    finally:
        await client.close()
        await server.close()


async def test_connect_gives_up_after_max_attempts_with_wrong_password(server: AriServer) -> None:
    client = AriClient(settings_for(server.url, password="wrong"), lambda event: None)
    with pytest.raises(AsteriskUnavailable) as failure:
        await client.connect(max_attempts=2)
    assert "401" in failure.value.message
    await client.close()


class HangingProxy:
    """Forwards HTTP to the sim, but answers nothing for paths containing ``hang_on``."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.hang_on: str | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(self.app)
        self.url = ""
        self.release = asyncio.Event()

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/"

    async def forward(self, request: web.Request) -> web.StreamResponse:
        import aiohttp

        if self.hang_on and self.hang_on in request.path:
            await self.release.wait()  # a sim that hangs
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                self.target + request.path_qs,
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            ) as response,
        ):
            body = await response.read()
            # The api-docs name the host to call back: keep the client on the proxy.
            body = body.replace(self.target.encode(), self.url.rstrip("/").encode())
            return web.Response(
                status=response.status, body=body, content_type=response.content_type
            )

    async def close(self) -> None:
        self.release.set()
        await self.runner.cleanup()


async def test_a_request_asterisk_never_answers_times_out(server: AriServer) -> None:
    proxy = HangingProxy(server.url)
    await proxy.start()
    client = AriClient(settings_for(proxy.url, request_timeout=0.3), lambda event: None)
    try:
        await client.connect(max_attempts=1)
        assert (await client.asterisk_info())["system"]["version"].startswith("22")
        proxy.hang_on = "/asterisk/info"
        with pytest.raises(AriTimeout) as timeout:
            await client.asterisk_info()
        assert timeout.value.operation == "asterisk.getInfo"
        assert timeout.value.status is None
    finally:
        await client.close()
        await proxy.close()


async def test_every_other_operation_reaches_asterisk_with_the_right_parameters(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    agent = pbx.register_endpoint("PJSIP", "1002", EndpointBehaviour.answer_after(0.2))
    call, start = await inbound_call(pbx, log)
    caller = start.channel.id
    await ari.ring(caller)
    await call.wait_for("ringing")
    await ari.answer(caller)
    await ari.set_variable(caller, "CC_LANG", "fr")
    assert await ari.get_variable(caller, "CC_LANG") == "fr"
    assert (await ari.get_channel(caller)).caller_number == "+15550001"

    await ari.start_moh(caller, "default")
    await call.wait_for("moh_started")
    await ari.stop_moh(caller)
    await call.wait_for("moh_stopped")
    await ari.send_dtmf(caller, "12", between_ms=50)
    await call.wait_for("dtmf", predicate=lambda e: e.detail == "2")

    snoop = await ari.snoop(caller, spy="both", app_args="snoop")
    snoop_start = await log.next(StasisStart, args=("snoop",))
    assert snoop_start.channel.id == snoop
    await ari.hangup(snoop)

    bridge = await ari.create_bridge("holding", name="cc-hold")
    await ari.add_to_bridge(bridge, caller, role="participant")
    await ari.start_bridge_moh(bridge)
    await ari.stop_bridge_moh(bridge)
    with pytest.raises(AriConflict):
        await ari.stop_bridge_moh(bridge)  # "Bridge isn't playing music"
    announcement = await ari.play_on_bridge(bridge, "sound:beep")
    finished = await log.next(PlaybackFinished, playback_id=announcement)
    assert finished.bridge_ids == (bridge,)
    await ari.remove_from_bridge(bridge, caller)
    with pytest.raises(AriRequestError) as gone:
        await ari.remove_from_bridge(bridge, ChannelId("gone"))
    assert gone.value.status in (400, 422)
    await ari.destroy_bridge(bridge)

    # originate with app: StasisStart only once the agent answers.
    leg = await ari.originate("PJSIP/1002", app_args="originated", caller_id="CC <100>")
    leg_start = await log.next(StasisStart, args=("originated",))
    assert leg_start.channel.id == leg
    agent_call = await agent.next_call()
    await ari.hangup(leg)
    await agent_call.wait_for("hangup")

    await ari.continue_in_dialplan(caller)
    await log.next(StasisEnd)
    await call.wait_for("hangup")


async def test_endpoints_and_subscriptions(
    ari: AriClient, pbx: SimulatedAsterisk, log: EventLog
) -> None:
    phone = pbx.register_endpoint("PJSIP", "1003")
    endpoint = await ari.get_endpoint("PJSIP/1003")
    assert (endpoint.name, endpoint.state) == ("PJSIP/1003", "online")
    assert "PJSIP/1003" in {e.name for e in await ari.list_endpoints()}
    with pytest.raises(AriNotFound):
        await ari.get_endpoint("PJSIP/nobody")

    phone.set_online(False)  # not subscribed yet: Asterisk sends us nothing of it
    phone.set_online(True)
    await ari.subscribe("endpoint:PJSIP/1003")
    phone.set_online(False)
    # As chan_pjsip when a contact stops answering qualify: the contact, the peer, the endpoint.
    contact = await log.next(EndpointStateChange, source="ContactStatusChange")
    assert (contact.endpoint, contact.state, contact.contact_status) == (
        "PJSIP/1003",
        "offline",
        "Unreachable",
    )
    # (PeerStatusChange is in the adapter's event filter: it says the same as the contact.)
    change = await log.next(EndpointStateChange, source="EndpointStateChange")
    assert change.state == "offline"
    assert [e.state for e in log.seen if isinstance(e, EndpointStateChange)] == ["offline"] * 2
    with pytest.raises(AriRequestError) as refused:
        await ari.create_channel("PJSIP/1003")  # its contact is unreachable
    assert (refused.value.status, refused.value.asterisk_message) == (500, "Allocation failed")
    await ari.unsubscribe("endpoint:PJSIP/1003")
    assert (await ari.get_endpoint("PJSIP/1003")).state == "offline"


async def test_a_failing_event_handler_does_not_drop_the_websocket(
    server: AriServer, pbx: SimulatedAsterisk
) -> None:
    log = EventLog()

    def handler(event: AriEvent) -> None:
        log.on_event(event)
        if isinstance(event, StasisStart):
            raise RuntimeError("handler bug")

    client = AriClient(settings_for(server.url), handler)
    await client.start()
    try:
        await client.wait_connected(within=5)
        call = pbx.place_inbound_call("100", "+15550003")
        await log.next(StasisStart)
        call.hangup()
        await log.next(StasisEnd)
        assert client.connections == 1
    finally:
        await client.close()


async def test_a_server_that_is_not_asterisk_is_reported() -> None:
    async def not_ari(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", not_ari)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    client = AriClient(settings_for(url), lambda event: None)
    try:
        with pytest.raises(AsteriskUnavailable) as failure:
            await client.connect(max_attempts=1)
        assert "api-docs" in failure.value.message
    finally:
        await client.close()
        await runner.cleanup()


async def test_requests_safe_to_repeat_survive_an_answer_that_comes_too_late(
    server: AriServer, pbx: SimulatedAsterisk
) -> None:
    """Asterisk carries each request out but answers after our time-out (a busy box): the
    requests that are safe to send again are repeated, and what the first attempt did counts."""
    log = EventLog()
    client = AriClient(settings_for(server.url, request_timeout=0.3), log.on_event)
    await client.start()
    try:
        await client.wait_connected(within=5)
        call, start = await inbound_call(pbx, log)
        channel = start.channel.id
        pbx.add_sound("long-prompt", 150.0)  # 3 s at speed 50: playing when we ask
        pbx.register_endpoint("PJSIP", "1001", EndpointBehaviour.manual())
        for operation in ("answer", "play", "startMoh", "create", "hangup"):
            server.answer_late("channels", operation, 0.5)
        server.answer_late("bridges", "create", 0.5)
        await client.answer(channel)
        assert call.history[0].kind == "answered"
        playback = await client.play(channel, "sound:long-prompt", playback_id=PlaybackId("p-1"))
        # Asked before repeating: the playback existed, so the prompt was not played twice.
        assert playback == "p-1" and call.heard == ["sound:long-prompt"]
        await client.start_moh(channel)
        bridge = await client.create_bridge("mixing", BridgeId("b-late"))
        assert bridge == "b-late" and list(pbx.bridges) == ["b-late"]
        agent = await client.create_channel(
            "PJSIP/1001", app_args="agent", channel_id=ChannelId("agent-late")
        )
        assert agent == "agent-late"  # the repeat found it made (409 "... already exists")
        await client.hangup(agent)  # the repeat finds it gone (404): done
        await client.destroy_bridge(bridge)
        await client.hangup(channel)
        await log.next(StasisEnd)
        assert pbx.channels == {} and pbx.bridges == {}
        # A request that is not safe to repeat fails on the first time-out.
        server.answer_late("asterisk", "getInfo", 0.5)
        with pytest.raises(AriTimeout):
            await client.asterisk_info()
    finally:
        await client.close()
