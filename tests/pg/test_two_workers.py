"""Two workers, one Asterisk, one PostgreSQL: an agent is never rung for two calls at once.

Each worker has its own ARI app, dispatcher, routing journal and ``AgentLeases``: it rings only
the agents it owns, and agents move between the workers in the background when the other
worker's callers need them. Callers arrive on both apps at once; the simulated PBX records
every agent channel, and no endpoint may ever carry two.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import AgentStateChange, QueueEntry
from callcenter.ivr.machine import QueueRequest
from callcenter.routing.journal import RoutingJournal
from callcenter.routing.leases import AgentLeases
from callcenter.routing.service import AcdService
from callcenter.routing.testing import (
    PASSWORD,
    SPEED,
    USER,
    direct_to_queue,
    make_config,
    start_acd_worker,
)
from callcenter.sim.ari_server import start_ari_server
from callcenter.sim.pbx import (
    ChannelCreated,
    ChannelHungUp,
    EndpointBehaviour,
    PbxEvent,
    SimulatedAsterisk,
    Stasis,
)

pytestmark = pytest.mark.pg

CALLS_PER_WORKER = 20


class EndpointWatch:
    """Live agent channels per endpoint; remembers the most an endpoint ever carried."""

    def __init__(self, endpoints: set[str]) -> None:
        self.endpoints = endpoints
        self.live: dict[str, set[str]] = {e: set() for e in endpoints}
        self.most = 0
        self.created = 0

    def __call__(self, event: PbxEvent) -> None:
        if isinstance(event, ChannelCreated) and event.channel.endpoint in self.endpoints:
            live = self.live[event.channel.endpoint]
            live.add(event.channel.uniqueid)
            self.created += 1
            self.most = max(self.most, len(live))
        elif isinstance(event, ChannelHungUp) and event.channel.endpoint in self.endpoints:
            self.live[event.channel.endpoint].discard(event.channel.uniqueid)


async def test_two_workers_never_double_book_an_agent(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    config = make_config()
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path)
    endpoints = {a.endpoint for a in config.agents}
    for agent in config.agents:
        technology, resource = agent.endpoint.split("/", 1)
        pbx.register_endpoint(
            technology, resource, EndpointBehaviour.answer_after(0.2, talk_seconds=10.0)
        )
    watch = EndpointWatch(endpoints)
    pbx.add_listener(watch)
    for app in ("w1", "w2"):
        pbx.dialplan.route(f"{app}-billing", Stasis(app))
        pbx.dialplan.route(f"{app}-sales", Stasis(app))
    routes = {
        f"{app}-{queue}": QueueRequest(queue)
        for app in ("w1", "w2")
        for queue in ("billing", "sales")
    }
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    engines = [make_engine(pg_url), make_engine(pg_url)]
    services = [
        AcdService(
            config,
            speed=SPEED,
            worker_id=app,
            journal=RoutingJournal(pg_url, tmp_path / f"spool-{app}", app),
            leases=AgentLeases(engine, app, lease_seconds=30),
            sync_seconds=0.05,
        )
        for app, engine in zip(("w1", "w2"), engines, strict=True)
    ]
    workers = []
    try:
        for app, service in zip(("w1", "w2"), services, strict=True):
            worker, _ = await start_acd_worker(
                server, config, service, app=app, ivr=direct_to_queue(routes)
            )
            workers.append(worker)
        callers = []
        for n in range(CALLS_PER_WORKER):
            for app in ("w1", "w2"):
                queue = "billing" if n % 2 else "sales"
                callers.append(pbx.place_inbound_call(f"{app}-{queue}", f"+1555{n:04d}"))
            await asyncio.sleep(0.02)
        # Every caller talks to an agent (the agent hangs up after 10 PBX seconds).
        for caller in callers:
            await caller.wait_for("bridged", timeout=30)
        async with asyncio.timeout(30):
            while any(w.sessions for w in workers):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        for worker in workers:
            await worker.stop(grace=1.0)
        for service in services:
            await service.close()
        await server.close()
        await pbx.close()

    assert watch.most == 1, "an agent's phone carried two calls at once"
    assert watch.created >= 2 * CALLS_PER_WORKER
    assert pbx.bridges == {}
    # Both workers needed the same agents: agents moved from one worker to the other.
    assert sum(s.sharing.handed_over for s in services if s.sharing) > 0
    with engines[0].connect() as conn:
        entries = conn.execute(sa.select(QueueEntry)).all()
        changes = conn.execute(sa.select(sa.func.count()).select_from(AgentStateChange)).scalar()
    for engine in engines:
        engine.dispose()
    assert len(entries) >= 2 * CALLS_PER_WORKER  # more if an agent left before a bridge
    assert {e.outcome for e in entries} == {"answered"}
    assert all(e.left_at is not None and e.left_at >= e.entered_at for e in entries)
    assert changes and changes > 0


async def test_a_login_through_one_worker_reaches_the_other(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    config = make_config()
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path)
    for agent in config.agents:
        technology, resource = agent.endpoint.split("/", 1)
        pbx.register_endpoint(technology, resource, EndpointBehaviour.answer_after(0.2))
    pbx.dialplan.route("w2-sales", Stasis("w2"))
    routes = {"w2-sales": QueueRequest("sales")}
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    engine = make_engine(pg_url)
    services = [
        AcdService(
            config,
            speed=SPEED,
            worker_id=app,
            journal=RoutingJournal(pg_url, tmp_path / f"spool-{app}", app),
            leases=AgentLeases(engine, app),
            sync_seconds=0.05,
        )
        for app in ("w1", "w2")
    ]
    workers = []
    try:
        for app, service in zip(("w1", "w2"), services, strict=True):
            worker, _ = await start_acd_worker(
                server, config, service, app=app, ivr=direct_to_queue(routes), login=[]
            )
            workers.append(worker)
        w1, w2 = services
        # Through worker 1 (its API or the CLI): sale1 logs in, both1 logs in and pauses.
        await w1.login("sale1")
        await w1.login("both1")
        await w1.pause("both1", "lunch")
        async with asyncio.timeout(5):
            while w2.agent_view("both1")["state"] != "paused":  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert w2.agent_view("sale1")["state"] == "available"
        # A caller on worker 2 reaches sale1, never the paused both1.
        caller = pbx.place_inbound_call("w2-sales", "+15559999")
        await caller.wait_for("bridged", timeout=5)
        assert w2.agent_call("sale1") is not None
        caller.hangup()
        async with asyncio.timeout(5):
            while any(w.sessions for w in workers):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        # The pause reason stored through worker 1 stays (worker 2 does not write it back).
        with engine.connect() as conn:
            reason = conn.execute(
                sa.text("select pause_reason from agents where agent_id = 'both1'")
            ).scalar()
        assert reason == "lunch"
    finally:
        for worker in workers:
            await worker.stop(grace=1.0)
        for service in services:
            await service.close()
        await server.close()
        await pbx.close()
        engine.dispose()
