"""The IVR under load: worker CPU per IVR call and event-to-action latency at 500 calls at once.

Two processes, so the worker's CPU is its own: this one runs the simulated Asterisk (ARI over
HTTP + WebSocket on loopback), the shop's order-status HTTP endpoint and 500 synthetic callers;
a child process runs the real ``Worker`` (aioari) with ``run_ivr`` on the example IVR
(examples/callcenter.yaml), hanging each call up when the IVR has decided where it goes.

Every caller walks main -1-> existing -1-> order number "12345#" -> HTTP lookup ("shipped" is
said back) -> after_status -1-> queue sales, pressing each menu digit while the prompt still
plays (barge-in). Figures:

- the pure machine alone: CPU per IVR call walk (no I/O);
- worker CPU per IVR call (the child's process time between ready and done, over all calls);
- event-to-action inside the worker: from the ChannelDtmfReceived reaching the worker's router
  (off the WebSocket) to the worker sending DELETE /playbacks/{id} (the barge-in);
- the same at the phone: from the DTMF entering Asterisk to the prompt stopping there
  (WebSocket + worker + HTTP request + the simulated Asterisk handling it).

The two processes share the machine with whatever else runs; the load average is printed.
Run: ``python -m benchmarks.ivr`` (about 15 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "callcenter.yaml"
APP = "cc-bench-ivr"
USER, PASSWORD = "callcenter", "bench"
CALLS = int(os.environ.get("IVR_BENCH_CALLS", "500"))
PBX_SPEED = 10.0  # a 40 s prompt plays for 4 s: the caller cuts it after 2-3 s
PROMPT_SECONDS = 40.0
SAID_SECONDS = 3.0  # "your order status is", "shipped": not interruptible, kept short
ARRIVALS_PER_SECOND = 50.0  # 500 calls arrive over 10 s...
THINK = (2.0, 3.0)  # ...and each listens 2-3 s before each key: about 500 calls at once
OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)

# The example's prompts as Asterisk plays them (prompt:welcome -> sound:callcenter/welcome).
INTERRUPTIBLE = {
    "callcenter/welcome": "1",
    "callcenter/existing-menu": "1",
    "callcenter/enter-order-number": "12345#",
    "callcenter/after-status-menu": "1",
}


# --- the worker process ----------------------------------------------------------------------


async def _worker_main(ari_url: str, shop_url: str) -> None:
    from callcenter.asterisk.ari import AriSettings
    from callcenter.clock import FixedClock
    from callcenter.config import load_config
    from callcenter.ivr.driver import run_ivr
    from callcenter.ivr.lookups import HttpJsonLookup, LookupRegistry
    from callcenter.worker import CallSession, Worker, WorkerSettings

    config = load_config(EXAMPLE, env={})
    lookups = LookupRegistry(
        {"order_status": HttpJsonLookup(f"{shop_url}/orders/{{value}}", "status", 5.0)}
    )
    clock = FixedClock(OPEN)
    outcomes: dict[str, int] = {}

    class BenchIvrFlow:
        async def run(self, session: CallSession) -> None:
            outcome = await run_ivr(
                session,
                config.ivr,
                config.business_hours,
                lookups,
                clock,
                config.timezone,
            )
            key = type(outcome).__name__
            outcomes[key] = outcomes.get(key, 0) + 1
            if not session.caller_left:
                await session.ari.hangup(session.caller_channel_id)

    ari = AriSettings(url=ari_url, username=USER, password=PASSWORD, app=APP, request_timeout=10)
    worker = Worker(WorkerSettings(ari=ari, http_port=None, drain_grace=2.0))
    worker.register_flow(BenchIvrFlow(), exten="100")
    probe = _LatencyProbe(worker)
    await worker.start()
    await worker.ari.wait_connected(within=10)
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def tick() -> None:
        # How late a 10 ms sleep wakes up: time the loop could not run (busy or descheduled).
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)

    ticker = asyncio.create_task(tick())
    print(f"READY {time.process_time()}", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    cpu = time.process_time()
    ticker.cancel()
    stats = {"cpu": cpu, "outcomes": outcomes, "latencies": probe.latencies, "lags": lags}
    print(json.dumps(stats), flush=True)
    await worker.stop(grace=1.0)
    await lookups.close()


class _LatencyProbe:
    """Times a barge-in inside the worker: DTMF event routed -> DELETE /playbacks sent.

    Wraps the worker's router and ARI client methods (benchmark instrumentation only).
    """

    def __init__(self, worker: Any) -> None:
        from callcenter.asterisk.events import ChannelDtmfReceived

        self.latencies: list[float] = []
        self._dtmf_at: dict[str, float] = {}
        self._channel_of: dict[str, str] = {}
        dispatch, play, stop = worker.router.dispatch, worker.ari.play, worker.ari.stop_playback

        def routed(event: Any) -> None:
            if isinstance(event, ChannelDtmfReceived):
                self._dtmf_at[event.channel_id] = time.perf_counter()
            dispatch(event)

        async def played(channel: str, media: Any, playback_id: Any = None, **kw: Any) -> Any:
            self._channel_of[playback_id] = channel
            return await play(channel, media, playback_id=playback_id, **kw)

        async def stopped(playback: str) -> bool:
            at = self._dtmf_at.pop(self._channel_of.pop(playback, ""), None)
            if at is not None:
                self.latencies.append(time.perf_counter() - at)
            return bool(await stop(playback))

        worker.router.dispatch = routed
        worker.ari.play = played
        worker.ari.stop_playback = stopped


def _machine_walks(walks: int = 2000) -> tuple[float, int]:
    """CPU seconds per walk of the example IVR through the pure machine, and events per walk."""
    from callcenter.config import load_config
    from callcenter.ivr.machine import (
        Digit,
        IvrMachine,
        LookupAnswered,
        PlayPrompts,
        PromptFinished,
        RunLookup,
        Started,
    )

    config = load_config(EXAMPLE, env={})
    ivr, hours = config.ivr, dict(config.business_hours)
    events = 0
    started = time.process_time()
    for _ in range(walks):
        machine = IvrMachine(ivr, "main", hours, config.timezone)
        out = machine.handle(Started(), OPEN)
        for digit in "1112345#":
            out = machine.handle(Digit(digit), OPEN)
        lookup = next(d for d in out if isinstance(d, RunLookup))
        out = machine.handle(LookupAnswered(lookup.token, "shipped"), OPEN)
        play = next(d for d in out if isinstance(d, PlayPrompts))
        out = machine.handle(PromptFinished(play.prompt_id), OPEN)
        out = machine.handle(Digit("1"), OPEN)
        events += 12
        assert machine.finished
    return (time.process_time() - started) / walks, events // walks


# --- the Asterisk side -----------------------------------------------------------------------


async def _shop() -> tuple[web.AppRunner, str]:
    async def order(request: web.Request) -> web.Response:
        return web.json_response({"status": "shipped", "number": request.match_info["number"]})

    app = web.Application()
    app.router.add_get("/orders/{number}", order)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _caller(pbx: Any, n: int, rng: random.Random, latencies: list[float]) -> str:
    """One synthetic caller walking the example IVR; returns how it ended."""
    loop = asyncio.get_running_loop()
    call = pbx.place_inbound_call("100", f"+4416329{n:05d}")
    pressed = 0
    while pressed < len(INTERRUPTIBLE):
        event = await call.next_event(timeout=30)
        if event.kind == "hangup":
            return "hung-up-early"
        if event.kind != "playback_started":
            continue
        sound = event.detail.removeprefix("sound:")
        digits = INTERRUPTIBLE.get(sound)
        if digits is None:
            continue
        await asyncio.sleep(rng.uniform(*THINK))
        pressed += 1
        sent = loop.time()
        call.send_dtmf(digits[0])
        # The worker stops the prompt: the phone hears it end before its time.
        await call.wait_for(
            "playback_finished", 30, lambda e, media=event.detail: e.detail == media
        )
        latencies.append(loop.time() - sent)
        for digit in digits[1:]:
            await asyncio.sleep(0.05)
            call.send_dtmf(digit)
    await call.wait_for("hangup", 30)
    return "done"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _bench() -> None:
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import SimulatedAsterisk, Stasis

    pbx = SimulatedAsterisk(speed=PBX_SPEED, recordings_dir=Path("/tmp/cc-bench-ivr"))
    pbx.dialplan.route("100", Stasis(APP))
    for sound in ("callcenter/main-menu", *INTERRUPTIBLE):
        pbx.add_sound(sound, PROMPT_SECONDS)
    for prompt in ("your-order-status-is", "shipped", "transferring-to-sales"):
        pbx.add_sound(f"callcenter/{prompt}", SAID_SECONDS)
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    shop_runner, shop_url = await _shop()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.ivr",
        "--worker",
        server.url,
        shop_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(REPO),
        limit=64 * 1024 * 1024,  # the worker's figures come back as one JSON line (latencies)
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        ready = await asyncio.wait_for(worker.stdout.readline(), 30)
        if not ready.startswith(b"READY"):
            raise RuntimeError(f"worker did not start: {ready!r}")
        cpu_ready = float(ready.split()[1])

        rng = random.Random(4)
        latencies: list[float] = []
        peak = 0

        async def watch_peak() -> None:
            nonlocal peak
            while True:
                peak = max(peak, len(pbx.channels))
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_peak())
        started = time.perf_counter()
        started_loop = asyncio.get_running_loop().time()
        sim_cpu = time.process_time()
        callers = []
        loop = asyncio.get_running_loop()
        for n in range(CALLS):
            callers.append(asyncio.create_task(_caller(pbx, n, rng, latencies)))
            # Evenly spaced arrivals (sleeping until the n-th arrival time, not n sleeps).
            await asyncio.sleep(
                max(0.0, started_loop + (n + 1) / ARRIVALS_PER_SECOND - loop.time())
            )
        endings = await asyncio.wait_for(asyncio.gather(*callers), 50)
        wall = time.perf_counter() - started
        sim_cpu = time.process_time() - sim_cpu
        watcher.cancel()

        worker.stdin.write(b"STOP\n")
        await worker.stdin.drain()
        stats = json.loads(await asyncio.wait_for(worker.stdout.readline(), 30))
        worker_cpu = stats["cpu"] - cpu_ready
    finally:
        if worker.returncode is None:
            try:
                await asyncio.wait_for(worker.wait(), 10)
            except TimeoutError:
                worker.kill()
                await worker.wait()
        await shop_runner.cleanup()
        await server.close()
        await pbx.close()

    done = endings.count("done")
    ms = [x * 1000 for x in latencies]
    inside = [x * 1000 for x in stats["latencies"]]
    machine_cpu, machine_events = _machine_walks()
    load = os.getloadavg()[0]
    print(
        f"pure IVR machine: {machine_cpu * 1e6:.0f} us CPU per IVR call "
        f"({machine_events} events, {machine_cpu * 1e6 / machine_events:.1f} us per event)"
    )
    print(
        f"IVR calls: {CALLS} placed at {ARRIVALS_PER_SECOND:.0f}/s, {done} walked the whole IVR, "
        f"peak {peak} calls at once"
    )
    print(f"IVR outcomes at the worker: {stats['outcomes']}")
    print(f"wall time: {wall:.1f} s; simulated Asterisk + callers CPU: {sim_cpu:.2f} s")
    print(
        f"worker CPU: {worker_cpu:.2f} s for {done} calls = "
        f"{worker_cpu / max(done, 1) * 1000:.2f} ms per IVR call "
        f"(answer, 6 prompts, 4 barge-ins, 9 digits, 1 HTTP lookup, hang-up)"
    )
    print(
        f"event-to-action in the worker (DTMF routed -> DELETE /playbacks sent), "
        f"{len(inside)} samples: p50 {statistics.median(inside):.2f} ms, "
        f"p90 {_pct(inside, 90):.2f} ms, p99 {_pct(inside, 99):.2f} ms, "
        f"max {max(inside):.2f} ms (target p99 < 10 ms)"
    )
    print(
        f"event-to-action at the phone (DTMF into Asterisk -> prompt stopped), "
        f"{len(ms)} samples: p50 {statistics.median(ms):.2f} ms, p90 {_pct(ms, 90):.2f} ms, "
        f"p99 {_pct(ms, 99):.2f} ms, max {max(ms):.2f} ms"
    )
    lag = [x * 1000 for x in stats["lags"]]
    print(
        f"worker event-loop lag (a 10 ms sleep waking late): p50 {statistics.median(lag):.2f} ms, "
        f"p99 {_pct(lag, 99):.2f} ms, max {max(lag):.2f} ms"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end of the run")


def main() -> None:
    """Run the benchmark and print its figures."""
    asyncio.run(_bench())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        profile = os.environ.get("IVR_BENCH_PROFILE")
        if profile:  # where the worker's CPU goes: IVR_BENCH_PROFILE=/tmp/ivr.prof
            import cProfile

            cProfile.run("asyncio.run(_worker_main(sys.argv[2], sys.argv[3]))", profile)
        else:
            asyncio.run(_worker_main(sys.argv[2], sys.argv[3]))
    else:
        main()
