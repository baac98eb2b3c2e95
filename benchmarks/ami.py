"""AMI over the wire: our AmiClient (panoramisk 1.4) against the simulated Asterisk 22 AMI.

1. Actions/s: Ping round trips, one at a time and 50 in flight at once.
2. Commands/s: ``Command: core show version`` (the deploy path's reloads look like this).
3. Events/s: the server publishes DeviceStateChange events; a subscription counts them.
4. EventList: QueueStatus with 64 members (67 frames, as in the README's real run).
5. Calls: app_queue calls through the simulated PBX core (queue, agent answers, caller hangs
   up); every AMI event they cause reaches the client. Events per call and events/s.

Run: ``python -m benchmarks.ami``. Client and server share one core and one loop.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from callcenter.asterisk.ami import AmiClient
from callcenter.asterisk.ami_messages import AmiEvent
from callcenter.sim.ami_server import AmiServer, start_ami_server
from callcenter.sim.ami_tables import QueueMemberRow, QueueRow
from callcenter.sim.pbx import EndpointBehaviour, Queue, SimulatedAsterisk

PINGS = 5000
CONCURRENT_PINGS = 20000
IN_FLIGHT = 50
COMMANDS = 3000
EVENTS = 50000
QUEUE_STATUS_RUNS = 300
CALLS = 300
AGENTS = 20


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({count:,} in {seconds:.2f} s)"


async def actions(client: AmiClient) -> None:
    started = time.perf_counter()
    for _ in range(PINGS):
        await client.ping()
    print(f"  Ping, one at a time:      {rate(PINGS, time.perf_counter() - started)}")

    async def worker(count: int) -> None:
        for _ in range(count):
            await client.ping()

    started = time.perf_counter()
    await asyncio.gather(*(worker(CONCURRENT_PINGS // IN_FLIGHT) for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - started
    print(f"  Ping, {IN_FLIGHT} in flight:        {rate(CONCURRENT_PINGS, elapsed)}")

    started = time.perf_counter()
    for _ in range(COMMANDS):
        await client.command("core show version")
    print(f"  Command:                  {rate(COMMANDS, time.perf_counter() - started)}")


async def events(server: AmiServer, client: AmiClient) -> None:
    received = 0
    done = asyncio.Event()

    def count(event: AmiEvent) -> None:
        nonlocal received
        received += 1
        if received == EVENTS:
            done.set()

    subscription = client.on_event("DeviceStateChange", count)
    frame = [
        ("Event", "DeviceStateChange"),
        ("Privilege", "call,all"),
        ("Device", "PJSIP/agent1"),
        ("State", "INUSE"),
    ]
    started = time.perf_counter()
    for sent in range(EVENTS):
        server.publish(frame)
        if sent % 500 == 0:
            await asyncio.sleep(0)  # let the client read, as a real socket would interleave
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - started
    print(f"  Events to a callback:     {rate(EVENTS, elapsed)}")
    await subscription.cancel()


async def event_lists(server: AmiServer, client: AmiClient) -> None:
    server.queues = [
        QueueRow("baseline", members=[QueueMemberRow(f"PJSIP/agent{i}") for i in range(64)])
    ]
    started = time.perf_counter()
    for _ in range(QUEUE_STATUS_RUNS):
        status = await client.queue_status()
    elapsed = time.perf_counter() - started
    assert len(status.members) == 64
    print(f"  QueueStatus (67 frames):  {rate(QUEUE_STATUS_RUNS, elapsed)}")


async def pbx_calls(recordings: Path) -> None:
    pbx = SimulatedAsterisk(speed=1000.0, recordings_dir=recordings)
    for i in range(AGENTS):
        pbx.register_endpoint("PJSIP", f"agent{i}", EndpointBehaviour.answer_after(0.5))
    pbx.add_queue("sales", [f"PJSIP/agent{i}" for i in range(AGENTS)], strategy="rrmemory")
    pbx.dialplan.route("300", Queue("sales"))
    server = await start_ami_server(pbx)
    client = AmiClient("127.0.0.1", server.port, "callcenter", "callcenter",
                       keepalive_interval=None, action_timeout=30.0)  # fmt: skip
    await client.connect()
    received = 0
    completed = 0
    all_done = asyncio.Event()

    def count(event: AmiEvent) -> None:
        nonlocal received, completed
        received += 1
        if event.name == "AgentConnect":
            pbx.remote_hangup(event.get("Uniqueid"))  # the caller hangs up once connected
        if event.name == "AgentComplete":
            completed += 1
            if completed == CALLS:
                all_done.set()

    client.on_event("*", count)
    started = time.perf_counter()
    for i in range(CALLS):
        pbx.place_inbound_call("300", f"+1555{i:07d}")
        if i % 20 == 0:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(all_done.wait(), 60)
    elapsed = time.perf_counter() - started
    print(
        f"  Queue calls via the core: {rate(CALLS, elapsed)}, "
        f"{received / CALLS:.0f} AMI events per call, {received / elapsed:,.0f} events/s"
    )
    await client.close()
    await server.close()
    await pbx.close()


async def run() -> None:
    server = await start_ami_server(speed=100.0)
    client = AmiClient("127.0.0.1", server.port, "callcenter", "callcenter",
                       keepalive_interval=None, action_timeout=30.0)  # fmt: skip
    await client.connect()
    try:
        print("AMI over loopback (AmiClient on panoramisk 1.4 -> simulated Asterisk 22 AMI)")
        await actions(client)
        await events(server, client)
        await event_lists(server, client)
    finally:
        await client.close()
        await server.close()
    with tempfile.TemporaryDirectory() as recordings:
        await pbx_calls(Path(recordings))


def main() -> None:
    """Print AMI actions/s, events/s and EventList rates over the wire."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
