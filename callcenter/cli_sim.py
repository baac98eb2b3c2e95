"""``callcenter sim`` (the simulated Asterisk with synthetic callers/agents) and ``callcenter run``
(the worker). Thin click commands over ``callcenter.sim`` and ``callcenter.worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from callcenter.errors import CallCenterError

log = logging.getLogger(__name__)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(message: str, status: int) -> None:
    # Imported here: callcenter.cli imports this module to register its commands.
    from callcenter.cli import fail

    fail(message, status)


@click.command("sim")
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Scenario YAML of synthetic callers and agents (see examples/scenario-demo.yaml).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--ari-port", default=8088, show_default=True, type=int, help="ARI HTTP port.")
@click.option("--ami-port", default=5038, show_default=True, type=int, help="AMI TCP port.")
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.01, max=1000),
    help="Simulated seconds per real second (20 = 20 times faster).",
)
@click.option("--app", default="callcenter", show_default=True, help="ARI app of Stasis().")
@click.option("--username", default="callcenter", show_default=True, help="ARI/AMI user.")
@click.option(
    "--password", default="callcenter", show_default=True, help="ARI password/AMI secret."
)
@click.option(
    "--exten",
    "extens",
    multiple=True,
    help="Extension routed to Stasis(APP) [default: every number the scenario dials, or 100].",
)
@click.option(
    "--wait-for-app/--no-wait-for-app",
    default=True,
    show_default=True,
    help="Start the scenario's callers only once a worker's WebSocket has joined APP.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log at INFO.")
def sim_command(
    scenario_path: str | None,
    host: str,
    ari_port: int,
    ami_port: int,
    speed: float,
    app: str,
    username: str,
    password: str,
    extens: tuple[str, ...],
    wait_for_app: bool,
    verbose: bool,
) -> None:
    """Run the simulated Asterisk 22 (ARI + AMI), optionally with a scenario's load."""
    _setup_logging(verbose)
    scenario = None
    if scenario_path:
        from callcenter.sim.scenario import load_scenario

        try:
            scenario = load_scenario(scenario_path)
        except CallCenterError as exc:
            _fail(exc.message, 2)
    try:
        asyncio.run(
            _run_sim(
                scenario,
                host,
                ari_port,
                ami_port,
                speed,
                app,
                username,
                password,
                extens,
                wait_for_app,
            )
        )
    except OSError as exc:
        _fail(f"cannot listen: {exc}", 1)


async def _run_sim(
    scenario: Any,
    host: str,
    ari_port: int,
    ami_port: int,
    speed: float,
    app: str,
    username: str,
    password: str,
    extens: tuple[str, ...],
    wait_for_app: bool,
) -> None:
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import SimulatedAsterisk, Stasis

    recordings = Path(tempfile.mkdtemp(prefix="callcenter-sim-recordings-"))
    pbx = SimulatedAsterisk(speed=speed, recordings_dir=recordings)
    numbers = set(extens)
    if not numbers and scenario is not None:
        numbers = {c.dialled for c in scenario.callers.fixed}
        if scenario.callers.arrival is not None:
            numbers.add(scenario.callers.profile.dialled)
    for number in sorted(numbers or {"100"}):
        pbx.dialplan.route(number, Stasis(app))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    ari = await start_ari_server(pbx, host, ari_port, username, password)
    ami = None
    try:
        from callcenter.sim.ami_server import start_ami_server

        ami = await start_ami_server(pbx, host, ami_port, username, password, speed=speed)
    except ImportError:  # pragma: no cover - the AMI sim ships with the ARI one
        ami = None
    click.echo(f"ARI listening on {ari.url} (app {app}, user {username})")
    if ami is not None:
        click.echo(f"AMI listening on {ami.host}:{ami.port}")
    click.echo(f"dialplan: {', '.join(sorted(numbers or {'100'}))} -> Stasis({app})")
    run = None
    try:
        if scenario is not None:
            from callcenter.sim.synthetic import SyntheticRun

            run = SyntheticRun(pbx, scenario)
            run.register_agents()
            click.echo(
                f"scenario: {len(run.plan)} callers, {len(scenario.agents)} agents, "
                f"seed {scenario.seed}, speed x{speed}"
            )
            if wait_for_app:
                click.echo(f"waiting for a worker to connect to ARI app {app}...")
                await _app_connected(pbx, app, stop)
            task = run.start()
            task.add_done_callback(lambda t: _report(t, stop))
        await stop.wait()
    finally:
        if run is not None:
            await run.close()
        await ari.close()
        if ami is not None:
            await ami.close()
        await pbx.close()


async def _app_connected(pbx: Any, app: str, stop: asyncio.Event) -> None:
    """Return once the ARI app has a WebSocket (or stop is set)."""
    while not stop.is_set():
        record = pbx.apps.get(app)
        if record is not None and record.sink is not None:
            return
        # The PBX core has no "app connected" notification: poll its app table.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def _report(task: asyncio.Task[Any], stop: asyncio.Event) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        click.echo(f"scenario failed: {task.exception()!r}", err=True)
        return
    report = task.result()
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    click.echo(f"scenario done: {outcomes}; the PBX keeps running (Ctrl-C to stop)")


@click.command("run")
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="callcenter.yaml to use [default: $CALLCENTER_CONFIG or ./callcenter.yaml]",
)
@click.option("--http-host", default="127.0.0.1", show_default=True, help="/healthz, /metrics.")
@click.option("--http-port", default=8081, show_default=True, type=int, help="0 = any port.")
@click.option(
    "--drain-grace",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds calls in progress get to finish after SIGTERM.",
)
@click.option(
    "--flow",
    type=click.Choice(["inbound", "hello"]),
    default="inbound",
    show_default=True,
    help="inbound: IVR -> queue -> agent (+ the agent API); hello: answer, hello-world, hang up.",
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.01, max=1000),
    help="Speed factor of a simulated PBX (`callcenter sim --speed`); 1 on a real Asterisk.",
)
@click.option("--verbose/--quiet", default=True, help="Log at INFO (one line per call event).")
def run_command(
    config_path: str | None,
    http_host: str,
    http_port: int,
    drain_grace: float,
    flow: str,
    speed: float,
    verbose: bool,
) -> None:
    """Run a worker: take calls from Asterisk's ARI app until SIGTERM, then drain and exit 0."""
    from callcenter.config import load_config
    from callcenter.worker.app import WorkerSettings

    _setup_logging(verbose)
    try:
        config = load_config(config_path)
    except CallCenterError as exc:
        _fail(exc.message, 2)
        return
    settings = WorkerSettings.from_config(
        config, http_host=http_host, http_port=http_port, drain_grace=drain_grace
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            status = asyncio.run(_run_worker(config, settings, flow, speed))
            sys.exit(status)
    except CallCenterError as exc:
        _fail(exc.message, 1)


async def _run_worker(config: Any, settings: Any, flow: str, speed: float) -> int:
    """The worker: for the inbound flow the whole runtime (ACD with its journal and agent
    leases, IVR, CDRs, recordings, hooks, API and web pages); for ``hello`` the bare worker."""
    from callcenter.worker.app import Worker

    if flow == "inbound":
        from callcenter.runtime import CallCenterRuntime, RuntimeOptions

        runtime = CallCenterRuntime(
            config,
            RuntimeOptions(
                speed=speed,
                http_host=settings.http_host,
                http_port=settings.http_port,
                drain_grace=settings.drain_grace,
            ),
        )
        return await runtime.run()
    return await Worker(settings).run()
