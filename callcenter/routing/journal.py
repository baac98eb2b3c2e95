"""Routing's durable state, written behind the decisions: agents' states and history, control
requests (login, pause...), queue entries.

The dispatcher decides in memory; what it changed is added here as a record and reaches the
database later through :class:`~callcenter.db.write_behind.WriteBehind` (batched, fsync'd to
``<spool_dir>/routing-<worker>`` while the database is away, replayed in order when it is
back). A call never waits for any of it.

Records and how :class:`RoutingStore` writes them, each idempotent so a replayed spool lands
exactly once:

- ``agents``: the configured agents' rows (name, endpoint), created if missing;
- ``agent_state``: one row of ``agent_state_changes`` keyed by ``event_id`` (``ON CONFLICT DO
  NOTHING``) and, only when that row was new, the agent's current state in ``agents``
  (unless a newer state is already there: another worker took the agent over meanwhile);
- ``agent_control``: the agent's last login/logout/pause/unpause (``control_*``), the newest
  wins; the worker that owns the agent applies it (``routing/leases.py``);
- ``queue_entry`` / ``queue_exit``: a caller's row in ``queue_entries`` (keyed by call, queue
  and entry time) and its end (only while still open).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.db.engine import bounded_engine
from callcenter.db.models import AgentRow, AgentStateChange, QueueEntry
from callcenter.db.spool import Record
from callcenter.db.write_behind import WriteBehind
from callcenter.routing.model import AgentState

if TYPE_CHECKING:
    from callcenter.config import CallCenterConfig

AGENTS = cast(Table, AgentRow.__table__)
CHANGES = cast(Table, AgentStateChange.__table__)
ENTRIES = cast(Table, QueueEntry.__table__)


def configured_agents(config: CallCenterConfig) -> list[dict[str, str]]:
    """The ``agents`` record's rows: id, name and endpoint of every configured agent."""
    return [{"agent_id": a.id, "name": a.name, "endpoint": a.endpoint} for a in config.agents]


def upsert_agents(conn: Connection, rows: Sequence[dict[str, str]], now: dt.datetime) -> None:
    """Create a row for every agent and refresh names and endpoints; live state (owner,
    counters) is left alone."""
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
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


_AGENT_STATE_UPDATE = (
    update(AGENTS)
    .where(AGENTS.c.agent_id == bindparam("b_agent"), AGENTS.c.state_since <= bindparam("b_at"))
    .values(
        state=bindparam("b_state"),
        state_since=bindparam("b_at"),
        pause_reason=bindparam("b_reason"),
        calls_today=AGENTS.c.calls_today + bindparam("b_calls"),
        # A call answered clears the count of missed rings (the dispatcher does the same).
        no_answer_count=case((bindparam("b_calls") > 0, 0), else_=AGENTS.c.no_answer_count),
        last_call_ended_at=func.coalesce(bindparam("b_ended"), AGENTS.c.last_call_ended_at),
    )
)
"""The agent's newest state from one batch (executemany: one row of parameters per agent)."""


_QUEUE_EXIT = (
    update(ENTRIES)
    .where(
        ENTRIES.c.call_id == bindparam("b_call"),
        ENTRIES.c.queue_id == bindparam("b_queue"),
        ENTRIES.c.left_at.is_(None),
    )
    .values(
        left_at=bindparam("b_left"), outcome=bindparam("b_outcome"), agent_id=bindparam("b_agent")
    )
)
"""A caller's queue entry ends (only while still open: a replay changes nothing)."""


