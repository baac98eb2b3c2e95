"""The worker over the wire: calls routed to sessions, flows, reconnects, drain, health/metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.asterisk.ari import AriClient, AriRequestError, AriSettings
from callcenter.asterisk.events import AriEvent, ChannelDtmfReceived, Reconnected, StasisStart
from callcenter.asterisk.ids import ChannelId
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import PlayThenHangup, SimulatedAsterisk, Stasis
from callcenter.worker import CallEnded, CallSession, Worker, WorkerSettings
from callcenter.worker.app import AmiConnection

APP = "cc-worker"
USER, PASSWORD = "callcenter", "secret"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    pbx = SimulatedAsterisk(speed=50.0, recordings_dir=tmp_path)
    for exten in ("100", "200", "300"):
        pbx.dialplan.route(exten, Stasis(APP))
    pbx.dialplan.route("100", PlayThenHangup("vm-goodbye"), context="overflow")
    yield pbx
    await pbx.close()


@pytest.fixture
async def server(pbx: SimulatedAsterisk) -> AsyncIterator[AriServer]:
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    yield server
    await server.close()


def worker_settings(url: str, **overrides: Any) -> WorkerSettings:
    ari = AriSettings(
        url=url,
        username=USER,
        password=PASSWORD,
        app=APP,
        request_timeout=2.0,
        connect_timeout=2.0,
        backoff_initial=0.2,
        backoff_max=0.4,
    )
    values: dict[str, Any] = {
        "ari": ari,
        "http_port": 0,
        "drain_grace": 5.0,
        "end_grace": 0.5,
        "leave_grace": 0.3,
        "drain_message": "sound:beep",
    }
    values.update(overrides)
    return WorkerSettings(**values)


@pytest.fixture
async def worker(server: AriServer) -> AsyncIterator[Worker]:
    worker = Worker(worker_settings(server.url))
    await worker.start()
    await worker.ari.wait_connected(within=5)
    yield worker
    await worker.stop(grace=0.5)


class DigitsFlow:
    """Answers, collects digits until '#', says them back, hangs up; records what it saw."""

    def __init__(self) -> None:
        self.sessions: list[CallSession] = []
        self.seen: list[AriEvent] = []
        self.helper_cancelled = asyncio.Event()
        self.ended_with_call_ended = asyncio.Event()

    async def _helper(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.helper_cancelled.set()
            raise

    async def run(self, session: CallSession) -> None:
        self.sessions.append(session)
        first = await session.next_event(timeout=1)
        assert isinstance(first, StasisStart)
        session.spawn(self._helper(), "helper")
        await session.ari.answer(session.caller_channel_id)
        session.context.enter_node("collect")
        try:
            while True:
                event = await session.next_event()
                self.seen.append(event)
                if isinstance(event, ChannelDtmfReceived):
                    if event.digit == "#":
                        break
                    session.context.digits.append(event.digit)
        except CallEnded:
            self.ended_with_call_ended.set()
            return
        await session.ari.play(
            session.caller_channel_id, "digits:" + "".join(session.context.digits)
        )
        await session.ari.hangup(session.caller_channel_id)


async def until(predicate: Any, within: float = 3.0) -> None:
    """Wait for a condition the test cannot await directly (e.g. the worker's bookkeeping)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - nothing to await on the worker's dict
            await asyncio.sleep(0.01)


async def http_get(worker: Worker, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
        http.get(f"http://127.0.0.1:{worker.http_port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_default_flow_answers_plays_hello_world_and_hangs_up(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    call = pbx.place_inbound_call("100", "+15550001")
    await call.wait_for("answered")
    await call.wait_for("hangup")
    assert call.heard == ["sound:hello-world"]
    await until(lambda: not worker.sessions)

    status, body = await http_get(worker, "/metrics")
    assert status == 200
    assert "callcenter_calls_started_total 1.0" in body
    assert 'callcenter_calls_finished_total{outcome="completed"} 1.0' in body
    assert 'callcenter_ari_events_total{type="StasisStart"} 1.0' in body
    assert "callcenter_ari_connected 1.0" in body
    status, body = await http_get(worker, "/healthz")
    assert status == 200 and '"ari_connected": true' in body


async def test_registered_flow_reads_its_calls_events(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    flow = DigitsFlow()
    worker.register_flow(flow, exten="200")
    call = pbx.place_inbound_call("200", "+15550002", caller_name="Bob")
    await call.wait_for("answered")
    for digit in "42#":
        call.send_dtmf(digit)
    await call.wait_for("hangup")
    assert call.heard == ["digits:42"]
    (session,) = flow.sessions
    assert session.context.digits == ["4", "2"]
    assert session.context.caller_number == "+15550002"
    assert session.context.dialled == "200"
    assert [node for node, _ in session.context.ivr_path] == ["collect"]
    assert len(session.call_id) == 32


async def test_caller_hanging_up_ends_the_flow_and_cancels_its_tasks(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    flow = DigitsFlow()
    worker.register_flow(flow, exten="200")
    call = pbx.place_inbound_call("200", "+15550003")
    await call.wait_for("answered")
    call.hangup()
    await asyncio.wait_for(flow.helper_cancelled.wait(), 3)
    await asyncio.wait_for(flow.ended_with_call_ended.wait(), 3)
    await until(lambda: not worker.sessions)
    assert worker.router.claimed_channels == frozenset()


async def test_reconnect_keeps_live_calls_and_ends_those_that_vanished(
    worker: Worker, server: AriServer, pbx: SimulatedAsterisk
) -> None:
    flow = DigitsFlow()
    worker.register_flow(flow, exten="200")
    staying = pbx.place_inbound_call("200", "+15550004")
    leaving = pbx.place_inbound_call("200", "+15550005")
    await staying.wait_for("answered")
    await leaving.wait_for("answered")
    assert len(worker.sessions) == 2

    await server.drop_websockets()
    # While our WebSocket is down, one caller hangs up: its StasisEnd is lost to us.
    leaving.hangup()
    await until(lambda: worker.ari.connections == 2 and len(worker.sessions) == 1)

    (session,) = worker.sessions.values()
    assert session.caller_channel_id == staying.channel_id
    await until(lambda: any(isinstance(e, Reconnected) for e in flow.seen))
    for digit in "9#":
        staying.send_dtmf(digit)
    await staying.wait_for("hangup")
    assert session.context.digits == ["9"]
    _, body = await http_get(worker, "/metrics")
    assert "callcenter_ari_reconnects_total 1.0" in body


async def test_stop_drains_calls_in_progress_and_turns_new_ones_away(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    flow = DigitsFlow()
    worker.register_flow(flow, exten="200")
    in_progress = pbx.place_inbound_call("200", "+15550006")
    await in_progress.wait_for("answered")

    stopping = asyncio.create_task(worker.stop(grace=5.0))
    await until(lambda: worker.draining)
    status, _ = await http_get(worker, "/healthz")
    assert status == 503

    newcomer = pbx.place_inbound_call("300", "+15550007")
    await newcomer.wait_for("hangup")
    assert newcomer.heard == ["sound:beep"]
    assert not stopping.done()

    for digit in "1#":
        in_progress.send_dtmf(digit)
    await in_progress.wait_for("hangup")
    await asyncio.wait_for(stopping, 3)
    assert in_progress.heard == ["digits:1"]
    assert not worker.ari.connected


async def test_drain_sends_new_calls_back_to_the_dialplan(
    server: AriServer, pbx: SimulatedAsterisk
) -> None:
    worker = Worker(worker_settings(server.url, drain_context="overflow"))
    await worker.start()
    await worker.ari.wait_connected(within=5)
    worker.request_stop()
    call = pbx.place_inbound_call("100", "+15550008")
    await call.wait_for("hangup")
    assert call.heard == ["sound:vm-goodbye"]
    await worker.stop(grace=0.5)


async def test_drain_grace_over_hangs_up_the_calls_left(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    worker.register_flow(DigitsFlow(), exten="200")
    call = pbx.place_inbound_call("200", "+15550009")
    await call.wait_for("answered")
    await worker.stop(grace=0.1)
    await call.wait_for("hangup")
    assert not worker.sessions


async def test_flow_errors_do_not_leave_the_caller_in_silence(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    class BrokenFlow:
        async def run(self, session: CallSession) -> None:
            await session.ari.answer(session.caller_channel_id)
            raise RuntimeError("bug in a flow")

    class AsteriskErrorFlow:
        async def run(self, session: CallSession) -> None:
            await session.ari.play(session.caller_channel_id, "sound:x", lang="en")
            await session.ari.answer("no-such-channel")  # type: ignore[arg-type]

    worker.register_flow(BrokenFlow(), exten="200")
    worker.register_flow(AsteriskErrorFlow(), exten="300")
    first = pbx.place_inbound_call("200", "+15550010")
    second = pbx.place_inbound_call("300", "+15550011")
    await first.wait_for("hangup")
    await second.wait_for("hangup")
    await until(lambda: not worker.sessions)
    _, body = await http_get(worker, "/metrics")
    assert 'callcenter_calls_finished_total{outcome="flow-error"} 1.0' in body
    assert 'callcenter_calls_finished_total{outcome="asterisk-error"} 1.0' in body


async def test_a_second_stop_request_ends_the_calls_at_once(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    worker.register_flow(DigitsFlow(), exten="200")
    call = pbx.place_inbound_call("200", "+15550017")
    await call.wait_for("answered")
    stopping = asyncio.create_task(worker.stop(grace=60))
    await until(lambda: worker.draining)
    worker.request_stop()  # SIGTERM again: no more waiting
    await call.wait_for("hangup")
    await asyncio.wait_for(stopping, 5)


async def test_a_flow_failing_after_its_caller_left_is_accounted_for(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    class LateFlow:
        async def run(self, session: CallSession) -> None:
            await session.ari.answer(session.caller_channel_id)
            await session.wait_caller_left()
            # Too late: the channel is gone (AriNotFound), within the flow's end grace.
            await session.ari.start_moh(session.caller_channel_id)

    worker.register_flow(LateFlow(), exten="200")
    call = pbx.place_inbound_call("200", "+15550015")
    await call.wait_for("answered")
    call.hangup()
    await until(lambda: not worker.sessions)
    _, body = await http_get(worker, "/metrics")
    assert 'callcenter_calls_finished_total{outcome="asterisk-error"} 1.0' in body


async def test_a_flow_may_send_its_caller_back_to_the_dialplan(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    class SendOnFlow:
        async def run(self, session: CallSession) -> None:
            await session.ari.continue_in_dialplan(
                session.caller_channel_id, context="overflow", extension="100", priority=1
            )

    worker.register_flow(SendOnFlow(), exten="200")
    call = pbx.place_inbound_call("200", "+15550016")
    await call.wait_for("hangup")
    assert call.heard == ["sound:vm-goodbye"]  # not cut off by the worker


async def test_unclaimed_own_leg_is_not_taken_for_a_new_call(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    pbx.register_endpoint("PJSIP", "1001")
    leg = await worker.ari.create_channel("PJSIP/1001", app_args="agent")
    # Its StasisStart comes at once (channels/create); an inbound call would get a session.
    await until(lambda: worker.metrics.events.labels("StasisStart")._value.get() == 1)
    assert not worker.sessions
    await worker.ari.hangup(leg)
    with pytest.raises(AriRequestError):
        await worker.ari.answer(leg)


async def test_event_listeners_see_every_event_and_cannot_break_routing(
    worker: Worker, pbx: SimulatedAsterisk
) -> None:
    seen: list[str] = []

    def broken(event: AriEvent) -> None:
        raise RuntimeError("listener bug")

    worker.add_event_listener(broken)
    remove = worker.add_event_listener(lambda event: seen.append(type(event).__name__))
    call = pbx.place_inbound_call("100", "+15550013")
    await call.wait_for("hangup")
    assert call.heard == ["sound:hello-world"]
    await until(lambda: "StasisEnd" in seen)
    assert seen[0] == "StasisStart"
    remove()


async def test_a_new_worker_takes_over_the_calls_of_a_worker_that_died(
    server: AriServer, pbx: SimulatedAsterisk
) -> None:
    pbx.register_endpoint("PJSIP", "1001")
    dead = AriClient(worker_settings(server.url).ari, lambda event: None)
    await dead.start()
    await dead.wait_connected(within=5)
    caller = pbx.place_inbound_call("100", "+15550014")
    await until(lambda: caller.channel_id in pbx.apps[APP].channel_ids)
    await dead.answer(ChannelId(caller.channel_id))
    leg = await dead.create_channel("PJSIP/1001", app_args="agent")
    await dead.close()  # the worker dies: Asterisk keeps both channels in the app

    worker = Worker(worker_settings(server.url))
    await worker.start()
    try:
        await caller.wait_for("hangup")
        # The caller's call started again (the built-in flow), the orphan leg was hung up.
        assert caller.heard == ["sound:hello-world"]
        await until(lambda: leg not in pbx.channels or pbx.channels[leg].gone)
    finally:
        await worker.stop(grace=0.5)


async def test_worker_logs_in_to_ami_in_the_background(
    server: AriServer, pbx: SimulatedAsterisk
) -> None:
    from callcenter.sim.ami_server import start_ami_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ami = AmiConnection("127.0.0.1", port, "callcenter", "amisecret", backoff_max=0.3)
    worker = Worker(worker_settings(server.url, ami=ami))
    await worker.start()
    ami_server = None
    try:
        await worker.ari.wait_connected(within=5)
        assert worker.health()["ami_connected"] is False  # nothing listens yet: retrying
        ami_server = await start_ami_server(pbx, "127.0.0.1", port, "callcenter", "amisecret")
        await until(lambda: worker.health()["ami_connected"] is True, within=10)
        _, body = await http_get(worker, "/metrics")
        assert "callcenter_ami_connected 1.0" in body
    finally:
        await worker.stop(grace=0.5)
        if ami_server is not None:
            await ami_server.close()


async def until_draining(http_port: int) -> None:
    """Wait until the worker process says (on /healthz) that it is draining."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        async with asyncio.timeout(10):
            while True:
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
                    if (await response.json())["draining"]:
                        return
                await asyncio.sleep(0.02)


async def test_sigterm_stops_the_worker_process_with_status_0(
    server: AriServer, pbx: SimulatedAsterisk, tmp_path: Path
) -> None:
    config = (REPO / "examples" / "callcenter.yaml").read_text()
    config = config.replace("http://127.0.0.1:8088/", server.url).replace(
        "app: callcenter ", f"app: {APP} "
    )
    config_file = tmp_path / "callcenter.yaml"
    config_file.write_text(config)
    env = {**os.environ, "ARI_PASSWORD": PASSWORD, "AMI_SECRET": "x"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from callcenter.cli import main; main()",
        "run",
        "--config",
        str(config_file),
        "--http-port",
        str(http_port),
        "--drain-grace",
        "5",
        "--flow",
        "hello",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    pbx.add_sound("hello-world", 50.0)  # 1 s at speed 50: the call is still on at SIGTERM
    # The rendered dialplan's fallback (app_queue there; a prompt here is enough to tell).
    pbx.dialplan.route("s", PlayThenHangup("beep"), context="callcenter-fallback")
    try:
        await until(lambda: pbx.apps.get(APP) is not None and pbx.apps[APP].sink is not None, 10)
        call = pbx.place_inbound_call("100", "+15550012")
        await call.wait_for("playback_started", timeout=5)
        process.send_signal(signal.SIGTERM)
        await until_draining(http_port)
        # While draining, a new caller goes to the dialplan's fallback (not "all busy" and a
        # hang-up); the call in progress ends normally.
        newcomer = pbx.place_inbound_call("100", "+15550013")
        await newcomer.wait_for("hangup", timeout=5)
        assert newcomer.heard == ["sound:beep"]
        await call.wait_for("hangup", timeout=5)
        assert call.heard == ["sound:hello-world"]
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert "stop requested" in log and "worker stopped" in log
    assert "back to callcenter-fallback" in log  # the newcomer
    assert "call=" in log and "finished: completed" in log
    assert "drain grace over" not in log  # the call in progress was not cut
