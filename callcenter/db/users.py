"""Users in the database: create, change password, sign in (with lock-out and TOTP), tokens,
disable, sign out everywhere.

Every change that must end a user's access (password, disabled, token re-issued or revoked,
locked out, signed out everywhere) calls ``listeners`` with the user name once committed: the
API's token cache forgets the user at once in this process (other processes re-read the
database within their cache's time-to-live).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.auth.model import LockoutPolicy, Role
from callcenter.auth.sealing import SealedSecretError, SecretBox, is_sealed
from callcenter.auth.secrets import (
    accepted_totp_step,
    dummy_password_hash,
    hash_password,
    new_api_token,
    password_problem,
    token_digest,
    verify_password,
)
from callcenter.config import CallCenterConfig
from callcenter.db.models import User, WebSession
from callcenter.errors import CallCenterError, ConfigError, ConflictError, NotFoundError

log = logging.getLogger(__name__)

SIGN_IN_REFUSED = "wrong username or password (after repeated failures, wait a few minutes)"
"""The one answer for an unknown user, a wrong password, a locked or a disabled user: it
tells nobody which user names exist."""
TOTP_REFUSED = "wrong or already used authenticator code"


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
    disabled: bool = False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _info(user: User, now: dt.datetime) -> UserInfo:
    return UserInfo(
        username=user.username,
        role=Role(user.role),
        agent_id=user.agent_id,
        totp_enabled=user.totp_secret is not None,
        locked=LockoutPolicy.is_locked(user.locked_until, now),
        disabled=user.disabled,
    )


class UserStore:
    """The users table. ``totp_key`` (``web.session_secret``) encrypts TOTP secrets; without
    it two-factor sign-in cannot be turned on."""

    def __init__(
        self,
        engine: Engine,
        lockout: LockoutPolicy | None = None,
        *,
        totp_key: str | None = None,
    ) -> None:
        self.engine = engine
        self.lockout = lockout or LockoutPolicy()
        self._box = SecretBox(totp_key) if totp_key else None
        self.listeners: list[Callable[[str], None]] = []
        """Called with a user name after a change that ends or narrows their access."""

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
        """A new password: unlocks the user and signs every browser of theirs out."""
        problem = password_problem(password)
        if problem:
            raise WeakPassword(problem, username=username)
        with Session(self.engine) as session:
            user = self._get(session, username)
            user.password_hash = hash_password(password)
            user.failed_logins = 0
            user.locked_until = None
            self._end_sessions(session, username)
            session.commit()
        self._changed(username)

    def set_totp(self, username: str, secret: str | None) -> None:
        """Turn two-factor sign-in on with ``secret`` (stored encrypted), or off with None."""
        if secret is not None and self._box is None:
            raise ConfigError(
                "two-factor sign-in needs web.session_secret: TOTP secrets are encrypted "
                "with a key derived from it",
                key="web.session_secret",
            )
        with Session(self.engine) as session:
            user = self._get(session, username)
            user.totp_secret = self._box.seal(secret) if secret and self._box else None
            user.totp_last_step = None
            session.commit()

    def seal_totp_secrets(self) -> int:
        """Encrypt the TOTP secrets still stored in plain text (written before encryption
        existed); returns how many. Without a key, nothing is done."""
        if self._box is None:
            return 0
        sealed = 0
        with Session(self.engine) as session:
            for user in session.scalars(select(User).where(User.totp_secret.is_not(None))):
                if user.totp_secret and not is_sealed(user.totp_secret):
                    user.totp_secret = self._box.seal(user.totp_secret)
                    sealed += 1
            session.commit()
        return sealed

    def issue_token(self, username: str) -> str:
        """A new API bearer token for the user (the old one stops working)."""
        token = new_api_token()
        with Session(self.engine) as session:
            self._get(session, username).api_token_hash = token_digest(token)
            session.commit()
        self._changed(username)
        return token

    def revoke_token(self, username: str) -> None:
        """The user's API token stops working; they have none until ``issue_token``."""
        with Session(self.engine) as session:
            self._get(session, username).api_token_hash = None
            session.commit()
        self._changed(username)

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (no sign-in, no API token, every browser signed out) or enable again."""
        with Session(self.engine) as session:
            self._get(session, username).disabled = disabled
            if disabled:
                self._end_sessions(session, username)
            session.commit()
        self._changed(username)

    def sign_out_everywhere(self, username: str) -> int:
        """End every web session of the user; returns how many there were."""
        with Session(self.engine) as session:
            self._get(session, username)
            ended = self._end_sessions(session, username)
            session.commit()
        self._changed(username)
        return ended

    def by_token(self, token: str) -> UserInfo | None:
        """The user of an API token, or None (unknown token, disabled or locked-out user)."""
        now = _now()
        with Session(self.engine) as session:
            user = session.scalar(select(User).where(User.api_token_hash == token_digest(token)))
            if user is None or user.disabled or LockoutPolicy.is_locked(user.locked_until, now):
                return None
            return _info(user, now)

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
        """Check the password (and TOTP when enabled); count failures and lock after too many.

        An unknown user name is checked against a dummy hash and every refusal before the
        password is known right reads ``SIGN_IN_REFUSED``: neither the time taken nor the
        words tell whether a user exists, is locked or disabled.
        """
        now = now or _now()
        with Session(self.engine) as session:
            user = session.get(User, username)
            if user is None:
                verify_password(dummy_password_hash(), password)
                raise SignInRefused(SIGN_IN_REFUSED)
            password_ok = verify_password(user.password_hash, password)
            if user.disabled or LockoutPolicy.is_locked(user.locked_until, now):
                raise SignInRefused(SIGN_IN_REFUSED)
            if not password_ok:
                self._count_failure(session, user, now)
                raise SignInRefused(SIGN_IN_REFUSED)
            if user.totp_secret is not None:
                if not totp_code:
                    raise TotpRequired("enter the code from your authenticator app")
                if not self._take_totp_step(session, user, totp_code, now):
                    self._count_failure(session, user, now)
                    raise SignInRefused(TOTP_REFUSED)
            user.failed_logins = 0
            user.locked_until = None
            session.commit()
            return _info(user, now)

    # --- internals ---------------------------------------------------------------------------

    def _take_totp_step(self, session: Session, user: User, code: str, now: dt.datetime) -> bool:
        """Accept ``code`` once: its time step must be newer than the last one accepted. The
        conditional UPDATE makes two sign-ins racing with one code accept it only once."""
        assert user.totp_secret is not None
        secret = user.totp_secret
        if is_sealed(secret):
            if self._box is None:
                log.error(
                    "user %s: TOTP secret is encrypted but web.session_secret is unset",
                    user.username,
                )
                return False
            try:
                secret = self._box.open(secret)
            except SealedSecretError:
                log.error(
                    "user %s: the TOTP secret cannot be decrypted (web.session_secret changed?); "
                    "run `callcenter users totp %s` again",
                    user.username,
                    user.username,
                )
                return False
        elif self._box is not None:
            user.totp_secret = self._box.seal(secret)  # stored in plain text before: encrypt it
        step = accepted_totp_step(secret, code, now)
        if step is None:
            return False
        taken = session.execute(
            update(User)
            .where(
                User.username == user.username,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _count_failure(self, session: Session, user: User, now: dt.datetime) -> None:
        user.failed_logins, user.locked_until = self.lockout.after_failure(user.failed_logins, now)
        session.commit()
        if user.locked_until is not None:
            self._changed(user.username)  # locked out: their API token stops at once

    @staticmethod
    def _end_sessions(session: Session, username: str) -> int:
        result = session.execute(delete(WebSession).where(WebSession.username == username))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _changed(self, username: str) -> None:
        for listener in self.listeners:
            listener(username)

    @staticmethod
    def _get(session: Session, username: str) -> User:
        user = session.get(User, username)
        if user is None:
            raise NotFoundError(f"no user {username!r}", username=username)
        return user


def user_store(engine: Engine, config: CallCenterConfig) -> UserStore:
    """The users, with the config's lock-out policy and TOTP key (``web.session_secret``)."""
    web_settings = config.web
    lockout = LockoutPolicy(
        max_failures=web_settings.max_failed_sign_ins, lock_minutes=web_settings.lockout_minutes
    )
    return UserStore(engine, lockout, totp_key=web_settings.session_secret)
