"""The worker process: one ARI app, a router, one task per call, health and metrics.

``Worker`` owns the ``AriClient``, the ``EventRouter`` and the calls in progress. A new call
(an unclaimed StasisStart) gets a ``CallSession`` and the ``CallFlow`` registered for its
dialled number (or the default flow) runs in a task the worker owns.

- ``/healthz`` (200 while ARI is connected and the worker takes calls, else 503, JSON body) and
  ``/metrics`` (Prometheus text) are served by an aiohttp server.
- Stopping (SIGTERM/SIGINT, or ``stop()``): new calls are turned away (sent back to the
  dialplan when ``drain_context`` is set, else answered with ``drain_message`` and hung up),
  calls in progress get ``drain_grace`` seconds to finish, then are hung up; exit status 0.
  A second signal ends the calls at once.
- Asterisk unreachable: the adapter keeps retrying with backoff and logs each attempt. The AMI
  client (``settings.ami``, ``Worker.ami``, also ``session.ami``) connects in the background the
  same way; a call flow must not assume it is up.
- At the first connection, channels already in the app (a worker that died) are taken over.
  Each caller is handed to ``on_orphan_caller`` (set by the inbound flow) with the bridge it
  is in and our own channels (agent legs) beside it: a ``ResumedCall`` carries the call on
  under its old call id (``CallSession.resume``: back in its queue, or a conversation adopted
  with its agent leg); otherwise a caller in no bridge starts again as a new call (the IVR from
  the top rather than silence) and a bridged one is left alone. Agent legs and snoops that no
  adopted conversation holds are hung up, and the app's bridges nobody is left in are deleted
  (Asterisk keeps bridges until the app deletes them). ``takeover_done`` is set once that is
  over.
- After an ARI reconnect the worker compares its calls with what Asterisk still holds: a call
  whose caller is gone gets a synthetic StasisEnd (Asterisk sent the real one while we were
  away), so its flow ends normally; every other call finds the ``Reconnected`` snapshot in its
  inbox (events sent during the outage are lost: a flow waiting for one can re-sync).

``add_event_listener(fn)`` hands every event to ``fn`` as well (e.g. EndpointStateChange, which
no call claims); it runs in the WebSocket read loop and must not block.
``add_connect_listener(fn)`` calls ``fn(snapshot)`` after each (re)connection, once the calls
have their ``Reconnected`` snapshot (e.g. to subscribe to endpoints again); it must not block.

Channels the app creates itself (agent legs, snoops) must be claimed before they are created;
an unclaimed StasisStart whose first app argument is in ``OWN_LEG_ARGS`` is logged and left
alone rather than taken for a new inbound call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from callcenter.asterisk.ari import AriClient, AriRequestError, AriSettings, backoff_delay
from callcenter.asterisk.events import (
    AriEvent,
    ChannelSnapshot,
    PlaybackFinished,
    Reconnected,
    StasisEnd,
    StasisStart,
)
from callcenter.call.messages import InboxItem
from callcenter.call.router import EventRouter
from callcenter.call.session import CallEnded, CallFlow, CallSession
from callcenter.dialplan.contexts import FALLBACK_CONTEXT, FALLBACK_EXTENSION
from callcenter.errors import AsteriskError
from callcenter.worker.takeover import (
    OWN_LEG_ARGS,
    OrphanCaller,
    OrphanCallerHook,
    OrphanTakeover,
    ResumedCall,
)

__all__ = [
    "OWN_LEG_ARGS",
    "AmiConnection",
    "HelloWorldFlow",
    "OrphanCaller",
    "ResumedCall",
    "Worker",
    "WorkerSettings",
]

if TYPE_CHECKING:
    from callcenter.asterisk.ami import AmiClient
    from callcenter.config import CallCenterConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AmiConnection:
    """Where the worker's AMI client logs in (``asterisk.ami`` of the config)."""

    host: str
    port: int
    username: str
    secret: str
    action_timeout: float = 5.0
    backoff_max: float = 30.0


