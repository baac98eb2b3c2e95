"""Reading calls for people: search with filters, one call in full, a caller's history,
and what agents and QA write back (disposition, notes, scores)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from callcenter.db.models import Call, QaScore
from callcenter.errors import NotFoundError


@dataclass(frozen=True)
class CallFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    agent_id: str | None = None
    queue_id: str | None = None
    caller: str | None = None
    disposition: str | None = None
    min_talk_seconds: float | None = None
    with_recording: bool = False
    limit: int = 100


@dataclass(frozen=True)
class CallDetail:
    call: dict[str, Any]
    legs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    recording: dict[str, Any] | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def _filtered(filters: CallFilter) -> Select[Call]:
    query = select(Call)
    if filters.since:
        query = query.where(Call.started_at >= filters.since)
    if filters.until:
        query = query.where(Call.started_at < filters.until)
    if filters.agent_id:
        query = query.where(Call.agent_id == filters.agent_id)
    if filters.queue_id:
        query = query.where(Call.queue_id == filters.queue_id)
    if filters.caller:
        query = query.where(Call.caller_number.contains(filters.caller, autoescape=True))
    if filters.disposition:
        query = query.where(Call.disposition == filters.disposition)
    if filters.min_talk_seconds is not None:
        query = query.where(Call.talk_seconds >= filters.min_talk_seconds)
    if filters.with_recording:
        query = query.where(Call.recording_name.is_not(None))
    return query.order_by(Call.started_at.desc()).limit(max(1, min(filters.limit, 1000)))


def search_calls(engine: Engine, filters: CallFilter) -> list[dict[str, Any]]:
    """Calls matching every given filter, newest first."""
    with Session(engine) as session:
        return [_row(c) for c in session.scalars(_filtered(filters))]


def call_detail(engine: Engine, call_id: str) -> CallDetail:
    """The call with its legs, events, recording (``cdr.queries.call_detail``) and QA scores."""
    from callcenter.cdr.queries import call_detail as cdr_call_detail

    found = cdr_call_detail(engine, call_id)
    if found is None:
        raise NotFoundError(f"no call {call_id!r}", call_id=call_id)
    with Session(engine) as session:
        scores = session.scalars(
            select(QaScore).where(QaScore.call_id == call_id).order_by(QaScore.scored_at)
        )
        score_rows = [_row(x) for x in scores]
    recordings = found["recordings"]
    return CallDetail(
        call=found["call"],
        legs=found["legs"],
        events=found["events"],
        recording=recordings[0] if recordings else None,
        scores=score_rows,
    )


def previous_calls(
    engine: Engine, caller_number: str, before: dt.datetime | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """The caller's earlier calls, for the agent's screen pop."""
    with Session(engine) as session:
        query = select(Call).where(Call.caller_number == caller_number)
        if before is not None:
            query = query.where(Call.started_at < before)
        rows = session.scalars(query.order_by(Call.started_at.desc()).limit(limit))
        return [_row(c) for c in rows]


def set_agent_disposition(
    engine: Engine, call_id: str, agent_id: str | None, disposition: str, notes: str | None
) -> None:
    """Save what the agent chose at wrap-up; an agent may only write their own call."""
    with Session(engine) as session:
        call = session.get(Call, call_id)
        if call is None or (agent_id is not None and call.agent_id != agent_id):
            raise NotFoundError(f"no call {call_id!r} for this agent", call_id=call_id)
        call.agent_disposition = disposition
        call.notes = notes
        session.commit()


def save_qa_score(
    engine: Engine,
    call_id: str,
    reviewer: str,
    scores: dict[str, int],
    comment: str | None,
    now: dt.datetime,
) -> float:
    with Session(engine) as session:
        if session.get(Call, call_id) is None:
            raise NotFoundError(f"no call {call_id!r}", call_id=call_id)
        total = float(sum(scores.values()))
        session.add(
            QaScore(
                call_id=call_id,
                reviewer=reviewer,
                scores=scores,
                total=total,
                comment=comment,
                scored_at=now,
            )
        )
        session.commit()
        return total


def count_calls(engine: Engine, filters: CallFilter) -> int:
    with Session(engine) as session:
        sub = _filtered(filters).limit(None).order_by(None).subquery()
        return int(session.scalar(select(func.count()).select_from(sub)) or 0)
