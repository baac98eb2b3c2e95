"""Agent reservations on a real PostgreSQL: atomic under concurrent workers, leases expire.

Two kinds of concurrency: two worker objects (own engines) hammered from threads in one
process, and two OS processes; in both, the agent's history must show that no agent was ever
held by two workers at once.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import textwrap
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from callcenter.config import Agent, CallCenterConfig, load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import AgentRow, AgentStateChange, QueueEntry
from callcenter.routing.dispatcher import Dispatcher
from callcenter.routing.model import AgentState
from callcenter.routing.reservations import AgentReservations

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


def ready(store: AgentReservations, config: CallCenterConfig) -> None:
    """Agents in the table and logged in (available)."""
    store.sync_agents(config)
    for agent in config.agents:
        assert store.record_state_change(agent.id, AgentState.AVAILABLE)


def history(engine: Engine) -> dict[str, list[tuple[str, str | None]]]:
    """Per agent, in commit order of the row lock: (state, worker)."""
    table = AgentStateChange.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.agent_id, table.c.state, table.c.worker_id).order_by(table.c.id)
        ).all()
    per_agent: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for agent_id, state, worker in rows:
        per_agent[agent_id].append((state, worker))
    return per_agent


def assert_never_double_booked(engine: Engine) -> int:
    """Each reservation is followed by the same worker's release before the next one."""
    reservations = 0
    for agent_id, changes in history(engine).items():
        holder: str | None = None
        for state, worker in changes:
            if state == "reserved":
                assert holder is None, f"{agent_id} reserved by {worker} while {holder} held it"
                holder = worker
                reservations += 1
            elif state == "available" and holder is not None:
                assert worker == holder, f"{agent_id} released by {worker}, held by {holder}"
                holder = None
    return reservations


def test_reserve_takes_the_first_free_agent_in_preference_order(engine: Engine) -> None:
    config = config_with_agents(3)
    one = AgentReservations(engine, "w1", lease_seconds=30)
    two = AgentReservations(engine, "w2", lease_seconds=30)
    ready(one, config)
    assert one.reserve(["a001", "a000"], "c1") == "a001"
    assert two.reserve(["a001", "a000"], "c2") == "a000"
    assert two.reserve(["a001", "a000"], "c3") is None
    assert one.reserve([], "c4") is None
    with engine.connect() as conn:
        row = conn.execute(
            select(AgentRow.state, AgentRow.reserved_by, AgentRow.reserved_call_id).where(
                AgentRow.agent_id == "a001"
            )
        ).one()
    assert tuple(row) == ("reserved", "w1", "c1")
    assert {h.agent_id: h.worker_id for h in one.held_agents()} == {"a001": "w1", "a000": "w2"}


def test_paused_and_logged_out_agents_cannot_be_reserved(engine: Engine) -> None:
    config = config_with_agents(2)
    store = AgentReservations(engine, "w1")
    store.sync_agents(config)
    assert store.reserve(["a000", "a001"], "c1") is None  # both logged out
    store.record_state_change("a000", AgentState.AVAILABLE)
    store.record_state_change("a000", AgentState.PAUSED, reason="lunch")
    assert store.reserve(["a000"], "c1") is None


def test_release_frees_the_agent_and_only_the_holder_can_release(engine: Engine) -> None:
    config = config_with_agents(1)
    one = AgentReservations(engine, "w1")
    two = AgentReservations(engine, "w2")
    ready(one, config)
    assert one.reserve(["a000"], "c1") == "a000"
    assert not two.release("a000", AgentState.AVAILABLE)
    assert not two.record_state_change("a000", AgentState.AVAILABLE)  # held by w1
    assert one.record_state_change("a000", AgentState.ON_CALL, call_id="c1")
    assert one.release("a000", "available", call_ended_at=T0)
    assert two.reserve(["a000"], "c2") == "a000"
    with engine.connect() as conn:
        row = conn.execute(select(AgentRow.calls_today, AgentRow.last_call_ended_at)).one()
    assert row.calls_today == 1
    assert row.last_call_ended_at == T0


def test_recording_a_free_state_ends_the_lease(engine: Engine) -> None:
    config = config_with_agents(1)
    one = AgentReservations(engine, "w1")
    two = AgentReservations(engine, "w2")
    ready(one, config)
    one.reserve(["a000"], "c1")
    one.record_state_change("a000", AgentState.PAUSED, reason="no_answer", no_answer_count=1)
    assert one.renew() == set()
    assert two.reserve(["a000"], "c2") is None  # paused
    one.record_state_change("a000", AgentState.AVAILABLE)
    assert two.reserve(["a000"], "c2") == "a000"


