"""The routing model: agents, queues, waiting callers and the decisions the dispatcher returns.

Pure data, no I/O. ``AgentSpec`` and ``QueueSpec`` are read from the validated
:class:`~callcenter.config.CallCenterConfig`; everything that changes while calls flow
(``AgentStatus``) lives in :mod:`callcenter.routing.dispatcher`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from callcenter.config import Agent, CallCenterConfig, OverflowTarget, Queue, SkillRequirement
from callcenter.errors import ConflictError, NotFoundError

StrategyName = Literal["longest_idle", "least_calls", "best_skill", "round_robin", "ring_all"]
FailureReason = Literal["no_answer", "busy", "rejected", "unavailable"]

# Failures that count towards app_queue-style auto-pause: the agent's phone rang (or could
# not ring at all) and nobody took the call. "busy" means the agent is on another call
# outside the queue, so it only cools the agent down.
COUNTED_FAILURES: frozenset[str] = frozenset({"no_answer", "rejected", "unavailable"})

NO_ANSWER_PAUSE_REASON = "no_answer"
AUTOPAUSE_REASON = "autopause"
ELSEWHERE_REASON = "elsewhere"


class AgentState(enum.StrEnum):
    """Where an agent is; the values are what ``agents.state`` stores."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"


# --- errors -----------------------------------------------------------------------------------


class AgentNotFound(NotFoundError):
    code = "agent-not-found"


class QueueNotFound(NotFoundError):
    code = "queue-not-found"


class CallerNotFound(NotFoundError):
    code = "caller-not-in-queue"


class AgentNotLoggedIn(ConflictError):
    code = "agent-not-logged-in"


class AgentBusy(ConflictError):
    """The agent is reserved, ringing or on a call: the request must wait for the call to end."""

    code = "agent-busy"


class CallerAlreadyQueued(ConflictError):
    code = "caller-already-queued"


# --- static specs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkillNeed:
    """One skill an agent must have, at ``min_level`` or above."""

    skill: str
    min_level: int = 1

    @classmethod
    def coerce(cls, value: SkillNeed | SkillRequirement | tuple[str, int] | str) -> SkillNeed:
        """Accept the config's ``SkillRequirement``, ``("french", 5)`` or a bare skill name."""
        if isinstance(value, SkillNeed):
            return value
        if isinstance(value, SkillRequirement):
            return cls(value.skill, value.min_level)
        if isinstance(value, str):
            return cls(value, 1)
        skill, level = value
        return cls(skill, level)


SkillLike = SkillNeed | SkillRequirement | tuple[str, int] | str


@dataclass(frozen=True, slots=True)
class EscalationStage:
    """After ``after_seconds`` in queue: lower every level to ``min_level`` and/or also accept
    agents with any of ``add_skills`` instead of the queue's own skills."""

    after_seconds: float
    min_level: int | None = None
    add_skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """An agent as configured: who, which phone, which skills (1-10)."""

    agent_id: str
    name: str = ""
    endpoint: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    max_concurrent_calls: int = 1

    @classmethod
    def from_agent(cls, agent: Agent) -> AgentSpec:
        return cls(
            agent_id=agent.id,
            name=agent.name,
            endpoint=agent.endpoint,
            skills=dict(agent.skills),
            max_concurrent_calls=agent.max_concurrent_calls,
        )

    @classmethod
    def from_config(cls, config: CallCenterConfig) -> tuple[AgentSpec, ...]:
        """Every agent of the call center, in config order."""
        return tuple(cls.from_agent(agent) for agent in config.agents)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue as configured: what agents it needs and how it picks among them."""

    queue_id: str
    name: str = ""
    skills: tuple[SkillNeed, ...] = ()
    strategy: StrategyName = "longest_idle"
    ring_timeout: float = 15.0
    wrapup_seconds: float = 10.0
    max_wait_seconds: float = 600.0
    overflow: OverflowTarget = field(default_factory=lambda: OverflowTarget(hangup=True))
    escalation: tuple[EscalationStage, ...] = ()
    autopause_after_no_answers: int = 2
    """Consecutive no-answers before the agent is paused until they unpause; 0 turns it off."""
    service_level_seconds: float = 20.0

    @classmethod
    def from_queue(cls, queue_id: str, queue: Queue) -> QueueSpec:
        return cls(
            queue_id=queue_id,
            name=queue.name,
            skills=tuple(SkillNeed.coerce(r) for r in queue.skills),
            strategy=queue.strategy,
            ring_timeout=float(queue.ring_timeout),
            wrapup_seconds=float(queue.wrapup_seconds),
            max_wait_seconds=float(queue.max_wait_seconds),
            overflow=queue.overflow,
            escalation=tuple(
                EscalationStage(float(s.after_seconds), s.min_level, tuple(s.add_skills))
                for s in queue.escalation
            ),
            autopause_after_no_answers=queue.autopause_after_no_answers,
            service_level_seconds=float(queue.service_level_seconds),
        )

    @classmethod
    def from_config(cls, config: CallCenterConfig) -> dict[str, QueueSpec]:
        """Every queue of the call center by id."""
        return {qid: cls.from_queue(qid, q) for qid, q in config.queues.items()}


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who may take a caller at one escalation stage.

    An agent qualifies with every skill of ``needs``, or with any skill of ``alternatives``
    plus every skill of ``caller_needs`` (what the caller asked for in the IVR stays required
    even when the queue's own skills are swapped for another group).
    """

    needs: tuple[SkillNeed, ...]
    alternatives: frozenset[str] = frozenset()
    caller_needs: tuple[SkillNeed, ...] = ()

    def accepts(self, skills: Mapping[str, int]) -> bool:
        """True when an agent with these skills may take the caller."""
        if has_all_skills(skills, self.needs):
            return True
        if self.alternatives and has_all_skills(skills, self.caller_needs):
            return any(s in skills for s in self.alternatives)
        return False

    @property
    def scored_skills(self) -> tuple[str, ...]:
        """Skills best_skill adds up: the required ones, or the alternatives when relaxed."""
        names = [n.skill for n in self.needs]
        names.extend(sorted(self.alternatives - set(names)))
        return tuple(names)


