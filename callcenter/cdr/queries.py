"""Queries QA and the retention job need: find recordings, show a whole call, purge.

Kept in ``cdr/`` because only this package talks SQL; ``recording/`` and the CLI call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, func, select

from callcenter.cdr.store import CALLS, EVENTS, LEGS, RECORDINGS
from callcenter.db.models import QueueEntry

ENTRIES: Table = QueueEntry.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RecordingFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    agent: str | None = None
    queue: str | None = None
    caller: str | None = None
    disposition: str | None = None
    min_duration: float | None = None
    kind: str | None = None
    """``call`` or ``voicemail`` (None: both)."""
    limit: int = 1000


def list_recordings(engine: Engine, where: RecordingFilter) -> list[dict[str, Any]]:
    """Recordings (not deleted) with their call's caller and disposition, newest first."""
    r, c = RECORDINGS.c, CALLS.c
    conditions: list[ColumnElement[bool]] = [r.deleted_at.is_(None)]
    if where.since:
        conditions.append(r.started_at >= where.since)
    if where.until:
        conditions.append(r.started_at < where.until)
    if where.agent:
        conditions.append(r.agent_id == where.agent)
    if where.queue:
        conditions.append(r.queue_id == where.queue)
    if where.caller:
        conditions.append(c.caller_number.contains(where.caller, autoescape=True))
    if where.disposition:
        conditions.append(c.disposition == where.disposition)
    if where.min_duration is not None:
        conditions.append(r.duration_seconds >= where.min_duration)
    if where.kind:
        conditions.append(r.kind == where.kind)
    query = (
        select(
            r.call_id,
            r.name,
            r.kind,
            r.started_at,
            r.duration_seconds,
            r.agent_id,
            r.queue_id,
            c.caller_number,
            c.disposition,
            r.format,
            r.size_bytes,
            r.storage_url,
            r.sha256,
        )
        .join(CALLS, c.call_id == r.call_id)
        .where(and_(*conditions))
        .order_by(r.started_at.desc())
        .limit(where.limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def call_detail(engine: Engine, call_id: str) -> dict[str, Any] | None:
    """The CDR with its legs, events and recordings, or None if there is no such call."""
    with engine.connect() as conn:
        call = conn.execute(select(CALLS).where(CALLS.c.call_id == call_id)).mappings().first()
        if call is None:
            return None
        legs = conn.execute(
            select(LEGS).where(LEGS.c.call_id == call_id).order_by(LEGS.c.seq)
        ).mappings()
        legs_list = [{k: v for k, v in leg.items() if k != "id"} for leg in legs]
        events = conn.execute(
            select(EVENTS).where(EVENTS.c.call_id == call_id).order_by(EVENTS.c.seq)
        ).mappings()
        events_list = [{k: v for k, v in e.items() if k != "id"} for e in events]
        recordings = conn.execute(
            select(RECORDINGS)
            .where(and_(RECORDINGS.c.call_id == call_id, RECORDINGS.c.deleted_at.is_(None)))
            .order_by(RECORDINGS.c.started_at)
        ).mappings()
        return {
            "call": dict(call),
            "legs": legs_list,
            "events": events_list,
            "recordings": [dict(rec) for rec in recordings],
        }


@dataclass(frozen=True)
class WaitingCall:
    """A call an earlier run of this worker left waiting in a queue, to resume after a restart:
    its ``calls`` row, how many legs and events it already has, and its open queue entry."""

    call: dict[str, Any]
    legs: int
    events: int
    queue_id: str
    priority: int
    entered_at: dt.datetime
    extra_skills: tuple[tuple[str, int], ...]

    @property
    def call_id(self) -> str:
        return str(self.call["call_id"])


def waiting_call(engine: Engine, worker_id: str, channel_id: str) -> WaitingCall | None:
    """The call of ``worker_id`` whose caller is ``channel_id`` and whose queue entry is still
    open (no ``left_at``), or None (that caller was not waiting: start their call again)."""
    c, e = CALLS.c, ENTRIES.c
    with engine.connect() as conn:
        found = conn.execute(
            select(
                CALLS,
                e.queue_id.label("entry_queue"),
                e.priority.label("entry_priority"),
                e.entered_at.label("entry_entered_at"),
                e.required_skills.label("entry_skills"),
            )
            .join(ENTRIES, e.call_id == c.call_id)
            .where(
                c.channel_uniqueid == channel_id,
                c.worker_id == worker_id,
                e.worker_id == worker_id,
                e.left_at.is_(None),
            )
            .order_by(e.entered_at.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        row = dict(found._mapping)
        call_id = row["call_id"]
        legs = conn.execute(
            select(func.coalesce(func.max(LEGS.c.seq), 0)).where(LEGS.c.call_id == call_id)
        ).scalar_one()
        events = conn.execute(
            select(func.coalesce(func.max(EVENTS.c.seq), 0)).where(EVENTS.c.call_id == call_id)
        ).scalar_one()
    skills = row.pop("entry_skills") or []
    return WaitingCall(
        queue_id=str(row.pop("entry_queue")),
        priority=int(row.pop("entry_priority")),
        entered_at=row.pop("entry_entered_at"),
        extra_skills=tuple((str(skill), int(level)) for skill, level in skills),
        call=row,
        legs=int(legs),
        events=int(events),
    )


def all_recordings(engine: Engine) -> list[dict[str, Any]]:
    """Every stored recording's name, storage URL and checksum (for ``recordings verify``)."""
    r = RECORDINGS.c
    query = select(r.name, r.call_id, r.storage_url, r.sha256, r.size_bytes).where(
        r.deleted_at.is_(None)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(r.started_at))]


def expired_recordings(engine: Engine, now: dt.datetime) -> list[dict[str, Any]]:
    r = RECORDINGS.c
    query = select(r.name, r.call_id, r.storage_url, r.expires_at).where(
        and_(r.expires_at.is_not(None), r.expires_at <= now)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(r.expires_at))]


def delete_recording_row(engine: Engine, name: str) -> None:
    """Remove a recording's row (its file is already gone); the call's CDR stays."""
    with engine.begin() as conn:
        conn.execute(delete(RECORDINGS).where(RECORDINGS.c.name == name))
        conn.execute(
            CALLS.update().where(CALLS.c.recording_name == name).values(recording_name=None)
        )


def unfetched_recordings(engine: Engine) -> list[dict[str, Any]]:
    """Recording rows whose audio is still in Asterisk (fetching it failed at the time)."""
    query = select(RECORDINGS).where(
        and_(RECORDINGS.c.storage_url.is_(None), RECORDINGS.c.deleted_at.is_(None))
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def calls_of_worker(
    engine: Engine, worker_id: str, call_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """``calls`` rows of ``worker_id`` among ``call_ids`` (call id, agent, queue, times)."""
    wanted = list(dict.fromkeys(call_ids))
    if not wanted:
        return {}
    c = CALLS.c
    query = select(
        c.call_id,
        c.agent_id,
        c.queue_id,
        c.started_at,
        c.answered_at,
        c.recording_name,
        c.caller_number,
        c.caller_name,
    ).where(c.worker_id == worker_id, c.call_id.in_(wanted))
    with engine.connect() as conn:
        return {row.call_id: dict(row._mapping) for row in conn.execute(query)}


def fetched_recording_names(engine: Engine, names: Iterable[str]) -> set[str]:
    """Which of ``names`` already have a stored file (a ``recordings`` row with a URL)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return set()
    r = RECORDINGS.c
    query = select(r.name).where(r.name.in_(wanted), r.storage_url.is_not(None))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


@dataclass(frozen=True)
class StoredCall:
    """The CDR an earlier run of the worker stored for a call: its ``calls`` row, how many legs
    and events it has, and each leg (seq, agent, times) by its channel id."""

    call: dict[str, Any]
    legs: int
    events: int
    leg_by_channel: dict[str, dict[str, Any]]


def stored_call(engine: Engine, worker_id: str, call_id: str) -> StoredCall | None:
    """The stored CDR of ``worker_id``'s call ``call_id`` (to carry it on), or None."""
    with engine.connect() as conn:
        found = conn.execute(
            select(CALLS).where(CALLS.c.call_id == call_id, CALLS.c.worker_id == worker_id)
        ).first()
        if found is None:
            return None
        legs = [
            dict(row._mapping)
            for row in conn.execute(
                select(LEGS.c.seq, LEGS.c.channel_id, LEGS.c.agent_id, LEGS.c.rang_at).where(
                    LEGS.c.call_id == call_id
                )
            )
        ]
        events = conn.execute(
            select(func.coalesce(func.max(EVENTS.c.seq), 0)).where(EVENTS.c.call_id == call_id)
        ).scalar_one()
    return StoredCall(
        call=dict(found._mapping),
        legs=max((int(leg["seq"]) for leg in legs), default=0),
        events=int(events),
        leg_by_channel={str(leg["channel_id"]): leg for leg in legs if leg["channel_id"]},
    )
