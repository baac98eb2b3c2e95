"""How a queue picks among the available agents who qualify: one small function per strategy.

Each strategy is a sort key (smaller is better) so that ``pick`` takes the best agent in one
pass and ``preference_order`` gives the full order (a worker that loses an agent to another
worker in Postgres tries the next one). Ties always fall back to the agent id, so every
decision is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from callcenter.routing.model import AgentStatus

SortKey = tuple[float | int | str | bool, ...]


@dataclass(frozen=True, slots=True)
class PickContext:
    """What a strategy may look at besides the agents themselves."""

    scored_skills: tuple[str, ...] = ()
    """best_skill adds the agent's levels on these skills."""
    last_agent_id: str | None = None
    """round_robin: the agent this queue rang last."""


def longest_idle(ctx: PickContext) -> Callable[[AgentStatus], SortKey]:
    """The agent who finished their last call (or logged in) longest ago."""
    return lambda agent: (agent.idle_since, agent.agent_id)


def least_calls(ctx: PickContext) -> Callable[[AgentStatus], SortKey]:
    """The agent who answered the fewest calls today."""
    return lambda agent: (agent.calls_today, agent.agent_id)


def best_skill(ctx: PickContext) -> Callable[[AgentStatus], SortKey]:
    """The agent with the highest levels on the skills the caller needs."""
    skills = ctx.scored_skills

    def key(agent: AgentStatus) -> SortKey:
        levels = agent.spec.skills
        return (-sum(levels.get(s, 0) for s in skills), agent.agent_id)

    return key


def round_robin(ctx: PickContext) -> Callable[[AgentStatus], SortKey]:
    """The next agent (by id) after the one this queue rang last, wrapping around
    (app_queue's ``rrmemory``)."""
    last = ctx.last_agent_id
    if last is None:
        return lambda agent: (False, agent.agent_id)
    return lambda agent: (agent.agent_id <= last, agent.agent_id)


def ring_all(ctx: PickContext) -> Callable[[AgentStatus], SortKey]:
    """Every qualifying agent rings at once; the order only matters for reservations."""
    return lambda agent: (agent.agent_id,)


STRATEGIES: dict[str, Callable[[PickContext], Callable[[AgentStatus], SortKey]]] = {
    "longest_idle": longest_idle,
    "least_calls": least_calls,
    "best_skill": best_skill,
    "round_robin": round_robin,
    "ring_all": ring_all,
}


def pick(strategy: str, candidates: Iterable[AgentStatus], ctx: PickContext) -> tuple[str, ...]:
    """The agent ids to ring: the best one, or all of them (sorted) for ring_all."""
    key = STRATEGIES[strategy](ctx)
    if strategy == "ring_all":
        return tuple(a.agent_id for a in sorted(candidates, key=key))
    best = min(candidates, key=key, default=None)
    return () if best is None else (best.agent_id,)


def preference_order(
    strategy: str, candidates: Iterable[AgentStatus], ctx: PickContext
) -> list[str]:
    """Every candidate, best first."""
    key = STRATEGIES[strategy](ctx)
    return [a.agent_id for a in sorted(candidates, key=key)]
