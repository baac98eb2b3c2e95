"""Server-side web sessions: the cookie is signed *and* its id must still be in the table.

``SessionStore.open`` at sign-in, ``check`` on every page, POST and event-stream tick,
``end`` at sign-out. ``UserStore`` deletes a user's rows when their password changes, they are
disabled, or an admin signs them out everywhere; every worker sharing the database sees that
on its next check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from callcenter.auth.model import Role
from callcenter.db.engine import DatabaseError
from callcenter.db.models import User, WebSession


def session_digest(session_id: str) -> str:
    """Only this digest is stored: a leaked table opens no session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class SessionUser:
    """Who a valid session belongs to, as the users table says now."""

    username: str
    role: Role
    agent_id: str | None


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(
        self, session_id: str, username: str, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        """Record a new session (and forget the expired ones)."""
        with Session(self.engine) as session:
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    id_digest=session_digest(session_id),
                    username=username,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            session.commit()

    def check(self, session_id: str, username: str, now: dt.datetime) -> SessionUser | None:
        """The session's user when the session is still open, unexpired and theirs, and the
        user is enabled; else None. ``DatabaseError`` when the database cannot say."""
        query = (
            select(User.username, User.role, User.agent_id)
            .join(WebSession, WebSession.username == User.username)
            .where(
                WebSession.id_digest == session_digest(session_id),
                WebSession.username == username,
                WebSession.expires_at > now,
                User.disabled.is_(False),
            )
        )
        try:
            with Session(self.engine) as session:
                row = session.execute(query).first()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot check the session: {exc}") from exc
        if row is None:
            return None
        return SessionUser(row.username, Role(row.role), row.agent_id)

    def end(self, session_id: str) -> None:
        with Session(self.engine) as session:
            session.execute(
                delete(WebSession).where(WebSession.id_digest == session_digest(session_id))
            )
            session.commit()
