"""The ACD service: the pure dispatcher of one worker, driven by events, plus what it writes.

One ``AcdService`` per worker. Every decision is taken in memory, at once, on the event that
makes it possible, and never waits on I/O:

- a caller joins (``join_queue``), an agent frees up (``call_finished``, a failed ring, an
  unpause...), a timer of the dispatcher falls due (wrap-up end, ring time-out, escalation,
  max wait: one ``loop.call_at`` for the earliest) -> ``Dispatcher.next_assignments`` -> an
  ``AgentOffered`` in the call's inbox. There are no polling rounds.
- What changed (agents' states, queue entries, logins and pauses) is added to the routing
  journal (:mod:`callcenter.routing.journal`) behind the decision: batched into the database,
  spooled durably while it is away. A call never waits for it; an API control does (the answer
  means "durable").
- With other workers on the same database, this worker rings only the agents it owns
  (:mod:`callcenter.routing.sharing` keeps the ownership leases in the background and hands
  agents between workers); the others are "held elsewhere" in the dispatcher.

Calls talk to it through small methods (``join_queue``, ``agent_answered``...) and receive its
decisions (``AgentOffered``, ``OverflowDue``, ``RingTimeUp``) in their own inbox, mixed with
their ARI events, so a call's task reads one stream in order.

Agent control for the API and the CLI (``login``, ``logout``, ``pause``, ``unpause``,
``status``) also lives here; errors are the dispatcher's domain errors (``agent-not-found``,
``agent-not-logged-in``, ``agent-busy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callcenter.call.messages import CallInbox, CallMessage
from callcenter.clock import Clock, SystemClock
from callcenter.config import CallCenterConfig, OverflowTarget
from callcenter.errors import CallCenterError
from callcenter.routing.dispatcher import AgentStateChanged, Dispatcher
from callcenter.routing.model import (
    ELSEWHERE_REASON,
    NO_ANSWER_PAUSE_REASON,
    AgentAutoPaused,
    AgentNotLoggedIn,
    AgentSpec,
    AgentState,
    Assignment,
    Decision,
    FailureReason,
    Overflow,
    QueueSpec,
    RingTimedOut,
    SkillLike,
    SkillNeed,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callcenter.routing.journal import RoutingJournal
    from callcenter.routing.leases import AgentLeases
    from callcenter.routing.sharing import AgentSharing

log = logging.getLogger(__name__)

UNREACHABLE_REASON = "unreachable"
"""Pause reason of an agent whose endpoint went offline or could not be allocated."""

CONTROL_SAVE_TIMEOUT = 5.0
"""Seconds an API control waits for its change to be durable (committed or spooled)."""


class AgentStateNotSaved(CallCenterError):
    """A login/pause/... was applied but could not be made durable in time (disk full?)."""

    code = "agent-state-not-saved"


# --- what the service tells a call (through the call's inbox) ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDecision(CallMessage):
    """Base of the service's messages to a call (not from Asterisk)."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(QueueDecision):
    """These agents are reserved for the call: ring them now."""

    queue_id: str
    agent_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowDue(QueueDecision):
    """The caller waited ``max_wait_seconds``: they are out of the queue, send them on."""

    queue_id: str
    target: OverflowTarget
    priority: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RingTimeUp(QueueDecision):
    """The dispatcher gave up on a ringing agent (no Asterisk event came): hang the leg up."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentCall:
    """The call an agent answered: ``waited_seconds`` is the caller's time in queue (PBX s)."""

    call_id: str
    queue_id: str
    waited_seconds: float


# --- the service -----------------------------------------------------------------------------


@dataclass
class _CallState:
    inbox: CallInbox
    queue_id: str
    entered_at: float
    joining: bool = False
    early_offer: AgentOffered | None = None
    """An offer decided while ``join_queue`` ran: the driver takes it at once."""


