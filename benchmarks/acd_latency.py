"""Queue dispatch through the simulated Asterisk: callcenter beside the bare-ARI floor.

For each rate (15 and 100 calls/s) the same simulated Asterisk (in a child process, over
loopback HTTP + WebSocket) takes callers on a trunk; enough agents are logged in that nobody
waits, each answers 0.2 s after ringing and talks 1 s (the PBX runs ``SPEED`` times faster
than real time). Two dispatchers take turns, each in this process, each against a fresh PBX:

- **floor**: ``benchmarks/_ari_floor.py``, a minimal raw-aiohttp dispatcher (create, dial on
  the agent's StasisStart, bridge on answer, hang up and delete the bridge at the end);
- **callcenter**: ``CallCenterRuntime`` as ``callcenter run`` builds it, with PostgreSQL
  (``$CALLCENTER_BENCH_PG``, default the test server on 127.0.0.1:5432; without it, SQLite and a
  line saying so): the IVR (a ``play`` node without prompts whose ``next`` is the queue),
  the ACD, the routing journal and agent leases, CDRs, hooks, the recorder.

Printed for each: StasisStart -> agent ``channels/create`` (p50, p99: the caller's channel
enters the app in the same PBX step as it appears, and the agent channel appears when the
PBX handles the create request), worker CPU per call (this process, every thread: database
writers included; PostgreSQL's CPU is not), the simulated PBX's CPU per call (what our requests
and the events it sends us cost the Asterisk side), ARI requests per call (counted by the PBX's
HTTP server, with the breakdown), and INFO log lines per call.

Targets in the simulation: p50 <= floor + 1 ms, worker CPU <= 1.5 x the floor.
``python -m benchmarks.acd_latency [--rate 15 --rate 100] [--seconds S] [--pg URL|--no-pg]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks._ari_floor import FloorDispatcher
from callcenter.config import CallCenterConfig
from callcenter.sim.ari_server import AriServer
from callcenter.sim.pbx import (
    ChannelCreated,
    EndpointBehaviour,
    PbxEvent,
    SimulatedAsterisk,
    Stasis,
)

APP = "cc-bench"
USER, PASSWORD = "callcenter", "bench-secret"
SPEED = 2.0
"""Slow enough that an event loop lagging under load (a busy shared machine) does not turn
PBX-time ring time-outs into false no-answers."""
TALK_PBX_SECONDS = 2.0
"""Each agent talks this long (PBX seconds, 1 s real at SPEED 2), then hangs up."""
ANSWER_PBX_SECONDS = 0.4
"""Agents answer this long after their phone rings (0.2 s real, as the SIPp agents did)."""
RATES = (15.0, 100.0)
SECONDS = {15.0: 10.0, 100.0: 4.0}
PG_ADMIN_URL = os.environ.get("CALLCENTER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TRUNK_EXTEN = "200"


def agent_count(rate: float) -> int:
    """Agents busy at once: rate x (ring + talk) real seconds, with headroom."""
    return int(rate * (ANSWER_PBX_SECONDS + TALK_PBX_SECONDS) / SPEED * 1.5) + 10


def build_config(agents: int, ari_url: str, db_url: str, spool: Path) -> CallCenterConfig:
    return CallCenterConfig.model_validate(
        {
            "asterisk": {
                "ari": {"url": ari_url, "username": USER, "password": PASSWORD, "app": APP},
                "ami": {"port": 1, "secret": "x"},  # no AMI: the worker copes and retries
            },
            "database": {"url": db_url, "spool_dir": str(spool)},
            "recordings": {"directory": str(spool / "rec"), "default": {"record": "none"}},
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
                "numbers": {TRUNK_EXTEN: "main"},
                "operator_queue": "support",
                "menus": {"main": {"type": "play", "next": {"queue": "support"}}},
            },
        }
    )


# --- the simulated Asterisk (child process) ---------------------------------------------------


class Probe:
    """When each caller entered the app and when their agent's channel was created."""

    def __init__(self) -> None:
        self.entered: dict[str, float] = {}
        self.agent_created: dict[str, float] = {}
        self.requests: Counter[str] = Counter()
        self.counting = False

    def __call__(self, event: PbxEvent) -> None:
        if not isinstance(event, ChannelCreated):
            return
        now = time.perf_counter()
        channel = event.channel
        if channel.name.startswith("PJSIP/callers"):
            # The dialplan runs Stasis() in this same step: this is the StasisStart.
            self.entered[channel.uniqueid] = now
        elif channel.linkedid != channel.uniqueid:
            # channels/create with originator=caller: the agent leg shares the caller's linkedid.
            self.agent_created.setdefault(channel.linkedid, now)

    @web.middleware
    async def count_requests(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.counting and "/api-docs/" not in request.path and request.path != "/ari/events":
            resource = request.match_info.route.resource
            shape = resource.canonical if resource is not None else request.path
            self.requests[f"{request.method} {shape.removeprefix('/ari')}"] += 1
        return await handler(request)

    def latencies(self) -> list[float]:
        return [
            (self.agent_created[c] - self.entered[c]) * 1000
            for c in self.agent_created
            if c in self.entered
        ]


def pbx_process(conn: Connection, rate: float, seconds: float, agents: int) -> None:
    asyncio.run(_pbx_main(conn, rate, seconds, agents))


async def _pbx_main(conn: Connection, rate: float, seconds: float, agents: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="acd-bench-pbx-"))
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp)
    pbx.dialplan.route(TRUNK_EXTEN, Stasis(APP))
    behaviour = EndpointBehaviour.answer_after(ANSWER_PBX_SECONDS, talk_seconds=TALK_PBX_SECONDS)
    for n in range(agents):
        pbx.register_endpoint("PJSIP", str(2000 + n), behaviour)
    probe = Probe()
    pbx.add_listener(probe)
    server = AriServer(pbx, USER, PASSWORD)
    server.app.middlewares.append(probe.count_requests)
    await server.start("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    conn.send(server.port)
    await loop.run_in_executor(None, conn.recv)  # the dispatcher is connected and ready
    probe.counting = True
    pbx_cpu = time.process_time()
    callers = []
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        callers.append(pbx.place_inbound_call(TRUNK_EXTEN, f"+1555{n:06d}"))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            while any(not c.ended for c in callers):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the dispatcher deletes its last bridges
    probe.counting = False
    conn.send(
        {
            "pbx_cpu": time.process_time() - pbx_cpu,
            "calls": total,
            "latencies": probe.latencies(),
            "not_rung": total - len(probe.agent_created),
            "bridges_left": len(pbx.bridges),
            "requests": dict(probe.requests),
        }
    )
    await loop.run_in_executor(None, conn.recv)  # the dispatcher has stopped
    await server.close()
    await pbx.close()


# --- the dispatchers (this process) -----------------------------------------------------------


class LineCounter(logging.Handler):
    """Counts log lines at INFO and above (what ``callcenter run`` writes by default)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines = 0
        self.by_logger: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        self.by_logger[record.name] += 1


async def run_floor(port: int, agents: int, go: Any) -> dict[str, Any]:
    floor = FloorDispatcher(
        f"http://127.0.0.1:{port}/",
        USER,
        PASSWORD,
        APP,
        [f"PJSIP/{2000 + n}" for n in range(agents)],
    )
    runner = asyncio.ensure_future(floor.run())
    await asyncio.wait_for(floor.connected.wait(), 10)
    cpu = time.process_time()
    result = await go()
    result["cpu"] = time.process_time() - cpu
    floor.stop()
    await runner
    return result


async def run_callcenter(port: int, agents: int, db_url: str, go: Any) -> dict[str, Any]:
    from callcenter.runtime import CallCenterRuntime, RuntimeOptions

    spool = Path(tempfile.mkdtemp(prefix="acd-bench-worker-"))
    config = build_config(agents, f"http://127.0.0.1:{port}/", db_url, spool)
    runtime = CallCenterRuntime(
        config,
        RuntimeOptions(speed=SPEED, worker_id="bench", http_port=None, serve_api=False),
    )
    counter = LineCounter()
    package = logging.getLogger("callcenter")
    level, propagate = package.level, package.propagate
    # The worker's log goes to the counter only (no AMI here: its retries would be noise).
    package.addHandler(counter)
    package.setLevel(logging.INFO)
    package.propagate = False
    try:
        await runtime.start()
        await runtime.login_all_agents()
        assert runtime.worker is not None and runtime.cdr is not None
        await runtime.worker.ari.wait_connected(within=10)
        counter.lines = 0
        counter.by_logger.clear()
        cpu = time.process_time()
        result = await go()
        await runtime.cdr.flush()
        result["cpu"] = time.process_time() - cpu
        lines, by_logger = counter.lines, dict(counter.by_logger)
    finally:
        await runtime.close()
        package.removeHandler(counter)
        package.setLevel(level)
        package.propagate = propagate
    result["info_lines"] = lines
    result["info_by_logger"] = by_logger
    return result


async def measure(kind: str, rate: float, seconds: float, db_url: str | None) -> dict[str, Any]:
    agents = agent_count(rate)
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    child = context.Process(
        target=pbx_process, args=(child_end, rate, seconds, agents), daemon=True
    )
    child.start()
    loop = asyncio.get_running_loop()

    async def go() -> dict[str, Any]:
        parent_end.send("go")
        result: dict[str, Any] = await asyncio.wait_for(
            loop.run_in_executor(None, parent_end.recv), seconds + 60
        )
        return result

    try:
        port = await asyncio.wait_for(loop.run_in_executor(None, parent_end.recv), 30)
        if kind == "floor":
            result = await run_floor(port, agents, go)
        else:
            assert db_url is not None
            result = await run_callcenter(port, agents, db_url, go)
        parent_end.send("stopped")
        return result
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_database(pg: str | None, use_pg: bool) -> tuple[str, str, Any]:
    """(label, SQLAlchemy URL, cleanup) for the callcenter side."""
    if use_pg:
        try:
            import psycopg

            admin = pg or PG_ADMIN_URL
            with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
                name = f"cc_bench_{uuid.uuid4().hex[:10]}"
                conn.execute(f'CREATE DATABASE "{name}"')
            base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")

            def drop() -> None:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            return "PostgreSQL", f"{base}/{name}", drop
        except Exception as exc:
            print(
                f"PostgreSQL not reachable ({type(exc).__name__}): the PostgreSQL part was "
                "skipped; callcenter runs on SQLite instead"
            )
    path = Path(tempfile.mkdtemp(prefix="acd-bench-db-")) / "cc.db"
    return "SQLite", f"sqlite:///{path}", lambda: None


def describe(kind: str, result: dict[str, Any]) -> dict[str, float]:
    calls = result["calls"]
    values = result["latencies"]
    requests = sum(result["requests"].values())
    figures = {
        "p50": statistics.median(values) if values else float("nan"),
        "p99": percentile(values, 0.99) if values else float("nan"),
        "cpu": result["cpu"] / calls * 1000,
        "requests": requests / calls,
        "info": result.get("info_lines", 0) / calls,
        "pbx_cpu": result["pbx_cpu"] / calls * 1000,
    }
    print(
        f"  {kind:<11} StasisStart -> channels/create p50 {figures['p50']:6.2f} ms, "
        f"p99 {figures['p99']:6.2f} ms | CPU/call {figures['cpu']:5.2f} ms | "
        f"ARI requests/call {figures['requests']:4.1f} | INFO lines/call {figures['info']:.2f}"
        f" | simulated PBX CPU/call {figures['pbx_cpu']:5.2f} ms"
        f" | never rung {result['not_rung']}, bridges left {result['bridges_left']}"
    )
    breakdown = ", ".join(
        f"{name} {count / calls:.1f}"
        for name, count in sorted(result["requests"].items(), key=lambda kv: -kv[1])
    )
    print(f"              requests/call: {breakdown}")
    if result.get("info_by_logger"):
        print(f"              INFO lines by logger: {result['info_by_logger']}")
    return figures


def report(rates: list[float], seconds: float | None, pg: str | None, use_pg: bool) -> None:
    label, db_url, cleanup = bench_database(pg, use_pg)
    try:
        for rate in rates:
            duration = seconds or SECONDS.get(rate, 5.0)
            calls = int(rate * duration)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{rate:.0f} calls/s x {duration:.0f} s = {calls} calls, "
                f"{agent_count(rate)} agents, sim speed {SPEED:.0f}, callcenter on {label}; "
                f"load average {load} on {os.cpu_count()} CPUs"
            )
            floor = describe("floor", asyncio.run(measure("floor", rate, duration, None)))
            ours = describe("callcenter", asyncio.run(measure("ours", rate, duration, db_url)))
            p50_ok = ours["p50"] <= floor["p50"] + 1.0
            cpu_ok = ours["cpu"] <= 1.5 * floor["cpu"]
            print(
                f"  targets: p50 <= floor + 1 ms: {'met' if p50_ok else 'NOT met'} "
                f"({ours['p50'] - floor['p50']:+.2f} ms); CPU <= 1.5 x floor: "
                f"{'met' if cpu_ok else 'NOT met'} ({ours['cpu'] / floor['cpu']:.2f} x)"
            )
    finally:
        cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, action="append", help="calls per second [15, 100]")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (creates a database)")
    parser.add_argument("--no-pg", action="store_true", help="callcenter on SQLite")
    args = parser.parse_args(argv if argv is not None else [])
    report(args.rate or list(RATES), args.seconds, args.pg, not args.no_pg)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
