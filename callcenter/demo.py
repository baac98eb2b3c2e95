"""``callcenter demo``: the whole call center against the simulated Asterisk, with a live view.

One process runs, all on loopback:

- the simulated Asterisk 22 (ARI over HTTP + WebSocket, AMI over TCP) with the example's
  prompts (installed as `dialplan deploy` would), numbers and agent phones;
- synthetic callers and agents from a seeded scenario (``examples/scenario-demo.yaml``);
- a tiny order-status HTTP service for the IVR's self-service lookup;
- our worker, exactly as ``callcenter run`` builds it (``CallCenterRuntime``): IVR, queues,
  recordings, CDRs in SQLite under ``var/demo/``, the API and the web pages.

The demo's wall clock is moved to a weekday morning in the call center's time zone, so the
example's office hours are open whatever the hour. It stops when every synthetic caller is
done (or after ``--duration``) and prints the calls and the KPIs of ``callcenter report``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import sys
import time
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from callcenter.clock import ShiftedClock
from callcenter.config import CallCenterConfig, parse_config
from callcenter.runtime import CallCenterRuntime, RuntimeOptions

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "examples" / "callcenter.yaml"
DEFAULT_SCENARIO = REPO_ROOT / "examples" / "scenario-demo.yaml"
DEMO_PASSWORD = "demo-password"
"""Password of the demo's web users (a loopback-only demo database under var/demo)."""
ORDERS = {"1234": "shipped", "12345": "processing", "4242": "delivered"}


@dataclass
class DemoOptions:
    config_path: Path = DEFAULT_CONFIG
    scenario_path: Path = DEFAULT_SCENARIO
    speed: float = 10.0
    duration: float = 120.0
    """Real seconds at most."""
    state_dir: Path = Path("var/demo")
    live: bool = True
    web_port: int = 8080


@dataclass
class DemoResult:
    outcomes: dict[str, int] = field(default_factory=dict)
    dispositions: dict[str, int] = field(default_factory=dict)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    web_url: str | None = None
    config_file: Path | None = None


def demo_clock(config: CallCenterConfig) -> ShiftedClock:
    """Next Tuesday 10:30 in the call center's zone: inside the example's office hours."""
    zone = zoneinfo.ZoneInfo(config.timezone)
    today = dt.datetime.now(zone).date()
    tuesday = today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)
    while tuesday.isoformat() in {
        d.isoformat() for h in config.business_hours.values() for d in h.holidays
    }:
        tuesday += dt.timedelta(days=7)
    return ShiftedClock.to(dt.datetime.combine(tuesday, dt.time(10, 30), zone))


async def start_order_service() -> tuple[web.AppRunner, str]:
    """A stand-in shop back-end answering ``GET /orders/{n}`` with ``{"status": ...}``."""

    async def order(request: web.Request) -> web.Response:
        status = ORDERS.get(request.match_info["number"])
        if status is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"status": status})

    app = web.Application()
    app.router.add_get("/orders/{number}", order)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = int(runner.addresses[0][1])
    return runner, f"http://127.0.0.1:{port}/orders/{{value}}"


@dataclass(frozen=True)
class DemoSecrets:
    """One random value per purpose: knowing one (the API token shown to a user) opens
    nothing else."""

    ari_password: str
    ami_secret: str
    api_token: str
    session_secret: str

    @classmethod
    def generate(cls) -> DemoSecrets:
        return cls(*(secrets.token_urlsafe(32) for _ in range(4)))


def demo_config(
    options: DemoOptions, ari_url: str, ami_port: int, orders_url: str, keys: DemoSecrets
) -> tuple[CallCenterConfig, Path]:
    """The example config pointed at the simulated PBX, SQLite and var/demo; also written out
    (mode 0600: it holds the secrets) so ``callcenter report -c var/demo/callcenter.yaml``
    works after the demo."""
    raw = yaml.safe_load(options.config_path.read_text(encoding="utf-8"))
    state = options.state_dir.resolve()
    raw["asterisk"]["ari"].update(url=ari_url, username="callcenter", password=keys.ari_password)
    raw["asterisk"]["ami"].update(
        host="127.0.0.1", port=ami_port, username="callcenter", secret=keys.ami_secret
    )
    raw.setdefault("database", {}).update(
        url=f"sqlite:///{state / 'callcenter.db'}", spool_dir=str(state / "spool")
    )
    raw.setdefault("recordings", {})["directory"] = str(state / "recordings")
    raw["api"] = {
        "host": "127.0.0.1",
        "port": _free_or_any(options.web_port),
        "token": keys.api_token,
    }
    raw["web"] = {**raw.get("web", {}), "session_secret": keys.session_secret}
    for lookup in raw.get("ivr", {}).get("lookups", {}).values():
        if lookup.get("kind") == "http":
            lookup["url"] = orders_url
    config = parse_config(raw, str(options.config_path), env={})
    path = state / "callcenter.yaml"
    text = "# Written by `callcenter demo`: the example pointed at the simulated PBX.\n"
    write_private(path, text + yaml.safe_dump(raw, sort_keys=False))
    return config, path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _free_or_any(port: int) -> int:
    """``port`` if nothing listens there, else 0 (any free port): a busy 8080 is no failure."""
    import socket

    if port == 0:
        return 0
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            log.warning("port %d is taken: the web pages get another one", port)
            return 0
    return port


