"""Which worker may ring which agent: ownership leases in the shared ``agents`` table.

Every agent has at most one owner (``agents.owner``) whose lease (``owner_until``) the owner
renews in the background. A worker offers calls only to the agents it owns, so it decides in
memory and never asks the database before ringing; two workers never ring the same agent.

Agents move between workers through the same rows, off the call path:

- a worker whose waiting callers need an agent another worker owns writes ``wanted_by``;
- the owner hands an agent it holds *idle* (available, no call) to the worker that wants it:
  it stops offering the agent in memory first, then writes ``owner = wanted_by``;
- agents nobody owns, or whose owner's lease ran out (the worker died), go to the first worker
  that syncs (to the one that wants them when someone does).

One call of :meth:`AgentLeases.sync` does all of that in one short transaction and returns every
agent's row; :class:`callcenter.routing.sharing.AgentSharing` runs it every few hundred ms.

Leases compare times from each worker's clock: keep workers on NTP; the lease (30 s) dwarfs
ordinary skew. Synchronous: run it in a thread with a time-out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, update

from callcenter.routing.journal import AGENTS, upsert_agents


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SharedAgent:
    """One agent's shared row as a sync read it."""

    agent_id: str
    owner: str | None
    """The owner whose lease is live (None: nobody, or the lease ran out)."""
    wanted_by: str | None
    """A worker that wants this agent, while its wish is recent."""
    state: str
    pause_reason: str | None
    control_state: str | None
    control_reason: str | None
    control_at: dt.datetime | None
    control_by: str | None


class AgentLeases:
    """Ownership leases, hand-overs and wishes on the shared ``agents`` rows."""

    def __init__(
        self,
        engine: Engine,
        worker_id: str,
        lease_seconds: float = 30.0,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.clock = clock

    def sync(
        self,
        agents: Collection[dict[str, str]] = (),
        *,
        give: Collection[str] = (),
        want: Collection[str] = (),
    ) -> list[SharedAgent]:
        """One round, one transaction: create missing ``agents`` rows; hand ``give`` (agents
        this worker holds idle and fenced) to the workers that want them; renew this worker's
        leases; take agents nobody holds; say which agents this worker wants (``want``, and no
        longer the others); return every agent's row as it is now."""
        now = self.clock()
        until = now + self.lease
        me = self.worker_id
        table = AGENTS.c
        wish_fresh = table.wanted_at >= now - self.lease
        with self.engine.begin() as conn:
            if agents:
                upsert_agents(conn, list(agents), now)
            if give:
                conn.execute(
                    update(AGENTS)
                    .where(
                        table.agent_id.in_(list(give)),
                        table.owner == me,
                        table.wanted_by.is_not(None),
                        table.wanted_by != me,
                        wish_fresh,
                    )
                    .values(
                        owner=table.wanted_by, owner_until=until, wanted_by=None, wanted_at=None
                    )
                )
            conn.execute(update(AGENTS).where(table.owner == me).values(owner_until=until))
            # Free agents go to whoever wants them, else to the first to come by.
            conn.execute(
                update(AGENTS)
                .where(
                    or_(table.owner.is_(None), table.owner_until < now),
                    or_(table.wanted_by.is_(None), table.wanted_by == me, ~wish_fresh),
                )
                .values(owner=me, owner_until=until, wanted_by=None, wanted_at=None)
            )
            conn.execute(
                update(AGENTS)
                .where(table.wanted_by == me, table.agent_id.not_in(list(want)))
                .values(wanted_by=None, wanted_at=None)
            )
            if want:
                conn.execute(
                    update(AGENTS)
                    .where(
                        table.agent_id.in_(list(want)),
                        table.owner != me,
                        or_(table.wanted_by.is_(None), table.wanted_by == me, ~wish_fresh),
                    )
                    .values(wanted_by=me, wanted_at=now)
                )
            rows = conn.execute(
                select(
                    table.agent_id,
                    table.owner,
                    table.owner_until,
                    table.wanted_by,
                    table.wanted_at,
                    table.state,
                    table.pause_reason,
                    table.control_state,
                    table.control_reason,
                    table.control_at,
                    table.control_by,
                ).order_by(table.agent_id)
            ).all()
        wish_since = now - self.lease
        return [
            SharedAgent(
                agent_id=row.agent_id,
                owner=row.owner if row.owner_until is not None and row.owner_until >= now else None,
                wanted_by=(
                    row.wanted_by
                    if row.wanted_at is not None and row.wanted_at >= wish_since
                    else None
                ),
                state=row.state,
                pause_reason=row.pause_reason,
                control_state=row.control_state,
                control_reason=row.control_reason,
                control_at=row.control_at,
                control_by=row.control_by,
            )
            for row in rows
        ]

    def release_all(self) -> int:
        """At shutdown: give up every lease at once (another worker takes the agents at its
        next sync instead of after the lease). Returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(AGENTS)
                .where(AGENTS.c.owner == self.worker_id)
                .values(owner=None, owner_until=None)
            )
        return int(done.rowcount)


__all__ = ["AgentLeases", "SharedAgent", "utc_now"]
