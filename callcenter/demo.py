"""``callcenter demo``: the whole call center against the simulated Asterisk, with a live view.

One process runs, all on loopback:

- the simulated Asterisk 22 (ARI over HTTP + WebSocket, AMI over TCP) with the example's
  prompts (installed as `dialplan deploy` would), numbers and agent phones;
- synthetic callers and agents from a seeded scenario (``examples/scenario-demo.yaml``);
- a tiny order-status HTTP service for the IVR's self-service lookup;
- our worker, exactly as ``callcenter run`` builds it (``CallCenterRuntime``): IVR, queues,
  recordings, CDRs in SQLite under ``var/demo/``, the API and the web pages.

Every date and duration comes from one clock, the simulated PBX's (``demo_clock``): it starts
on a recent weekday morning in the call center's time zone, so the example's office hours are
open whatever the hour, and runs as fast as the PBX, so call records, recordings and the pages
count the same seconds. Each run starts from an empty database. When
every synthetic caller is done (or after ``--duration``) it prints the calls and the KPIs of
``callcenter report``; then the web pages stay up, with the run's records, until Ctrl-C (or
Enter), unless ``--exit`` was given. Ctrl-C while callers call hangs them up, lets the worker
finish their records and recordings, prints the summary so far and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import shutil
import signal
import sys
import time
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from rich.console import Console
from rich.live import Live

from callcenter.clock import SimulatedClock
from callcenter.config import CallCenterConfig, parse_config
from callcenter.demo_view import DemoResult, print_summary, view_that_fits
from callcenter.runtime import CallCenterRuntime, RuntimeOptions

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "examples" / "callcenter.yaml"
DEFAULT_SCENARIO = REPO_ROOT / "examples" / "scenario-demo.yaml"
DEMO_PASSWORD = "demo-password"
"""Password of the demo's web users (a loopback-only demo database under var/demo)."""
ORDERS = {"1234": "shipped", "12345": "processing", "4242": "delivered"}
LIVE_VIEW_CALLS = 20
"""Latest calls read for the live view (it shows those the terminal has room for)."""
SETTLE_SECONDS = 15.0
"""Real seconds the calls hung up at the end get to leave their records and recordings."""
PREVIOUS_RUN = ("callcenter.db", "callcenter.db-journal", "callcenter.db-wal", "callcenter.db-shm")
PREVIOUS_RUN_DIRS = ("spool", "recordings", "asterisk-recordings")
"""What a demo leaves in its state directory, removed by the next one (nothing else is)."""


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
    stay_up: bool = False
    """After the summary, keep serving the pages until stopped (``callcenter demo`` without
    ``--exit``)."""


def demo_clock(config: CallCenterConfig, speed: float) -> SimulatedClock:
    """The simulated PBX's clock: it starts at 10:30 on the last Tuesday before today (a
    working morning of the example's office hours, holidays skipped, and in the past so the
    records are there for ``callcenter report`` afterwards) and runs ``speed`` times faster
    than real time, as the PBX does. Every date and duration of the demo comes from it."""
    zone = zoneinfo.ZoneInfo(config.timezone)
    today = dt.datetime.now(zone).date()
    tuesday = today - dt.timedelta(days=(today.weekday() - 1) % 7 or 7)
    holidays = {d for hours in config.business_hours.values() for d in hours.holidays}
    while tuesday in holidays:
        tuesday -= dt.timedelta(days=7)
    return SimulatedClock(dt.datetime.combine(tuesday, dt.time(10, 30), zone), speed)


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


def clear_previous_run(state_dir: Path) -> bool:
    """Remove the records, spool and recordings a previous demo left in ``state_dir`` (only
    those: a state directory given by hand keeps anything else). True if there were some."""
    found = False
    for name in PREVIOUS_RUN:
        path = state_dir / name
        if path.is_file():
            path.unlink()
            found = True
    for name in PREVIOUS_RUN_DIRS:
        path = state_dir / name
        if path.is_dir():
            shutil.rmtree(path)
            found = True
    return found


def recent_calls(runtime: CallCenterRuntime, limit: int = 8) -> list[dict[str, Any]]:
    from callcenter.db.calls import CallFilter, search_calls

    assert runtime.engine is not None
    return search_calls(runtime.engine, CallFilter(limit=limit))


