"""The incremental dispatcher decides exactly like a brute-force one on random event streams.

The reference reconsiders every waiting caller on every decision (the greedy rule in its plain
form: callers in order, each takes the best qualified available agent). The real dispatcher
only looks at what changed; on a few thousand random events per seed both must return the same
decisions, and afterwards no waiting caller may have a qualified available agent.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from callcenter.config import OverflowTarget
from callcenter.errors import CallCenterError
from callcenter.routing.dispatcher import Dispatcher
from callcenter.routing.model import (
    AgentSpec,
    AgentState,
    Assignment,
    EscalationStage,
    QueueSpec,
    SkillNeed,
)

SKILLS = ("sales", "support", "billing", "french")
STRATEGIES = ("longest_idle", "least_calls", "best_skill", "round_robin", "ring_all")


class BruteForceDispatcher(Dispatcher):
    """Every decision starts from all waiting callers and scans every qualified agent."""

    def next_assignments(self, now: float) -> list[Assignment]:
        self._fresh_callers.update(c for c, caller in self._callers.items() if caller.waiting)
        return super().next_assignments(now)

    def _fast_pick(self, caller: Any) -> tuple[str, ...] | None:
        return None


def build(rng: random.Random) -> tuple[dict[str, QueueSpec], list[AgentSpec]]:
    queues = {}
    for n, strategy in enumerate((*STRATEGIES, "longest_idle", "round_robin")):
        skill = SKILLS[n % 3]
        needs = [SkillNeed(skill, rng.randint(1, 7))]
        if n >= len(STRATEGIES):  # a queue that needs two skills
            needs.append(SkillNeed("french", rng.randint(1, 4)))
        queues[f"q{n}"] = QueueSpec(
            queue_id=f"q{n}",
            skills=tuple(needs),
            strategy=strategy,  # type: ignore[arg-type]
            ring_timeout=rng.choice((5.0, 15.0)),
            wrapup_seconds=rng.choice((0.0, 3.0, 10.0)),
            max_wait_seconds=rng.choice((40.0, 120.0)),
            overflow=OverflowTarget(callback=True),
            escalation=(
                EscalationStage(10.0, min_level=2),
                EscalationStage(25.0, add_skills=(SKILLS[(n + 1) % 3],)),
            ),
            autopause_after_no_answers=rng.choice((0, 2, 3)),
        )
    agents = [
        AgentSpec(
            f"a{n:02d}",
            skills={s: rng.randint(1, 10) for s in rng.sample(SKILLS, rng.randint(1, 3))},
        )
        for n in range(12)
    ]
    return queues, agents


def assert_no_missed_pair(d: Dispatcher) -> None:
    for caller in d._callers.values():
        if not caller.waiting:
            continue
        for status in d.agents():
            if status.state is AgentState.AVAILABLE:
                assert not caller.eligibility.accepts(status.spec.skills), (
                    caller.call_id,
                    status.agent_id,
                )


def call(d: Dispatcher, name: str, *args: Any) -> Any:
    try:
        return getattr(d, name)(*args)
    except CallCenterError as exc:
        return ("error", exc.code)


@pytest.mark.parametrize("seed", range(8))
def test_incremental_decisions_match_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    queues, agents = build(rng)
    real = Dispatcher(queues, agents)
    reference = BruteForceDispatcher(queues, agents)
    both = (real, reference)
    now = 0.0
    calls = 0
    offers: list[tuple[str, str]] = []  # (call, agent) pairs that were offered
    on_call: list[str] = []
    for _ in range(1200):
        now += rng.choice((0.0, 0.5, 1.0, 3.0))
        roll = rng.random()
        if roll < 0.25:
            calls += 1
            args: tuple[Any, ...] = (
                f"c{calls}",
                rng.choice(list(queues)),
                now,
                rng.choice((0, 0, 0, 1, 5)),
                [(rng.choice(SKILLS), rng.randint(1, 5))] if rng.random() < 0.2 else [],
            )
            op = "enqueue"
        elif roll < 0.35:
            op, args = "log_in", (rng.choice(agents).agent_id, now)
        elif roll < 0.38:
            op, args = "log_out", (rng.choice(agents).agent_id, now)
        elif roll < 0.42:
            op, args = "pause", (rng.choice(agents).agent_id, "break", now)
        elif roll < 0.48:
            op, args = "unpause", (rng.choice(agents).agent_id, now)
        elif roll < 0.52 and calls:
            op, args = "remove_caller", (f"c{rng.randint(1, calls)}", now)
        elif roll < 0.65 and offers:
            call_id, agent_id = offers.pop(rng.randrange(len(offers)))
            op, args = "agent_answered", (call_id, agent_id, now)
            on_call.append(agent_id)
        elif roll < 0.75 and offers:
            call_id, agent_id = offers.pop(rng.randrange(len(offers)))
            reason = rng.choice(("no_answer", "busy", "rejected", "unavailable"))
            op, args = "agent_failed", (call_id, agent_id, now, reason)
        elif roll < 0.78 and offers:
            op, args = "agent_ringing", (*rng.choice(offers), now)
        elif roll < 0.88 and on_call:
            op, args = "call_finished", (on_call.pop(rng.randrange(len(on_call))), now)
        elif roll < 0.885:
            op, args = "reset_daily_counts", ()
        else:
            op, args = "tick", (now,)
        results = [call(d, op, *args) for d in both]
        assert results[0] == results[1], (op, args)
        decided = [d.next_assignments(now) for d in both]
        assert decided[0] == decided[1], (op, args)
        for assignment in decided[0]:
            offers.extend((assignment.call_id, a) for a in assignment.agent_ids)
        assert_no_missed_pair(real)
        assert real.snapshot(now) == reference.snapshot(now)
