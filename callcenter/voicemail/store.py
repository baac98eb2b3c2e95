"""Voicemail messages in the database: list, read, mark handled, ask for a call back.

New messages arrive through the CDR writer (``submit_voicemail``: batched, spooled, exactly
once) with their recording row; this module reads them and writes what people do with them.
Synchronous: the pages run it in a thread, the CLI directly.

A call back is a ``callback_requests`` row (``source`` = ``voicemail``, ``status`` =
``pending``) with the caller's number, the message and the box's queue: the outbound dialer
takes pending rows oldest first (see docs/voicemail.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, select, update

from callcenter.db.models import CallbackRequest, Recording, VoicemailMessage
from callcenter.errors import ConflictError, NotFoundError
from callcenter.voicemail.messages import MESSAGE_STATUSES

MESSAGES: Table = VoicemailMessage.__table__  # type: ignore[assignment]
RECORDINGS: Table = Recording.__table__  # type: ignore[assignment]
CALLBACKS: Table = CallbackRequest.__table__  # type: ignore[assignment]
MAX_NOTE = 2000


class MessageNotFound(NotFoundError):
    code = "voicemail-not-found"


class AlreadyHandled(ConflictError):
    code = "voicemail-already-handled"


class CallbackNotPossible(ConflictError):
    code = "voicemail-callback-refused"


@dataclass(frozen=True)
class MessageFilter:
    boxes: frozenset[str] | None = None
    """Only these boxes (None: every box)."""
    status: str | None = None
    """``new`` or ``handled`` (None: both)."""
    caller: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 200

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in MESSAGE_STATUSES:
            raise ValueError(f"status is new or handled, not {self.status!r}")


def _columns() -> list[Any]:
    r = RECORDINGS.c
    return [
        *MESSAGES.c,
        r.format,
        r.size_bytes,
        r.storage_url,
        r.sha256,
        r.expires_at,
    ]


def list_messages(engine: Engine, where: MessageFilter) -> list[dict[str, Any]]:
    """Messages matching the filter, newest first, with their audio's file and checksum."""
    m = MESSAGES.c
    conditions: list[ColumnElement[bool]] = [RECORDINGS.c.deleted_at.is_(None)]
    if where.boxes is not None:
        if not where.boxes:
            return []
        conditions.append(m.mailbox.in_(sorted(where.boxes)))
    if where.status:
        conditions.append(m.status == where.status)
    if where.caller:
        conditions.append(m.caller_number.contains(where.caller, autoescape=True))
    if where.since:
        conditions.append(m.left_at >= where.since)
    if where.until:
        conditions.append(m.left_at < where.until)
    query = (
        select(*_columns())
        .join(RECORDINGS, RECORDINGS.c.name == m.recording_name)
        .where(and_(*conditions))
        .order_by(m.left_at.desc())
        .limit(max(1, min(where.limit, 1000)))
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def get_message(engine: Engine, name: str) -> dict[str, Any]:
    """One message with its audio's file, checksum and the call backs asked for it."""
    m = MESSAGES.c
    with engine.connect() as conn:
        row = conn.execute(
            select(*_columns())
            .join(RECORDINGS, RECORDINGS.c.name == m.recording_name)
            .where(and_(m.recording_name == name, RECORDINGS.c.deleted_at.is_(None)))
        ).first()
        if row is None:
            raise MessageNotFound(f"no voicemail message {name!r}", voicemail=name)
        callbacks = conn.execute(
            select(CALLBACKS).where(CALLBACKS.c.voicemail == name).order_by(CALLBACKS.c.id)
        ).mappings()
        return {**dict(row._mapping), "callbacks": [dict(c) for c in callbacks]}


def find_message(engine: Engine, name_or_call_id: str) -> dict[str, Any]:
    """A message by its name, or the (first) message left during a call."""
    try:
        return get_message(engine, name_or_call_id)
    except MessageNotFound:
        pass
    with engine.connect() as conn:
        name = conn.execute(
            select(MESSAGES.c.recording_name)
            .where(MESSAGES.c.call_id == name_or_call_id)
            .order_by(MESSAGES.c.left_at)
            .limit(1)
        ).scalar()
    if name is None:
        raise MessageNotFound(
            f"no voicemail message or call {name_or_call_id!r}", voicemail=name_or_call_id
        )
    return get_message(engine, str(name))


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    return note[:MAX_NOTE] or None


def mark_handled(
    engine: Engine, name: str, by: str, note: str | None, now: dt.datetime
) -> dict[str, Any]:
    """Mark a new message handled by ``by`` with an optional note; a message already handled
    is refused (two people must not both think they dealt with it)."""
    m = MESSAGES.c
    with engine.begin() as conn:
        done = conn.execute(
            update(MESSAGES)
            .where(and_(m.recording_name == name, m.status == "new"))
            .values(status="handled", handled_at=now, handled_by=by, note=_clean_note(note))
        )
        if done.rowcount == 0:
            current = conn.execute(
                select(m.handled_by, m.handled_at).where(m.recording_name == name)
            ).first()
            if current is None:
                raise MessageNotFound(f"no voicemail message {name!r}", voicemail=name)
            raise AlreadyHandled(
                f"message {name} was already handled by {current.handled_by} "
                f"at {current.handled_at:%Y-%m-%d %H:%M}",
                voicemail=name,
                handled_by=current.handled_by,
            )
    return get_message(engine, name)


def request_callback(
    engine: Engine, name: str, by: str, note: str | None, now: dt.datetime
) -> dict[str, Any]:
    """Ask the outbound dialer to call the message's caller back: a ``pending``
    ``callback_requests`` row. Refused when the caller's number is unknown or a call back of
    this message is already pending."""
    message = get_message(engine, name)
    number = message["caller_number"]
    if not number:
        raise CallbackNotPossible(
            f"message {name} has no caller number to call back", voicemail=name
        )
    if any(c["status"] == "pending" for c in message["callbacks"]):
        raise CallbackNotPossible(
            f"a call back of message {name} is already pending", voicemail=name
        )
    row = {
        "number": number,
        "call_id": message["call_id"],
        "queue_id": message["queue_id"],
        "source": "voicemail",
        "voicemail": name,
        "requested_by": by,
        "requested_at": now,
        "status": "pending",
        "note": _clean_note(note),
    }
    with engine.begin() as conn:
        new_id = conn.execute(CALLBACKS.insert().values(**row)).inserted_primary_key
    return {"id": int(new_id[0]) if new_id else None, **row}


def measure_fetched(engine: Engine, names: list[str], min_sound_of: dict[str, float]) -> list[str]:
    """Measure the sound of messages whose audio was fetched late (``recordings fetch``):
    their rows get ``sound_seconds`` and ``empty`` (``min_sound_of``: box -> minimum).
    Returns the messages measured."""
    from callcenter.recording.storage import StorageError, path_of
    from callcenter.voicemail.sound import is_empty, sound_seconds

    m = MESSAGES.c
    measured: list[str] = []
    with engine.begin() as conn:
        rows = conn.execute(
            select(m.recording_name, m.mailbox, RECORDINGS.c.storage_url, RECORDINGS.c.format)
            .join(RECORDINGS, RECORDINGS.c.name == m.recording_name)
            .where(and_(m.recording_name.in_(names), m.sound_seconds.is_(None)))
        ).all()
        for row in rows:
            if not row.storage_url:
                continue
            try:
                sound = sound_seconds(path_of(row.storage_url).read_bytes(), row.format)
            except (StorageError, OSError, ValueError):
                continue
            conn.execute(
                update(MESSAGES)
                .where(m.recording_name == row.recording_name)
                .values(
                    sound_seconds=sound,
                    empty=is_empty(sound, min_sound_of.get(row.mailbox, 0.0)),
                )
            )
            measured.append(row.recording_name)
    return measured


def pending_callbacks(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    """Pending call backs, oldest first: what the outbound dialer takes."""
    query = (
        select(CALLBACKS)
        .where(CALLBACKS.c.status == "pending")
        .order_by(CALLBACKS.c.requested_at, CALLBACKS.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
