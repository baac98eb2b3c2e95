"""A whole running call center in one object: what ``callcenter run`` and the demo start.

``CallCenterRuntime`` assembles, in order: the database (migrated), the CDR writer (replaying
its spool), hooks, the worker (ARI + AMI), the ACD service (journal, agent leases), the
recorder, voicemail (messages' rows, webhooks and e-mail), the inbound flow (IVR, queue,
agent), and the HTTP API with the web pages. ``close`` takes them down in the reverse order,
after the worker has drained its calls, so the last CDRs are written before the writer closes.

Only the URLs and credentials in the config differ between the simulated PBX and a real
Asterisk 22.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.clock import Clock, SystemClock
from callcenter.config import CallCenterConfig, weak_secret_problem
from callcenter.errors import CallCenterError, ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callcenter.cdr.writer import CdrWriter
    from callcenter.hooks import Hooks
    from callcenter.ivr.lookups import LookupRegistry
    from callcenter.recording.recorder import Recorder
    from callcenter.routing.service import AcdService
    from callcenter.voicemail.service import VoicemailService
    from callcenter.web.app import WebDeps
    from callcenter.worker.app import Worker
    from callcenter.worker.inbound import InboundCallFlow

log = logging.getLogger(__name__)

AGENT_LEASE_SECONDS = 30.0
"""How long a worker's ownership of its agents survives it: a crashed worker's agents go to
the other workers after this (see docs/acd.md)."""

TAKEOVER_WAIT_SECONDS = 30.0
"""How long the CDR recovery waits for the worker to take over the calls still in Asterisk
(a caller resumed in its queue is live, not failed) before it goes ahead without."""


@dataclass
class RuntimeOptions:
    speed: float = 1.0
    """The simulated PBX's speed factor; 1 against a real Asterisk."""
    clock: Clock | None = None
    """The PBX's clock [default: the system's]: business hours, call records, recordings and
    the pages all read it. The demo gives the simulated PBX's (``SimulatedClock``)."""
    worker_id: str | None = None
    """Names this worker in agent leases, spools and CDRs [default: host name + ARI app]."""
    http_host: str = "127.0.0.1"
    http_port: int | None = 8081
    """/healthz and /metrics (0 = any free port, None = not served)."""
    serve_api: bool = True
    """The agent API and the web pages on ``config.api.host:port``."""
    api_port: int | None = None
    """Overrides ``config.api.port`` (0 = any free port)."""
    drain_grace: float = 30.0
    migrate: bool = True
    """Run the database migrations at start (a first run on SQLite needs them)."""


def default_worker_id(config: CallCenterConfig) -> str:
    return f"{socket.gethostname()}-{config.asterisk.ari.app}"[:64]


