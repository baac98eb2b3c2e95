"""The routing model: specs read from callcenter.yaml, eligibility at each escalation stage,
strategies as sort keys."""

from __future__ import annotations

from pathlib import Path

from callcenter.config import OverflowTarget, SkillRequirement, load_config
from callcenter.routing import AgentState, Dispatcher
from callcenter.routing.model import (
    AgentSpec,
    AgentStatus,
    EscalationStage,
    QueueSpec,
    SkillNeed,
    eligibility_at,
)
from callcenter.routing.strategies import PickContext, pick, preference_order

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


def test_specs_come_from_the_example_config() -> None:
    config = load_config(EXAMPLE)
    queues = QueueSpec.from_config(config)
    agents = AgentSpec.from_config(config)
    assert list(queues) == ["sales", "support", "billing"]
    sales = queues["sales"]
    assert sales.skills == (SkillNeed("sales", 5),)
    assert sales.strategy == "longest_idle"
    assert (sales.ring_timeout, sales.wrapup_seconds, sales.max_wait_seconds) == (15, 10, 300)
    assert sales.overflow == OverflowTarget(queue="support")
    assert sales.escalation == (EscalationStage(60.0, 3, ()),)
    assert queues["billing"].escalation == (EscalationStage(90.0, None, ("support",)),)
    assert agents[0] == AgentSpec("alice", "Alice Martin", "PJSIP/1001", {"sales": 9, "support": 4})
    dispatcher = Dispatcher.from_config(config)
    assert dispatcher.agent_state("hugo") is AgentState.LOGGED_OUT


def test_example_call_center_routes_a_french_caller_to_the_french_speaker() -> None:
    config = load_config(EXAMPLE)
    d = Dispatcher.from_config(config)
    for agent in config.agents:
        d.log_in(agent.id, 0.0)
    d.enqueue("c1", "support", 1.0, priority=5, extra_skills=[SkillRequirement(skill="french")])
    (assignment,) = d.next_assignments(1.0)
    assert assignment.agent_ids == ("carla",)  # support 8 and French: best_skill picks her


def test_skill_needs_accept_config_tuples_and_names() -> None:
    assert SkillNeed.coerce(SkillRequirement(skill="french", min_level=4)) == SkillNeed("french", 4)
    assert SkillNeed.coerce(("sales", 2)) == SkillNeed("sales", 2)
    assert SkillNeed.coerce("vip") == SkillNeed("vip", 1)


def test_eligibility_relaxes_step_by_step() -> None:
    queue = QueueSpec(
        "billing",
        skills=(SkillNeed("billing", 6),),
        escalation=(EscalationStage(30, min_level=4), EscalationStage(60, add_skills=("support",))),
    )
    strict, lower, wider = (eligibility_at(queue, stage) for stage in range(3))
    assert not strict.accepts({"billing": 5})
    assert lower.accepts({"billing": 5})
    assert not lower.accepts({"support": 9})
    assert wider.accepts({"support": 1})
    assert wider.needs == (SkillNeed("billing", 4),)


def test_caller_skills_keep_the_higher_level_and_are_relaxed_too() -> None:
    queue = QueueSpec(
        "support", skills=(SkillNeed("support", 3),), escalation=(EscalationStage(60, 2),)
    )
    needs = (SkillNeed("support", 7), SkillNeed("french", 5))
    assert eligibility_at(queue, 0, needs).needs == needs
    relaxed = eligibility_at(queue, 1, needs)
    assert relaxed.needs == (SkillNeed("support", 2), SkillNeed("french", 2))


def test_a_queue_without_skills_accepts_everybody() -> None:
    assert eligibility_at(QueueSpec("any"), 0).accepts({})


def status(agent_id: str, *, idle: float = 0.0, calls: int = 0, **skills: int) -> AgentStatus:
    return AgentStatus(AgentSpec(agent_id, skills=skills), idle_since=idle, calls_today=calls)


def test_every_strategy_breaks_ties_by_agent_id() -> None:
    agents = [status("b"), status("c"), status("a")]
    for strategy in ("longest_idle", "least_calls", "best_skill", "round_robin"):
        assert pick(strategy, agents, PickContext(("x",))) == ("a",)
    assert pick("ring_all", agents, PickContext()) == ("a", "b", "c")
    assert pick("longest_idle", [], PickContext()) == ()


def test_strategy_orders() -> None:
    agents = [
        status("a", idle=5, calls=3, sales=2),
        status("b", idle=1, calls=7, sales=9),
        status("c", idle=3, calls=1, sales=5),
    ]
    assert preference_order("longest_idle", agents, PickContext()) == ["b", "c", "a"]
    assert preference_order("least_calls", agents, PickContext()) == ["c", "a", "b"]
    assert preference_order("best_skill", agents, PickContext(("sales",))) == ["b", "c", "a"]
    after_b = PickContext(last_agent_id="b")
    assert preference_order("round_robin", agents, after_b) == ["c", "a", "b"]