@dataclass(frozen=True)
class WorkerSettings:
    """How the worker runs; ARI settings come from the config (``from_config``)."""

    ari: AriSettings
    ami: AmiConnection | None = None
    """None: no AMI client (ARI is enough for the built-in flows)."""
    http_host: str = "127.0.0.1"
    http_port: int | None = 8081
    """Port of /healthz and /metrics; 0 picks a free one, None serves nothing."""
    drain_grace: float = 30.0
    drain_context: str | None = None
    """When set, new calls during a drain go back to this dialplan context."""
    drain_extension: str | None = None
    drain_message: str | None = "sound:tt-allbusy"
    drain_message_max: float = 15.0
    """Longest a turned-away caller hears ``drain_message`` before the hang-up."""
    end_grace: float = 5.0
    """Time a flow has to finish after its caller left before it is cancelled."""
    leave_grace: float = 1.0
    """Time for the StasisEnd of a caller a finished flow sent on (continue, redirect) before
    the worker hangs the caller up."""

    @classmethod
    def from_config(cls, config: CallCenterConfig, **overrides: Any) -> WorkerSettings:
        """Worker settings from the validated call-center config."""
        asterisk = config.asterisk
        ari = AriSettings(
            url=asterisk.ari.url,
            username=asterisk.ari.username,
            password=asterisk.ari.password,
            app=asterisk.ari.app,
            request_timeout=asterisk.request_timeout,
            backoff_max=asterisk.connect_retry_max_delay,
        )
        ami = AmiConnection(
            host=asterisk.ami.host,
            port=asterisk.ami.port,
            username=asterisk.ami.username,
            secret=asterisk.ami.secret,
            action_timeout=asterisk.request_timeout,
            backoff_max=asterisk.connect_retry_max_delay,
        )
        values: dict[str, Any] = {
            "ari": ari,
            "ami": ami,
            # A draining worker sends new callers to the rendered dialplan's fallback (the
            # app_queue queue of the operator queue's agents), never "all busy" + hang-up.
            "drain_context": FALLBACK_CONTEXT,
            "drain_extension": FALLBACK_EXTENSION,
            **overrides,
        }
        return cls(**values)


