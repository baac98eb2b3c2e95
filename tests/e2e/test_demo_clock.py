"""One clock, the PBX's: the demo at x10, and every duration a person can read agrees.

The synthetic agents talk for exactly ``TALK`` simulated seconds; a fourth caller waits for a
free agent. While the demo runs, the test reads the agents' desktops and the wallboard as a
person would (over HTTP); afterwards the call records, the recordings, the QA pages and the
scenario itself must tell the same durations, within 5%. (Before the clock was shared, the
records counted real seconds: ten times less.)
"""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
from pathlib import Path

import yaml
from rich.console import Console

from callcenter.demo import DemoOptions, StopRequest, run_demo

from .test_demo import signed_in

SPEED = 10.0
TALK = 60.0
"""Simulated seconds every agent talks (the scenario's ground truth)."""
SALES_AGENTS = ("alice", "bob", "gina", "hugo")  # hugo after the escalation at 60 s


def scenario() -> dict[str, object]:
    press_sales = [{"after": 1.0, "press": "2"}]
    callers = [
        {"at": at, "caller_id": f"+1555070{n}", "dialled": "100", "digits": press_sales}
        for n, at in enumerate((0.5, 1.0, 1.5, 2.5))
    ]
    for caller in callers:
        caller["patience"] = 600
    agents = [
        {"endpoint": f"PJSIP/100{n}", "ring_delay": 2.0, "talk_time": TALK} for n in range(1, 9)
    ]
    return {"seed": 5, "callers": {"fixed": callers}, "agents": agents}


def seconds(clock: str) -> float:
    """``1:05`` -> 65."""
    parts = [int(p) for p in clock.strip().split(":")]
    return float(parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0))


def close(shown: float, truth: float, rounding: float = 1.0) -> bool:
    """Within 5% (and the whole second a page rounds down to)."""
    return abs(shown - truth) <= max(0.05 * truth, rounding)


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return found.group(1).strip() if found else ""


async def watch_pages(
    base: str, seen_waits: dict[str, float], longest: list[float], done: asyncio.Event
) -> None:
    """What the agents' desktops say each caller waited, and the wallboard's longest wait."""
    desktops = {agent: await signed_in(base, agent) for agent in SALES_AGENTS}
    board = await signed_in(base, "supervisor")
    try:
        while not done.is_set():
            for http in desktops.values():
                html = await (await http.get(f"{base}agent")).text()
                caller, waited = text_of(html, "pop-caller"), text_of(html, "pop-wait")
                if caller and waited:
                    seen_waits[caller] = seconds(waited)
            html = await (await board.get(f"{base}wallboard")).text()
            tile = re.search(r'data-queue="sales".*?</article>', html, re.S)
            if tile:
                wait = re.search(r'class="big longest">([^<]+)<', tile.group(0))
                if wait:
                    longest.append(seconds(wait.group(1)))
            await asyncio.sleep(0.2)
    finally:
        for http in [*desktops.values(), board]:
            await http.close()


async def test_the_demo_at_x10_counts_one_clocks_seconds_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario()))
    state = tmp_path / "demo"
    options = DemoOptions(
        scenario_path=path,
        speed=SPEED,
        duration=120.0,
        state_dir=state,
        live=False,
        web_port=0,
        stay_up=True,
    )
    output, stop = io.StringIO(), StopRequest()
    demo = asyncio.create_task(run_demo(options, Console(file=output, width=100), stop))
    while (url := re.search(r"web pages: (http://\S+/)", output.getvalue())) is None:
        assert not demo.done(), output.getvalue()
        await asyncio.sleep(0.05)
    base = url.group(1)
    seen_waits: dict[str, float] = {}
    longest: list[float] = []
    summary_out = asyncio.Event()
    watcher = asyncio.create_task(watch_pages(base, seen_waits, longest, summary_out))
    while "Pages stay up at" not in output.getvalue():
        assert not demo.done(), output.getvalue()
        assert not watcher.done() or watcher.exception() is None
        await asyncio.sleep(0.1)
    summary_out.set()
    await watcher

    db = sqlite3.connect(state / "callcenter.db")
    calls = db.execute(
        "select c.call_id, c.caller_number, c.wait_seconds, c.talk_seconds, r.duration_seconds"
        " from calls c left join recordings r on r.call_id = c.call_id"
    ).fetchall()
    assert len(calls) == 4
    for _call_id, caller, wait, talk, recorded in calls:
        # The records count the scenario's seconds (not a tenth of them), and so does the
        # recording of the same conversation.
        assert close(talk, TALK), (caller, talk)
        assert recorded is not None and close(recorded, talk), (caller, recorded, talk)
        # The agent's desktop said how long the caller had waited: the record says the same.
        assert caller in seen_waits, (caller, seen_waits)
        assert close(seen_waits[caller], wait), (caller, seen_waits[caller], wait)
    waits = sorted(wait for _, _, wait, _, _ in calls)
    assert waits[-1] > 40  # the fourth caller waited for a free agent
    # The wallboard's longest wait grew up to that caller's wait, never beyond it.
    assert longest and max(longest) <= waits[-1] * 1.05 + 1
    assert max(longest) >= waits[-1] / 2

    # The QA page of the longest call shows the record's wait and talk and the recording's
    # length, all the same seconds.
    call_id, caller, wait, talk, recorded = max(calls, key=lambda c: c[2])
    qa = await signed_in(base, "qa")
    try:
        html = await (await qa.get(f"{base}calls/{call_id}")).text()
    finally:
        await qa.close()
    shown = dict(re.findall(r"<dt>(Wait|Talk)</dt><dd>([\d.]+) s</dd>", html))
    assert close(float(shown["Wait"]), wait, 0.1) and close(float(shown["Talk"]), talk, 0.1)
    length = re.search(r'<p class="muted">([\d.]+) s ·', html)
    assert length is not None and close(float(length.group(1)), talk)

    stop.set("test")
    result = await asyncio.wait_for(demo, 30)
    aht = next(row["aht_seconds"] for row in result.kpis if row["group"] == "sales")
    assert aht >= TALK  # talk plus wrap-up, in the PBX's seconds
