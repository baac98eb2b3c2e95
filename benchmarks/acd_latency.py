"""End-to-end ACD latency through the simulated Asterisk: caller in -> agent's phone rings.

Callers arrive at ``RATE`` calls per second for ``SECONDS`` on the simulated PBX; a worker (ARI
over loopback HTTP + WebSocket, one process with the PBX) runs a stand-in IVR that answers and
queues each caller, the ACD service picks an agent, and the driver creates and dials the agent
channel. Enough agents are logged in that no caller has to wait, so the figures are the
machinery's own latency:

- *answer -> ring*: the caller's channel goes Up (our app answered it) until the PBX starts
  dialling the agent (``DialBegan``, the agent's INVITE on a real Asterisk);
- *INVITE -> ring*: from the caller's channel appearing (their INVITE) to the same point, the
  figure the real-Asterisk notes compare with app_queue (2.7 ms median) and a minimal ARI
  dispatcher (5.5-6.9 ms median).

Everything (PBX, ARI server, worker, dispatcher) shares one event loop and one CPU, so this is a
pessimistic figure for the worker alone. ``--pg URL`` adds the shared Postgres reservations.
``python -m benchmarks.acd_latency [--rate 200] [--seconds 5] [--pg URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from callcenter.config import CallCenterConfig
from callcenter.db.engine import make_engine, upgrade
from callcenter.ivr.machine import QueueRequest
from callcenter.routing.reservations import AgentReservations
from callcenter.routing.service import AcdService
from callcenter.routing.testing import (
    APP,
    PASSWORD,
    USER,
    direct_to_queue,
    start_acd_worker,
)
from callcenter.sim.ari_server import start_ari_server
from callcenter.sim.pbx import (
    ChannelCreated,
    ChannelStateChanged,
    DialBegan,
    EndpointBehaviour,
    PbxEvent,
    SimulatedAsterisk,
    Stasis,
)

RATE = 200
SECONDS = 3.0
SPEED = 10.0
TALK_PBX_SECONDS = 5.0
"""Each agent talks this long (PBX seconds, 0.5 s real at SPEED 10) then hangs up."""


def build_config(agents: int) -> CallCenterConfig:
    return CallCenterConfig.model_validate(
        {
            "asterisk": {"ari": {"password": PASSWORD, "app": APP}, "ami": {"secret": "x"}},
            "skills": ["support"],
            "agents": [
                {
                    "id": f"a{n}",
                    "name": f"Agent {n}",
                    "endpoint": f"PJSIP/{2000 + n}",
                    "skills": {"support": 5},
                }
                for n in range(agents)
            ],
            "queues": {
                "support": {
                    "name": "Support",
                    "skills": [{"skill": "support"}],
                    "wrapup_seconds": 0,
                    "announce_position_every": 0,
                }
            },
            "ivr": {
                "numbers": {"100": "main"},
                "operator_queue": "support",
                "menus": {"main": {"choices": {"1": {"queue": "support"}}}},
            },
        }
    )


class LatencyProbe:
    """Listens to the PBX: when each caller appeared, went Up, and their agent was dialled."""

    def __init__(self) -> None:
        self.invited: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.rung: dict[str, float] = {}

    def __call__(self, event: PbxEvent) -> None:
        now = time.perf_counter()
        if isinstance(event, ChannelCreated) and event.channel.name.startswith("PJSIP/callers"):
            self.invited[event.channel.uniqueid] = now
        elif isinstance(event, ChannelStateChanged) and event.channel.state == "Up":
            channel_id = event.channel.uniqueid
            if channel_id in self.invited and channel_id not in self.answered:
                self.answered[channel_id] = now
        elif isinstance(event, DialBegan) and event.caller is not None:
            self.rung.setdefault(event.caller.uniqueid, now)

    def latencies(self, start: dict[str, float]) -> list[float]:
        return [
            (self.rung[c] - start[c]) * 1000 for c in self.rung if c in start and c in self.invited
        ]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pbx_process(conn: Connection, rate: float, seconds: float, agents: int) -> None:
    """The simulated Asterisk in its own process: serves ARI, places the calls, measures."""
    asyncio.run(_pbx_main(conn, rate, seconds, agents))


async def _pbx_main(conn: Connection, rate: float, seconds: float, agents: int) -> None:
    config = build_config(agents)
    tmp = Path(tempfile.mkdtemp(prefix="acd-latency-"))
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp)
    pbx.dialplan.route("200", Stasis(APP))
    behaviour = EndpointBehaviour.answer_after(0.5, talk_seconds=TALK_PBX_SECONDS)
    for agent in config.agents:
        technology, resource = agent.endpoint.split("/", 1)
        pbx.register_endpoint(technology, resource, behaviour)
    probe = LatencyProbe()
    pbx.add_listener(probe)
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    loop = asyncio.get_running_loop()
    conn.send(server.port)
    await loop.run_in_executor(None, conn.recv)  # the worker is connected
    cpu_before = time.process_time()
    callers = []
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        callers.append(pbx.place_inbound_call("200", f"+1555{n:06d}"))
    placed_in = time.perf_counter() - started
    # Every call ends by itself (the agent hangs up); a call the overloaded worker lost ends
    # too (its flow's ARI request timed out) and counts as never rung.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            while any(not c.ended for c in callers):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the worker deletes its last bridges
    conn.send(
        {
            "calls": total,
            "placed_in": placed_in,
            "answer_to_ring": probe.latencies(probe.answered),
            "invite_to_ring": probe.latencies(probe.invited),
            "not_rung": total - len(probe.rung),
            "bridges_left": len(pbx.bridges),
            "pbx_cpu_seconds": time.process_time() - cpu_before,
        }
    )
    await server.close()
    await pbx.close()


async def run(rate: float, seconds: float, agents: int, pg_url: str | None) -> dict[str, Any]:
    """The worker here, the PBX in a child process (each gets its own CPU, as in production)."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    child = context.Process(
        target=pbx_process, args=(child_end, rate, seconds, agents), daemon=True
    )
    child.start()
    loop = asyncio.get_running_loop()
    try:
        port = await asyncio.wait_for(loop.run_in_executor(None, parent_end.recv), 30)
        cpu_before = time.process_time()
        config = build_config(agents)
        reservations = None
        if pg_url:
            upgrade(pg_url)
            reservations = AgentReservations(make_engine(pg_url), "bench")
        service = AcdService(config, speed=SPEED, worker_id="bench", reservations=reservations)
        server_url = f"http://127.0.0.1:{port}/"
        worker, _ = await start_acd_worker(
            _RemoteServer(server_url),  # type: ignore[arg-type]
            config,
            service,
            ivr=direct_to_queue({"200": QueueRequest("support")}),
        )
        try:
            parent_end.send("go")
            result: dict[str, Any] = await asyncio.wait_for(
                loop.run_in_executor(None, parent_end.recv), 120
            )
        finally:
            await worker.stop(grace=2.0)
            await service.close()
        result["offers"] = service.offers
        result["worker_cpu_seconds"] = time.process_time() - cpu_before
        return result
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()


