"""The demo and `callcenter run` end to end: the simulated PBX, synthetic callers and agents,
the whole runtime, SQLite CDRs; and the worker as a separate process."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import yaml
from rich.console import Console

from callcenter.config import load_config
from callcenter.demo import DEFAULT_CONFIG, DEMO_PASSWORD, DemoOptions, StopRequest, run_demo
from callcenter.sim.sounds import install_prompts


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SCENARIO = {
    "seed": 3,
    "callers": {
        "fixed": [
            # "2" in the main menu: sales.
            {
                "at": 0.5,
                "caller_id": "+15550101",
                "dialled": "100",
                "digits": [{"after": 1.0, "press": "2"}],
                "patience": 300,
            },
            # "1" existing customer, then "2" billing.
            {
                "at": 1.0,
                "caller_id": "+15550102",
                "dialled": "100",
                "digits": [{"after": 1.0, "press": "1"}, {"after": 4.0, "press": "2"}],
                "patience": 300,
            },
            # Hangs up in the IVR before choosing.
            {"at": 1.5, "caller_id": "+15550103", "dialled": "100", "digits": [], "patience": 1.0},
        ]
    },
    "agents": [
        {"endpoint": f"PJSIP/100{n}", "ring_delay": 1.0, "talk_time": 5.0} for n in range(1, 9)
    ],
}


def demo_options(tmp_path: Path, **overrides: object) -> DemoOptions:
    """The demo on SCENARIO at x20 under ``tmp_path``, no live view, any free web port."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    settings: dict[str, object] = {
        "scenario_path": scenario,
        "speed": 20.0,
        "duration": 60.0,
        "state_dir": tmp_path / "demo",
        "live": False,
        "web_port": 0,
        **overrides,
    }
    return DemoOptions(**settings)  # type: ignore[arg-type]


async def test_demo_runs_calls_through_the_whole_runtime(tmp_path: Path) -> None:
    options = demo_options(tmp_path)
    result = await run_demo(options, Console(file=io.StringIO(), width=120))
    assert result.outcomes == {"connected": 2, "abandoned": 1}
    assert result.calls == 3
    assert result.dispositions == {"answered": 2, "abandoned_ivr": 1}
    by_queue = {row["group"]: row for row in result.kpis}
    assert by_queue["sales"]["answered"] == 1
    assert by_queue["billing"]["answered"] == 1

    db = sqlite3.connect(tmp_path / "demo" / "callcenter.db")
    rows = db.execute(
        "select caller_number, queue_id, agent_id, disposition, ivr_path from calls"
    ).fetchall()
    by_caller = {r[0]: r for r in rows}
    billing = by_caller["+15550102"]
    assert billing[1] == "billing"
    # Whoever answered billing has the billing skill in the example config.
    assert billing[2] in {"dev", "erin", "femi"}
    assert '"existing"' in billing[4]
    assert by_caller["+15550101"][2] in {"alice", "bob", "gina"}
    # The demo wrote its config so `callcenter report -c ...` works afterwards.
    assert (tmp_path / "demo" / "callcenter.yaml").is_file()

    # A second run starts from an empty database: its summary is about its own calls only.
    again = await run_demo(options, Console(file=io.StringIO(), width=120))
    assert again.calls == 3
    assert db.execute("select count(*) from calls").fetchone() == (3,)
    assert {row["group"]: row["offered"] for row in again.kpis} == {"sales": 1, "billing": 1}