class AcdService:
    """The dispatcher of one worker, its journal and its share of agents; see the module doc."""

    def __init__(
        self,
        config: CallCenterConfig,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        journal: RoutingJournal | None = None,
        leases: AgentLeases | None = None,
        worker_id: str = "worker",
        no_answer_pause_seconds: float = 5.0,
        sync_seconds: float = 0.25,
        alone_sync_seconds: float = 1.0,
        db_timeout: float = 5.0,
    ) -> None:
        """``speed``: how much faster than real time the PBX runs (the simulator's speed
        factor; 1 on a real Asterisk). Dispatcher times are PBX seconds. Without ``journal``
        nothing is written; without ``leases`` the worker owns every agent (it is alone)."""
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.speed = speed
        self.worker_id = worker_id
        self.journal = journal
        self.leases = leases
        self.dispatcher = Dispatcher(
            QueueSpec.from_config(config),
            AgentSpec.from_config(config),
            no_answer_pause_seconds=no_answer_pause_seconds,
        )
        self.agent_ids = frozenset(a.id for a in config.agents)
        self.db_timeout = db_timeout
        self._calls: dict[str, _CallState] = {}
        self._foreign: set[str] = set()
        """Agents this worker may not ring (another worker owns them, or nobody knows yet)."""
        self._last_calls: dict[str, AgentCall] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._started = False
        self._offline: set[str] = set()
        """Agents whose phone Asterisk reports offline (kept paused until it is online)."""
        self.offers = 0
        self.on_agent_state: Callable[[AgentStateChanged], None] | None = None
        self.sharing: AgentSharing | None = None
        if leases is not None:
            from callcenter.routing.sharing import AgentSharing

            self.sharing = AgentSharing(
                self,
                leases,
                sync_seconds=sync_seconds,
                alone_sync_seconds=alone_sync_seconds,
                db_timeout=db_timeout,
            )
            # Nothing is ours until the shared rows say so.
            self._foreign.update(self.agent_ids)

    @property
    def engine(self) -> Engine | None:
        """The shared database (queue entries of callers to resume), if any."""
        return self.leases.engine if self.leases is not None else None

    # --- time --------------------------------------------------------------------------------

    def now(self) -> float:
        """PBX seconds on a monotonic counter (what the dispatcher reads)."""
        return self.clock.monotonic() * self.speed

    def real_seconds(self, pbx_seconds: float) -> float:
        """How long ``pbx_seconds`` take on this machine's clock."""
        return pbx_seconds / self.speed

    def wall_time(self, pbx_at: float | None = None) -> dt.datetime:
        """The wall-clock time of a dispatcher time (now by default)."""
        wall = self.clock.now()
        if pbx_at is None:
            return wall
        return wall - dt.timedelta(seconds=max(0.0, self.now() - pbx_at) / self.speed)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the journal (replaying a previous run's spool) and the agents' sharing."""
        if self._started:
            return
        self._started = True
        if self.journal is not None:
            if not self.journal.running:
                await self.journal.start()
            self.journal.agents_configured(self.config, self.wall_time())
            if not self.journal.database_up:
                # Queue entries of callers to resume may wait in the spool: give it a moment.
                await self.journal.drain_spool(within=self.db_timeout)
        if self.sharing is not None:
            await self.sharing.start()

    async def close(self) -> None:
        """Stop the timer and the sharing (leases given up), then flush and close the journal."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.sharing is not None:
            await self.sharing.close()
        if self.journal is not None:
            self._collect_state_changes()
            await self.journal.close()
        self._started = False

    # --- deciding ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Offer every available agent a waiting caller can take, now (in memory)."""
        self._collect_state_changes()
        assignments = self.dispatcher.next_assignments(self.now())
        for assignment in assignments:
            self._offer(assignment)
        self._collect_state_changes()
        self._arm_timer()

    def _offer(self, assignment: Assignment) -> None:
        call = self._calls.get(assignment.call_id)
        if call is None:
            # The caller left between the decision and now: the agents are free again.
            self.dispatcher.remove_caller(assignment.call_id, self.now())
            return
        self.offers += 1
        offer = AgentOffered(
            call_id=assignment.call_id,
            queue_id=assignment.queue_id,
            agent_ids=assignment.agent_ids,
        )
        if call.joining:
            call.early_offer = offer
        else:
            call.inbox.put_nowait(offer)

    def _arm_timer(self) -> None:
        """One event-loop timer for the dispatcher's earliest deadline."""
        due = self.dispatcher.next_timer()
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = due
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a unit test driving the service by hand): nothing to time
        delay = max(0.0, self.real_seconds(due - self.now())) + 0.001
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._apply(self.dispatcher.tick(self.now()))
        self._dispatch()

    def _apply(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Overflow):
                call = self._calls.pop(decision.call_id, None)
                self._close_entry(decision.call_id, decision.queue_id, "overflowed")
                if call is not None:
                    call.inbox.put_nowait(
                        OverflowDue(
                            call_id=decision.call_id,
                            queue_id=decision.queue_id,
                            target=decision.target,
                            priority=decision.priority,
                        )
                    )
            elif isinstance(decision, RingTimedOut):
                call = self._calls.get(decision.call_id)
                if call is not None:
                    call.inbox.put_nowait(
                        RingTimeUp(call_id=decision.call_id, agent_id=decision.agent_id)
                    )
            elif isinstance(decision, AgentAutoPaused):
                log.info("agent=%s auto-paused (%s)", decision.agent_id, decision.reason)

    # --- other workers' agents -----------------------------------------------------------------

    def fence(self, agent_id: str) -> None:
        """This worker may not ring the agent any more (another worker owns them)."""
        self._foreign.add(agent_id)
        self.dispatcher.agent_busy_elsewhere(agent_id, self.now())
        self._collect_state_changes()

    def unfence(self, agent_id: str) -> None:
        """The agent is this worker's to ring (again)."""
        if agent_id not in self._foreign:
            return
        self._foreign.discard(agent_id)
        self.dispatcher.agent_free_elsewhere(agent_id, self.now())
        self._dispatch()  # a caller waiting here takes them at once

    def owns(self, agent_id: str) -> bool:
        return agent_id not in self._foreign

    def wanted_agents(self) -> set[str]:
        """Agents other workers own that a caller waiting here could take."""
        return self.dispatcher.wanted_elsewhere() & self._foreign

    # --- writing behind ----------------------------------------------------------------------

    def _collect_state_changes(self) -> None:
        """Hand the dispatcher's new changes to the listeners and the journal; an agent this
        worker does not own is held elsewhere again the moment it would become available."""
        while True:
            changes = self.dispatcher.drain_state_changes()
            if not changes:
                return
            for change in changes:
                if self.on_agent_state is not None:
                    self.on_agent_state(change)
                agent_id = change.agent_id
                if agent_id in self._foreign:
                    if change.state is AgentState.AVAILABLE:
                        self.dispatcher.agent_busy_elsewhere(agent_id, change.at)
                    continue  # its owner writes its states
                if change.reason == ELSEWHERE_REASON or self.journal is None:
                    continue
                self.journal.agent_state(
                    agent_id,
                    change.state,
                    self.wall_time(change.at),
                    reason=change.reason,
                    call_id=change.call_id,
                )

    def _close_entry(
        self, call_id: str, queue_id: str, outcome: str, agent_id: str | None = None
    ) -> None:
        if self.journal is not None:
            self.journal.queue_exit(call_id, queue_id, outcome, self.wall_time(), agent_id)

    # --- calls -------------------------------------------------------------------------------

    def join_queue(
        self,
        call_id: str,
        queue_id: str,
        inbox: CallInbox,
        *,
        priority: int = 0,
        extra_skills: Iterable[SkillLike] = (),
        entered_at: float | None = None,
        already_saved: bool = False,
    ) -> int:
        """Put the caller in ``queue_id``; decisions arrive in ``inbox`` (an offer made at
        once waits in ``take_early_offer``). Returns the position. ``entered_at`` (PBX
        seconds) keeps the place of a caller who joins again; ``already_saved``: their entry
        is still open in the database (a call resumed after a worker restart)."""
        now = self.now()
        needs = tuple(SkillNeed.coerce(s) for s in extra_skills)
        position = self.dispatcher.enqueue(
            call_id, queue_id, now, priority=priority, extra_skills=needs, entered_at=entered_at
        )
        call = self._calls[call_id] = _CallState(
            inbox=inbox,
            queue_id=queue_id,
            entered_at=now if entered_at is None else entered_at,
            joining=True,
        )
        if self.journal is not None and not already_saved:
            skills = [(n.skill, n.min_level) for n in needs]
            self.journal.queue_entry(call_id, queue_id, priority, self.wall_time(), skills)
        self._dispatch()
        call.joining = False
        if call.early_offer is None and self.sharing is not None and self._foreign:
            self.sharing.poke()  # maybe another worker's idle agent can take this caller
        return position

    def take_early_offer(self, call_id: str) -> AgentOffered | None:
        """The offer decided while the caller joined, if an agent was free (ring at once)."""
        call = self._calls.get(call_id)
        if call is None or call.early_offer is None:
            return None
        offer, call.early_offer = call.early_offer, None
        return offer

    def leave_queue(self, call_id: str, outcome: str = "abandoned") -> None:
        """The caller left the queue (``abandoned``, ``callback``, ``voicemail``...): agents
        still offered the call are freed without counting a no-answer."""
        call = self._calls.pop(call_id, None)
        self.dispatcher.remove_caller(call_id, self.now())
        if call is not None:
            self._close_entry(call_id, call.queue_id, outcome)
        self._dispatch()

    def in_queue(self, call_id: str) -> bool:
        return call_id in self._calls

    def position(self, call_id: str) -> int:
        return self.dispatcher.position(call_id)

    def estimated_wait(self, call_id: str) -> float:
        """PBX seconds until an agent is likely free for this caller."""
        return self.dispatcher.estimated_wait(call_id, self.now())

    def agent_call(self, agent_id: str) -> AgentCall | None:
        """The agent's current (or, in wrap-up, last) call and how long its caller waited."""
        return self._last_calls.get(agent_id)

    def offer_stands(self, call_id: str, agent_id: str) -> bool:
        """True while the agent is still reserved or ringing for this call (an offer read
        late from the inbox may have timed out meanwhile: do not ring that agent)."""
        status = self.dispatcher.agent_status(agent_id)
        return status.call_id == call_id and status.state in (
            AgentState.RESERVED,
            AgentState.RINGING,
        )

    def agent_ringing(self, call_id: str, agent_id: str) -> None:
        self.dispatcher.agent_ringing(call_id, agent_id, self.now())
        self._collect_state_changes()
        self._arm_timer()

    def agent_answered(self, call_id: str, agent_id: str) -> bool:
        """The agent picked up; False when the offer is void (hang that leg up)."""
        taken = self.dispatcher.agent_answered(call_id, agent_id, self.now())
        if taken:
            call = self._calls.pop(call_id, None)
            if call is not None:
                self._close_entry(call_id, call.queue_id, "answered", agent_id)
                self._last_calls[agent_id] = AgentCall(
                    call_id, call.queue_id, round(self.now() - call.entered_at, 3)
                )
        self._dispatch()
        return taken

    def agent_on_adopted_call(
        self, call_id: str, agent_id: str, queue_id: str, *, talking_for: float, waited: float
    ) -> None:
        """A conversation a restarted worker adopted: the agent is on it since ``talking_for``
        PBX seconds (their wrap-up follows ``call_finished``); ``waited``: the caller's time
        in queue, for the agent's screen."""
        now = self.now()
        self.dispatcher.agent_on_adopted_call(agent_id, call_id, queue_id, now - talking_for, now)
        self._last_calls[agent_id] = AgentCall(call_id, queue_id, round(waited, 3))
        self._dispatch()

    def agent_failed(self, call_id: str, agent_id: str, reason: FailureReason) -> None:
        """The agent did not take the call (busy, no answer, rejected, unreachable)."""
        self._apply(self.dispatcher.agent_failed(call_id, agent_id, self.now(), reason))
        self._dispatch()

    def agent_unreachable(self, agent_id: str, *, until_online: bool = False) -> None:
        """The agent's phone cannot be rung: paused (reason ``unreachable``) until someone
        unpauses them, or, ``until_online`` (Asterisk said the endpoint is offline), until
        ``agent_reachable``; an agent paused for another reason keeps it."""
        if until_online:
            self._offline.add(agent_id)
        status = self.dispatcher.agent_status(agent_id)
        if status.state is AgentState.PAUSED and status.reason != NO_ANSWER_PAUSE_REASON:
            return  # their own pause (lunch...) stays; a short rest after a missed ring ends
        with contextlib.suppress(AgentNotLoggedIn):
            self.dispatcher.pause(agent_id, UNREACHABLE_REASON, self.now())
        self._dispatch()

    def agent_reachable(self, agent_id: str) -> None:
        """The agent's phone is online (again): a pause for ``unreachable`` ends."""
        self._offline.discard(agent_id)
        status = self.dispatcher.agent_status(agent_id)
        unreachable = UNREACHABLE_REASON in (status.reason, status.pending_pause)
        if status.state is not AgentState.LOGGED_OUT and unreachable:
            self.dispatcher.unpause(agent_id, self.now())
            self._dispatch()  # a caller waiting here takes them at once

    def phone_offline(self, agent_id: str) -> bool:
        """True while Asterisk reports the agent's phone offline."""
        return agent_id in self._offline

    def _keep_unreachable(self, agent_id: str) -> bool:
        """Logging in or unpausing an agent whose phone is offline leaves them unreachable
        (True then)."""
        if agent_id not in self._offline:
            return False
        with contextlib.suppress(AgentNotLoggedIn):
            self.dispatcher.pause(agent_id, UNREACHABLE_REASON, self.now())
        return True

    def call_finished(self, agent_id: str) -> None:
        """The agent's call ended: wrap-up (a timer), then available."""
        self._apply(self.dispatcher.call_finished(agent_id, self.now()))
        self._dispatch()

    # --- agent control (API, CLI) ------------------------------------------------------------

    async def login(self, agent_id: str) -> dict[str, Any]:
        """Log the agent in: available for calls (paused ``unreachable`` while their phone
        is offline)."""
        self.dispatcher.log_in(agent_id, self.now())
        if self._keep_unreachable(agent_id):
            return await self._after_control(agent_id, AgentState.PAUSED, UNREACHABLE_REASON)
        return await self._after_control(agent_id, AgentState.AVAILABLE)

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """Log the agent out (refused with ``agent-busy`` while a call rings or is up)."""
        self.dispatcher.log_out(agent_id, self.now())
        return await self._after_control(agent_id, AgentState.LOGGED_OUT, reason, shown=reason)

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """Pause the agent; during a call the pause starts when the call and wrap-up end."""
        self.dispatcher.pause(agent_id, reason or "paused", self.now())
        return await self._after_control(agent_id, AgentState.PAUSED, reason or "paused")

    async def unpause(self, agent_id: str) -> dict[str, Any]:
        """End the agent's pause (also an auto-pause after missed calls); an agent whose
        phone is offline stays paused ``unreachable``."""
        self.dispatcher.unpause(agent_id, self.now())
        if self._keep_unreachable(agent_id):
            return await self._after_control(agent_id, AgentState.PAUSED, UNREACHABLE_REASON)
        return await self._after_control(agent_id, AgentState.AVAILABLE)

    async def _after_control(
        self,
        agent_id: str,
        wanted: AgentState,
        reason: str | None = None,
        *,
        shown: str | None = None,
    ) -> dict[str, Any]:
        """Decide (an agent who became available takes a waiting caller at once), then wait
        until the change is durable: the answer never promises what a crash would lose."""
        if self.journal is not None:
            at = self.wall_time()
            self.journal.agent_control(agent_id, wanted, at, reason)
            if self.sharing is not None:
                self.sharing.control_applied(agent_id, at)
        self._dispatch()
        if self.journal is not None:
            try:
                async with asyncio.timeout(CONTROL_SAVE_TIMEOUT):
                    await self.journal.flush()
            except TimeoutError:
                raise AgentStateNotSaved(
                    f"agent {agent_id}: the change is applied but not yet saved",
                    agent=agent_id,
                ) from None
        return self.agent_view(agent_id, shown)

    def agent_view(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """One agent as the API shows it (an agent another worker owns: as that worker
        wrote them in the shared row)."""
        status = self.dispatcher.agent_status(agent_id)
        now = self.now()
        state, shown_reason = status.state.value, status.reason or reason
        if status.reason == ELSEWHERE_REASON and self.sharing is not None:
            state, shown_reason = self.sharing.shared_state(agent_id)
        return {
            "id": agent_id,
            "name": status.spec.name,
            "endpoint": status.spec.endpoint,
            "state": state,
            "reason": shown_reason,
            "pending_pause": status.pending_pause,
            "seconds_in_state": round(max(0.0, now - status.since), 1),
            "call_id": status.call_id,
            "queue_id": status.queue_id,
            "calls_today": status.calls_today,
            "skills": dict(status.spec.skills),
            "phone": "offline" if agent_id in self._offline else "online",
        }

    def status(self) -> dict[str, Any]:
        """Every queue (waiting, being offered, longest wait, agents) and agent, now."""
        now = self.now()
        snapshot = self.dispatcher.snapshot(now)
        agents = [self.agent_view(agent_id) for agent_id in sorted(snapshot["agents"])]
        queues = []
        for queue_id, row in snapshot["queues"].items():
            spec = self.config.queues[queue_id]
            needs = {(r.skill, r.min_level) for r in spec.skills}
            serving = [
                a
                for a in agents
                if all(a["skills"].get(skill, 0) >= level for skill, level in needs)
            ]
            queues.append(
                {
                    "id": queue_id,
                    "name": spec.name,
                    "waiting": row["waiting"],
                    "offered": row["offered"],
                    "longest_wait_seconds": round(row["longest_wait"], 1),
                    "agents_available": sum(1 for a in serving if a["state"] == "available"),
                    "agents_logged_in": sum(1 for a in serving if a["state"] != "logged_out"),
                }
            )
        return {
            "at": self.clock.now().isoformat(),
            "worker": self.worker_id,
            "queues": queues,
            "agents": agents,
        }
