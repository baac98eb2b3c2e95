"""The ACD service: glue between the pure dispatcher, the shared reservations and the calls.

One ``AcdService`` per worker. It owns the :class:`~callcenter.routing.dispatcher.Dispatcher`
and one background task (``run``) that

- asks the dispatcher for assignments whenever something changed (a caller joined, an agent
  became free) and reserves each chosen agent in the database (``SELECT ... SKIP LOCKED``
  through :class:`AgentReservations`) before the call rings them: two workers sharing one
  database never ring the same agent;
- applies the dispatcher's timers (wrap-up ends, ring time-outs, max-wait overflows);
- writes agent state changes and queue entries to the database off the event loop.

Calls talk to it through small methods (``join_queue``, ``agent_answered``...) and receive its
decisions (``AgentOffered``, ``OverflowDue``, ``RingTimeUp``) in their own event inbox, mixed
with their ARI events, so a call's task reads one stream in order.

Agent control for the API and the CLI (``login``, ``logout``, ``pause``, ``unpause``,
``status``) also lives here; errors are the dispatcher's domain errors (``agent-not-found``,
``agent-not-logged-in``, ``agent-busy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from callcenter.call.messages import CallInbox, CallMessage
from callcenter.clock import Clock, SystemClock
from callcenter.config import CallCenterConfig, OverflowTarget
from callcenter.db.threads import DbThreads
from callcenter.routing.dispatcher import AgentStateChanged, Dispatcher
from callcenter.routing.model import (
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
from callcenter.routing.reservations import AgentReservations

log = logging.getLogger(__name__)

SHARED_PAUSE_REASON = "paused"
"""Reason shown for a pause made through another worker (the shared row keeps the real one)."""
_CONTROL_STATES = frozenset({AgentState.LOGGED_OUT, AgentState.PAUSED, AgentState.AVAILABLE})
_TIMED_PAUSES = frozenset({NO_ANSWER_PAUSE_REASON})

UNREACHABLE_REASON = "unreachable"
"""Pause reason of an agent whose endpoint went offline or could not be allocated."""


# --- what the service tells a call (through the call's inbox) ---------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDecision(CallMessage):
    """Base of the service's messages to a call (not from Asterisk)."""

    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(QueueDecision):
    """These agents are reserved for the call (in the database too): ring them now."""

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


