"""Agent ownership leases and the routing journal on a real PostgreSQL.

Leases: one owner per agent; a worker whose callers need an agent asks for it and the owner
hands it over; a dead worker's agents are taken once its lease ran out. Journal: every record
lands exactly once, even when a batch is written again (a replayed spool).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from callcenter.config import Agent, CallCenterConfig, load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import AgentRow, AgentStateChange, QueueEntry
from callcenter.routing.journal import RoutingJournal, RoutingStore, configured_agents
from callcenter.routing.leases import AgentLeases
from callcenter.routing.model import AgentState

pytestmark = pytest.mark.pg

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def config_with_agents(count: int) -> CallCenterConfig:
    config = load_config(EXAMPLE)
    agents = [
        Agent(id=f"a{n:03d}", name=f"Agent {n}", endpoint=f"PJSIP/{2000 + n}", skills={"sales": 5})
        for n in range(count)
    ]
    return config.model_copy(update={"agents": agents})


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def owners(rows: list) -> dict[str, str | None]:  # type: ignore[type-arg]
    return {row.agent_id: row.owner for row in rows}


def test_first_worker_takes_free_agents_and_hands_over_only_what_is_wanted(
    engine: Engine,
) -> None:
    agents = configured_agents(config_with_agents(3))
    one = AgentLeases(engine, "w1")
    two = AgentLeases(engine, "w2")
    assert set(owners(one.sync(agents)).values()) == {"w1"}
    rows = two.sync(want=["a001"])
    assert set(owners(rows).values()) == {"w1"}  # wanting is not taking
    assert {r.agent_id: r.wanted_by for r in rows}["a001"] == "w2"
    # w1 may only give what w2 wants: a000 stays with w1.
    rows = one.sync(give=["a000", "a001"])
    assert owners(rows) == {"a000": "w1", "a001": "w2", "a002": "w1"}
    assert all(r.wanted_by is None for r in rows)
    # w2 no longer wants anything: nothing changes hands.
    assert owners(two.sync()) == {"a000": "w1", "a001": "w2", "a002": "w1"}


def test_a_wish_for_an_agent_nobody_holds_goes_to_the_wisher(engine: Engine) -> None:
    agents = configured_agents(config_with_agents(2))
    clock = FakeClock()
    one = AgentLeases(engine, "w1", lease_seconds=30, clock=clock)
    two = AgentLeases(engine, "w2", lease_seconds=30, clock=clock)
    one.sync(agents)
    one.release_all()
    two.sync(want=["a000"])  # nobody owns a000 now: w2 takes everything free
    assert owners(one.sync()) == {"a000": "w2", "a001": "w2"}


def test_a_dead_workers_agents_are_taken_once_its_lease_ran_out(engine: Engine) -> None:
    agents = configured_agents(config_with_agents(2))
    clock = FakeClock()
    dead = AgentLeases(engine, "dead", lease_seconds=30, clock=clock)
    alive = AgentLeases(engine, "alive", lease_seconds=30, clock=clock)
    dead.sync(agents)
    clock.advance(29)
    assert set(owners(alive.sync()).values()) == {"dead"}
    clock.advance(2)
    assert set(owners(alive.sync()).values()) == {"alive"}
    # The dead worker, back, learns it holds nothing (and renews nothing).
    assert set(owners(dead.sync()).values()) == {"alive"}


def test_renewal_keeps_the_agents(engine: Engine) -> None:
    agents = configured_agents(config_with_agents(1))
    clock = FakeClock()
    one = AgentLeases(engine, "w1", lease_seconds=30, clock=clock)
    two = AgentLeases(engine, "w2", lease_seconds=30, clock=clock)
    one.sync(agents)
    for _ in range(5):
        clock.advance(20)
        one.sync()
        assert owners(two.sync()) == {"a000": "w1"}


async def test_journal_records_land_exactly_once_even_when_written_twice(
    engine: Engine, pg_url: str, tmp_path: Path
) -> None:
    config = config_with_agents(2)
    journal = RoutingJournal(pg_url, tmp_path / "spool", "w1")
    journal.agents_configured(config, T0)
    journal.agent_control("a000", AgentState.AVAILABLE, T0)
    journal.agent_state("a000", AgentState.AVAILABLE, T0)
    journal.queue_entry("c1", "sales", 0, T0 + dt.timedelta(seconds=1), [("french", 3)])
    journal.agent_state("a000", AgentState.RESERVED, T0 + dt.timedelta(seconds=2), call_id="c1")
    journal.agent_state("a000", AgentState.ON_CALL, T0 + dt.timedelta(seconds=3), call_id="c1")
    journal.queue_exit("c1", "sales", "answered", T0 + dt.timedelta(seconds=3), "a000")
    journal.agent_state("a000", AgentState.WRAPUP, T0 + dt.timedelta(seconds=9), call_id="c1")
    records = list(journal._pending)
    store = RoutingStore(engine)
    store.write(records)
    store.write(records)  # a spool replayed after a commit whose answer was lost
    with engine.connect() as conn:
        history = conn.execute(select(func.count()).select_from(AgentStateChange)).scalar()
        agent = conn.execute(
            select(
                AgentRow.state,
                AgentRow.calls_today,
                AgentRow.control_state,
                AgentRow.last_call_ended_at,
            ).where(AgentRow.agent_id == "a000")
        ).one()
        entries = conn.execute(
            select(
                QueueEntry.call_id,
                QueueEntry.outcome,
                QueueEntry.agent_id,
                QueueEntry.required_skills,
            )
        ).all()
    assert history == 4
    assert (agent.state, agent.calls_today, agent.control_state) == ("wrapup", 1, "available")
    assert agent.last_call_ended_at == T0 + dt.timedelta(seconds=9)
    assert [tuple(e) for e in entries] == [("c1", "answered", "a000", [["french", 3]])]
    # An older state (another worker's late replay) does not replace a newer one.
    journal.agent_state("a000", AgentState.AVAILABLE, T0 + dt.timedelta(seconds=5))
    store.write(journal._pending[-1:])
    with engine.connect() as conn:
        state = conn.execute(select(AgentRow.state).where(AgentRow.agent_id == "a000")).scalar()
    assert state == "wrapup"
    await journal.close()