async def sign_in(http: aiohttp.ClientSession, base: str, user: str) -> None:
    page = await (await http.get(f"{base}login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token.group(1), "username": user, "password": DEMO_PASSWORD}
    async with http.post(f"{base}login", data=form, allow_redirects=False) as response:
        assert response.status == 302, await response.text()


async def signed_in(base: str, user: str) -> aiohttp.ClientSession:
    """A client (its own cookies, kept for 127.0.0.1) signed in as ``user``; close it."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await sign_in(http, base, user)
    return http


async def test_the_pages_stay_up_after_the_summary_with_the_runs_kpis(tmp_path: Path) -> None:
    options = demo_options(tmp_path, stay_up=True)
    output = io.StringIO()
    stop = StopRequest()
    demo = asyncio.create_task(run_demo(options, Console(file=output, width=80), stop))
    while "Pages stay up at" not in output.getvalue():
        assert not demo.done(), output.getvalue()
        await asyncio.sleep(0.05)
    text = output.getvalue()
    url = re.search(r"Pages stay up at (http://\S+/)", text)
    assert url is not None, text
    assert "Ctrl-C (or Enter) to stop" in text
    assert text.index("KPIs per queue") < text.index("Pages stay up")
    # The summary is out and the demo still serves the pages, with this run's numbers.
    async with await signed_in(url.group(1), "supervisor") as http:
        async with http.get(f"{url.group(1)}wallboard") as response:
            assert response.status == 200
            board = await response.text()
        for queue in ("sales", "billing"):
            tile = re.search(rf'<article [^>]*data-queue="{queue}".*?</article>', board, re.S)
            assert tile is not None, queue
            assert re.search(r'class="offered">1<', tile.group(0)), tile.group(0)
    async with await signed_in(url.group(1), "qa") as http, http.get(f"{url.group(1)}qa") as qa:
        assert "+15550102" in await qa.text()
    assert not demo.done()
    stop.set("Ctrl-C")
    result = await asyncio.wait_for(demo, 30)
    assert result.calls == 3 and not result.interrupted
    # Stopped: the pages are gone with the demo.
    async with aiohttp.ClientSession() as http:
        try:
            await http.get(url.group(1))
        except aiohttp.ClientConnectionError:
            pass
        else:
            raise AssertionError("the pages still answer after the demo stopped")


async def test_callcenter_run_process_serves_calls_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import EndpointBehaviour, SimulatedAsterisk, Stasis

    pbx = SimulatedAsterisk(speed=20.0, recordings_dir=tmp_path / "ast")
    install_prompts(pbx, load_config(DEFAULT_CONFIG, env={}))  # what `dialplan deploy` does
    pbx.dialplan.route("100", Stasis("callcenter"))
    for n in range(1, 9):
        pbx.register_endpoint(
            "PJSIP", f"100{n}", EndpointBehaviour.answer_after(0.5, talk_seconds=3)
        )
    ari = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", "sekrit-ari")
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["asterisk"]["ari"].update(url=ari.url, password="sekrit-ari")
    raw["asterisk"]["ami"].update(port=1, secret="x")  # no AMI: the worker copes and retries
    raw["database"] = {
        "url": f"sqlite:///{tmp_path / 'cc.db'}",
        "spool_dir": str(tmp_path / "spool"),
    }
    raw["recordings"]["directory"] = str(tmp_path / "rec")
    api_port = free_port()
    raw["api"] = {
        "host": "127.0.0.1",
        "port": api_port,
        "token": "t0ken-for-test-0123456789abcdefghijklmnop",
    }
    for hours in raw["business_hours"].values():
        hours["weekly"] = {
            d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
        hours["holidays"] = []
    config = tmp_path / "cc.yaml"
    config.write_text(yaml.safe_dump(raw))
    cli = str(Path(sys.executable).with_name("callcenter"))
    worker = await asyncio.create_subprocess_exec(
        cli,
        "run",
        "--config",
        str(config),
        "--speed",
        "20",
        "--http-port",
        "0",
        "--drain-grace",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            app = pbx.apps.get("callcenter")
            if app is not None and app.sink is not None:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker never connected to ARI")
        # Agents start their shift through the agent API, as a person would.
        login = await asyncio.create_subprocess_exec(
            cli,
            "agent",
            "login",
            "alice",
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        login_output, _ = await login.communicate()
        assert login.returncode == 0, login_output.decode()
        call = pbx.place_inbound_call("100", "+15550199")
        await call.wait_for("answered", timeout=10)
        await asyncio.sleep(0.3)
        call.send_dtmf("2")
        await call.wait_for("bridged", timeout=20)
        await call.wait_for("hangup", timeout=20)
        await asyncio.sleep(1.0)
    finally:
        if worker.returncode is None:  # an early exit must still show its output below
            worker.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(worker.communicate(), 30)
        await ari.close()
        await pbx.close()
    assert worker.returncode == 0, output.decode()[-3000:]
    db = sqlite3.connect(tmp_path / "cc.db")
    [(queue, agent, disposition)] = db.execute(
        "select queue_id, agent_id, disposition from calls"
    ).fetchall()
    assert (queue, disposition) == ("sales", "answered")
    assert agent == "alice"  # the only agent logged in