def has_all_skills(skills: Mapping[str, int], needs: Iterable[SkillNeed]) -> bool:
    # A plain loop: measurably faster than all() with a generator on the hot path.
    for need in needs:  # noqa: SIM110
        if skills.get(need.skill, 0) < need.min_level:
            return False
    return True


def eligibility_at(
    queue: QueueSpec, stage: int, caller_needs: tuple[SkillNeed, ...] = ()
) -> Eligibility:
    """Who may take a caller of ``queue`` once ``stage`` escalation steps have applied."""
    min_level: int | None = None
    alternatives: set[str] = set()
    for step in queue.escalation[:stage]:
        if step.min_level is not None:
            min_level = step.min_level
        alternatives.update(step.add_skills)
    # A caller-requested skill adds to the queue's; on the same skill the higher level wins.
    merged: dict[str, int] = {n.skill: n.min_level for n in queue.skills}
    for need in caller_needs:
        merged[need.skill] = max(merged.get(need.skill, 0), need.min_level)
    if min_level is not None:
        merged = {s: min(level, min_level) for s, level in merged.items()}
        caller_needs = tuple(SkillNeed(n.skill, min(n.min_level, min_level)) for n in caller_needs)
    needs = tuple(SkillNeed(s, level) for s, level in merged.items())
    return Eligibility(needs, frozenset(alternatives), caller_needs)


# --- live data --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    """A caller waiting in a queue (as stored in ``queue_entries`` and shown by status)."""

    call_id: str
    queue_id: str
    priority: int
    entered_at: float
    extra_skills: tuple[SkillNeed, ...] = ()


@dataclass(slots=True)
class AgentStatus:
    """An agent's live state inside one dispatcher. Strategies read it; only the dispatcher
    writes it."""

    spec: AgentSpec
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    reason: str | None = None
    call_id: str | None = None
    queue_id: str | None = None
    """Queue of the call the agent is reserved for, on, or wrapping up."""
    calls_today: int = 0
    idle_since: float = 0.0
    """When the agent last finished a call (or logged in): longest_idle picks the smallest."""
    no_answer_count: int = 0
    answered_at: float | None = None
    timer_until: float | None = None
    """End of wrap-up or of a no-answer pause."""
    pending_pause: str | None = None
    """A pause asked for during a call: applied when the call (and wrap-up) ends."""

    @property
    def agent_id(self) -> str:
        return self.spec.agent_id


# --- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """Ring these agents for this caller (several only for ring_all); they are RESERVED."""

    call_id: str
    queue_id: str
    agent_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Overflow:
    """The caller waited too long: take them out of the queue and send them to ``target``.

    For ``target.queue`` the driver enqueues the caller there (keeping their priority)."""

    call_id: str
    queue_id: str
    target: OverflowTarget
    priority: int = 0


@dataclass(frozen=True, slots=True)
class WrapupEnded:
    """The agent's wrap-up time is over: they are available again."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class NoAnswerPauseEnded:
    """The short pause after a missed ring is over: the agent is available again."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentAutoPaused:
    """The agent missed too many calls in a row and is paused until they unpause."""

    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallerRequeued:
    """Every agent offered the caller failed: they are back at their place in the queue."""

    call_id: str
    queue_id: str
    position: int


@dataclass(frozen=True, slots=True)
class RingTimedOut:
    """Nobody answered within the queue's ring time-out: the driver hangs the agent leg up.

    The dispatcher has already counted the no-answer; a later ``agent_failed`` for the same
    pair is ignored."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class EscalationApplied:
    """The caller's escalation step ``stage`` (1-based) now applies: more agents qualify."""

    call_id: str
    queue_id: str
    stage: int


Decision = (
    Assignment
    | Overflow
    | WrapupEnded
    | NoAnswerPauseEnded
    | AgentAutoPaused
    | CallerRequeued
    | RingTimedOut
    | EscalationApplied
)
