"""Read the CDR tables into the pure KPI maths (``kpis.py``): ``build_report(...)``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Engine, Table, and_, func, select

from callcenter.cdr.kpis import (
    AgentInterval,
    CallFacts,
    Kpis,
    LegFacts,
    compute_kpis,
    intervals_from_changes,
)
from callcenter.cdr.store import CALLS, LEGS, cdr_engine
from callcenter.db.models import AgentStateChange

if TYPE_CHECKING:
    from callcenter.config import CallCenterConfig

CHANGES: Table = AgentStateChange.__table__  # type: ignore[assignment]


def load_call_facts(engine: Engine, since: dt.datetime, until: dt.datetime) -> list[CallFacts]:
    """Ended calls that started in [since, until)."""
    c = CALLS.c
    query = select(
        c.call_id,
        c.started_at,
        c.disposition,
        c.queue_id,
        c.agent_id,
        c.wait_seconds,
        c.talk_seconds,
        c.hold_seconds,
        c.wrapup_seconds,
        c.transfers,
    ).where(and_(c.started_at >= since, c.started_at < until, c.disposition != "in_progress"))
    with engine.connect() as conn:
        return [CallFacts(**row._mapping) for row in conn.execute(query)]


def load_agent_intervals(
    engine: Engine, since: dt.datetime, until: dt.datetime
) -> list[AgentInterval]:
    """Agent state intervals clipped to [since, until), including the state held at ``since``."""
    s = CHANGES.c
    before = (
        select(s.agent_id, func.max(s.at).label("at")).where(s.at < since).group_by(s.agent_id)
    ).subquery()
    with engine.connect() as conn:
        rows = list(
            conn.execute(select(s.agent_id, s.at, s.state).where(and_(s.at >= since, s.at < until)))
        )
        rows += list(
            conn.execute(
                select(s.agent_id, s.at, s.state).join(
                    before, and_(s.agent_id == before.c.agent_id, s.at == before.c.at)
                )
            )
        )
    return intervals_from_changes([tuple(r) for r in rows], until=until, since=since)


def load_legs(engine: Engine, since: dt.datetime, until: dt.datetime) -> list[LegFacts]:
    """Agent legs rung in [since, until)."""
    c = LEGS.c
    query = select(c.agent_id, c.outcome).where(
        and_(c.rang_at >= since, c.rang_at < until, c.agent_id.is_not(None), c.outcome != "ringing")
    )
    with engine.connect() as conn:
        return [LegFacts(row.agent_id, row.outcome) for row in conn.execute(query)]


def build_report(
    url: str,
    config: CallCenterConfig | None,
    by: str,
    since: dt.datetime,
    until: dt.datetime,
    *,
    short_abandon_seconds: float = 5.0,
) -> list[Kpis]:
    """KPIs per ``by`` for calls that started in [since, until)."""
    engine = cdr_engine(url)
    try:
        calls = load_call_facts(engine, since, until)
        intervals = load_agent_intervals(engine, since, until) if by in {"agent", "total"} else []
        legs = load_legs(engine, since, until) if by == "agent" else []
    finally:
        engine.dispose()
    sl = {q: queue.service_level_seconds for q, queue in config.queues.items()} if config else {}
    return compute_kpis(
        calls,
        by,
        service_level_seconds=sl,
        short_abandon_seconds=short_abandon_seconds,
        agent_intervals=intervals,
        legs=legs,
        timezone=config.timezone if config else "UTC",
    )