def create_demo_users(runtime: CallCenterRuntime) -> list[tuple[str, str]]:
    """Web users for the demo: a supervisor, a QA reviewer and one user per agent."""
    from callcenter.auth.model import Role
    from callcenter.db.users import UserStore
    from callcenter.errors import ConflictError

    assert runtime.engine is not None
    store = UserStore(runtime.engine)
    wanted: list[tuple[str, Role, str | None]] = [
        ("supervisor", Role.SUPERVISOR, None),
        ("qa", Role.QA, None),
        *[(a.id, Role.AGENT, a.id) for a in runtime.config.agents],
    ]
    made = []
    for username, role, agent_id in wanted:
        with contextlib.suppress(ConflictError):
            store.add(username, DEMO_PASSWORD, role, agent_id)
        made.append((username, role.value))
    return made


def recent_calls(runtime: CallCenterRuntime, limit: int = 8) -> list[dict[str, Any]]:
    from callcenter.db.calls import CallFilter, search_calls

    assert runtime.engine is not None
    return search_calls(runtime.engine, CallFilter(limit=limit))


def render_view(status: dict[str, Any], calls: list[dict[str, Any]], header: str) -> Group:
    """The live view: queues, agents, and the latest call records."""
    queues = Table(title="Queues", expand=True)
    for column in ("queue", "waiting", "longest wait", "offered", "agents free / in"):
        queues.add_column(column)
    for q in status.get("queues", []):
        queues.add_row(
            q["name"],
            str(q["waiting"]),
            f"{q['longest_wait_seconds']:.0f} s",
            str(q["offered"]),
            f"{q['agents_available']} / {q['agents_logged_in']}",
        )
    agents = Table(title="Agents", expand=True)
    for column in ("agent", "state", "for", "calls today"):
        agents.add_column(column)
    colours = {"available": "green", "on_call": "red", "ringing": "yellow", "wrapup": "cyan"}
    for a in status.get("agents", []):
        state = a["state"] + (f" ({a['reason']})" if a.get("reason") else "")
        colour = colours.get(a["state"], "white")
        agents.add_row(
            a["name"],
            f"[{colour}]{state}[/]",
            f"{a['seconds_in_state']:.0f} s",
            str(a["calls_today"]),
        )
    records = Table(title="Latest calls (CDR)", expand=True)
    for column in ("caller", "IVR path", "queue", "wait", "agent", "disposition"):
        records.add_column(column)
    for c in calls:
        path = " → ".join(
            step[0] if isinstance(step, list) else str(step) for step in c["ivr_path"]
        )
        wait = f"{c['wait_seconds']:.1f} s" if c.get("wait_seconds") is not None else ""
        records.add_row(
            c.get("caller_number") or "",
            path,
            c.get("queue_id") or "",
            wait,
            c.get("agent_id") or "",
            c["disposition"],
        )
    return Group(Panel(header), queues, agents, records)


