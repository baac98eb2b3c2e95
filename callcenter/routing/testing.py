"""A whole call center over the simulated Asterisk: for the ACD tests, demos and benchmarks.

``running_center(config)`` starts the simulated PBX and its ARI server, a ``Worker`` with the
``InboundCallFlow`` and its ``AcdService``, and registers every agent's phone. Times in the
config are PBX seconds; the PBX and the service run ``SPEED`` times faster than real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.asterisk.ari import AriSettings
from callcenter.call.session import CallSession
from callcenter.config import CallCenterConfig
from callcenter.dialplan.contexts import FALLBACK_CONTEXT, FALLBACK_EXTENSION
from callcenter.ivr.machine import IvrOutcome, QueueRequest
from callcenter.routing.service import AcdService
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import (
    BridgeCreated,
    ChannelCreated,
    ChannelHungUp,
    DialBegan,
    DialEnded,
    EndpointBehaviour,
    EndpointHandle,
    PbxEvent,
    SimulatedAsterisk,
    Stasis,
)
from callcenter.worker.app import Worker, WorkerSettings
from callcenter.worker.inbound import InboundCallFlow, IvrRunner, build_inbound

APP = "cc-acd"
USER, PASSWORD = "callcenter", "secret"
SPEED = 20.0


def make_config(**overrides: Any) -> CallCenterConfig:
    """Three skills, four agents, three queues; ``overrides`` replace top-level keys."""
    raw: dict[str, Any] = {
        "asterisk": {
            "ari": {"password": PASSWORD, "app": APP},
            "ami": {"secret": "x"},
        },
        "skills": ["billing", "sales", "french"],
        "agents": [
            {"id": "bill1", "name": "Bill One", "endpoint": "PJSIP/1001", "skills": {"billing": 5}},
            {"id": "bill2", "name": "Bill Two", "endpoint": "PJSIP/1002", "skills": {"billing": 3}},
            {"id": "sale1", "name": "Sale One", "endpoint": "PJSIP/1003", "skills": {"sales": 5}},
            {
                "id": "both1",
                "name": "Both One",
                "endpoint": "PJSIP/1004",
                "skills": {"sales": 4, "french": 5},
            },
        ],
        "queues": {
            "billing": {
                "name": "Billing",
                "skills": [{"skill": "billing"}],
                "ring_timeout": 3,
                "wrapup_seconds": 0,
                "announce_position_every": 0,
                "max_wait_seconds": 600,
            },
            "sales": {
                "name": "Sales",
                "skills": [{"skill": "sales"}],
                "ring_timeout": 3,
                "wrapup_seconds": 0,
                "announce_position_every": 0,
            },
        },
        "ivr": {
            "numbers": {"100": "main"},
            "operator_queue": "billing",
            "menus": {
                "main": {
                    "prompts": ["sound:hello-world"],
                    "choices": {
                        "1": {"queue": "billing"},
                        "2": {"queue": "sales"},
                        "3": {"queue": "sales", "extra_skills": [{"skill": "french"}]},
                        "9": {"queue": "billing", "priority": 10},
                    },
                }
            },
        },
    }
    raw.update(overrides)
    return CallCenterConfig.model_validate(raw)


def direct_to_queue(routes: dict[str, QueueRequest]) -> IvrRunner:
    """A stand-in for the IVR in ACD tests: answer, then the queue of the dialled number."""

    async def run(session: CallSession) -> IvrOutcome:
        await session.ari.answer(session.caller_channel_id)
        return routes[session.caller.exten]

    return run


@dataclass
class Dialled:
    endpoint: str
    channel_id: str
    caller_id: str | None
    status: str | None = None
    cause: int | None = None


@dataclass
class CenterUnderTest:
    pbx: SimulatedAsterisk
    server: AriServer
    worker: Worker
    service: AcdService
    flow: InboundCallFlow
    phones: dict[str, EndpointHandle] = field(default_factory=dict)
    dials: list[Dialled] = field(default_factory=list)
    """Every agent dial, in order (what the PBX saw)."""
    created: list[str] = field(default_factory=list)
    """The endpoint of every channel Asterisk built for an agent (``channels/create``)."""
    bridges_created: int = 0

    def watch_pbx(self) -> None:
        self.pbx.add_listener(self._pbx_event)

    def _pbx_event(self, event: PbxEvent) -> None:
        if isinstance(event, DialBegan):
            self.dials.append(
                Dialled(
                    endpoint=event.dialstring,
                    channel_id=event.peer.uniqueid,
                    caller_id=event.caller.uniqueid if event.caller else None,
                )
            )
        elif isinstance(event, DialEnded):
            for dial in self.dials:
                if dial.channel_id == event.peer.uniqueid:
                    dial.status = event.dialstatus
        elif isinstance(event, ChannelHungUp):
            for dial in self.dials:
                if dial.channel_id == event.channel.uniqueid:
                    dial.cause = event.cause
        elif isinstance(event, BridgeCreated):
            self.bridges_created += 1
        elif isinstance(event, ChannelCreated) and event.channel.endpoint in self.agent_phones:
            self.created.append(event.channel.endpoint)

    @property
    def agent_phones(self) -> set[str]:
        return {agent.endpoint for agent in self.service.config.agents}

    def dials_to(self, agent_id: str) -> list[Dialled]:
        endpoint = self.service.config.agent(agent_id).endpoint
        return [d for d in self.dials if d.endpoint == endpoint]

    def phone(self, agent_id: str) -> EndpointHandle:
        return self.phones[agent_id]

    async def wait_until(
        self, condition: Callable[[], bool], within: float = 5.0, step: float = 0.01
    ) -> None:
        """Poll ``condition`` (state spread over PBX, worker and service has no one event)."""
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(step)

    def agent_state(self, agent_id: str) -> str:
        return self.service.dispatcher.agent_state(agent_id).value

    async def settle(self) -> None:
        """Wait until no call is in progress and every bridge is gone."""
        await self.wait_until(lambda: not self.worker.sessions)


async def start_acd_worker(
    server: AriServer,
    config: CallCenterConfig,
    service: AcdService,
    *,
    app: str = APP,
    ivr: IvrRunner | None = None,
    cdr: Any = None,
    login: Iterable[str] | None = None,
    recorder: Any = None,
    request_timeout: float = 2.0,
    voicemail: Any = None,
) -> tuple[Worker, InboundCallFlow]:
    """A worker for ``app`` on the simulated ARI, with the inbound flow and a started
    ``service``; logs in ``login`` (default: every agent). Stop both when done. A draining
    worker sends new callers to the rendered dialplan's fallback, as ``callcenter run``."""
    settings = WorkerSettings(
        ari=AriSettings(
            url=server.url,
            username=USER,
            password=PASSWORD,
            app=app,
            request_timeout=request_timeout,
            connect_timeout=2.0,
            backoff_initial=0.2,
            backoff_max=0.4,
        ),
        http_port=None,
        end_grace=1.0,
        drain_context=FALLBACK_CONTEXT,
        drain_extension=FALLBACK_EXTENSION,
    )
    worker = Worker(settings)
    if recorder == "from-config":
        from callcenter.recording import Recorder

        recorder = Recorder.from_config(config, worker.ari, cdr=cdr)
    flow, service = build_inbound(
        config,
        worker,
        service=service,
        ivr=ivr,
        cdr=cdr,
        worker_id=service.worker_id,
        recorder=recorder,
        voicemail=voicemail,
    )
    await service.start()
    try:
        for agent_id in login if login is not None else [a.id for a in config.agents]:
            await service.login(agent_id)
        await worker.start()
        await worker.ari.wait_connected(within=5)
    except BaseException:
        # Nobody gets the worker to stop: close its ARI sessions here, not at some later gc.
        await worker.stop(grace=0.0)
        await flow.close()
        if flow.recorder is not None:
            await flow.recorder.close()
        await service.close()
        raise
    return worker, flow