class AcdService:
    """The dispatcher of one worker plus its shared reservations; see the module docstring."""

    def __init__(
        self,
        config: CallCenterConfig,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        reservations: AgentReservations | None = None,
        worker_id: str = "worker",
        no_answer_pause_seconds: float = 5.0,
        sync_seconds: float = 0.25,
        db_timeout: float = 5.0,
    ) -> None:
        """``speed``: how much faster than real time the PBX runs (the simulator's speed
        factor; 1 on a real Asterisk). Dispatcher times are PBX seconds. Without
        ``reservations`` the service is alone (one worker, nothing written)."""
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.speed = speed
        self.worker_id = worker_id
        self.reservations = reservations
        self.dispatcher = Dispatcher(
            QueueSpec.from_config(config),
            AgentSpec.from_config(config),
            no_answer_pause_seconds=no_answer_pause_seconds,
        )
        self.sync_seconds = sync_seconds
        self.dispatcher_agents = frozenset(a.id for a in config.agents)
        self.db_timeout = db_timeout
        self._calls: dict[str, _CallState] = {}
        self._elsewhere: set[str] = set()
        """Agents another worker holds (the dispatcher has them RESERVED "elsewhere")."""
        self._unwritten: list[AgentStateChanged] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._db_queue: asyncio.Queue[Callable[[], object]] = asyncio.Queue()
        self._db_task: asyncio.Task[None] | None = None
        self._threads = DbThreads()
        """Database calls in threads (one given up on may still run: see ``close``)."""
        self._last_sync = 0.0
        self._last_calls: dict[str, AgentCall] = {}
        self._touched: set[str] = set()
        """Agents changed through this worker's API while the shared rows were being read."""
        self._last_renew = 0.0
        self._offline: set[str] = set()
        """Agents whose phone Asterisk reports offline (kept paused until it is online)."""
        self.offers = 0
        self.refused_reservations = 0
        self.on_agent_state: Callable[[AgentStateChanged], None] | None = None

    # --- time --------------------------------------------------------------------------------

    def now(self) -> float:
        """PBX seconds on a monotonic counter (what the dispatcher reads)."""
        return self.clock.monotonic() * self.speed

    def real_seconds(self, pbx_seconds: float) -> float:
        """How long ``pbx_seconds`` take on this machine's clock."""
        return pbx_seconds / self.speed

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the agents' rows (shared database), start the dispatch loop and the writer."""
        if self.reservations is not None:
            await self._threads.run(self.db_timeout, self.reservations.sync_agents, self.config)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="acd-dispatch")
            self._db_task = asyncio.create_task(self._write_db(), name="acd-db-writer")

    async def close(self) -> None:
        """Stop the loop; pending database writes are finished first (up to ``db_timeout``)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            with contextlib.suppress(Exception):
                await self._write_state_changes()
        if self._db_task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.db_timeout):
                    await self._db_queue.join()
            self._db_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._db_task
            self._db_task = None
        # A database call the loop gave up on (cancelled above, or timed out) may still run in
        # its thread: the reservations' owner disposes of the engine after this returns, and a
        # connection given back after that would be dropped open. A hung one is not awaited
        # longer than ``db_timeout``.
        if not await self._threads.wait(self.db_timeout):
            log.warning("%d database call(s) still running at close", self._threads.running)

    def kick(self) -> None:
        """Something changed: run a dispatch round soon."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The loop must outlive one bad round (a database hiccup): log and go on.
                log.exception("dispatch round failed")
            delay = self.sync_seconds if self.reservations is not None else 1.0
            next_timer = self.dispatcher.next_timer()
            if next_timer is not None:
                delay = min(delay, max(0.0, self.real_seconds(next_timer - self.now())))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()

    async def _dispatch_round(self) -> None:
        self._apply(self.dispatcher.tick(self.now()))
        if self.reservations is not None:
            await self._keep_in_step()
        while True:
            # Every change made so far reaches the shared rows before the reservations: an
            # agent freed here must read "available" to be reserved, and a stale "available"
            # written after a reservation would end its lease. Nothing awaits between the last
            # write and the decision, so the decision sees no unwritten change.
            while self._collect_state_changes():
                await self._write_state_changes()
            assignments = self.dispatcher.next_assignments(self.now())
            if not assignments:
                break
            # One transaction per assignment, all at once: the rows differ, and SKIP LOCKED
            # keeps them from waiting on each other (or on another worker).
            grants = await asyncio.gather(*(self._reserve_all(a) for a in assignments))
            for assignment, granted in zip(assignments, grants, strict=True):
                self._offer(assignment, granted)
            # A refused reservation put its caller back: the loop tries the next agent.

    async def _reserve_all(self, assignment: Assignment) -> list[bool]:
        return [await self._reserve(a, assignment.call_id) for a in assignment.agent_ids]

    def _offer(self, assignment: Assignment, reserved: list[bool]) -> None:
        granted: list[str] = []
        for agent_id, ok in zip(assignment.agent_ids, reserved, strict=True):
            if ok:
                granted.append(agent_id)
                continue
            self.refused_reservations += 1
            self._elsewhere.add(agent_id)
            self._apply(
                self.dispatcher.reservation_refused(assignment.call_id, agent_id, self.now())
            )
        if not granted:
            return
        call = self._calls.get(assignment.call_id)
        if call is None:
            # The caller left between the decision and now: the agents are free again.
            self.dispatcher.remove_caller(assignment.call_id, self.now())
            return
        self.offers += 1
        call.inbox.put_nowait(
            AgentOffered(
                call_id=assignment.call_id,
                queue_id=assignment.queue_id,
                agent_ids=tuple(granted),
            )
        )

    async def _reserve(self, agent_id: str, call_id: str) -> bool:
        if self.reservations is None:
            return True
        chosen = await self._threads.run(
            self.db_timeout, self.reservations.reserve, [agent_id], call_id
        )
        return chosen is not None

    async def _keep_in_step(self) -> None:
        """Every ``sync_seconds``: renew our leases, expire dead workers' ones, and learn which
        agents other workers hold or have let go."""
        store = self.reservations
        assert store is not None
        now = time.monotonic()
        if now - self._last_sync < self.sync_seconds:
            return
        self._last_sync = now
        if now - self._last_renew >= store.lease.total_seconds() / 3:
            self._last_renew = now
            await self._threads.run(self.db_timeout, store.renew)
            await self._threads.run(self.db_timeout, store.expire_stale)
        # Our own changes first, so what we read back is never older than what we did.
        self._collect_state_changes()
        await self._write_state_changes()
        self._touched.clear()
        shared = await self._threads.run(self.db_timeout, store.agent_states)
        # Changes made while we read (an API login) are ours to write, not to undo.
        self._collect_state_changes()
        for agent_id, (state, holder) in shared.items():
            if agent_id not in self.dispatcher_agents or agent_id in self._touched:
                continue
            if holder is not None:
                if (
                    holder != self.worker_id
                    and agent_id not in self._elsewhere
                    and self.dispatcher.agent_state(agent_id) is AgentState.AVAILABLE
                ):
                    self._elsewhere.add(agent_id)
                    self.dispatcher.agent_busy_elsewhere(agent_id, self.now())
                continue
            if agent_id in self._elsewhere:
                self._elsewhere.discard(agent_id)
                self.dispatcher.agent_free_elsewhere(agent_id, self.now())
            self._follow_shared_state(agent_id, state)
        # What we just learnt is already in the shared rows: tell the listeners, write nothing
        # (writing it back would replace the pause reason another worker stored).
        learnt = self.dispatcher.drain_state_changes()
        if self.on_agent_state is not None:
            for change in learnt:
                self.on_agent_state(change)
        if learnt:
            self.kick()

    def _follow_shared_state(self, agent_id: str, shared: str) -> None:
        """A login, pause or logout made through another worker (its API, the CLI) reaches
        this dispatcher: the free agent's row is the truth for those three states."""
        local = self.dispatcher.agent_status(agent_id)
        now = self.now()
        if local.state not in _CONTROL_STATES or shared == local.state.value:
            return
        if local.state is AgentState.PAUSED and local.reason in _TIMED_PAUSES:
            return  # our own short rest after a missed ring ends by its timer
        if shared == AgentState.AVAILABLE.value:
            if local.state is AgentState.LOGGED_OUT:
                self.dispatcher.log_in(agent_id, now)
            else:
                self.dispatcher.unpause(agent_id, now)
        elif shared == AgentState.PAUSED.value:
            if local.state is AgentState.LOGGED_OUT:
                self.dispatcher.log_in(agent_id, now)
            self.dispatcher.pause(agent_id, SHARED_PAUSE_REASON, now)
        elif shared == AgentState.LOGGED_OUT.value:
            self.dispatcher.log_out(agent_id, now)
        else:
            return
        log.info("agent=%s now %s (changed through another worker)", agent_id, shared)

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
            self.kick()

    # --- database writes ---------------------------------------------------------------------

    def _collect_state_changes(self) -> bool:
        """Take the dispatcher's new changes; True when some wait to be written."""
        changes = self.dispatcher.drain_state_changes()
        if changes and self.on_agent_state is not None:
            for change in changes:
                self.on_agent_state(change)
        if changes and self.reservations is not None:
            self._unwritten.extend(changes)
            self.kick()
        return bool(self._unwritten)

    async def _write_state_changes(self) -> None:
        if not self._unwritten or self.reservations is None:
            self._unwritten.clear()
            return
        changes, self._unwritten = self._unwritten, []
        if self.speed != 1.0:
            # The history wants real time: dispatcher times are PBX seconds.
            changes = [replace(c, at=c.at / self.speed) for c in changes]
        now = self.now() / self.speed
        await self._threads.run(self.db_timeout, self.reservations.record_changes, changes, now)

    def _in_background(self, job: Callable[[], object]) -> None:
        """A database write nobody waits for (queue entries): the writer task runs it."""
        if self.reservations is not None:
            self._db_queue.put_nowait(job)

    def _wall_clock(self) -> dt.datetime:
        return self.clock.now()

    def _close_entry(
        self, call_id: str, queue_id: str, outcome: str, agent_id: str | None = None
    ) -> None:
        store = self.reservations
        if store is None:
            return
        at = self._wall_clock()
        self._in_background(
            lambda: store.close_entry(call_id, queue_id, outcome, at=at, agent_id=agent_id)
        )

    async def _write_db(self) -> None:
        while True:
            job = await self._db_queue.get()
            try:
                await self._threads.run(self.db_timeout, job)
            except Exception:
                # A lost history row must not stop the calls; the next write may succeed.
                log.exception("database write failed")
            finally:
                self._db_queue.task_done()

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
        """Put the caller in ``queue_id``; decisions arrive in ``inbox``. Returns the position.
        ``entered_at`` (PBX seconds) keeps the place of a caller who joins again;
        ``already_saved``: their entry is still open in the database (a call resumed after a
        worker restart), so none is written."""
        now = self.now()
        needs = tuple(SkillNeed.coerce(s) for s in extra_skills)
        position = self.dispatcher.enqueue(
            call_id, queue_id, now, priority=priority, extra_skills=needs, entered_at=entered_at
        )
        self._calls[call_id] = _CallState(
            inbox=inbox, queue_id=queue_id, entered_at=now if entered_at is None else entered_at
        )
        store = self.reservations
        if store is not None and not already_saved:
            at = self._wall_clock()
            skills = [(n.skill, n.min_level) for n in needs]
            self._in_background(lambda: store.save_entry(call_id, queue_id, priority, at, skills))
        self.kick()
        return position

    def leave_queue(self, call_id: str, outcome: str = "abandoned") -> None:
        """The caller left the queue (``abandoned``, ``callback``, ``voicemail``...): agents
        still offered the call are freed without counting a no-answer."""
        call = self._calls.pop(call_id, None)
        self.dispatcher.remove_caller(call_id, self.now())
        if call is not None:
            self._close_entry(call_id, call.queue_id, outcome)
        self._collect_state_changes()
        self.kick()

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
        self._collect_state_changes()
        self.kick()
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
        self._collect_state_changes()
        self.kick()

    def agent_failed(self, call_id: str, agent_id: str, reason: FailureReason) -> None:
        """The agent did not take the call (busy, no answer, rejected, unreachable)."""
        self._apply(self.dispatcher.agent_failed(call_id, agent_id, self.now(), reason))
        self._collect_state_changes()

    def agent_unreachable(self, agent_id: str, *, until_online: bool = False) -> None:
        """The agent's phone cannot be rung: paused (reason ``unreachable``) until someone
        unpauses them, or, ``until_online`` (Asterisk said the endpoint is offline), until
        ``agent_reachable``; an agent paused for another reason keeps it."""
        if until_online:
            self._offline.add(agent_id)
        status = self.dispatcher.agent_status(agent_id)
        if status.state is AgentState.PAUSED and status.reason not in _TIMED_PAUSES:
            return
        with contextlib.suppress(AgentNotLoggedIn):
            self.dispatcher.pause(agent_id, UNREACHABLE_REASON, self.now())
        self._collect_state_changes()
        self.kick()

    def agent_reachable(self, agent_id: str) -> None:
        """The agent's phone is online (again): a pause for ``unreachable`` ends."""
        self._offline.discard(agent_id)
        status = self.dispatcher.agent_status(agent_id)
        unreachable = UNREACHABLE_REASON in (status.reason, status.pending_pause)
        if status.state is not AgentState.LOGGED_OUT and unreachable:
            self.dispatcher.unpause(agent_id, self.now())
            self._collect_state_changes()
            self.kick()

    def phone_offline(self, agent_id: str) -> bool:
        """True while Asterisk reports the agent's phone offline."""
        return agent_id in self._offline

    def _keep_unreachable(self, agent_id: str) -> None:
        """Logging in or unpausing an agent whose phone is offline leaves them unreachable."""
        if agent_id in self._offline:
            with contextlib.suppress(AgentNotLoggedIn):
                self.dispatcher.pause(agent_id, UNREACHABLE_REASON, self.now())

    def call_finished(self, agent_id: str) -> None:
        """The agent's call ended: wrap-up, then available (the loop applies the timer)."""
        self._apply(self.dispatcher.call_finished(agent_id, self.now()))
        self._collect_state_changes()

    # --- agent control (API, CLI) ------------------------------------------------------------

    async def login(self, agent_id: str) -> dict[str, Any]:
        """Log the agent in: available for calls (paused ``unreachable`` while their phone
        is offline)."""
        self.dispatcher.log_in(agent_id, self.now())
        self._keep_unreachable(agent_id)
        return self._after_control(agent_id)

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """Log the agent out (refused with ``agent-busy`` while a call rings or is up)."""
        self.dispatcher.log_out(agent_id, self.now())
        return self._after_control(agent_id, reason)

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """Pause the agent; during a call the pause starts when the call and wrap-up end."""
        self.dispatcher.pause(agent_id, reason or "paused", self.now())
        return self._after_control(agent_id)

    async def unpause(self, agent_id: str) -> dict[str, Any]:
        """End the agent's pause (also an auto-pause after missed calls); an agent whose
        phone is offline stays paused ``unreachable``."""
        self.dispatcher.unpause(agent_id, self.now())
        self._keep_unreachable(agent_id)
        return self._after_control(agent_id)

    def _after_control(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        self._touched.add(agent_id)
        self._collect_state_changes()
        self.kick()
        return self.agent_view(agent_id, reason)

    def agent_view(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        """One agent as the API shows it."""
        status = self.dispatcher.agent_status(agent_id)
        now = self.now()
        return {
            "id": agent_id,
            "name": status.spec.name,
            "endpoint": status.spec.endpoint,
            "state": status.state.value,
            "reason": status.reason or reason,
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