def shown_path(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (what a person types)."""
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(Path.cwd().resolve())
    return path


class StopRequest:
    """Ctrl-C, SIGTERM or Enter, as an event the demo's phases wait on."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """True once stopped; False when ``timeout`` (seconds) passed first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        return self.event.is_set()


@contextlib.contextmanager
def stop_on_signals(stop: StopRequest) -> Any:
    """SIGINT and SIGTERM set ``stop`` instead of raising KeyboardInterrupt mid-call."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig, reason in ((signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set, reason)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def stop_on_enter(stop: StopRequest) -> Any:
    """Enter on a terminal sets ``stop`` too (``make demo`` ends cleanly that way: Ctrl-C
    also interrupts make, which then reports it)."""
    loop = asyncio.get_running_loop()
    fd: int | None = None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if sys.stdin is not None and sys.stdin.isatty():
            fd = sys.stdin.fileno()

    def on_input() -> None:
        with contextlib.suppress(OSError):
            os.read(fd or 0, 1024)
        stop.set("Enter")

    if fd is not None:
        try:
            loop.add_reader(fd, on_input)
        except (NotImplementedError, OSError, ValueError):
            fd = None
    try:
        yield
    finally:
        if fd is not None:
            loop.remove_reader(fd)


async def settle(runtime: CallCenterRuntime, within: float = SETTLE_SECONDS) -> None:
    """Wait (bounded) until the worker has no call left and every recording is stored, so
    closing the runtime ends nothing half-way (no drain warning, no recording lost)."""
    deadline = time.monotonic() + within
    while runtime.worker is not None and runtime.worker.sessions:
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)
    if runtime.recorder is not None:
        for name in runtime.recorder.unfinished():
            remaining = deadline - time.monotonic()
            with contextlib.suppress(Exception):
                await runtime.recorder.wait_stored(name, within=max(0.1, remaining))


async def run_demo(
    options: DemoOptions, console: Console | None = None, stop: StopRequest | None = None
) -> DemoResult:
    """Run the demo to its end (and, with ``options.stay_up``, serve the pages until
    ``stop``); returns what happened (also printed)."""
    from callcenter.sim.ami_server import start_ami_server
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import SimulatedAsterisk, Stasis
    from callcenter.sim.scenario import load_scenario
    from callcenter.sim.sounds import install_prompts
    from callcenter.sim.synthetic import SyntheticRun

    console = console or Console()
    stop = stop or StopRequest()
    options.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = DemoSecrets.generate()
    scenario = load_scenario(options.scenario_path)
    if clear_previous_run(options.state_dir):
        console.print(f"(the previous demo's records in {options.state_dir}/ were removed)")
    pbx = SimulatedAsterisk(
        speed=options.speed, recordings_dir=options.state_dir.resolve() / "asterisk-recordings"
    )
    runtime: CallCenterRuntime | None = None
    order_runner: web.AppRunner | None = None
    synthetic: SyntheticRun | None = None
    ari = ami = None
    result = DemoResult()
    try:
        ari = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", keys.ari_password)
        ami = await start_ami_server(
            pbx, "127.0.0.1", 0, "callcenter", keys.ami_secret, speed=options.speed
        )
        order_runner, orders_url = await start_order_service()
        config, config_file = demo_config(options, ari.url, ami.port, orders_url, keys)
        result.config_file = shown_path(config_file)
        # As `dialplan deploy` does to a real Asterisk: our prompts exist as callcenter/<id>.
        install_prompts(pbx, config)
        for number in config.ivr.numbers:
            pbx.dialplan.route(number, Stasis(config.asterisk.ari.app))

        # The agents' phones exist before the worker connects, as pjsip.conf's endpoints do
        # on a real Asterisk (the worker subscribes to them when it connects).
        synthetic = SyntheticRun(pbx, scenario)
        synthetic.register_agents()
        clock = demo_clock(config, options.speed)
        runtime = CallCenterRuntime(
            config,
            RuntimeOptions(speed=options.speed, clock=clock, worker_id="demo", http_port=0),
        )
        await runtime.start()
        assert runtime.worker is not None
        await runtime.worker.ari.wait_connected(within=15.0)
        users = await asyncio.to_thread(create_demo_users, runtime)
        await runtime.login_all_agents()
        result.web_url = runtime.api_url
        local_now = clock.now().astimezone(zoneinfo.ZoneInfo(config.timezone))
        result.day = local_now.date()
        console.print(
            f"[bold]callcenter demo[/]: simulated Asterisk 22 (ARI {ari.url}, AMI port {ami.port}),"
            f" speed x{options.speed:g}; its clock starts {local_now:%a %d %b %H:%M %Z}"
        )
        if runtime.api_url:
            console.print(
                f"web pages: {runtime.api_url}  (users {', '.join(u for u, _ in users[:3])}, ... "
                f"password {DEMO_PASSWORD!r})",
                highlight=False,
            )
        await play(options, console, runtime, synthetic, stop)
        result.interrupted = stop.is_set()
        hung_up = synthetic.hang_up_callers()
        if hung_up:
            console.print(f"hanging up {hung_up} callers still on the line...")
        await settle(runtime)
        await synthetic.close()
        assert runtime.cdr is not None
        await runtime.cdr.flush()
        result.outcomes = dict(Counter(r.outcome for r in synthetic.report.callers))
        if runtime.web is not None:  # the wallboard shows the whole run from now on
            with contextlib.suppress(Exception):
                await runtime.web.extra["kpis_today"].refresh()
        summary = await asyncio.to_thread(_summarise, runtime, config)
        result.calls, result.dispositions, result.kpis = summary
        print_summary(console, result, options.speed, shown_path(options.state_dir))
        if options.stay_up and not result.interrupted and runtime.api_url:
            console.print(
                f"\n[bold]Pages stay up at {runtime.api_url}[/] (sign in as supervisor, qa or "
                f"an agent, password {DEMO_PASSWORD!r}): Ctrl-C (or Enter) to stop.",
                highlight=False,
            )
            with stop_on_enter(stop):
                await stop.wait()
        return result
    finally:
        if synthetic is not None:
            await synthetic.close()
        if runtime is not None:
            await runtime.close()
        if order_runner is not None:
            await order_runner.cleanup()
        if ami is not None:
            await ami.close()
        if ari is not None:
            await ari.close()
        await pbx.close()


async def play(
    options: DemoOptions,
    console: Console,
    runtime: CallCenterRuntime,
    synthetic: Any,
    stop: StopRequest,
) -> None:
    """Let the synthetic callers call, showing the live view, until they are all done,
    ``options.duration`` real seconds passed, or ``stop``."""
    runner = synthetic.start()
    started = time.monotonic()

    def header() -> str:
        elapsed = time.monotonic() - started
        callers = synthetic.report.callers
        placed = sum(1 for r in callers if r.channel_id)
        outcomes = Counter(r.outcome for r in callers if r.outcome != "pending")
        return (
            f"{elapsed:.0f} s ({elapsed * options.speed:.0f} s on the PBX) · "
            f"callers placed {placed}/{len(callers)} · "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        )

    async def until_done() -> None:
        stopped = asyncio.ensure_future(stop.event.wait())
        try:
            await asyncio.wait(
                {runner, stopped}, timeout=options.duration, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopped.cancel()

    waiter = asyncio.create_task(until_done())
    try:
        if options.live and console.is_terminal:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                while not waiter.done():
                    status = runtime.status()
                    calls = await asyncio.to_thread(recent_calls, runtime, LIVE_VIEW_CALLS)
                    live.update(view_that_fits(console, status, calls, header()))
                    await asyncio.wait({waiter}, timeout=0.5)
        else:
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=2.0)
                console.print(header(), highlight=False)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    if stop.is_set():
        console.print(f"{stop.reason}: stopping the demo", highlight=False)


def _summarise(
    runtime: CallCenterRuntime, config: CallCenterConfig
) -> tuple[int, dict[str, int], list[dict[str, Any]]]:
    from callcenter.cdr.report import build_report
    from callcenter.db.calls import CallFilter, search_calls

    assert runtime.engine is not None
    calls = search_calls(runtime.engine, CallFilter(limit=10_000))
    dispositions = dict(Counter(c["disposition"] for c in calls))
    since = min((c["started_at"] for c in calls), default=dt.datetime.now(dt.UTC))
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
    rows = build_report(config.database.url, config, "queue", since, until)
    return len(calls), dispositions, [r.as_dict() for r in rows]


async def _main(options: DemoOptions) -> DemoResult:
    stop = StopRequest()
    with stop_on_signals(stop):
        return await run_demo(options, stop=stop)


def main_sync(options: DemoOptions) -> int:
    """``callcenter demo``: 0 when calls were made (or Ctrl-C stopped it), else 1."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        result = asyncio.run(_main(options))
    except KeyboardInterrupt:  # before the demo's own handler was in place: nothing to report
        return 0
    return 0 if result.calls or result.interrupted else 1
