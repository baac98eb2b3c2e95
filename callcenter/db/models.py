"""SQLAlchemy 2 models of everything the call center records.

- ``calls``: one row per call (the CDR), idempotent on ``call_id``.
- ``call_events``: what happened during a call, in order (``seq``), idempotent on (call, seq).
- ``call_legs``: each agent leg we rang, with ring time and outcome.
- ``recordings``: metadata of every recording (a conversation or a voicemail), linked to its
  call.
- ``voicemail_messages``: a message left in a voicemail box (its audio is a ``recordings``
  row), with who handled it; ``callback_requests``: calls back people asked for, which the
  outbound dialer makes.
- ``agents`` / ``agent_state_changes``: live agent state (the reservation row used by
  ``SELECT ... FOR UPDATE SKIP LOCKED``) and its history for reports.
- ``queue_entries``: every time a caller waited in a queue, and how it ended.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Call(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(128))
    dialled_number: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    ivr_path: Mapped[list[Any]] = mapped_column(default=list)
    digits: Mapped[list[Any]] = mapped_column(default=list)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queue_id: Mapped[str | None] = mapped_column(String(40), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    queue_entered_at: Mapped[dt.datetime | None]
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    agent_id: Mapped[str | None] = mapped_column(String(40), index=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float | None] = mapped_column(Float)
    wrapup_seconds: Mapped[float | None] = mapped_column(Float)
    disposition: Mapped[str] = mapped_column(String(32), default="in_progress", index=True)
    """answered, abandoned_ivr, abandoned_queue, overflowed, voicemail, callback, failed,
    in_progress."""
    hangup_side: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(default=0)
    channel_uniqueid: Mapped[str | None] = mapped_column(String(64), index=True)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    recording_name: Mapped[str | None] = mapped_column(String(128))
    agent_disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_calls_started_at", "started_at"),)


class CallEvent(Base):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),)


class CallLeg(Base):
    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    agent_id: Mapped[str | None] = mapped_column(String(40), index=True)
    endpoint: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    rang_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(24))
    """answered, no_answer, busy, rejected, cancelled, failed, transfer."""
    hangup_cause: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_legs_call_seq"),)


class Recording(Base):
    __tablename__ = "recordings"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(String(40))
    queue_id: Mapped[str | None] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(16), default="bridge")
    started_at: Mapped[dt.datetime]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    format: Mapped[str] = mapped_column(String(8), default="wav")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_url: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
    kind: Mapped[str] = mapped_column(String(16), default="call", server_default="call")
    """``call`` (a conversation) or ``voicemail`` (a message left in a box)."""


class VoicemailMessage(Base):
    """A message a caller left in a voicemail box; its audio is the ``recordings`` row of the
    same name (deleted with it when its retention ends)."""

    __tablename__ = "voicemail_messages"

    recording_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("recordings.name", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="CASCADE"), index=True
    )
    mailbox: Mapped[str] = mapped_column(String(40), index=True)
    queue_id: Mapped[str | None] = mapped_column(String(40))
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(128))
    left_at: Mapped[dt.datetime]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    sound_seconds: Mapped[float | None] = mapped_column(Float)
    """Seconds of the message louder than silence; None until its audio is fetched."""
    empty: Mapped[bool] = mapped_column(default=False)
    """Less sound than the box's ``min_sound_seconds``: kept, but nobody needs to call back."""
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    """``new`` or ``handled``."""
    handled_at: Mapped[dt.datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class CallbackRequest(Base):
    """Someone asked to be called back (or an agent chose "call back" on a voicemail): the
    outbound dialer takes ``pending`` rows, oldest first, and moves them on."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    """The number to call."""
    call_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="SET NULL"), index=True
    )
    """The call the request came from."""
    queue_id: Mapped[str | None] = mapped_column(String(40))
    """Whose agents make the call (the skills of that queue)."""
    source: Mapped[str] = mapped_column(String(16))
    """``voicemail`` (from a message in the inbox); the dialer adds its own sources."""
    voicemail: Mapped[str | None] = mapped_column(String(128))
    """The message's recording name, for a callback from the voicemail inbox."""
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` until the outbound dialer picks it up (it sets its own states after)."""
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_callback_requests_status_requested", "status", "requested_at"),)


class AgentRow(Base):
    __tablename__ = "agents"

    agent_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="logged_out")
    """logged_out, available, reserved, ringing, on_call, wrapup, paused."""
    pause_reason: Mapped[str | None] = mapped_column(String(64))
    state_since: Mapped[dt.datetime]
    owner: Mapped[str | None] = mapped_column(String(64))
    """The worker that may ring this agent (``owner_until``: its lease, renewed in the
    background); see ``routing/leases.py``."""
    owner_until: Mapped[dt.datetime | None]
    wanted_by: Mapped[str | None] = mapped_column(String(64))
    """Another worker whose callers need this agent: the owner hands them over when idle."""
    wanted_at: Mapped[dt.datetime | None]
    control_state: Mapped[str | None] = mapped_column(String(16))
    """The last login/logout/pause/unpause asked for (through any worker's API or the CLI):
    available, paused or logged_out; the owner applies it."""
    control_reason: Mapped[str | None] = mapped_column(String(64))
    control_at: Mapped[dt.datetime | None]
    control_by: Mapped[str | None] = mapped_column(String(64))
    calls_today: Mapped[int] = mapped_column(default=0)
    last_call_ended_at: Mapped[dt.datetime | None]
    no_answer_count: Mapped[int] = mapped_column(default=0)


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(32))
    worker_id: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(48), unique=True)
    """Written once per change by the routing journal (a replayed spool inserts nothing)."""


class QueueEntry(Base):
    __tablename__ = "queue_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    queue_id: Mapped[str] = mapped_column(String(40), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    entered_at: Mapped[dt.datetime]
    left_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(24))
    """answered, abandoned, overflowed, callback, voicemail, closed."""
    agent_id: Mapped[str | None] = mapped_column(String(40))
    worker_id: Mapped[str | None] = mapped_column(String(64))
    required_skills: Mapped[list[Any]] = mapped_column(default=list)

    __table_args__ = (
        UniqueConstraint(
            "call_id", "queue_id", "entered_at", name="uq_queue_entries_call_queue_entered"
        ),
    )


class User(Base):
    """A person who signs in to the web pages or the API (agent, supervisor, qa, admin)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    """For role agent: the agent (config id) this user is."""
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    """Encrypted (``callcenter.auth.sealing``) with a key derived from web.session_secret."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The RFC 6238 time step of the last code accepted: it and older ones are refused."""
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime]
    disabled: Mapped[bool] = mapped_column(default=False)


class WebSession(Base):
    """A signed-in browser: the cookie carries the id, this row says it is still valid.
    Signing out deletes it; a password change, disabling the user and ``users signout``
    delete all of the user's rows."""

    __tablename__ = "web_sessions"

    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the session id in the cookie (a leaked table opens no session)."""
    username: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class QaScore(Base):
    """A QA reviewer's score of one call on the configured form."""

    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("calls.call_id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(64))
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """criterion id -> points."""
    total: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[dt.datetime]