@contextlib.asynccontextmanager
async def running_center(
    config: CallCenterConfig,
    tmp_path: Path,
    *,
    behaviours: dict[str, EndpointBehaviour] | None = None,
    ivr: IvrRunner | None = None,
    extensions: Iterable[str] = ("100", "201", "202", "209"),
    login: Iterable[str] | None = None,
    service: AcdService | None = None,
    cdr: Any = None,
    record_calls: bool = False,
    request_timeout: float = 2.0,
    voicemail: Any = None,
) -> AsyncIterator[CenterUnderTest]:
    """``record_calls``: a recorder from the config stores recordings (and, with
    ``voicemail``, a ``VoicemailService``, voicemail messages)."""
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path)
    for exten in extensions:
        pbx.dialplan.route(exten, Stasis(APP))
    phones: dict[str, EndpointHandle] = {}
    for agent in config.agents:
        technology, resource = agent.endpoint.split("/", 1)
        behaviour = (behaviours or {}).get(agent.id, EndpointBehaviour.answer_after(0.5))
        phones[agent.id] = pbx.register_endpoint(technology, resource, behaviour)
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    service = service or AcdService(config, speed=SPEED, worker_id="w1")
    try:
        worker, flow = await start_acd_worker(
            server,
            config,
            service,
            ivr=ivr,
            cdr=cdr,
            login=login,
            app=APP,
            recorder="from-config" if record_calls else None,
            request_timeout=request_timeout,
            voicemail=voicemail,
        )
    except BaseException:
        await server.close()
        await pbx.close()
        raise
    center = CenterUnderTest(pbx, server, worker, service, flow, phones)
    center.watch_pbx()
    try:
        yield center
    finally:
        await worker.stop(grace=1.0)
        await flow.close()
        if flow.recorder is not None:
            await flow.recorder.close()
        await service.close()
        await server.close()
        await pbx.close()
