"""Password hashing (argon2id), API tokens (stored as SHA-256), TOTP (RFC 6238)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters
MIN_PASSWORD_LENGTH = 10


def set_hashing_cost(time_cost: int, memory_cost_kib: int, parallelism: int = 1) -> None:
    """Change argon2's cost for new hashes (tests use a cheap one; old hashes still verify)."""
    global _HASHER
    _HASHER = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
    )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if password.lower() in {"password123", "changeme123", "callcenter"}:
        return "that password is too common"
    return None


def new_api_token() -> str:
    return "cc_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """API tokens are stored only as this digest: a leaked table reveals no token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str = "callcenter") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def accepted_totp_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The RFC 6238 time step whose code ``code`` is: the current one or the one before or
    after (clock drift), or None. The caller refuses a step it accepted before (a replay)."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    given = code.strip()
    matched = None
    for step in (current - 1, current, current + 1):  # all three: no early answer to time
        if hmac.compare_digest(totp.generate_otp(step), given):
            matched = step
    return matched


def dummy_password_hash() -> str:
    """A hash made with today's cost, to verify against when a user name is unknown: the
    answer then takes as long as for a real user (no timing hint of who exists)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None or _DUMMY_HASH[0] is not _HASHER:
        _DUMMY_HASH = (_HASHER, _HASHER.hash(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[1]


_DUMMY_HASH: tuple[PasswordHasher, str] | None = None
