"""Users in the database: create, change password, sign in (with lock-out and TOTP), tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.auth.model import LockoutPolicy, Role
from callcenter.auth.secrets import (
    hash_password,
    new_api_token,
    password_problem,
    token_digest,
    verify_password,
    verify_totp,
)
from callcenter.db.models import User
from callcenter.errors import CallCenterError, ConflictError, NotFoundError


class SignInRefused(CallCenterError):
    """Wrong user or password, locked, or a TOTP code is needed or wrong."""

    code = "sign-in-refused"


class TotpRequired(SignInRefused):
    code = "totp-required"


class WeakPassword(CallCenterError):
    code = "weak-password"


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: Role
    agent_id: str | None
    totp_enabled: bool
    locked: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _info(user: User, now: dt.datetime) -> UserInfo:
    return UserInfo(
        username=user.username,
        role=Role(user.role),
        agent_id=user.agent_id,
        totp_enabled=user.totp_secret is not None,
        locked=LockoutPolicy.is_locked(user.locked_until, now),
    )


class UserStore:
    def __init__(self, engine: Engine, lockout: LockoutPolicy | None = None) -> None:
        self.engine = engine
        self.lockout = lockout or LockoutPolicy()

    def add(
        self, username: str, password: str, role: Role, agent_id: str | None = None
    ) -> UserInfo:
        problem = password_problem(password)
        if problem:
            raise WeakPassword(problem, username=username)
        if role is Role.AGENT and not agent_id:
            raise CallCenterError("an agent user needs --agent", username=username)
        now = _now()
        user = User(
            username=username,
            role=role.value,
            agent_id=agent_id,
            password_hash=hash_password(password),
            failed_logins=0,
            created_at=now,
            disabled=False,
        )
        try:
            with Session(self.engine) as session:
                session.add(user)
                session.commit()
                return _info(user, now)
        except IntegrityError as exc:
            raise ConflictError(f"user {username!r} already exists", username=username) from exc

    def set_password(self, username: str, password: str) -> None:
        problem = password_problem(password)
        if problem:
            raise WeakPassword(problem, username=username)
        with Session(self.engine) as session:
            user = self._get(session, username)
            user.password_hash = hash_password(password)
            user.failed_logins = 0
            user.locked_until = None
            session.commit()

    def set_totp(self, username: str, secret: str | None) -> None:
        with Session(self.engine) as session:
            self._get(session, username).totp_secret = secret
            session.commit()

    def issue_token(self, username: str) -> str:
        """A new API bearer token for the user (the old one stops working)."""
        token = new_api_token()
        with Session(self.engine) as session:
            self._get(session, username).api_token_hash = token_digest(token)
            session.commit()
        return token

    def by_token(self, token: str) -> UserInfo | None:
        with Session(self.engine) as session:
            user = session.scalar(select(User).where(User.api_token_hash == token_digest(token)))
            if user is None or user.disabled:
                return None
            return _info(user, _now())

    def list(self) -> list[UserInfo]:
        now = _now()
        with Session(self.engine) as session:
            return [_info(u, now) for u in session.scalars(select(User).order_by(User.username))]

    def sign_in(
        self,
        username: str,
        password: str,
        totp_code: str | None = None,
        now: dt.datetime | None = None,
    ) -> UserInfo:
        """Check the password (and TOTP when enabled); count failures and lock after too many."""
        now = now or _now()
        with Session(self.engine) as session:
            user = session.get(User, username)
            if user is None or user.disabled:
                # Same answer as a wrong password: do not reveal which usernames exist.
                raise SignInRefused("wrong username or password")
            if LockoutPolicy.is_locked(user.locked_until, now):
                raise SignInRefused("too many failed sign-ins; try again later", locked=True)
            if not verify_password(user.password_hash, password):
                user.failed_logins, user.locked_until = self.lockout.after_failure(
                    user.failed_logins, now
                )
                session.commit()
                raise SignInRefused("wrong username or password")
            if user.totp_secret is not None:
                if not totp_code:
                    raise TotpRequired("enter the code from your authenticator app")
                if not verify_totp(user.totp_secret, totp_code):
                    user.failed_logins, user.locked_until = self.lockout.after_failure(
                        user.failed_logins, now
                    )
                    session.commit()
                    raise SignInRefused("wrong authenticator code")
            user.failed_logins = 0
            user.locked_until = None
            session.commit()
            return _info(user, now)

    @staticmethod
    def _get(session: Session, username: str) -> User:
        user = session.get(User, username)
        if user is None:
            raise NotFoundError(f"no user {username!r}", username=username)
        return user