def test_expired_reservations_are_reclaimed(engine: Engine) -> None:
    config = config_with_agents(2)
    clock = FakeClock()
    crashed = AgentReservations(engine, "crashed", lease_seconds=30, clock=clock)
    alive = AgentReservations(engine, "alive", lease_seconds=30, clock=clock)
    ready(alive, config)
    assert crashed.reserve(["a000"], "c1") == "a000"
    assert crashed.reserve(["a001"], "c2") == "a001"
    crashed.record_state_change("a001", AgentState.ON_CALL, call_id="c2")
    clock.advance(29)
    assert alive.reserve(["a000", "a001"], "c3") is None
    assert alive.expire_stale() == []
    clock.advance(2)
    # A lease that ran out can be taken directly, or swept by any worker.
    assert alive.reserve(["a000"], "c3") == "a000"
    assert alive.expire_stale() == ["a001"]
    assert alive.agent_states()["a001"] == ("available", None)
    assert crashed.renew() == set()  # the crashed worker, back, learns it lost both
    assert not crashed.release("a000", AgentState.AVAILABLE)
    reasons = [
        r for r in history_rows(engine, "a001") if r[0] == "available" and r[1] == "lease_expired"
    ]
    assert len(reasons) == 1
    # Taking over an expired lease closes the dead worker's reservation in the history too.
    assert history_rows(engine, "a000")[-3:] == [
        ("reserved", None),
        ("available", "lease_expired"),
        ("reserved", None),
    ]


def history_rows(engine: Engine, agent_id: str) -> list[tuple[str, str | None]]:
    table = AgentStateChange.__table__
    with engine.connect() as conn:
        return [
            (state, reason)
            for state, reason in conn.execute(
                select(table.c.state, table.c.reason)
                .where(table.c.agent_id == agent_id)
                .order_by(table.c.id)
            ).all()
        ]


def test_renew_keeps_a_live_worker_s_agents(engine: Engine) -> None:
    config = config_with_agents(1)
    clock = FakeClock()
    one = AgentReservations(engine, "w1", lease_seconds=30, clock=clock)
    two = AgentReservations(engine, "w2", lease_seconds=30, clock=clock)
    ready(one, config)
    one.reserve(["a000"], "c1")
    for _ in range(5):
        clock.advance(20)
        assert one.renew() == {"a000"}
        assert two.reserve(["a000"], "c2") is None
        assert two.expire_stale() == []


