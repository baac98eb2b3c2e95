"""Agent reservations shared by every worker, and the waiting callers a worker must not forget.

Several workers (each with its own Asterisk or ARI app) share one database. Before a worker
rings an agent it reserves the ``agents`` row: on PostgreSQL with ``SELECT ... FOR UPDATE
SKIP LOCKED`` so that two workers never ring the same agent and never wait on each other's
locks; on SQLite (one process) with a conditional ``UPDATE`` in a plain transaction.

A reservation is a lease: ``reserved_until`` is pushed forward by :meth:`renew` while the worker
holds the agent (ringing, on the call, in wrap-up) and cleared by :meth:`release`. If the
worker dies, the lease runs out and :meth:`expire_stale` (any worker may run it) makes the
agent available again; :meth:`reserve` also accepts a row whose lease has run out.

Leases compare times from each worker's clock (``clock``): keep workers on NTP; the lease
(tens of seconds) dwarfs ordinary skew.

Everything here is synchronous and short. From asyncio, run each call in a thread with a
time-out, e.g. ``await in_thread(2.0, reservations.reserve, ids, call_id)``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import Connection, Engine, Table, and_, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.config import CallCenterConfig
from callcenter.db.models import AgentRow, AgentStateChange, QueueEntry
from callcenter.routing.dispatcher import AgentStateChanged
from callcenter.routing.model import ELSEWHERE_REASON, AgentState

AGENTS = cast(Table, AgentRow.__table__)
CHANGES = cast(Table, AgentStateChange.__table__)
ENTRIES = cast(Table, QueueEntry.__table__)

LEASE_EXPIRED_REASON = "lease_expired"
_FREE_STATES = frozenset({AgentState.AVAILABLE, AgentState.PAUSED, AgentState.LOGGED_OUT})

P = ParamSpec("P")
R = TypeVar("R")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def in_thread(seconds: float, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a blocking database call off the event loop, giving up after ``seconds``.

    Giving up stops the waiting, not the thread: the statement time-out set on PostgreSQL
    transactions bounds how long the thread itself may run."""
    return await asyncio.wait_for(asyncio.to_thread(func, *args, **kwargs), seconds)


@dataclass(frozen=True, slots=True)
class SavedQueueEntry:
    """A caller who was waiting when the worker stopped (``queue_entries`` with no left_at)."""

    entry_id: int
    call_id: str
    queue_id: str
    priority: int
    entered_at: dt.datetime
    extra_skills: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class HeldAgent:
    """An agent another worker (or this one) holds right now."""

    agent_id: str
    worker_id: str
    call_id: str | None
    state: str
    until: dt.datetime


