"""Agent reservations on SQLite (the one-process default): same behaviour as on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from callcenter.config import Agent, CallCenterConfig, load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.routing.model import AgentState
from callcenter.routing.reservations import AgentReservations, in_thread

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'callcenter.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def config() -> CallCenterConfig:
    agents = [Agent(id=f"a{n}", name=f"Agent {n}", endpoint=f"PJSIP/30{n}") for n in range(3)]
    return load_config(EXAMPLE).model_copy(update={"agents": agents})


def test_reserve_release_and_expiry(engine: Engine, config: CallCenterConfig) -> None:
    clock = FakeClock()
    one = AgentReservations(engine, "w1", lease_seconds=30, clock=clock)
    two = AgentReservations(engine, "w2", lease_seconds=30, clock=clock)
    one.sync_agents(config)
    one.sync_agents(config)
    assert one.reserve(["a0"], "c0") is None  # logged out
    for agent in config.agents:
        one.record_state_change(agent.id, AgentState.AVAILABLE)
    assert one.reserve(["a1", "a0"], "c1") == "a1"
    assert two.reserve(["a1", "a0"], "c2") == "a0"
    assert two.reserve(["a1", "a0"], "c3") is None
    assert one.release("a1", AgentState.WRAPUP) is True
    assert two.reserve(["a1"], "c3") is None  # wrap-up is not available
    one.record_state_change("a1", AgentState.AVAILABLE)
    assert two.reserve(["a1"], "c3") == "a1"
    clock.now += dt.timedelta(seconds=31)
    assert one.renew() == set()
    assert one.expire_stale() == ["a0", "a1"]
    assert one.reserve(["a0"], "c4") == "a0"
    assert one.held_agents()[0].agent_id == "a0"


def test_queue_entries_round_trip(engine: Engine) -> None:
    store = AgentReservations(engine, "w1")
    first = store.save_entry("c1", "sales", 2, T0, [("french", 5)])
    assert store.save_entry("c1", "sales", 2, T0, [("french", 5)]) == first
    (saved,) = store.load_waiting()
    assert (saved.call_id, saved.priority, saved.entered_at) == ("c1", 2, T0)
    assert saved.extra_skills == (("french", 5),)
    assert store.close_entry("c1", "sales", "answered", agent_id="a0")
    assert store.load_waiting() == []


async def test_in_thread_runs_store_calls_off_the_loop(engine: Engine) -> None:
    store = AgentReservations(engine, "w1")
    entry = await in_thread(5.0, store.save_entry, "c9", "sales", 0, T0)
    assert entry > 0
    with pytest.raises(TimeoutError):
        await in_thread(0.01, time.sleep, 0.3)