class CallCenterRuntime:
    """Start with ``await runtime.start()``; serve with ``await runtime.run()``; ``close()``."""

    def __init__(self, config: CallCenterConfig, options: RuntimeOptions | None = None) -> None:
        self.config = config
        self.options = options or RuntimeOptions()
        self.worker_id = self.options.worker_id or default_worker_id(config)
        self.clock: Clock = self.options.clock or SystemClock()
        self.api_token = config.api.token or os.environ.get("CALLCENTER_API_TOKEN")
        if not config.api.token and self.api_token:
            problem = weak_secret_problem(self.api_token)
            if problem is not None:
                raise ConfigError(f"$CALLCENTER_API_TOKEN is {problem}", key="api.token")
        self.engine: Engine | None = None
        self.cdr: CdrWriter | None = None
        self.hooks: Hooks | None = None
        self.worker: Worker | None = None
        self.service: AcdService | None = None
        self.recorder: Recorder | None = None
        self.voicemail: VoicemailService | None = None
        self.flow: InboundCallFlow | None = None
        self.lookups: LookupRegistry | None = None
        self.api_url: str | None = None
        self.web: WebDeps | None = None
        """What the web pages read (their today's KPIs among it), once the API is up."""
        self._api_runner: web.AppRunner | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._adoption: asyncio.Task[None] | None = None
        self._closed = False
        self._worker_stopped = False

    async def start(self, *, start_worker: bool = True) -> None:
        """Bring every part up; the worker keeps retrying Asterisk in the background.

        ``start_worker=False`` leaves the worker to ``run()`` (which starts it itself and
        handles SIGTERM)."""
        from callcenter.cdr.writer import CdrWriter
        from callcenter.db.engine import make_engine, upgrade
        from callcenter.hooks import Hooks
        from callcenter.hooks.cdr_events import CdrWithHooks
        from callcenter.ivr.lookups import LookupRegistry
        from callcenter.recording.recorder import Recorder
        from callcenter.routing.journal import RoutingJournal
        from callcenter.routing.leases import AgentLeases
        from callcenter.routing.service import AcdService
        from callcenter.voicemail.service import VoicemailService
        from callcenter.worker.app import Worker, WorkerSettings
        from callcenter.worker.inbound import build_inbound, ivr_runner

        config, options = self.config, self.options
        if options.migrate:
            await asyncio.to_thread(upgrade, config.database.url)
        self.engine = make_engine(config.database.url)

        self.cdr = CdrWriter.from_config(config, self.worker_id)
        await self.cdr.start()
        self.hooks = Hooks.from_config(config, self.worker_id)
        await self.hooks.start()
        cdr_sink = CdrWithHooks(self.cdr, self.hooks)

        settings = WorkerSettings.from_config(
            config,
            http_host=options.http_host,
            http_port=options.http_port,
            drain_grace=options.drain_grace,
        )
        self.worker = Worker(settings)
        # Every call this worker left in progress when it died (SIGKILL, power) and did not
        # resume is finished as failed. With the database away it is tried again in the
        # background.
        self._recovery = asyncio.create_task(self._recover_in_progress(), name="cdr-recovery")
        # Routing decides in memory; agents' states and queue entries are written behind
        # (journal), and the agents shared with other workers are owned under leases.
        self.service = AcdService(
            config,
            clock=self.clock,
            speed=options.speed,
            journal=RoutingJournal.from_config(config, self.worker_id),
            leases=AgentLeases(self.engine, self.worker_id, lease_seconds=AGENT_LEASE_SECONDS),
            worker_id=self.worker_id,
        )
        self.lookups = LookupRegistry.from_config(config.ivr.lookups)
        self.recorder = Recorder.from_config(
            config, self.worker.ari, cdr=self.cdr, hooks=self.hooks, clock=self.clock
        )
        self.voicemail = VoicemailService.from_config(
            config, cdr=self.cdr, hooks=self.hooks, worker_id=self.worker_id
        )
        await self.voicemail.start()
        self.flow, _ = build_inbound(
            config,
            self.worker,
            service=self.service,
            ivr=ivr_runner(config, lookups=self.lookups, clock=self.clock, speed=options.speed),
            cdr=cdr_sink,
            worker_id=self.worker_id,
            recorder=self.recorder,
            voicemail=self.voicemail,
        )  # the flow reads the service's clock: queue hours and call records
        # Recordings a previous run never fetched (it died before their RecordingFinished)
        # are still in Asterisk's spool: fetched once the worker has taken over its calls.
        self._adoption = asyncio.create_task(self._adopt_recordings(), name="recording-adoption")
        await self.service.start()
        if start_worker:
            await self.worker.start()
        if options.serve_api:
            await self._start_api()

    async def _start_api(self) -> None:
        from callcenter.api.app import make_api_app
        from callcenter.db.users import user_store
        from callcenter.web.serve import build_web

        assert self.service is not None and self.worker is not None and self.engine is not None
        token = self.api_token
        if not token:
            # The pages work with sign-in alone; the API then opens only to users' own tokens.
            token = secrets.token_urlsafe(32)
            log.warning("no api.token nor $CALLCENTER_API_TOKEN: only user tokens open the API")
        users = user_store(self.engine, self.config)  # one store: its changes reach the API
        app = make_api_app(self.service, token, users)
        self.web = build_web(
            app, self.config, self.service, self.worker, self.worker.ari, self.engine, users
        )
        port = self.config.api.port if self.options.api_port is None else self.options.api_port
        self._api_runner = web.AppRunner(app, access_log=None)
        await self._api_runner.setup()
        site = web.TCPSite(self._api_runner, self.config.api.host, port)
        await site.start()
        bound = port
        addresses = self._api_runner.addresses
        if addresses:
            bound = int(addresses[0][1])
        self.api_url = f"http://{self.config.api.host}:{bound}/"
        log.info("web pages and API on %s", self.api_url)

    async def run(self) -> int:
        """Start, serve calls until SIGTERM/SIGINT (the worker drains), close; exit status."""
        try:
            await self.start(start_worker=False)
            assert self.worker is not None
            status = await self.worker.run()  # stops the worker itself after the drain
            self._worker_stopped = True
            return status
        finally:
            await self.close()

    async def login_all_agents(self) -> None:
        """Log every configured agent in (the demo's agents start their shift at once)."""
        assert self.service is not None
        for agent in self.config.agents:
            with contextlib.suppress(CallCenterError):
                await self.service.login(agent.id)

    async def _recover_in_progress(self) -> None:
        from callcenter.cdr.writer import CdrUnavailable

        assert self.cdr is not None
        if self.worker is not None:
            # Calls the worker resumes at its first ARI connection keep their call id: they
            # must be among its sessions before the others are ended as failed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.worker.takeover_done.wait(), TAKEOVER_WAIT_SECONDS)
        delay = 1.0
        while True:
            try:
                # Calls of this run are live: their sessions are never taken for leftovers.
                live = list(self.worker.sessions) if self.worker is not None else []
                await self.cdr.recover_in_progress(self.worker_id, live_call_ids=live)
                return
            except (CdrUnavailable, TimeoutError) as exc:
                log.warning("cannot finish earlier calls' records yet (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _adopt_recordings(self) -> None:
        from callcenter.recording.fetch import adopt_stored_recordings

        assert self.worker is not None and self.recorder is not None
        assert self.engine is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.worker.takeover_done.wait(), TAKEOVER_WAIT_SECONDS)
        delay = 1.0
        while True:
            try:
                await self.worker.ari.wait_connected()
                result = await adopt_stored_recordings(
                    self.worker.ari,
                    self.recorder,
                    self.engine,
                    self.worker_id,
                    self.config,
                    follow_up_for=self.voicemail.adopted if self.voicemail else None,
                )
                if result.fetched or result.failed:
                    log.info(
                        "recordings left by an earlier run: %d fetched, %d not",
                        len(result.fetched),
                        len(result.failed),
                    )
                return
            except CallCenterError as exc:
                log.warning("cannot look for unfetched recordings yet (%s); retrying", exc)
            except Exception:
                log.exception("looking for unfetched recordings failed; retrying")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    def status(self) -> dict[str, Any]:
        return self.service.status() if self.service is not None else {"queues": [], "agents": []}

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in (self._recovery, self._adoption):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # The pages first: ending a live supervision hangs its legs up while ARI is still there.
        if self._api_runner is not None:
            await self._api_runner.cleanup()
        if self.worker is not None and not self._worker_stopped:
            self._worker_stopped = True
            await self.worker.stop(grace=0.0)
        if self.flow is not None and hasattr(self.flow, "close"):
            await self.flow.close()
        if self.lookups is not None:
            await self.lookups.close()
        if self.service is not None:
            await self.service.close()
        if self.recorder is not None:
            await self.recorder.close()
        if self.voicemail is not None:
            await self.voicemail.close()
        if self.hooks is not None:
            await self.hooks.close()
        if self.cdr is not None:
            await self.cdr.close()
        if self.engine is not None:
            self.engine.dispose()
