"""CPU cost of one ARI event on the worker's path: JSON -> typed event -> router -> call inbox.

Prints microseconds of CPU per event for:
- ``parse_event`` alone, per event type (real Asterisk 22 event shapes);
- the whole path as the WebSocket loop runs it (json.loads, our aioari ``process_ws`` hook,
  parse, metrics, routing, the call's inbox and its log guard);
- aioari's stock ``process_ws`` with one ``on_event("*")`` listener doing the same parse and
  routing, to show what overriding it saves;
- the share of a bridged call's events the event filter drops (ChannelVarset & co);
- over the wire: the worker's whole process CPU per call (aiohttp WebSocket, aioari, REST
  requests, the built-in hello-world flow) with the simulated Asterisk in a subprocess, with and
  without the event filter.

Run: ``python -m benchmarks.worker_events``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.asterisk.ari import DEFAULT_DISALLOWED_EVENTS, AriSettings, _AioariClient
from callcenter.asterisk.ari_http import AriHttpClient
from callcenter.asterisk.events import ChannelSnapshot, parse_event
from callcenter.call.session import CallSession
from callcenter.worker.app import Worker, WorkerSettings

CHANNEL: dict[str, Any] = {
    "id": "1795533558.26",
    "name": "PJSIP/callers-0000000b",
    "state": "Up",
    "protocol_id": "1-8845@127.0.0.2",
    "caller": {"name": "Caller 1", "number": "+15550001"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-callers",
        "exten": "100",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "callcenter-test",
    },
    "creationtime": "2026-11-24T15:19:18.945+0000",
    "language": "en",
}
BASE = {"timestamp": "2026-11-24T15:19:18.951+0000", "asterisk_id": "02:fc", "application": "cc"}
BRIDGE = {"id": "e18f26cc", "bridge_type": "mixing", "name": "cc", "channels": [CHANNEL["id"]]}
PLAYBACK = {
    "id": "7d7c4b8a",
    "media_uri": "sound:hello-world",
    "target_uri": f"channel:{CHANNEL['id']}",
    "state": "done",
}

EVENTS: dict[str, dict[str, Any]] = {
    "StasisStart": {"type": "StasisStart", "args": [], "channel": CHANNEL},
    "ChannelDtmfReceived": {
        "type": "ChannelDtmfReceived",
        "digit": "1",
        "duration_ms": 280,
        "channel": CHANNEL,
    },
    "ChannelStateChange": {"type": "ChannelStateChange", "channel": CHANNEL},
    "PlaybackFinished": {"type": "PlaybackFinished", "playback": PLAYBACK},
    "ChannelEnteredBridge": {"type": "ChannelEnteredBridge", "bridge": BRIDGE, "channel": CHANNEL},
    "Dial": {"type": "Dial", "dialstatus": "ANSWER", "peer": CHANNEL, "caller": CHANNEL},
    "ChannelVarset": {"type": "ChannelVarset", "variable": "X", "value": "1", "channel": CHANNEL},
    "StasisEnd": {"type": "StasisEnd", "channel": CHANNEL},
}
for _raw in EVENTS.values():
    _raw.update(BASE)

# Event types of one answered, bridged call on a real Asterisk 22 (README, "Load behaviour").
BRIDGED_CALL_MIX = (
    ["StasisStart", "ChannelStateChange", "PlaybackFinished", "ChannelDtmfReceived"]
    + ["ChannelEnteredBridge", "Dial", "Dial", "ChannelStateChange", "StasisEnd"]
    + ["ChannelVarset"] * 24
    + ["ChannelDialplan", "ChannelConnectedLine", "ChannelConnectedLine"]
)


def cpu_per_call(func: Callable[[], None], rounds: int) -> float:
    """Microseconds of process CPU per call of ``func``."""
    for _ in range(min(rounds, 1000)):
        func()
    start = time.process_time()
    for _ in range(rounds):
        func()
    return (time.process_time() - start) / rounds * 1e6


async def _measure() -> None:
    rounds = 40_000
    print("parse_event, CPU per event:")
    for name, raw in EVENTS.items():
        print(f"  {name:22s} {cpu_per_call(lambda raw=raw: parse_event(raw), rounds):6.2f} us")

    worker = Worker(WorkerSettings(ari=AriSettings("http://127.0.0.1:1/", "u", "p", "cc")))
    session = CallSession(ChannelSnapshot.from_json(CHANNEL), worker.ari, worker.router, args=())
    texts = {name: json.dumps(raw) for name, raw in EVENTS.items()}
    dtmf_text = texts["ChannelDtmfReceived"]

    http = AriHttpClient(
        "http://127.0.0.1:1/", "u", "p", request_timeout=1, connect_timeout=1, heartbeat=1
    )
    ours = _AioariClient("http://127.0.0.1:1/", http, worker.ari._receive)

    def drain() -> None:
        while not session.inbox.empty():
            session.inbox.get_nowait()

    async def whole_path(client: Any, rounds: int) -> float:
        start = time.process_time()
        for i in range(rounds):
            await client.process_ws(json.loads(dtmf_text))
            if i % 256 == 0:
                drain()
        drain()
        return (time.process_time() - start) / rounds * 1e6

    await whole_path(ours, 2000)
    ours_us = await whole_path(ours, rounds)

    stock = _AioariClient("http://127.0.0.1:1/", http, worker.ari._receive)
    stock.event_listeners = {}
    stock.on_event("*", lambda msg: worker.ari._receive(msg))
    stock.process_ws = lambda msg, _c=stock: type(stock).__mro__[1].process_ws(_c, msg)
    await whole_path(stock, 2000)
    stock_us = await whole_path(stock, rounds)

    print("whole path (json.loads + parse + metrics + route + call inbox), DTMF event:")
    print(f"  our process_ws hook      {ours_us:6.2f} us/event")
    print(f"  aioari stock process_ws  {stock_us:6.2f} us/event")

    mix = [
        json.dumps({**EVENTS.get(t, EVENTS["ChannelVarset"]), "type": t}) for t in BRIDGED_CALL_MIX
    ]
    kept = [t for t in BRIDGED_CALL_MIX if t not in DEFAULT_DISALLOWED_EVENTS]

    async def one_call(texts: list[str]) -> None:
        for text in texts:
            await ours.process_ws(json.loads(text))
        drain()

    call_rounds = 3000
    start = time.process_time()
    for _ in range(call_rounds):
        await one_call(mix)
    unfiltered = (time.process_time() - start) / call_rounds * 1e6
    kept_texts = [json.dumps({**EVENTS[t], "type": t}) for t in kept]
    start = time.process_time()
    for _ in range(call_rounds):
        await one_call(kept_texts)
    filtered = (time.process_time() - start) / call_rounds * 1e6
    print(f"one bridged call ({len(mix)} events, {len(mix) - len(kept)} dropped by the filter):")
    print(f"  without event filter     {unfiltered:7.1f} us of worker CPU per call")
    print(f"  with event filter        {filtered:7.1f} us of worker CPU per call")
    await session.close()
    await http.close()


CALLS_OVER_THE_WIRE = 200


async def _start_sim(scenario_file: Path) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from callcenter.cli import main; main()",
        "sim",
        "--scenario",
        str(scenario_file),
        "--ari-port",
        "0",
        "--ami-port",
        "0",
        "--speed",
        "50",
        "--app",
        "bench",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    async with asyncio.timeout(20):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the simulated Asterisk did not start")
            if line.startswith("ARI listening on "):
                return process, line.split()[3]


async def _over_the_wire(filtered: bool) -> tuple[float, float, int]:
    """Worker process CPU (ms) per call and (us) per event, and the events per call."""
    with tempfile.TemporaryDirectory() as tmp:
        scenario_file = Path(tmp) / "bench.yaml"
        # 200 callers at ~40 a second of real time (speed 50), each hears hello-world.
        scenario_file.write_text(
            "seed: 1\n"
            "callers:\n"
            f"  arrival: {{rate_per_minute: 48, count: {CALLS_OVER_THE_WIRE}}}\n"
            "  profile: {dialled: '100', patience: 600}\n"
        )
        process, url = await _start_sim(scenario_file)
        try:
            disallowed = DEFAULT_DISALLOWED_EVENTS if filtered else ()
            settings = WorkerSettings(
                ari=AriSettings(
                    url, "callcenter", "callcenter", "bench", disallowed_events=disallowed
                ),
                http_port=None,
            )
            worker = Worker(settings)
            await worker.start()
            await worker.ari.wait_connected(within=10)
            start = time.process_time()
            finished = worker.metrics.calls_finished.labels("completed")
            async with asyncio.timeout(45):
                while finished._value.get() < CALLS_OVER_THE_WIRE:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            cpu = time.process_time() - start
            events = worker.router.delivered + worker.router.unclaimed
            await worker.stop(grace=1.0)
        finally:
            process.terminate()
            await process.wait()
    return (
        cpu / CALLS_OVER_THE_WIRE * 1e3,
        cpu / max(events, 1) * 1e6,
        events // CALLS_OVER_THE_WIRE,
    )


async def _measure_over_the_wire() -> None:
    print(f"over the wire, {CALLS_OVER_THE_WIRE} hello-world calls, worker process CPU:")
    for filtered in (True, False):
        per_call, per_event, events = await _over_the_wire(filtered)
        label = "with event filter   " if filtered else "without event filter"
        print(
            f"  {label} {per_call:5.2f} ms per call, {per_event:6.1f} us per event,"
            f" {events} events per call"
        )


def main() -> None:
    """Print the figures (takes about half a minute)."""
    asyncio.run(_measure())
    asyncio.run(_measure_over_the_wire())


if __name__ == "__main__":
    main()
