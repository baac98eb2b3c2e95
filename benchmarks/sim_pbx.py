"""How much the simulated Asterisk sustains on one core (targets: 2,000 channels, 5,000 events/s).

1. Core: full calls (caller into Stasis, answer, agent created + dialled + answered, bridged,
   both hung up) with every ARI event serialised to JSON as the WebSocket would; events/s.
2. Wire: 2,000 callers held up at once, each answered by a raw aiohttp ARI client over REST
   after its StasisStart on the events WebSocket (client and server share this one core).

Run: ``python -m benchmarks.sim_pbx``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.sim.ari_server import start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimulatedAsterisk, Stasis

APP = "bench"
CORE_CALLS = 3000
WIRE_CHANNELS = 2000
DTMF_PER_CALL = 10


async def core_throughput(recordings: Path) -> None:
    pbx = SimulatedAsterisk(speed=1000.0, recordings_dir=recordings)
    delivered = 0

    def sink(event: dict[str, Any]) -> None:
        nonlocal delivered
        json.dumps(event)  # what the WebSocket writer does with each event
        delivered += 1

    pbx.connect_app(APP, sink)
    pbx.dialplan.route("100", Stasis(APP))
    pbx.register_endpoint("PJSIP", "agent", EndpointBehaviour.answer_after(0.0))
    peak = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    bridges = []
    callers = []
    for number in range(CORE_CALLS):
        call = pbx.place_inbound_call("100", f"+1555{number:07d}")
        pbx.answer(call.channel_id)
        agent, _ = pbx.create_channel("PJSIP/agent", APP, originator=call.channel_id)
        pbx.dial(agent.id, caller=call.channel_id)
        bridge = pbx.create_bridge("mixing", None, None)
        pbx.add_to_bridge(bridge.id, [call.channel_id, agent.id])
        bridges.append(bridge.id)
        callers.append(call)
    await asyncio.sleep(0.05)  # ringing and answers (timers) fire
    peak = len(pbx.channels)
    for call in callers:
        call.hangup()
    for agent_id in list(pbx.channels):
        pbx.hangup(agent_id)
    for bridge_id in bridges:
        pbx.destroy_bridge(bridge_id)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await pbx.close()
    print(f"core: {CORE_CALLS} full calls, peak {peak} concurrent channels")
    print(
        f"core: {delivered} ARI events in {elapsed:.2f} s = {delivered / elapsed:,.0f} events/s"
        f" ({cpu:.2f} s CPU = {delivered / cpu:,.0f} events per CPU second)"
    )
    print(
        f"core: {CORE_CALLS / elapsed:,.0f} calls/s ({delivered / CORE_CALLS:.0f} events per call)"
    )


async def wire_capacity(recordings: Path) -> None:
    pbx = SimulatedAsterisk(speed=1.0, recordings_dir=recordings)
    pbx.dialplan.route("100", Stasis(APP))
    server = await start_ari_server(pbx, "127.0.0.1", 0, "bench", "bench")
    auth = {"api_key": "bench:bench"}
    received = 0
    answered = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=64), timeout=timeout
    ) as session:
        ws = await session.ws_connect(server.ws_url, params={"app": APP, **auth})
        pending: set[asyncio.Task[None]] = set()
        up = 0

        async def answer(channel_id: str) -> None:
            nonlocal up
            url = f"{server.url}ari/channels/{channel_id}/answer"
            async with session.post(url, params=auth) as response:
                assert response.status == 204
            up += 1
            if up == WIRE_CHANNELS:
                answered.set()

        goal = {"count": 0}
        reached = asyncio.Event()

        async def until_received(count: int) -> None:
            goal["count"] = count
            reached.clear()
            if received < count:
                await asyncio.wait_for(reached.wait(), 30)

        async def read_events() -> None:
            nonlocal received
            async for message in ws:
                event = json.loads(message.data)
                received += 1
                if received >= goal["count"]:
                    reached.set()
                if event["type"] == "StasisStart":
                    task = asyncio.create_task(answer(event["channel"]["id"]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)

        reader = asyncio.create_task(read_events())
        started = time.perf_counter()
        calls = [pbx.place_inbound_call("100", f"+1555{n:07d}") for n in range(WIRE_CHANNELS)]
        await asyncio.wait_for(answered.wait(), 50)
        elapsed = time.perf_counter() - started
        concurrent = sum(1 for c in pbx.channels.values() if c.state == "Up")
        print(
            f"wire: {concurrent} channels Up at once; {WIRE_CHANNELS} StasisStart + answer round"
            f" trips in {elapsed:.2f} s = {WIRE_CHANNELS / elapsed:,.0f} answered calls/s"
        )
        print(f"wire: {received} events over the WebSocket = {received / elapsed:,.0f} events/s")
        burst_started, burst_cpu = time.perf_counter(), time.process_time()
        before = received
        for _ in range(DTMF_PER_CALL):
            for call in calls:
                call.send_dtmf("5", 100)
        await until_received(before + DTMF_PER_CALL * WIRE_CHANNELS)
        burst = time.perf_counter() - burst_started
        cpu = time.process_time() - burst_cpu
        print(
            f"wire: {received - before} ChannelDtmfReceived events to the client in {burst:.2f} s"
            f" = {(received - before) / burst:,.0f} events/s ({cpu:.2f} s CPU, client included)"
        )
        hangup_started = time.perf_counter()
        before = received
        for call in calls:
            call.hangup()
        await until_received(before + 2 * WIRE_CHANNELS)
        hangup_elapsed = time.perf_counter() - hangup_started
        print(
            f"wire: {received - before} hang-up events delivered in {hangup_elapsed:.2f} s"
            f" = {(received - before) / hangup_elapsed:,.0f} events/s"
        )
        await ws.close()
        reader.cancel()
        await asyncio.gather(reader, *pending, return_exceptions=True)
    await server.close()
    await pbx.close()


async def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        await core_throughput(Path(folder))
        await wire_capacity(Path(folder))


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