async def run_demo(options: DemoOptions, console: Console | None = None) -> DemoResult:
    """Run the demo to its end; returns what happened (also printed)."""
    from callcenter.sim.ami_server import start_ami_server
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import SimulatedAsterisk, Stasis
    from callcenter.sim.scenario import load_scenario
    from callcenter.sim.sounds import install_prompts
    from callcenter.sim.synthetic import SyntheticRun

    console = console or Console()
    options.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = DemoSecrets.generate()
    scenario = load_scenario(options.scenario_path)
    pbx = SimulatedAsterisk(
        speed=options.speed, recordings_dir=options.state_dir.resolve() / "asterisk-recordings"
    )
    runtime: CallCenterRuntime | None = None
    order_runner: web.AppRunner | None = None
    ari = ami = None
    result = DemoResult()
    try:
        ari = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", keys.ari_password)
        ami = await start_ami_server(
            pbx, "127.0.0.1", 0, "callcenter", keys.ami_secret, speed=options.speed
        )
        order_runner, orders_url = await start_order_service()
        config, result.config_file = demo_config(options, ari.url, ami.port, orders_url, keys)
        # As `dialplan deploy` does to a real Asterisk: our prompts exist as callcenter/<id>.
        install_prompts(pbx, config)
        for number in config.ivr.numbers:
            pbx.dialplan.route(number, Stasis(config.asterisk.ari.app))

        clock = demo_clock(config)
        runtime = CallCenterRuntime(
            config,
            RuntimeOptions(speed=options.speed, clock=clock, worker_id="demo", http_port=0),
        )
        await runtime.start()
        assert runtime.worker is not None
        await runtime.worker.ari.wait_connected(within=15.0)
        users = await asyncio.to_thread(create_demo_users, runtime)
        synthetic = SyntheticRun(pbx, scenario)
        synthetic.register_agents()
        await runtime.login_all_agents()
        result.web_url = runtime.api_url
        local_now = clock.now().astimezone(zoneinfo.ZoneInfo(config.timezone))
        console.print(
            f"[bold]callcenter demo[/]: simulated Asterisk 22 (ARI {ari.url}, AMI port {ami.port}),"
            f" speed x{options.speed:g}, clock set to {local_now:%a %H:%M %Z}"
        )
        if runtime.api_url:
            console.print(
                f"web pages: {runtime.api_url}  (users {', '.join(u for u, _ in users[:3])}, ... "
                f"password {DEMO_PASSWORD!r})"
            )
        runner = synthetic.start()
        started = time.monotonic()

        def header() -> str:
            elapsed = time.monotonic() - started
            outcomes = Counter(r.outcome for r in synthetic.report.callers)
            placed = len(synthetic.report.callers) - outcomes.get("pending", 0)
            return (
                f"{elapsed:5.1f} s real = {elapsed * options.speed:6.0f} s simulated · "
                f"callers {placed}/{len(synthetic.report.callers)} · "
                + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "pending")
            )

        async def wait_until_done() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(runner), options.duration)

        if options.live and console.is_terminal:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                waiter = asyncio.create_task(wait_until_done())
                while not waiter.done():
                    calls = await asyncio.to_thread(recent_calls, runtime)
                    live.update(render_view(runtime.status(), calls, header()))
                    await asyncio.sleep(0.5)
        else:
            waiter = asyncio.create_task(wait_until_done())
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=2.0)
                console.print(header())
        await synthetic.close()
        assert runtime.cdr is not None
        # The last calls' records: let the flows finish, then write everything out.
        await asyncio.sleep(1.0)
        await runtime.cdr.flush()
        result.outcomes = dict(Counter(r.outcome for r in synthetic.report.callers))
        summary = await asyncio.to_thread(_summarise, runtime, config)
        result.calls, result.dispositions, result.kpis = summary
        _print_summary(console, result, options)
        return result
    finally:
        if runtime is not None:
            await runtime.close()
        if order_runner is not None:
            await order_runner.cleanup()
        if ami is not None:
            await ami.close()
        if ari is not None:
            await ari.close()
        await pbx.close()


def _summarise(
    runtime: CallCenterRuntime, config: CallCenterConfig
) -> tuple[int, dict[str, int], list[dict[str, Any]]]:
    from callcenter.cdr.report import build_report
    from callcenter.db.calls import CallFilter, search_calls

    assert runtime.engine is not None
    calls = search_calls(runtime.engine, CallFilter(limit=1000))
    dispositions = dict(Counter(c["disposition"] for c in calls))
    since = min((c["started_at"] for c in calls), default=dt.datetime.now(dt.UTC))
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
    rows = build_report(config.database.url, config, "queue", since, until)
    return len(calls), dispositions, [r.as_dict() for r in rows]


def _print_summary(console: Console, result: DemoResult, options: DemoOptions) -> None:
    console.print(f"\n[bold]Callers[/]: {result.outcomes}")
    console.print(f"[bold]Call records[/]: {result.calls} calls, {result.dispositions}")
    table = Table(title="KPIs per queue (callcenter report)")
    for column in ("queue", "offered", "answered", "abandoned", "service level", "ASA", "AHT"):
        table.add_column(column)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    for row in result.kpis:
        table.add_row(
            str(row["group"]),
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            pct(row["service_level"]),
            secs(row["asa_seconds"]),
            secs(row["aht_seconds"]),
        )
    console.print(table)
    console.print(
        f"Times are real seconds (the PBX ran x{options.speed:g}). Records and recordings stay in "
        f"{options.state_dir}/; e.g. `.venv/bin/callcenter recordings list -c {result.config_file}`"
    )


def main_sync(options: DemoOptions) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    result = asyncio.run(run_demo(options))
    return 0 if result.calls else 1
