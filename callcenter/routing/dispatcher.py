"""The dispatcher: which waiting caller gets which available agent, and when. Pure, no I/O.

Every method takes ``now`` (seconds, monotonic-like) and returns decisions; the ARI driver
turns those into rings, prompts and database writes. Rules, in the order they apply:

- Callers are served by priority (higher first), then by time entered (longest waiting first),
  then by arrival order. A caller whose agents all fail goes back to the same place.
- Among the available agents who qualify for that caller, the queue's strategy picks
  (:mod:`callcenter.routing.strategies`); ties fall back to the agent id.
- Invariant after every :meth:`Dispatcher.next_assignments`: no waiting caller has an available
  agent who qualifies. So a decision only looks at what changed since (new or requeued callers,
  escalated callers, agents who became available) and at the per-skill index of available
  agents, never at every agent.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any, Literal

from callcenter.config import CallCenterConfig
from callcenter.routing.model import (
    AUTOPAUSE_REASON,
    COUNTED_FAILURES,
    ELSEWHERE_REASON,
    NO_ANSWER_PAUSE_REASON,
    AgentAutoPaused,
    AgentBusy,
    AgentNotFound,
    AgentNotLoggedIn,
    AgentSpec,
    AgentState,
    AgentStatus,
    Assignment,
    CallerAlreadyQueued,
    CallerNotFound,
    CallerRequeued,
    Decision,
    Eligibility,
    EscalationApplied,
    FailureReason,
    NoAnswerPauseEnded,
    Overflow,
    QueueNotFound,
    QueueSpec,
    RingTimedOut,
    SkillLike,
    SkillNeed,
    WaitingCaller,
    WrapupEnded,
    eligibility_at,
)
from callcenter.routing.strategies import PickContext, pick, preference_order

CallerKey = tuple[int, float, int, str]
"""(-priority, entered_at, arrival number, call id): smaller is served first."""

_BUSY_STATES = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL})
_OFFER_STATES = frozenset({AgentState.RESERVED, AgentState.RINGING})
_NO_AGENTS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """One agent state transition, for ``agent_state_changes`` (drained by the driver)."""

    agent_id: str
    state: AgentState
    at: float
    reason: str | None = None
    call_id: str | None = None
    queue_id: str | None = None


@dataclass(slots=True)
class _Caller:
    call_id: str
    queue: QueueSpec
    priority: int
    entered_at: float
    extra_skills: tuple[SkillNeed, ...]
    key: CallerKey
    stage: int
    eligibility: Eligibility
    offered_to: set[str] = field(default_factory=set)
    overdue: bool = False
    """Max wait passed while an agent was ringing: overflow if they come back to the queue."""

    @property
    def waiting(self) -> bool:
        return not self.offered_to

    def public(self) -> WaitingCaller:
        return WaitingCaller(
            self.call_id, self.queue.queue_id, self.priority, self.entered_at, self.extra_skills
        )


TimerKind = Literal["agent", "escalate", "max_wait"]


class Dispatcher:
    """Routes waiting callers to available agents, deterministically, from events and time."""

    def __init__(
        self,
        queues: Mapping[str, QueueSpec],
        agents: Iterable[AgentSpec],
        *,
        no_answer_pause_seconds: float = 5.0,
        ring_grace_seconds: float = 2.0,
        default_handle_seconds: float = 180.0,
        handle_time_samples: int = 50,
    ) -> None:
        """``no_answer_pause_seconds``: how long an agent who missed a ring rests before the
        next one (app_queue's member delay); ``ring_grace_seconds``: slack after a queue's
        ring time-out before the dispatcher itself gives up on a ringing agent."""
        self._queues: dict[str, QueueSpec] = dict(queues)
        self._agents: dict[str, AgentStatus] = {}
        for spec in agents:
            self._agents[spec.agent_id] = AgentStatus(spec)
        self.no_answer_pause_seconds = no_answer_pause_seconds
        self.ring_grace_seconds = ring_grace_seconds
        self.default_handle_seconds = default_handle_seconds

        # Available agents, all of them and per skill: the index a decision starts from.
        self._available: set[str] = set()
        self._available_by_skill: dict[str, set[str]] = {}
        self._by_level = _LevelIndex()
        # Queues an agent could ever serve (fully escalated, no caller-specific skills).
        self._serves: dict[str, tuple[str, ...]] = {}
        for agent_id, status in self._agents.items():
            skills = status.spec.skills
            self._serves[agent_id] = tuple(
                qid
                for qid, q in self._queues.items()
                if eligibility_at(q, len(q.escalation)).accepts(skills)
            )

        self._callers: dict[str, _Caller] = {}
        self._waiting: dict[str, list[CallerKey]] = {qid: [] for qid in self._queues}
        # The same callers grouped by who may take them (one Eligibility object per queue,
        # stage and caller skills): an agent who frees up checks a few groups, not every caller.
        self._groups: dict[str, dict[int, tuple[Eligibility, list[CallerKey]]]] = {
            qid: {} for qid in self._queues
        }
        self._fresh_callers: set[str] = set()
        self._fresh_agents: set[str] = set()
        self._arrivals = itertools.count()
        self._timers: list[tuple[float, int, TimerKind, Any]] = []
        self._timer_seq = itertools.count()
        self._eligibility_cache: dict[tuple[str, int, tuple[SkillNeed, ...]], Eligibility] = {}
        self._round_robin_last: dict[str, str] = {}
        self._handle_times: dict[str, deque[float]] = {
            qid: deque(maxlen=handle_time_samples) for qid in self._queues
        }
        self._changes: list[AgentStateChanged] = []

    @classmethod
    def from_config(cls, config: CallCenterConfig, **options: Any) -> Dispatcher:
        """A dispatcher for every queue and agent of the call center (all logged out)."""
        return cls(QueueSpec.from_config(config), AgentSpec.from_config(config), **options)

    # --- agents -------------------------------------------------------------------------------

    def agent_state(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).state

    def agent_status(self, agent_id: str) -> AgentStatus:
        """The agent's live record (read it, do not change it)."""
        return self._agent(agent_id)

    def agents(self) -> Iterator[AgentStatus]:
        return iter(self._agents.values())

    def log_in(self, agent_id: str, now: float) -> None:
        """The agent is ready to take calls; logging in again changes nothing."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            agent.idle_since = now
            agent.no_answer_count = 0
            self._make_available(agent, now)

    def log_out(self, agent_id: str, now: float) -> None:
        """The agent leaves; refused while a call is offered to them or they are on one."""
        agent = self._agent(agent_id)
        if agent.state in _BUSY_STATES and agent.reason != ELSEWHERE_REASON:
            raise AgentBusy(
                f"agent {agent_id} is {agent.state.value}", agent=agent_id, call=agent.call_id
            )
        agent.pending_pause = None
        agent.call_id = agent.queue_id = None
        agent.timer_until = None
        self._set_state(agent, AgentState.LOGGED_OUT, now)

    def pause(self, agent_id: str, reason: str, now: float) -> None:
        """Stop offering calls to the agent; during a call it takes effect when the call ends."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise AgentNotLoggedIn(f"agent {agent_id} is not logged in", agent=agent_id)
        if agent.state in _BUSY_STATES:
            agent.pending_pause = reason
            return
        # Pausing during wrap-up ends the wrap-up: the agent now owns their time.
        agent.call_id = agent.queue_id = None
        agent.timer_until = None
        self._set_state(agent, AgentState.PAUSED, now, reason)

    def unpause(self, agent_id: str, now: float) -> None:
        """Offer calls to the agent again (also clears an auto-pause and its count)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise AgentNotLoggedIn(f"agent {agent_id} is not logged in", agent=agent_id)
        agent.pending_pause = None
        if agent.state is AgentState.PAUSED:
            agent.no_answer_count = 0
            self._make_available(agent, now)

    def reset_daily_counts(self) -> None:
        """Start a new day for least_calls."""
        for agent in self._agents.values():
            agent.calls_today = 0
        self._by_level.rebuild(self._agents[a] for a in sorted(self._available))

    def agent_busy_elsewhere(self, agent_id: str, now: float) -> None:
        """Another worker holds this agent (seen in the shared database): do not offer them."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.AVAILABLE:
            self._set_state(agent, AgentState.RESERVED, now, ELSEWHERE_REASON)

    def agent_free_elsewhere(self, agent_id: str, now: float) -> None:
        """The other worker let the agent go: they are available here again."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.RESERVED and agent.reason == ELSEWHERE_REASON:
            self._leave_busy(agent, now)  # a pause asked for meanwhile applies now

    # --- callers ------------------------------------------------------------------------------

    def enqueue(
        self,
        call_id: str,
        queue_id: str,
        now: float,
        priority: int = 0,
        extra_skills: Iterable[SkillLike] = (),
        *,
        entered_at: float | None = None,
    ) -> int:
        """Put a caller in a queue; returns their position (1 = next). ``entered_at`` keeps
        the original time for a caller restored after a worker restart."""
        queue = self._queue(queue_id)
        if call_id in self._callers:
            raise CallerAlreadyQueued(
                f"call {call_id} is already in queue {self._callers[call_id].queue.queue_id}",
                call=call_id,
            )
        entered = now if entered_at is None else entered_at
        needs = tuple(SkillNeed.coerce(s) for s in extra_skills)
        waited = now - entered
        stage = sum(1 for step in queue.escalation if step.after_seconds <= waited)
        caller = _Caller(
            call_id=call_id,
            queue=queue,
            priority=priority,
            entered_at=entered,
            extra_skills=needs,
            key=(-priority, entered, next(self._arrivals), call_id),
            stage=stage,
            eligibility=self._eligibility(queue, stage, needs),
        )
        self._callers[call_id] = caller
        self._list(caller)
        self._fresh_callers.add(call_id)
        for step in queue.escalation[stage:]:
            self._push_timer(entered + step.after_seconds, "escalate", caller)
        self._push_timer(max(now, entered + queue.max_wait_seconds), "max_wait", caller)
        return self._position_of(caller)

    def remove_caller(self, call_id: str, now: float) -> WaitingCaller | None:
        """The caller left (hung up, pressed for a callback): agents ringing for them are
        freed without penalty. Returns the caller, or None if they were not queued."""
        caller = self._callers.pop(call_id, None)
        if caller is None:
            return None
        self._fresh_callers.discard(call_id)
        if caller.waiting:
            self._unlist(caller)
        for agent_id in sorted(caller.offered_to):
            agent = self._agents[agent_id]
            if agent.call_id == call_id and agent.state in _OFFER_STATES:
                self._end_offer(agent, now)
        caller.offered_to.clear()
        return caller.public()

    def waiting_caller(self, call_id: str) -> WaitingCaller:
        return self._caller(call_id).public()

    def callers(self, queue_id: str) -> list[tuple[WaitingCaller, bool]]:
        """The queue's callers in the order they are served (priority, then longest wait),
        each with whether an agent is being offered the call right now (the wallboard)."""
        found = sorted(
            (c for c in self._callers.values() if c.queue.queue_id == queue_id),
            key=lambda c: c.key,
        )
        return [(c.public(), not c.waiting) for c in found]

    def position(self, call_id: str) -> int:
        """1-based place among the callers waiting in the same queue."""
        return self._position_of(self._caller(call_id))

    def estimated_wait(self, call_id: str, now: float) -> float:
        """Seconds until an agent is likely free for this caller: position times the queue's
        recent average handle time (talk + wrap-up), shared by the agents staffing it."""
        caller = self._caller(call_id)
        queue_id = caller.queue.queue_id
        samples = self._handle_times[queue_id]
        handle = fmean(samples) if samples else self.default_handle_seconds
        base = self._eligibility(caller.queue, 0, ())
        staffed = sum(
            1
            for agent in self._agents.values()
            if agent.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
            and base.accepts(agent.spec.skills)
        )
        return self._position_of(caller) * handle / max(1, staffed)

    # --- the decision -------------------------------------------------------------------------

    def next_assignments(self, now: float) -> list[Assignment]:
        """Pair waiting callers with available agents and reserve those agents."""
        heap: list[tuple[CallerKey, str]] = []
        for call_id in self._fresh_callers:
            caller = self._callers.get(call_id)
            if caller is not None and caller.waiting:
                heap.append((caller.key, call_id))
        self._fresh_callers.clear()
        # For each agent who just became available: the best caller they could take.
        aims: dict[str, str] = {}
        for agent_id in self._fresh_agents:
            if agent_id in self._available:
                best = self._best_caller_for(agent_id)
                if best is not None:
                    aims[agent_id] = best.call_id
                    heap.append((best.key, best.call_id))
        self._fresh_agents.clear()
        heapq.heapify(heap)

        assignments: list[Assignment] = []
        while heap and self._available:
            key, call_id = heapq.heappop(heap)
            caller = self._callers.get(call_id)
            if caller is None or not caller.waiting or caller.key != key:
                continue
            chosen = self._fast_pick(caller)
            if chosen is None:
                candidates = self._candidates(caller)
                chosen = pick(caller.queue.strategy, candidates, self._pick_context(caller))
            if not chosen:
                continue
            assignments.append(self._offer(caller, chosen, now))
            # Agents who aimed at this caller but were not chosen aim at the next best one.
            for agent_id in [a for a, c in aims.items() if c == call_id]:
                del aims[agent_id]
                if agent_id in self._available:
                    best = self._best_caller_for(agent_id)
                    if best is not None:
                        aims[agent_id] = best.call_id
                        heapq.heappush(heap, (best.key, best.call_id))
        return assignments

    def wanted_elsewhere(self) -> set[str]:
        """Agents held elsewhere (another worker owns them) who could take a caller waiting
        here: the ones worth asking their owner for."""
        wanted: set[str] = set()
        for agent_id, agent in self._agents.items():
            if (
                agent.state is AgentState.RESERVED
                and agent.reason == ELSEWHERE_REASON
                and self._best_caller_for(agent_id) is not None
            ):
                wanted.add(agent_id)
        return wanted

    def preference_order(self, call_id: str) -> list[str]:
        """Every available agent who qualifies for the caller, best first (for a worker that
        must try the next agent when another worker reserved the first)."""
        caller = self._caller(call_id)
        candidates = self._candidates(caller)
        return preference_order(caller.queue.strategy, candidates, self._pick_context(caller))

    # --- what happens to an offer -------------------------------------------------------------

    def agent_ringing(self, call_id: str, agent_id: str, now: float) -> None:
        """The agent's phone rings: the ring time-out starts now."""
        agent = self._agent(agent_id)
        if agent.call_id != call_id or agent.state is not AgentState.RESERVED:
            return
        self._set_state(agent, AgentState.RINGING, now)
        self._start_ring_timer(agent, now)

    def agent_answered(self, call_id: str, agent_id: str, now: float) -> bool:
        """The agent took the call; other ring_all agents are freed. False when the offer is
        no longer valid (the caller left, another agent answered first): hang that leg up."""
        agent = self._agent(agent_id)
        caller = self._callers.get(call_id)
        if (
            caller is None
            or agent_id not in caller.offered_to
            or agent.call_id != call_id
            or agent.state not in _OFFER_STATES
        ):
            return False
        del self._callers[call_id]
        for other_id in sorted(caller.offered_to - {agent_id}):
            other = self._agents[other_id]
            if other.call_id == call_id and other.state in _OFFER_STATES:
                self._end_offer(other, now)
        caller.offered_to.clear()
        agent.calls_today += 1
        agent.no_answer_count = 0
        agent.answered_at = now
        agent.timer_until = None
        self._set_state(agent, AgentState.ON_CALL, now)
        return True

    def agent_on_adopted_call(
        self, agent_id: str, call_id: str, queue_id: str, answered_at: float, now: float
    ) -> None:
        """The agent is already talking on ``call_id`` (a conversation a restarted worker found
        in Asterisk): on call from ``answered_at``, wrap-up after it, whatever state this
        fresh dispatcher had for them (logged out until the shared rows are read)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            agent.idle_since = now
        agent.call_id, agent.queue_id = call_id, queue_id
        agent.answered_at = answered_at
        agent.timer_until = None
        self._set_state(agent, AgentState.ON_CALL, now)

    def agent_failed(
        self, call_id: str, agent_id: str, now: float, reason: FailureReason
    ) -> list[Decision]:
        """The agent did not take the call: rest or auto-pause them, and put the caller back
        at their place once no agent rings for them any more. Late events are ignored."""
        agent = self._agent(agent_id)
        if agent.call_id != call_id or agent.state not in _OFFER_STATES:
            return []
        return self._fail_offer(agent, now, reason)

    def reservation_refused(self, call_id: str, agent_id: str, now: float) -> list[Decision]:
        """Another worker reserved this agent first (Postgres said no): the agent counts as
        busy elsewhere, without penalty, and the caller goes back to their place."""
        agent = self._agent(agent_id)
        if agent.call_id != call_id or agent.state not in _OFFER_STATES:
            return []
        caller = self._callers.get(call_id)
        agent.call_id = agent.queue_id = None
        agent.timer_until = None
        self._set_state(agent, AgentState.RESERVED, now, ELSEWHERE_REASON)
        return self._after_offer_ended(caller, agent_id, now)

    def call_finished(self, agent_id: str, now: float) -> list[Decision]:
        """The agent's call ended: wrap-up for the queue's time, then available again."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.ON_CALL:
            return []
        queue = self._queues.get(agent.queue_id or "")
        wrapup = queue.wrapup_seconds if queue is not None else 0.0
        if queue is not None and agent.answered_at is not None:
            self._handle_times[queue.queue_id].append(now - agent.answered_at + wrapup)
        agent.idle_since = now
        agent.answered_at = None
        if wrapup <= 0:
            self._leave_busy(agent, now)
            return [WrapupEnded(agent_id)]
        agent.timer_until = now + wrapup
        self._set_state(agent, AgentState.WRAPUP, now)
        self._push_timer(agent.timer_until, "agent", agent_id)
        return []

    # --- time ---------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Decision]:
        """Apply everything due by ``now``: wrap-ups and no-answer pauses that end, ring
        time-outs, escalation steps and max-wait overflows, in time order."""
        decisions: list[Decision] = []
        while self._timers and self._timers[0][0] <= now:
            # Each timer applies at its own time, so a rest that starts at a ring time-out
            # and ends before ``now`` also ends within this tick.
            at, _, kind, target = heapq.heappop(self._timers)
            if kind == "agent":
                decisions.extend(self._agent_timer(self._agents[target], at))
            elif kind == "escalate":
                decisions.extend(self._escalate(target, at))
            else:
                decisions.extend(self._max_wait(target, at))
        return decisions

    def next_timer(self) -> float | None:
        """When :meth:`tick` may next have something to do (may be early, never late)."""
        return self._timers[0][0] if self._timers else None

    # --- reporting ----------------------------------------------------------------------------

    def drain_state_changes(self) -> list[AgentStateChanged]:
        """Agent state transitions since the last call, oldest first, for the database."""
        changes, self._changes = self._changes, []
        return changes

    def snapshot(self, now: float) -> dict[str, Any]:
        """Queues (waiting, being offered, longest wait) and agents (state, since, reason)."""
        queues: dict[str, dict[str, Any]] = {
            qid: {"waiting": 0, "offered": 0, "longest_wait": 0.0} for qid in self._queues
        }
        for caller in self._callers.values():
            row = queues[caller.queue.queue_id]
            row["waiting" if caller.waiting else "offered"] += 1
            row["longest_wait"] = max(row["longest_wait"], now - caller.entered_at)
        agents = {
            agent_id: {
                "state": agent.state.value,
                "since": agent.since,
                "reason": agent.reason,
                "call_id": agent.call_id,
                "queue_id": agent.queue_id,
                "calls_today": agent.calls_today,
            }
            for agent_id, agent in sorted(self._agents.items())
        }
        return {"queues": queues, "agents": agents}

    # --- internals: agents --------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentStatus:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise AgentNotFound(f"no agent {agent_id!r}", agent=agent_id) from None

    def _queue(self, queue_id: str) -> QueueSpec:
        try:
            return self._queues[queue_id]
        except KeyError:
            raise QueueNotFound(f"no queue {queue_id!r}", queue=queue_id) from None

    def _caller(self, call_id: str) -> _Caller:
        try:
            return self._callers[call_id]
        except KeyError:
            raise CallerNotFound(f"call {call_id} is not in a queue", call=call_id) from None

    def _set_state(
        self, agent: AgentStatus, state: AgentState, now: float, reason: str | None = None
    ) -> None:
        agent_id = agent.agent_id
        was_available = agent.state is AgentState.AVAILABLE
        if state is AgentState.AVAILABLE and not was_available:
            self._available.add(agent_id)
            for skill in agent.spec.skills:
                self._available_by_skill.setdefault(skill, set()).add(agent_id)
            self._by_level.add(agent)
            self._fresh_agents.add(agent_id)
        elif was_available and state is not AgentState.AVAILABLE:
            self._available.discard(agent_id)
            for skill in agent.spec.skills:
                self._available_by_skill[skill].discard(agent_id)
            self._by_level.remove(agent)
            self._fresh_agents.discard(agent_id)
        agent.state = state
        agent.since = now
        agent.reason = reason
        self._changes.append(
            AgentStateChanged(agent_id, state, now, reason, agent.call_id, agent.queue_id)
        )

    def _make_available(self, agent: AgentStatus, now: float) -> None:
        agent.call_id = agent.queue_id = None
        agent.timer_until = None
        self._set_state(agent, AgentState.AVAILABLE, now)

    def _leave_busy(self, agent: AgentStatus, now: float) -> None:
        """After wrap-up or a rest: a pause asked for during the call wins over available."""
        if agent.pending_pause is not None:
            reason, agent.pending_pause = agent.pending_pause, None
            agent.call_id = agent.queue_id = None
            agent.timer_until = None
            self._set_state(agent, AgentState.PAUSED, now, reason)
        else:
            self._make_available(agent, now)

    def _end_offer(self, agent: AgentStatus, now: float) -> None:
        """The offer ended through no fault of the agent's (caller left, another answered)."""
        self._leave_busy(agent, now)

    def _start_ring_timer(self, agent: AgentStatus, now: float) -> None:
        queue = self._queues[agent.queue_id or ""]
        agent.timer_until = now + queue.ring_timeout + self.ring_grace_seconds
        self._push_timer(agent.timer_until, "agent", agent.agent_id)

    def _agent_timer(self, agent: AgentStatus, now: float) -> list[Decision]:
        if agent.timer_until != now:
            return []  # superseded
        if agent.state is AgentState.WRAPUP:
            self._leave_busy(agent, now)
            return [WrapupEnded(agent.agent_id)]
        if agent.state is AgentState.PAUSED and agent.reason == NO_ANSWER_PAUSE_REASON:
            self._leave_busy(agent, now)
            return [NoAnswerPauseEnded(agent.agent_id)]
        if agent.state in _OFFER_STATES and agent.call_id is not None:
            call_id = agent.call_id
            return [RingTimedOut(call_id, agent.agent_id), *self._fail_offer(agent, now)]
        return []

    def _fail_offer(
        self, agent: AgentStatus, now: float, reason: FailureReason = "no_answer"
    ) -> list[Decision]:
        caller = self._callers.get(agent.call_id or "")
        queue = self._queues.get(agent.queue_id or "")
        decisions: list[Decision] = []
        if reason in COUNTED_FAILURES:
            agent.no_answer_count += 1
        limit = queue.autopause_after_no_answers if queue is not None else 0
        agent.call_id = agent.queue_id = None
        agent.timer_until = None
        if limit and agent.no_answer_count >= limit:
            agent.pending_pause = None
            self._set_state(agent, AgentState.PAUSED, now, AUTOPAUSE_REASON)
            decisions.append(AgentAutoPaused(agent.agent_id, AUTOPAUSE_REASON))
        elif self.no_answer_pause_seconds > 0:
            agent.timer_until = now + self.no_answer_pause_seconds
            self._set_state(agent, AgentState.PAUSED, now, NO_ANSWER_PAUSE_REASON)
            self._push_timer(agent.timer_until, "agent", agent.agent_id)
        else:
            self._leave_busy(agent, now)
        decisions.extend(self._after_offer_ended(caller, agent.agent_id, now))
        return decisions

    def _after_offer_ended(
        self, caller: _Caller | None, agent_id: str, now: float
    ) -> list[Decision]:
        if caller is None:
            return []
        caller.offered_to.discard(agent_id)
        if not caller.waiting:
            return []  # ring_all: other agents still ring
        self._list(caller)
        self._fresh_callers.add(caller.call_id)
        if caller.overdue:
            self._push_timer(now, "max_wait", caller)
        return [CallerRequeued(caller.call_id, caller.queue.queue_id, self._position_of(caller))]

    # --- internals: callers -------------------------------------------------------------------

    def _eligibility(
        self, queue: QueueSpec, stage: int, needs: tuple[SkillNeed, ...]
    ) -> Eligibility:
        cache_key = (queue.queue_id, stage, needs)
        found = self._eligibility_cache.get(cache_key)
        if found is None:
            found = self._eligibility_cache[cache_key] = eligibility_at(queue, stage, needs)
        return found

    def _position_of(self, caller: _Caller) -> int:
        return bisect.bisect_left(self._waiting[caller.queue.queue_id], caller.key) + 1

    def _list(self, caller: _Caller) -> None:
        """Put a caller among those waiting (at their place, by key)."""
        queue_id = caller.queue.queue_id
        bisect.insort(self._waiting[queue_id], caller.key)
        groups = self._groups[queue_id]
        group = groups.get(id(caller.eligibility))
        if group is None:
            group = groups[id(caller.eligibility)] = (caller.eligibility, [])
        bisect.insort(group[1], caller.key)

    def _unlist(self, caller: _Caller) -> None:
        queue_id = caller.queue.queue_id
        _remove_key(self._waiting[queue_id], caller.key)
        groups = self._groups[queue_id]
        group = groups.get(id(caller.eligibility))
        if group is not None:
            _remove_key(group[1], caller.key)
            if not group[1]:
                del groups[id(caller.eligibility)]

    def _escalate(self, caller: _Caller, now: float) -> list[Decision]:
        if self._callers.get(caller.call_id) is not caller:
            return []
        waited = now - caller.entered_at
        stage = sum(1 for s in caller.queue.escalation if s.after_seconds <= waited)
        if stage <= caller.stage:
            return []
        if caller.waiting:
            self._unlist(caller)
        caller.stage = stage
        caller.eligibility = self._eligibility(caller.queue, stage, caller.extra_skills)
        if caller.waiting:
            self._list(caller)
            self._fresh_callers.add(caller.call_id)
        return [EscalationApplied(caller.call_id, caller.queue.queue_id, stage)]

    def _max_wait(self, caller: _Caller, now: float) -> list[Decision]:
        if self._callers.get(caller.call_id) is not caller:
            return []
        if not caller.waiting:
            caller.overdue = True  # let the ringing agent answer; decide if they fail
            return []
        self._unlist(caller)
        del self._callers[caller.call_id]
        self._fresh_callers.discard(caller.call_id)
        queue = caller.queue
        return [Overflow(caller.call_id, queue.queue_id, queue.overflow, caller.priority)]

    def _push_timer(self, at: float, kind: TimerKind, target: Any) -> None:
        heapq.heappush(self._timers, (at, next(self._timer_seq), kind, target))

    # --- internals: matching ------------------------------------------------------------------

    def _candidates(self, caller: _Caller) -> list[AgentStatus]:
        """Available agents who qualify: set operations on the per-level index, no scan."""
        eligibility = caller.eligibility
        index = self._by_level
        found = index.qualified(eligibility.needs) if eligibility.needs else set(self._available)
        if eligibility.alternatives:
            by_skill = self._available_by_skill
            others = set().union(*(by_skill.get(s, _NO_AGENTS) for s in eligibility.alternatives))
            if eligibility.caller_needs:
                others &= index.qualified(eligibility.caller_needs)
            found |= others
        agents = self._agents
        return [agents[agent_id] for agent_id in found]

    def _fast_pick(self, caller: _Caller) -> tuple[str, ...] | None:
        """The strategy's choice read off the per-level index; None when only the general
        scan can answer."""
        queue = caller.queue
        return self._by_level.pick(
            caller.eligibility, queue.strategy, self._round_robin_last.get(queue.queue_id)
        )

    def _best_caller_for(self, agent_id: str) -> _Caller | None:
        """The first-served waiting caller this agent qualifies for, across their queues."""
        skills = self._agents[agent_id].spec.skills
        best: CallerKey | None = None
        for queue_id in self._serves[agent_id]:
            for eligibility, keys in self._groups[queue_id].values():
                first = keys[0]
                if (best is None or first < best) and eligibility.accepts(skills):
                    best = first
        return None if best is None else self._callers[best[3]]

    def _pick_context(self, caller: _Caller) -> PickContext:
        queue = caller.queue
        if queue.strategy == "best_skill":
            return PickContext(scored_skills=caller.eligibility.scored_skills)
        if queue.strategy == "round_robin":
            return PickContext(last_agent_id=self._round_robin_last.get(queue.queue_id))
        return PickContext()

    def _offer(self, caller: _Caller, agent_ids: tuple[str, ...], now: float) -> Assignment:
        queue = caller.queue
        self._unlist(caller)
        caller.offered_to = set(agent_ids)
        if queue.strategy == "round_robin":
            self._round_robin_last[queue.queue_id] = agent_ids[0]
        for agent_id in agent_ids:
            agent = self._agents[agent_id]
            agent.call_id = caller.call_id
            agent.queue_id = queue.queue_id
            self._set_state(agent, AgentState.RESERVED, now)
            self._start_ring_timer(agent, now)
        return Assignment(caller.call_id, queue.queue_id, agent_ids)


def _remove_key(keys: list[CallerKey], key: CallerKey) -> None:
    _discard_sorted(keys, key)


_OrderEntry = tuple[float, str]
"""(sort value, agent id): the order of longest_idle (idle_since) or least_calls (calls)."""


class _LevelIndex:
    """Available agents per skill and level, each list kept in a strategy's order.

    For a caller who needs one skill at ``min_level`` or above (the usual case), the
    strategy's best agent is the best of at most ten list heads (one per level), whatever the
    number of agents.
    """

    def __init__(self) -> None:
        self.ids: dict[str, list[list[str]]] = {}
        """skill -> level -> available agent ids, sorted (best_skill, round_robin)."""
        self.idle: dict[str, list[list[_OrderEntry]]] = {}
        """skill -> level -> (idle_since, agent id), sorted (longest_idle)."""
        self.calls: dict[str, list[list[_OrderEntry]]] = {}
        """skill -> level -> (calls_today, agent id), sorted (least_calls)."""
        self._entries: dict[str, tuple[_OrderEntry, _OrderEntry]] = {}

    def add(self, agent: AgentStatus) -> None:
        agent_id = agent.agent_id
        idle = (agent.idle_since, agent_id)
        calls = (float(agent.calls_today), agent_id)
        self._entries[agent_id] = (idle, calls)
        for skill, level in agent.spec.skills.items():
            if skill not in self.ids:
                self.ids[skill] = [[] for _ in range(11)]
                self.idle[skill] = [[] for _ in range(11)]
                self.calls[skill] = [[] for _ in range(11)]
            bisect.insort(self.ids[skill][level], agent_id)
            bisect.insort(self.idle[skill][level], idle)
            bisect.insort(self.calls[skill][level], calls)

    def remove(self, agent: AgentStatus) -> None:
        agent_id = agent.agent_id
        idle, calls = self._entries.pop(agent_id)
        bisect_left = bisect.bisect_left
        # Inlined (no helper call per list): this runs on every reservation.
        for skill, level in agent.spec.skills.items():
            ids = self.ids[skill][level]
            del ids[bisect_left(ids, agent_id)]
            by_idle = self.idle[skill][level]
            del by_idle[bisect_left(by_idle, idle)]
            by_calls = self.calls[skill][level]
            del by_calls[bisect_left(by_calls, calls)]

    def rebuild(self, available: Iterable[AgentStatus]) -> None:
        """Start again from these agents (after their sort values changed in place)."""
        self.ids.clear()
        self.idle.clear()
        self.calls.clear()
        self._entries.clear()
        for agent in available:
            self.add(agent)

    def pick(
        self, eligibility: Eligibility, strategy: str, last_agent_id: str | None
    ) -> tuple[str, ...] | None:
        """The strategy's choice for a caller who needs exactly one skill; None for any other
        caller (several skills, alternative groups), who goes through the set scan."""
        needs = eligibility.needs
        if len(needs) != 1 or eligibility.alternatives or strategy == "ring_all":
            return None
        best = self._first(needs[0], strategy, last_agent_id)
        return () if best is None else (best,)

    def qualified(self, needs: Iterable[SkillNeed]) -> set[str]:
        """Ids of the available agents with every one of ``needs`` (unions and intersections
        of the level lists, done in C)."""
        found: set[str] | None = None
        for need in needs:
            levels = self.ids.get(need.skill)
            if levels is None:
                return set()
            with_need = set().union(*levels[need.min_level :])
            found = with_need if found is None else found & with_need
            if not found:
                break
        return found if found is not None else set()

    def _first(self, need: SkillNeed, strategy: str, last: str | None) -> str | None:
        """The head of ``_in_order`` without building it: the one-skill decision."""
        if need.skill not in self.ids:
            return None
        levels = range(need.min_level, 11)
        if strategy == "longest_idle" or strategy == "least_calls":
            by_value = (self.idle if strategy == "longest_idle" else self.calls)[need.skill]
            heads = [by_value[lv][0] for lv in levels if by_value[lv]]
            return min(heads)[1] if heads else None
        ids = self.ids[need.skill]
        if strategy == "best_skill":
            for level in reversed(levels):
                if ids[level]:
                    return ids[level][0]
            return None
        first: str | None = None
        after: str | None = None
        for level in levels:
            level_ids = ids[level]
            if not level_ids:
                continue
            if first is None or level_ids[0] < first:
                first = level_ids[0]
            if last is not None and level_ids[-1] > last:
                candidate = level_ids[bisect.bisect_right(level_ids, last)]
                if after is None or candidate < after:
                    after = candidate
        return after if after is not None else first


def _discard_sorted(items: list[Any], item: Any) -> None:
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]