class AgentReservations:
    """Atomic agent reservations with leases, agent state history and queue persistence."""

    def __init__(
        self,
        engine: Engine,
        worker_id: str,
        lease_seconds: float = 30.0,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        statement_timeout_ms: int = 2000,
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.clock = clock
        self.statement_timeout_ms = statement_timeout_ms
        self._postgres = engine.dialect.name == "postgresql"

    # --- agents -------------------------------------------------------------------------------

    def sync_agents(self, config: CallCenterConfig) -> None:
        """Create a row for every configured agent and refresh names and endpoints; live state
        (reservations, counters) is left alone."""
        now = self.clock()
        rows = [{"agent_id": a.id, "name": a.name, "endpoint": a.endpoint} for a in config.agents]
        if not rows:
            return
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        with self._transaction() as conn:
            # Endpoints are unique: park changed ones first so two agents can swap phones.
            current = dict(conn.execute(select(AGENTS.c.agent_id, AGENTS.c.endpoint)).all())
            for row in rows:
                old = current.get(row["agent_id"])
                if old is not None and old != row["endpoint"]:
                    conn.execute(
                        update(AGENTS)
                        .where(AGENTS.c.agent_id == row["agent_id"])
                        .values(endpoint="~" + row["agent_id"])
                    )
            statement = dialect_insert(AGENTS).values(
                [
                    {
                        **row,
                        "state": AgentState.LOGGED_OUT.value,
                        "state_since": now,
                        "calls_today": 0,
                        "no_answer_count": 0,
                    }
                    for row in rows
                ]
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[AGENTS.c.agent_id],
                    set_={"name": statement.excluded.name, "endpoint": statement.excluded.endpoint},
                )
            )

    def reserve(self, agent_ids: Sequence[str], call_id: str) -> str | None:
        """Reserve the first of ``agent_ids`` (best first) that nobody holds and that is
        available (or whose holder's lease ran out). Returns its id, or None."""
        if not agent_ids:
            return None
        now = self.clock()
        with self._transaction() as conn:
            query = select(
                AGENTS.c.agent_id, AGENTS.c.reserved_by, AGENTS.c.reserved_call_id
            ).where(AGENTS.c.agent_id.in_(agent_ids), self._reservable(now))
            if self._postgres:
                # Rows another worker is reserving right now are skipped, not waited for.
                query = query.with_for_update(skip_locked=True)
            free = {row.agent_id: row for row in conn.execute(query)}
            for agent_id in agent_ids:
                row = free.get(agent_id)
                if row is None:
                    continue
                # Postgres holds the row lock; on SQLite (one process) the WHERE re-checks.
                taken = conn.execute(
                    self._take_statement(agent_id, call_id, now).where(self._reservable(now))
                )
                if taken.rowcount != 1:
                    continue
                if row.reserved_by is not None:
                    # The previous holder's lease ran out: close their reservation in the history.
                    self._history(
                        conn,
                        agent_id,
                        AgentState.AVAILABLE.value,
                        now,
                        LEASE_EXPIRED_REASON,
                        row.reserved_call_id,
                    )
                self._history(conn, agent_id, AgentState.RESERVED.value, now, None, call_id)
                return agent_id
            return None

    def renew(self) -> set[str]:
        """Extend every lease this worker holds; returns the agents it still holds (an agent
        missing from the answer was reclaimed: stop ringing them)."""
        now = self.clock()
        with self._transaction() as conn:
            result = conn.execute(
                update(AGENTS)
                .where(AGENTS.c.reserved_by == self.worker_id)
                .values(reserved_until=now + self.lease)
                .returning(AGENTS.c.agent_id)
            )
            return set(result.scalars())

    def release(
        self,
        agent_id: str,
        new_state: AgentState | str,
        *,
        reason: str | None = None,
        call_ended_at: dt.datetime | None = None,
    ) -> bool:
        """Give the agent back with ``new_state`` (available, paused, logged_out...). False
        when this worker did not hold them (the lease ran out and someone else took over)."""
        now = self.clock()
        state = AgentState(new_state).value
        values: dict[str, Any] = {
            "state": state,
            "state_since": now,
            "pause_reason": reason if state == AgentState.PAUSED.value else None,
            "reserved_by": None,
            "reserved_until": None,
            "reserved_call_id": None,
        }
        if call_ended_at is not None:
            values["last_call_ended_at"] = call_ended_at
        with self._transaction() as conn:
            done = conn.execute(
                update(AGENTS)
                .where(AGENTS.c.agent_id == agent_id, AGENTS.c.reserved_by == self.worker_id)
                .values(**values)
            )
            if done.rowcount != 1:
                return False
            self._history(conn, agent_id, state, now, reason, None)
            return True

    def expire_stale(self, now: dt.datetime | None = None) -> list[str]:
        """Make every agent whose holder's lease ran out available again; returns their ids."""
        now = now or self.clock()
        with self._transaction() as conn:
            query = select(AGENTS.c.agent_id, AGENTS.c.reserved_call_id).where(
                AGENTS.c.reserved_by.is_not(None), AGENTS.c.reserved_until < now
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            stale = conn.execute(query.order_by(AGENTS.c.agent_id)).all()
            for agent_id, call_id in stale:
                conn.execute(
                    update(AGENTS)
                    .where(AGENTS.c.agent_id == agent_id)
                    .values(
                        state=AgentState.AVAILABLE.value,
                        state_since=now,
                        pause_reason=None,
                        reserved_by=None,
                        reserved_until=None,
                        reserved_call_id=None,
                    )
                )
                self._history(
                    conn, agent_id, AgentState.AVAILABLE.value, now, LEASE_EXPIRED_REASON, call_id
                )
            return [agent_id for agent_id, _ in stale]

    def held_agents(self) -> list[HeldAgent]:
        """Every agent under a live lease, by any worker (to keep a dispatcher in step)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    AGENTS.c.agent_id,
                    AGENTS.c.reserved_by,
                    AGENTS.c.reserved_call_id,
                    AGENTS.c.state,
                    AGENTS.c.reserved_until,
                )
                .where(AGENTS.c.reserved_by.is_not(None), AGENTS.c.reserved_until >= now)
                .order_by(AGENTS.c.agent_id)
            ).all()
        return [HeldAgent(*row) for row in rows]

    def agent_states(self) -> dict[str, tuple[str, str | None]]:
        """Every agent's shared state and the worker holding them (None when free or when the
        lease ran out)."""
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    AGENTS.c.agent_id, AGENTS.c.state, AGENTS.c.reserved_by, AGENTS.c.reserved_until
                )
            ).all()
        return {
            agent_id: (state, holder if holder and until is not None and until >= now else None)
            for agent_id, state, holder, until in rows
        }

    def record_state_change(
        self,
        agent_id: str,
        state: AgentState | str,
        *,
        at: dt.datetime | None = None,
        reason: str | None = None,
        call_id: str | None = None,
        no_answer_count: int | None = None,
    ) -> bool:
        """Write one state change to ``agent_state_changes`` and the agent's row. Refused
        (False, nothing written) while another worker holds the agent."""
        with self._transaction() as conn:
            return self._apply_change(
                conn,
                agent_id,
                AgentState(state),
                at or self.clock(),
                reason,
                call_id,
                no_answer_count,
            )

    def record_changes(self, changes: Iterable[AgentStateChanged], monotonic_now: float) -> int:
        """Write a dispatcher's drained changes in one transaction; ``monotonic_now`` is the
        dispatcher's clock now, to turn its times into UTC. Reservations are skipped (written by
        :meth:`reserve`), as are agents seen busy elsewhere. Returns how many were written."""
        wall_now = self.clock()
        written = 0
        with self._transaction() as conn:
            for change in changes:
                if change.state is AgentState.RESERVED or change.reason == ELSEWHERE_REASON:
                    continue
                at = wall_now - dt.timedelta(seconds=monotonic_now - change.at)
                written += self._apply_change(
                    conn, change.agent_id, change.state, at, change.reason, change.call_id, None
                )
        return written

    # --- waiting callers ----------------------------------------------------------------------

    def save_entry(
        self,
        call_id: str,
        queue_id: str,
        priority: int,
        entered_at: dt.datetime,
        extra_skills: Iterable[tuple[str, int]] = (),
    ) -> int:
        """Remember a caller who starts waiting; saving the same entry twice is harmless."""
        values = {
            "call_id": call_id,
            "queue_id": queue_id,
            "priority": priority,
            "entered_at": entered_at,
            "worker_id": self.worker_id,
            "required_skills": [[skill, level] for skill, level in extra_skills],
        }
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        with self._transaction() as conn:
            conn.execute(dialect_insert(ENTRIES).values(**values).on_conflict_do_nothing())
            found = conn.execute(
                select(ENTRIES.c.id).where(
                    ENTRIES.c.call_id == call_id,
                    ENTRIES.c.queue_id == queue_id,
                    ENTRIES.c.entered_at == entered_at,
                )
            ).scalar_one()
            return int(found)

    def close_entry(
        self,
        call_id: str,
        queue_id: str,
        outcome: str,
        *,
        at: dt.datetime | None = None,
        agent_id: str | None = None,
    ) -> bool:
        """The caller left the queue: answered, abandoned, overflowed, callback, voicemail..."""
        with self._transaction() as conn:
            done = conn.execute(
                update(ENTRIES)
                .where(
                    ENTRIES.c.call_id == call_id,
                    ENTRIES.c.queue_id == queue_id,
                    ENTRIES.c.left_at.is_(None),
                )
                .values(left_at=at or self.clock(), outcome=outcome, agent_id=agent_id)
            )
            return done.rowcount > 0

    def load_waiting(self, worker_id: str | None = None) -> list[SavedQueueEntry]:
        """Callers still waiting for ``worker_id`` (this worker by default), first come first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    ENTRIES.c.id,
                    ENTRIES.c.call_id,
                    ENTRIES.c.queue_id,
                    ENTRIES.c.priority,
                    ENTRIES.c.entered_at,
                    ENTRIES.c.required_skills,
                )
                .where(
                    ENTRIES.c.worker_id == (worker_id or self.worker_id),
                    ENTRIES.c.left_at.is_(None),
                )
                .order_by(ENTRIES.c.entered_at, ENTRIES.c.id)
            ).all()
        return [
            SavedQueueEntry(
                entry_id=row.id,
                call_id=row.call_id,
                queue_id=row.queue_id,
                priority=row.priority,
                entered_at=row.entered_at,
                extra_skills=tuple((str(s), int(level)) for s, level in row.required_skills or []),
            )
            for row in rows
        ]

    # --- internals ----------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction; on PostgreSQL a statement time-out bounds every statement in it."""
        with self.engine.begin() as conn:
            if self._postgres:
                conn.execute(
                    text(f"SET LOCAL statement_timeout = {int(self.statement_timeout_ms)}")
                )
            yield conn

    def _reservable(self, now: dt.datetime) -> Any:
        return or_(
            and_(AGENTS.c.state == AgentState.AVAILABLE.value, AGENTS.c.reserved_by.is_(None)),
            and_(AGENTS.c.reserved_by.is_not(None), AGENTS.c.reserved_until < now),
        )

    def _take_statement(self, agent_id: str, call_id: str, now: dt.datetime) -> Any:
        return (
            update(AGENTS)
            .where(AGENTS.c.agent_id == agent_id)
            .values(
                state=AgentState.RESERVED.value,
                state_since=now,
                pause_reason=None,
                reserved_by=self.worker_id,
                reserved_until=now + self.lease,
                reserved_call_id=call_id,
            )
        )

    def _apply_change(
        self,
        conn: Connection,
        agent_id: str,
        state: AgentState,
        at: dt.datetime,
        reason: str | None,
        call_id: str | None,
        no_answer_count: int | None,
    ) -> bool:
        values: dict[str, Any] = {
            "state": state.value,
            "state_since": at,
            "pause_reason": reason if state is AgentState.PAUSED else None,
        }
        if state is AgentState.ON_CALL:
            values["calls_today"] = AGENTS.c.calls_today + 1
            values["no_answer_count"] = 0
        elif state is AgentState.WRAPUP:
            values["last_call_ended_at"] = at
        if no_answer_count is not None:
            values["no_answer_count"] = no_answer_count
        if state in _FREE_STATES:
            # The worker no longer holds the agent: end its lease in the same write.
            values.update(reserved_by=None, reserved_until=None, reserved_call_id=None)
        done = conn.execute(
            update(AGENTS)
            .where(
                AGENTS.c.agent_id == agent_id,
                or_(
                    AGENTS.c.reserved_by.is_(None),
                    AGENTS.c.reserved_by == self.worker_id,
                    AGENTS.c.reserved_until < self.clock(),
                ),
            )
            .values(**values)
        )
        if done.rowcount != 1:
            return False
        self._history(conn, agent_id, state.value, at, reason, call_id)
        return True

    def _history(
        self,
        conn: Connection,
        agent_id: str,
        state: str,
        at: dt.datetime,
        reason: str | None,
        call_id: str | None,
    ) -> None:
        conn.execute(
            insert(CHANGES).values(
                agent_id=agent_id,
                at=at,
                state=state,
                reason=reason,
                call_id=call_id,
                worker_id=self.worker_id,
            )
        )
