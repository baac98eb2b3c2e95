"""Pure sign-in rules: roles, permissions, lock-out after repeated failures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    QA = "qa"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    OWN_STATE = "own-state"
    OWN_CALLS = "own-calls"
    ALL_CALLS = "all-calls"
    RECORDINGS = "recordings"
    SCORE_CALLS = "score-calls"
    WALLBOARD = "wallboard"
    LIVE_CONTROL = "live-control"
    MANAGE_USERS = "manage-users"
    QUEUE_VOICEMAIL = "queue-voicemail"
    """The voicemail boxes of the queues the agent serves."""
    ALL_VOICEMAIL = "all-voicemail"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset({Permission.OWN_STATE, Permission.OWN_CALLS, Permission.QUEUE_VOICEMAIL}),
    Role.QA: frozenset({Permission.ALL_CALLS, Permission.RECORDINGS, Permission.SCORE_CALLS}),
    Role.SUPERVISOR: frozenset(
        {
            Permission.ALL_CALLS,
            Permission.RECORDINGS,
            Permission.SCORE_CALLS,
            Permission.WALLBOARD,
            Permission.LIVE_CONTROL,
            Permission.ALL_VOICEMAIL,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``max_failures`` wrong passwords in a row, refuse sign-in for ``lock_minutes``."""

    max_failures: int = 5
    lock_minutes: int = 15

    def after_failure(self, failures: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """The new failure count and, when it reaches the limit, until when the user is locked."""
        failures += 1
        if failures >= self.max_failures:
            return failures, now + dt.timedelta(minutes=self.lock_minutes)
        return failures, None

    @staticmethod
    def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
        return locked_until is not None and now < locked_until