_PG_HISTORY_INSERT = text(
    "INSERT INTO agent_state_changes (event_id, agent_id, at, state, reason, call_id, worker_id)"
    " SELECT * FROM unnest(CAST(:b_event AS varchar[]), CAST(:b_agent AS varchar[]),"
    " CAST(:b_at AS timestamptz[]), CAST(:b_state AS varchar[]), CAST(:b_reason AS varchar[]),"
    " CAST(:b_call AS varchar[]), CAST(:b_worker AS varchar[]))"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
"""PostgreSQL: a batch's history rows in one statement (arrays, one per column)."""

_PG_AGENT_STATE_UPDATE = text(
    "UPDATE agents AS a SET state = v.state, state_since = v.at, pause_reason = v.reason,"
    " calls_today = a.calls_today + v.calls,"
    " no_answer_count = CASE WHEN v.calls > 0 THEN 0 ELSE a.no_answer_count END,"
    " last_call_ended_at = COALESCE(v.ended, a.last_call_ended_at)"
    " FROM unnest(CAST(:b_agent AS varchar[]), CAST(:b_state AS varchar[]),"
    " CAST(:b_at AS timestamptz[]), CAST(:b_reason AS varchar[]), CAST(:b_calls AS int[]),"
    " CAST(:b_ended AS timestamptz[])) AS v(agent_id, state, at, reason, calls, ended)"
    " WHERE a.agent_id = v.agent_id AND a.state_since <= v.at"
)
"""PostgreSQL: ``_AGENT_STATE_UPDATE`` for the whole batch in one statement."""


_PG_QUEUE_ENTRIES = text(
    "INSERT INTO queue_entries (call_id, queue_id, priority, entered_at, worker_id,"
    " required_skills) SELECT v.call_id, v.queue_id, v.priority, v.entered_at, v.worker_id,"
    " CAST(v.skills AS json) FROM unnest(CAST(:b_call AS varchar[]),"
    " CAST(:b_queue AS varchar[]), CAST(:b_priority AS int[]),"
    " CAST(:b_entered AS timestamptz[]), CAST(:b_worker AS varchar[]),"
    " CAST(:b_skills AS text[])) AS v(call_id, queue_id, priority, entered_at, worker_id, skills)"
    " ON CONFLICT DO NOTHING"
)

_PG_QUEUE_EXIT = text(
    "UPDATE queue_entries AS e SET left_at = v.left_at, outcome = v.outcome,"
    " agent_id = v.agent_id FROM unnest(CAST(:b_call AS varchar[]), CAST(:b_queue AS varchar[]),"
    " CAST(:b_left AS timestamptz[]), CAST(:b_outcome AS varchar[]),"
    " CAST(:b_agent AS varchar[])) AS v(call_id, queue_id, left_at, outcome, agent_id)"
    " WHERE e.call_id = v.call_id AND e.queue_id = v.queue_id AND e.left_at IS NULL"
)


def _columns(params: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows of parameters -> one list per parameter (for ``unnest``)."""
    return {key: [p[key] for p in params] for key in params[0]}


class RoutingStore:
    """Writes a batch of routing records in one transaction (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    def dispose(self) -> None:
        self.engine.dispose()

    def write(self, records: Sequence[Record]) -> int:
        """Every record in one transaction: the agents' history in one multi-row insert, then
        one update per agent (its newest state), entries in one insert, exits one by one."""
        agents: list[dict[str, Any]] = []
        states: list[dict[str, Any]] = []
        controls: dict[str, dict[str, Any]] = {}
        entries: list[dict[str, Any]] = []
        exits: list[dict[str, Any]] = []
        for record in records:
            row = record["row"]
            table = record["table"]
            if table == "agent_state":
                states.append(row)
            elif table == "agent_control":
                controls[row["agent_id"]] = row  # the newest of the batch wins
            elif table == "queue_entry":
                entries.append(row)
            elif table == "queue_exit":
                exits.append(row)
            elif table == "agents":
                agents.append(row)
            else:
                raise ValueError(f"unknown routing record {table!r}")
        with self.engine.begin() as conn:
            for row in agents:
                upsert_agents(conn, row["agents"], row["at"])
            if states:
                self._agent_states(conn, states)
            for row in controls.values():
                self._agent_control(conn, row)
            if entries:
                self._queue_entries(conn, entries)
            if exits:
                params = [
                    {
                        "b_call": row["call_id"],
                        "b_queue": row["queue_id"],
                        "b_left": row["left_at"],
                        "b_outcome": row["outcome"],
                        "b_agent": row.get("agent_id"),
                    }
                    for row in exits
                ]
                if self._postgres:
                    conn.execute(_PG_QUEUE_EXIT, _columns(params))
                else:
                    conn.execute(_QUEUE_EXIT, params)
        return len(records)

    def _agent_states(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        inserted = self._insert_history(conn, rows)
        # Replayed changes (already in the history) change nothing: the agent's row has them.
        newest: dict[str, dict[str, Any]] = {}
        calls: dict[str, int] = {}
        ended: dict[str, dt.datetime] = {}
        for row in rows:
            if row["event_id"] not in inserted:
                continue
            agent_id = row["agent_id"]
            newest[agent_id] = row
            if row["state"] == AgentState.ON_CALL.value:
                calls[agent_id] = calls.get(agent_id, 0) + 1
            elif row["state"] == AgentState.WRAPUP.value:
                ended[agent_id] = row["at"]
        if not newest:
            return
        # Unless a newer state is already there (the agent moved on under another worker).
        params = [
            {
                "b_agent": agent_id,
                "b_state": row["state"],
                "b_at": row["at"],
                "b_reason": row.get("reason") if row["state"] == "paused" else None,
                "b_calls": calls.get(agent_id, 0),
                "b_ended": ended.get(agent_id),
            }
            for agent_id, row in newest.items()
        ]
        if self._postgres:
            conn.execute(_PG_AGENT_STATE_UPDATE, _columns(params))
        else:
            conn.execute(_AGENT_STATE_UPDATE, params)

    def _queue_entries(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not self._postgres:
            conn.execute(self._insert(ENTRIES).on_conflict_do_nothing(), rows)
            return
        conn.execute(
            _PG_QUEUE_ENTRIES,
            _columns(
                [
                    {
                        "b_call": row["call_id"],
                        "b_queue": row["queue_id"],
                        "b_priority": row["priority"],
                        "b_entered": row["entered_at"],
                        "b_worker": row["worker_id"],
                        "b_skills": json.dumps(row["required_skills"]),
                    }
                    for row in rows
                ]
            ),
        )

    def _insert_history(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the history rows not there yet; returns the event ids inserted."""
        params = [
            {
                "b_event": row["event_id"],
                "b_agent": row["agent_id"],
                "b_at": row["at"],
                "b_state": row["state"],
                "b_reason": row.get("reason"),
                "b_call": row.get("call_id"),
                "b_worker": row.get("worker_id"),
            }
            for row in rows
        ]
        if self._postgres:
            # One statement over arrays, whatever the batch size: the cheapest on CPU.
            result = conn.execute(_PG_HISTORY_INSERT, _columns(params))
        else:
            result = conn.execute(
                self._insert(CHANGES).on_conflict_do_nothing().returning(CHANGES.c.event_id),
                [
                    {
                        "event_id": p["b_event"],
                        "agent_id": p["b_agent"],
                        "at": p["b_at"],
                        "state": p["b_state"],
                        "reason": p["b_reason"],
                        "call_id": p["b_call"],
                        "worker_id": p["b_worker"],
                    }
                    for p in params
                ],
            )
        return set(result.scalars())

    def _agent_control(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(
            update(AGENTS)
            .where(
                AGENTS.c.agent_id == row["agent_id"],
                or_(AGENTS.c.control_at.is_(None), AGENTS.c.control_at <= row["at"]),
            )
            .values(
                control_state=row["state"],
                control_reason=row.get("reason"),
                control_at=row["at"],
                control_by=row["by"],
            )
        )


class RoutingJournal(WriteBehind):
    """Routing's write-behind: the service adds records, never awaits (see the module doc)."""

    name = "routing"

    def __init__(
        self,
        url: str,
        spool_dir: str | Path,
        worker_id: str,
        *,
        db_timeout: float = 5.0,
        flush_interval_ms: int = 200,
        **options: Any,
    ) -> None:
        super().__init__(
            RoutingStore(bounded_engine(url, timeout=db_timeout)),
            spool_dir,
            db_timeout=db_timeout,
            flush_interval_ms=flush_interval_ms,
            **options,
        )
        self.worker_id = worker_id
        # Unique across runs and workers: a replayed change is recognised, never doubled.
        self._event_prefix = uuid.uuid4().hex
        self._event_numbers = itertools.count(1)

    @classmethod
    def from_config(cls, config: CallCenterConfig, worker_id: str) -> RoutingJournal:
        """A journal with ``database.*`` settings, spooling to ``spool_dir/routing-<worker>``."""
        db = config.database
        return cls(db.url, Path(db.spool_dir) / f"routing-{worker_id}", worker_id)

    def agents_configured(self, config: CallCenterConfig, at: dt.datetime) -> None:
        """The configured agents' rows (first record of a run: later ones update them)."""
        self.add({"table": "agents", "row": {"agents": configured_agents(config), "at": at}})

    def agent_state(
        self,
        agent_id: str,
        state: AgentState,
        at: dt.datetime,
        *,
        reason: str | None = None,
        call_id: str | None = None,
    ) -> None:
        self.add(
            {
                "table": "agent_state",
                "row": {
                    "event_id": f"{self._event_prefix}:{next(self._event_numbers)}",
                    "agent_id": agent_id,
                    "state": state.value,
                    "at": at,
                    "reason": reason,
                    "call_id": call_id,
                    "worker_id": self.worker_id,
                },
            }
        )

    def agent_control(
        self, agent_id: str, state: AgentState, at: dt.datetime, reason: str | None = None
    ) -> None:
        """A login/logout/pause/unpause asked for through this worker (the owner applies it)."""
        self.add(
            {
                "table": "agent_control",
                "row": {
                    "agent_id": agent_id,
                    "state": state.value,
                    "reason": reason,
                    "at": at,
                    "by": self.worker_id,
                },
            }
        )

    def queue_entry(
        self,
        call_id: str,
        queue_id: str,
        priority: int,
        entered_at: dt.datetime,
        extra_skills: Iterable[tuple[str, int]] = (),
    ) -> None:
        self.add(
            {
                "table": "queue_entry",
                "row": {
                    "call_id": call_id,
                    "queue_id": queue_id,
                    "priority": priority,
                    "entered_at": entered_at,
                    "worker_id": self.worker_id,
                    "required_skills": [[skill, level] for skill, level in extra_skills],
                },
            }
        )

    def queue_exit(
        self,
        call_id: str,
        queue_id: str,
        outcome: str,
        left_at: dt.datetime,
        agent_id: str | None = None,
    ) -> None:
        self.add(
            {
                "table": "queue_exit",
                "row": {
                    "call_id": call_id,
                    "queue_id": queue_id,
                    "outcome": outcome,
                    "left_at": left_at,
                    "agent_id": agent_id,
                },
            }
        )