def test_two_workers_with_concurrent_threads_never_double_book(engine: Engine, pg_url: str) -> None:
    config = config_with_agents(12)
    setup = AgentReservations(engine, "setup")
    ready(setup, config)
    agent_ids = [a.id for a in config.agents]
    holders: dict[str, str] = {}
    lock = threading.Lock()
    violations: list[str] = []
    errors: list[BaseException] = []

    def worker(store: AgentReservations, thread_no: int) -> None:
        rng = random.Random(thread_no)
        try:
            for n in range(40):
                call_id = f"{store.worker_id}-{thread_no}-{n}"
                order = rng.sample(agent_ids, 4)
                got = store.reserve(order, call_id)
                if got is None:
                    continue
                with lock:
                    if got in holders:
                        violations.append(f"{got}: {holders[got]} and {call_id}")
                    holders[got] = call_id
                with lock:
                    del holders[got]
                assert store.release(got, AgentState.AVAILABLE)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    engines = [make_engine(pg_url), make_engine(pg_url)]
    stores = [AgentReservations(e, f"w{i}") for i, e in enumerate(engines)]
    threads = [threading.Thread(target=worker, args=(stores[i % 2], i)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for e in engines:
        e.dispose()
    assert not errors, errors
    assert violations == []
    assert assert_never_double_booked(engine) > 100


WORKER_SCRIPT = textwrap.dedent(
    """
    import random, sys
    from callcenter.db.engine import make_engine
    from callcenter.routing.reservations import AgentReservations
    url, worker_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = AgentReservations(make_engine(url), worker_id, lease_seconds=30)
    rng = random.Random(worker_id)
    ids = [f"a{n:03d}" for n in range(8)]
    got_any = 0
    for n in range(rounds):
        got = store.reserve(rng.sample(ids, 3), f"{worker_id}-{n}")
        if got is not None:
            got_any += 1
            store.record_state_change(got, "ringing", call_id=f"{worker_id}-{n}")
            assert store.release(got, "available")
    print(got_any)
    """
)


def test_two_worker_processes_never_double_book(engine: Engine, pg_url: str) -> None:
    config = config_with_agents(8)
    ready(AgentReservations(engine, "setup"), config)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, pg_url, f"proc{i}", "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert int(out) > 0
    reservations = assert_never_double_booked(engine)
    assert reservations == sum(int(out) for out, _ in outputs)


def test_dispatcher_and_store_together_ring_each_agent_once(engine: Engine) -> None:
    """Two dispatchers that each think every agent is free: Postgres settles it."""
    config = config_with_agents(3)
    ready(AgentReservations(engine, "setup"), config)
    workers = []
    for name in ("w1", "w2"):
        dispatcher = Dispatcher.from_config(config)
        for agent in config.agents:
            dispatcher.log_in(agent.id, 0.0)
        workers.append((dispatcher, AgentReservations(engine, name)))
    rung: list[str] = []
    for n in range(3):
        for w, (dispatcher, _store) in enumerate(workers):
            dispatcher.enqueue(f"w{w}-c{n}", "sales", 1.0)
    for _ in range(4):  # rounds of decisions; refused agents count as busy elsewhere
        for dispatcher, store in workers:
            for assignment in dispatcher.next_assignments(1.0):
                agent_id = assignment.agent_ids[0]
                if store.reserve([agent_id], assignment.call_id) == agent_id:
                    rung.append(agent_id)
                else:
                    dispatcher.reservation_refused(assignment.call_id, agent_id, 1.0)
    assert sorted(rung) == ["a000", "a001", "a002"]


def test_waiting_callers_survive_a_worker_restart(engine: Engine) -> None:
    store = AgentReservations(engine, "w1")
    store.save_entry("c1", "sales", 0, T0)
    store.save_entry("c2", "sales", 5, T0 + dt.timedelta(seconds=10), [("french", 5)])
    store.save_entry("c3", "support", 0, T0 + dt.timedelta(seconds=20))
    assert store.save_entry("c1", "sales", 0, T0) == store.save_entry("c1", "sales", 0, T0)
    AgentReservations(engine, "w2").save_entry("other", "sales", 0, T0)
    assert store.close_entry("c3", "support", "abandoned", at=T0 + dt.timedelta(seconds=30))
    assert not store.close_entry("c3", "support", "abandoned")

    restarted = AgentReservations(engine, "w1")
    saved = restarted.load_waiting()
    assert [(s.call_id, s.priority, s.extra_skills) for s in saved] == [
        ("c1", 0, ()),
        ("c2", 5, (("french", 5),)),
    ]
    config = config_with_agents(0)
    dispatcher = Dispatcher.from_config(config)
    now_wall, now_mono = T0 + dt.timedelta(seconds=40), 1000.0
    for entry in saved:
        entered = now_mono - (now_wall - entry.entered_at).total_seconds()
        dispatcher.enqueue(
            entry.call_id,
            entry.queue_id,
            now_mono,
            entry.priority,
            entry.extra_skills,
            entered_at=entered,
        )
    assert dispatcher.position("c2") == 1
    assert dispatcher.snapshot(now_mono)["queues"]["sales"]["longest_wait"] == 40.0
    with engine.connect() as conn:
        closed = conn.execute(
            select(QueueEntry.outcome).where(QueueEntry.call_id == "c3")
        ).scalar_one()
    assert closed == "abandoned"


def test_sync_agents_is_idempotent_and_lets_agents_swap_phones(engine: Engine) -> None:
    config = config_with_agents(2)
    store = AgentReservations(engine, "w1")
    store.sync_agents(config)
    store.record_state_change("a000", AgentState.AVAILABLE)
    swapped = config.model_copy(
        update={
            "agents": [
                config.agents[0].model_copy(update={"endpoint": "PJSIP/2001"}),
                config.agents[1].model_copy(update={"endpoint": "PJSIP/2000"}),
            ]
        }
    )
    store.sync_agents(swapped)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(AgentRow.agent_id, AgentRow.endpoint)).all())
    assert rows == {"a000": "PJSIP/2001", "a001": "PJSIP/2000"}
    assert store.agent_states()["a000"] == ("available", None)


def test_dispatcher_changes_are_written_with_wall_clock_times(engine: Engine) -> None:
    config = config_with_agents(1)
    clock = FakeClock()
    store = AgentReservations(engine, "w1", clock=clock)
    store.sync_agents(config)
    dispatcher = Dispatcher.from_config(config)
    dispatcher.log_in("a000", 100.0)
    dispatcher.enqueue("c1", "sales", 101.0)
    (assignment,) = dispatcher.next_assignments(101.0)
    assert store.record_changes(dispatcher.drain_state_changes(), 110.0) == 1  # log-in only
    assert store.reserve(assignment.agent_ids, "c1") == "a000"
    dispatcher.agent_ringing("c1", "a000", 102.0)
    dispatcher.agent_answered("c1", "a000", 105.0)
    assert store.record_changes(dispatcher.drain_state_changes(), 110.0) == 2
    table = AgentStateChange.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.state, table.c.at).order_by(table.c.id)).all()
    assert [(s, (at - T0).total_seconds()) for s, at in rows] == [
        ("available", -10.0),
        ("reserved", 0.0),
        ("ringing", -8.0),
        ("on_call", -5.0),
    ]