class _RemoteServer:
    """What ``start_acd_worker`` reads of an ARI server: its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def report(rate: float, seconds: float, agents: int, pg_url: str | None) -> None:
    result = asyncio.run(run(rate, seconds, agents, pg_url))
    print(
        f"{result['calls']} calls at {rate:.0f}/s placed in {result['placed_in']:.2f}s, "
        f"{agents} agents, reservations {'postgres' if pg_url else 'none (one worker)'}"
    )
    for name in ("answer_to_ring", "invite_to_ring"):
        values = result[name]
        if not values:
            print(f"  {name}: no samples")
            continue
        print(
            f"  {name.replace('_', ' ')}: n={len(values)} p50 {statistics.median(values):.1f} ms,"
            f" p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
        )
    calls = result["calls"]
    print(
        f"  offers {result['offers']}, calls never rung {result['not_rung']}, "
        f"bridges left behind {result['bridges_left']}; CPU per call: worker "
        f"{result['worker_cpu_seconds'] / calls * 1000:.1f} ms, simulated PBX "
        f"{result['pbx_cpu_seconds'] / calls * 1000:.1f} ms ({os.cpu_count()} CPUs)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", type=float, action="append", help="calls per second [200, then 50]"
    )
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--agents", type=int, default=0, help="default: enough for the load")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL for shared reservations")
    args = parser.parse_args(argv if argv is not None else [])
    for rate in args.rate or [RATE, 50.0]:
        # Agents busy at once: rate x (ring + talk) real seconds, with headroom.
        agents = args.agents or int(rate * (0.05 + TALK_PBX_SECONDS / SPEED) * 2) + 10
        report(rate, args.seconds, agents, args.pg)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
