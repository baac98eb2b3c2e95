"""Time as the rest of the code sees it: wall-clock ``now()`` and a ``monotonic()`` counter.

Code that decides by the time of day (business hours) or stamps what happens (CDRs, recordings)
takes a ``Clock``: the PBX's. ``SystemClock`` is the real one (a real Asterisk);
``SimulatedClock`` is the clock of the simulated PBX running ``speed`` times faster (the demo,
``callcenter sim``), so the call records' waits and talk times, the recordings and the live
pages all count the same seconds; ``FixedClock`` stays where a test puts it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

__all__ = ["Clock", "FixedClock", "ShiftedClock", "SimulatedClock", "SystemClock"]


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> dt.datetime:
        """The current wall-clock time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a counter that never goes back (for durations, not dates)."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that only moves when told to (``set`` or ``advance``): for tests."""

    def __init__(self, now: dt.datetime, monotonic: float = 0.0) -> None:
        self._now = _aware_utc(now)
        self._monotonic = monotonic

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def set(self, now: dt.datetime) -> None:
        """Jump the wall clock to ``now`` (the monotonic counter does not move)."""
        self._now = _aware_utc(now)

    def advance(self, seconds: float) -> None:
        """Move both the wall clock and the monotonic counter forward."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._now += dt.timedelta(seconds=seconds)
        self._monotonic += seconds


def _aware_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give the clock a timezone-aware datetime")
    return value.astimezone(dt.UTC)


class ShiftedClock:
    """The system clock moved by a fixed offset: the demo runs in office hours at any hour.

    ``monotonic()`` is the system's own, so time-outs and durations are unaffected.
    """

    def __init__(self, offset: dt.timedelta) -> None:
        self.offset = offset

    @classmethod
    def to(cls, moment: dt.datetime) -> ShiftedClock:
        """A clock whose ``now()`` reads ``moment`` at this instant and then runs on."""
        return cls(moment - dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


class SimulatedClock:
    """The wall clock of a simulated PBX that runs ``speed`` times faster than real time.

    ``now()`` reads ``start`` at creation and then advances ``speed`` seconds per real second:
    dates and durations taken from it are the PBX's (a 30 s call at x10 lasts 3 real seconds
    and 30 s here, as in its recording). ``monotonic()`` is the system's own, unscaled: time-outs
    stay real, and the ACD scales its counter by ``speed`` itself.
    """

    def __init__(self, start: dt.datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = _aware_utc(start)
        self.speed = speed
        self._origin = time.monotonic()

    @classmethod
    def starting_now(cls, speed: float) -> SimulatedClock:
        """A simulated PBX clock that reads the real time now and then runs ``speed``x."""
        return cls(dt.datetime.now(dt.UTC), speed)

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def monotonic(self) -> float:
        return time.monotonic()