class HelloWorldFlow:
    """The built-in flow until the IVR lands: answer, play hello-world, hang up."""

    media = "sound:hello-world"

    async def run(self, session: CallSession) -> None:
        ari = session.ari
        channel = session.caller_channel_id
        await ari.answer(channel)
        playback = await ari.play(channel, self.media)
        while True:
            event = await session.next_event(timeout=30.0)
            if event is None or isinstance(event, StasisEnd):
                break
            if isinstance(event, PlaybackFinished) and event.playback_id == playback:
                break
        if not session.caller_left:
            with contextlib.suppress(AriRequestError):
                await ari.hangup(channel)


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.calls_started = Counter(
            "callcenter_calls_started", "Inbound calls taken by this worker", registry=r
        )
        self.calls_finished = Counter(
            "callcenter_calls_finished", "Calls ended, by outcome", ["outcome"], registry=r
        )
        self.calls_rejected = Counter(
            "callcenter_calls_rejected", "New calls turned away while draining", registry=r
        )
        self.calls_active = Gauge("callcenter_calls_active", "Calls in progress", registry=r)
        self.call_seconds = Histogram(
            "callcenter_call_duration_seconds",
            "Time from StasisStart to the end of the call's flow",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.events = Counter(
            "callcenter_ari_events", "ARI events received, by type", ["type"], registry=r
        )
        self.ari_connected = Gauge(
            "callcenter_ari_connected", "1 while the ARI WebSocket is open", registry=r
        )
        self.ami_connected = Gauge(
            "callcenter_ami_connected", "1 while logged in to AMI", registry=r
        )
        self.ari_reconnects = Counter(
            "callcenter_ari_reconnects", "ARI WebSocket reconnects", registry=r
        )
        self._event_children: dict[str, Any] = {}

    def count_event(self, event: AriEvent) -> None:
        name = type(event).__name__
        child = self._event_children.get(name)
        if child is None:
            child = self._event_children[name] = self.events.labels(name)
        child.inc()


class Worker(OrphanTakeover):
    """Runs call flows for one ARI app; see the module docstring."""

    def __init__(
        self,
        settings: WorkerSettings,
        flows: Mapping[str, CallFlow] | None = None,
        default_flow: CallFlow | None = None,
    ) -> None:
        self.settings = settings
        self._flows: dict[str, CallFlow] = dict(flows or {})
        self._default_flow: CallFlow = default_flow or HelloWorldFlow()
        self.metrics = _Metrics()
        self.router = EventRouter(default_handler=self._unclaimed_event)
        self.ari = AriClient(settings.ari, on_event=self._on_event, on_reconnected=self._relearn)
        self.ari.on_connection_change = self._connection_changed
        self.ami: AmiClient | None = None
        """The AMI client (``settings.ami``), connected in the background by ``start``."""
        self._ami_task: asyncio.Task[None] | None = None
        self.metrics.ami_connected.set_function(
            lambda: 1.0 if self.ami is not None and self.ami.connected else 0.0
        )
        self.sessions: dict[str, CallSession] = {}
        self._call_tasks: set[asyncio.Task[None]] = set()
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._stop_requested = asyncio.Event()
        self._stop_now = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._listeners: list[Callable[[AriEvent], object]] = []
        self._connect_listeners: list[Callable[[Reconnected], None]] = []
        self.http_port: int | None = None
        self.on_orphan_caller: OrphanCallerHook | None = None
        """Asked, at the first connection, about each orphan caller in no bridge: a
        ``ResumedCall`` carries their call on, None starts it again as a new call."""
        self.takeover_done = asyncio.Event()
        """Set once the channels found at the first connection are taken over (their
        resumed calls are in ``sessions``)."""

    # --- flows -------------------------------------------------------------------------------

    def register_flow(self, flow: CallFlow, exten: str | None = None) -> None:
        """Run ``flow`` for calls to ``exten`` (None: the default for every other number)."""
        if exten is None:
            self._default_flow = flow
        else:
            self._flows[exten] = flow

    def add_event_listener(self, listener: Callable[[AriEvent], object]) -> Callable[[], None]:
        """Also hand every ARI event to ``listener`` (before routing); returns its remover.

        It runs inside the WebSocket read loop: it must not block (enqueue work elsewhere).
        An exception in it is logged and the event is still routed.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def add_connect_listener(self, listener: Callable[[Reconnected], None]) -> None:
        """Call ``listener(snapshot)`` after each ARI (re)connection; it must not block."""
        self._connect_listeners.append(listener)

    def flow_for(self, channel: ChannelSnapshot) -> CallFlow:
        return self._flows.get(channel.exten, self._default_flow)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self._draining

    async def start(self) -> None:
        """Serve /healthz and /metrics and start connecting to ARI (retrying in the background)."""
        if self.settings.http_port is not None:
            await self._start_http()
        await self.ari.start()
        if self.settings.ami is not None and self._ami_task is None:
            self._ami_task = asyncio.create_task(self._connect_ami(self.settings.ami), name="ami")

    async def _connect_ami(self, conn: AmiConnection) -> None:
        """Log in to AMI, retrying for ever with backoff (the AMI client reconnects after)."""
        from callcenter.asterisk.ami import AmiClient

        self.ami = AmiClient(
            conn.host,
            conn.port,
            conn.username,
            conn.secret,
            action_timeout=conn.action_timeout,
            backoff_max=conn.backoff_max,
        )
        attempt = 0
        while True:
            try:
                await self.ami.connect()
                return
            except AsteriskError as exc:
                # Unreachable (after the client's own retries) or a refused login: an operator
                # may fix Asterisk or manager.conf, so keep trying and say so.
                attempt += 1
                delay = backoff_delay(attempt, 1.0, conn.backoff_max, random.Random())
                log.warning("AMI not available (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    def request_stop(self) -> None:
        """Ask the worker to drain and stop (SIGTERM); asked twice, it ends calls at once."""
        if self._stop_requested.is_set():
            log.warning("second stop request: ending the %d calls now", len(self.sessions))
            self._stop_now.set()
        else:
            log.info("stop requested: taking no new calls, %d in progress", len(self.sessions))
        self._draining = True
        self._stop_requested.set()

    async def run(self) -> int:
        """Start, run until SIGTERM/SIGINT, drain, stop; returns the exit status (0)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop_requested.wait()
            await self.stop()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0

    async def stop(self, grace: float | None = None) -> None:
        """Drain: no new calls, wait up to ``grace`` s for calls in progress, then close."""
        self._draining = True
        self._stop_requested.set()
        grace = self.settings.drain_grace if grace is None else grace
        pending = set(self._call_tasks)
        if pending:
            log.info("draining: waiting up to %.0fs for %d calls", grace, len(pending))
            # Whichever comes first: every call ended, the grace ran out, a second SIGTERM.
            all_ended: asyncio.Future[Any] = asyncio.gather(*pending, return_exceptions=True)
            stop_now: asyncio.Future[Any] = asyncio.ensure_future(self._stop_now.wait())
            await asyncio.wait(
                {all_ended, stop_now}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
            )
            stop_now.cancel()
            still_running = {task for task in pending if not task.done()}
            if still_running:
                log.warning("drain grace over: ending %d calls", len(still_running))
                for session in list(self.sessions.values()):
                    with contextlib.suppress(AriRequestError):
                        await self.ari.hangup(session.caller_channel_id)
                for task in still_running:
                    task.cancel()
                await asyncio.gather(*still_running, return_exceptions=True)
        for task in list(self._side_tasks):
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        await self.ari.close()
        if self._ami_task is not None:
            self._ami_task.cancel()
            await asyncio.gather(self._ami_task, return_exceptions=True)
            self._ami_task = None
        if self.ami is not None:
            await self.ami.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        log.info("worker stopped")

    # --- events ------------------------------------------------------------------------------

    def _on_event(self, event: AriEvent) -> None:
        """Called for every ARI event inside aioari's read loop: count and route, no awaiting."""
        self.metrics.count_event(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, type(event).__name__)
        self.router.dispatch(event)

    def _unclaimed_event(self, event: AriEvent) -> None:
        if not isinstance(event, StasisStart):
            return
        if event.args and event.args[0] in OWN_LEG_ARGS:
            log.warning(
                "StasisStart of unclaimed own channel %s (args %s): left alone",
                event.channel.id,
                ",".join(event.args),
            )
            return
        if self._draining:
            self._side_task(self._turn_away(event.channel), f"turn-away-{event.channel.id}")
            return
        self._start_call(event)

    def _start_call(self, event: StasisStart, resumed: ResumedCall | None = None) -> CallSession:
        session = CallSession(
            event.channel,
            self.ari,
            self.router,
            args=event.args,
            call_id=resumed.call_id if resumed else None,
            resume=resumed.resume if resumed else None,
        )
        session.ami = self.ami
        # The StasisStart itself is the first event the flow reads.
        session.inbox.put_nowait(event)
        self.sessions[session.call_id] = session
        flow = self.flow_for(event.channel)
        session.log.info(
            "call=%s %s: channel %s from %r to %r, flow %s",
            session.call_id,
            "resumed" if resumed else "started",
            event.channel.id,
            event.channel.caller_number,
            event.channel.exten,
            type(flow).__name__,
        )
        self.metrics.calls_started.inc()
        self.metrics.calls_active.inc()
        # The flow's task starts now, beside its supervisor: one loop turn to the call's first
        # request, not two (the first ring of a queued caller waits for it).
        flow_task = asyncio.create_task(flow.run(session), name=f"flow-{session.call_id}")
        task = asyncio.create_task(
            self._run_call(session, flow_task), name=f"call-{session.call_id}"
        )
        self._call_tasks.add(task)
        task.add_done_callback(self._call_tasks.discard)
        return session

    async def _run_call(self, session: CallSession, flow_task: asyncio.Task[None]) -> None:
        outcome = "completed"
        try:
            # The flow ends by itself; if it is still busy end_grace s after the caller left,
            # it is cancelled (a flow must not outlive its call).
            caller_left = asyncio.create_task(session.wait_caller_left())
            done, _ = await asyncio.wait(
                {flow_task, caller_left}, return_when=asyncio.FIRST_COMPLETED
            )
            caller_left.cancel()
            if flow_task not in done:
                await asyncio.wait({flow_task}, timeout=self.settings.end_grace)
                if not flow_task.done():
                    outcome = "flow-cancelled"
                    flow_task.cancel()
            try:
                await flow_task
            except CallEnded:
                pass
            except asyncio.CancelledError:
                if not flow_task.cancelled():
                    raise
            except AriRequestError as exc:
                outcome = "asterisk-error"
                session.log.warning("call=%s flow stopped by ARI error: %s", session.call_id, exc)
            except Exception:
                outcome = "flow-error"
                session.log.exception("call=%s flow failed", session.call_id)
        except asyncio.CancelledError:
            outcome = "cancelled"
            flow_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flow_task
            raise
        finally:
            if not session.caller_left and outcome != "cancelled":
                # A flow that sent the caller on (continue, redirect) returns before the
                # StasisEnd arrives: give it leave_grace s before deciding the flow simply
                # ended without ending the call, and hanging up (never leave silence).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.wait_caller_left(), self.settings.leave_grace)
                if not session.caller_left:
                    with contextlib.suppress(AriRequestError):
                        await self.ari.hangup(session.caller_channel_id)
            await session.close()
            self.sessions.pop(session.call_id, None)
            self.metrics.calls_active.dec()
            self.metrics.calls_finished.labels(outcome).inc()
            self.metrics.call_seconds.observe(time.time() - session.started_at)
            session.log.info("call=%s finished: %s", session.call_id, outcome)

    async def _turn_away(self, channel: ChannelSnapshot) -> None:
        """A new call while draining: back to the dialplan, or a message and hang up."""
        self.metrics.calls_rejected.inc()
        settings = self.settings
        inbox: asyncio.Queue[InboxItem] = asyncio.Queue()
        self.router.claim(channel.id, inbox)
        try:
            if settings.drain_context:
                log.info("draining: channel %s back to %s", channel.id, settings.drain_context)
                await self.ari.continue_in_dialplan(
                    channel.id,
                    context=settings.drain_context,
                    extension=settings.drain_extension or channel.exten,
                    priority=1,
                )
                return
            log.info("draining: turning channel %s away", channel.id)
            if settings.drain_message:
                await self.ari.answer(channel.id)
                playback = await self.ari.play(channel.id, settings.drain_message)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.drain_message_max):
                        while True:
                            event = await inbox.get()
                            if isinstance(event, StasisEnd):
                                return
                            if (
                                isinstance(event, PlaybackFinished)
                                and event.playback_id == playback
                            ):
                                break
            await self.ari.hangup(channel.id, reason="congestion")
        except AriRequestError as exc:
            log.info("draining: channel %s: %s", channel.id, exc)
        finally:
            self.router.release(channel.id)

    def _side_task(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _relearn(self, snapshot: Reconnected) -> None:
        """After a (re)connect, match our calls with what Asterisk holds."""
        if snapshot.initial:
            self._take_over_orphans(snapshot)
        else:
            self._resync_calls(snapshot)
        for listener in self._connect_listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("connect listener %r failed", listener)

    def _resync_calls(self, snapshot: Reconnected) -> None:
        self.metrics.ari_reconnects.inc()
        live = snapshot.app_channel_ids | {c.id for c in snapshot.channels}
        for session in list(self.sessions.values()):
            for channel_id in session.channels:
                if channel_id in live:
                    continue
                session.log.info(
                    "call=%s channel %s vanished while ARI was away: synthetic StasisEnd",
                    session.call_id,
                    channel_id,
                )
                session.inbox.put_nowait(StasisEnd(channel=ChannelSnapshot(id=channel_id)))
            if not session.caller_left:
                # Events of the outage are lost (a PlaybackFinished, a digit): a flow that
                # waits for one can re-sync on this.
                session.inbox.put_nowait(snapshot)
        claimed = self.router.claimed_channels
        stray = sorted(c for c in snapshot.app_channel_ids if c not in claimed)
        if stray:
            log.warning("after reconnect, channels in the app no call owns: %s", ", ".join(stray))

    def _connection_changed(self, connected: bool) -> None:
        self.metrics.ari_connected.set(1 if connected else 0)

    # --- HTTP --------------------------------------------------------------------------------

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        addresses = self._runner.addresses
        self.http_port = int(addresses[0][1]) if addresses else self.settings.http_port
        log.info("health and metrics on http://%s:%s/", self.settings.http_host, self.http_port)

    def health(self) -> dict[str, Any]:
        """What /healthz reports."""
        return {
            "status": "ok" if self.ari.connected and not self._draining else "unavailable",
            "ari_connected": self.ari.connected,
            "ami_connected": self.ami.connected if self.ami is not None else None,
            "draining": self._draining,
            "calls_active": len(self.sessions),
            "app": self.settings.ari.app,
        }

    async def _healthz(self, request: web.Request) -> web.Response:
        body = self.health()
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
