"""Business hours: is a menu or queue open at a given instant, and when does it open next.

Pure functions over the config's ``BusinessHours``. Ranges are wall-clock times in the hours'
time zone (or the call center's default one), so they follow daylight-saving changes: a shop
open 09:00-17:30 opens at 09:00 local time in winter and in summer alike. Holidays are local
dates and close the whole day.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from callcenter.config import WEEKDAYS, BusinessHours

__all__ = ["is_open", "next_opening", "opening_ranges"]

_SEARCH_DAYS = 400
"""How far ahead ``next_opening`` looks (more than a year, so yearly holidays fit)."""


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=256)
def _range_seconds(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` -> (32400, 63000); ``24:00`` is the end of the day."""
    start, end = text.split("-")
    return _seconds(start), _seconds(end)


def _seconds(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _local(hours: BusinessHours, at: dt.datetime, default_tz: str) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("business hours need a timezone-aware datetime")
    return at.astimezone(_zone(hours.timezone or default_tz))


def opening_ranges(hours: BusinessHours, day: dt.date) -> list[tuple[int, int]]:
    """Open ranges of a local date as (start, end) seconds after midnight; [] on a holiday."""
    if day in hours.holidays:
        return []
    return sorted(_range_seconds(text) for text in hours.weekly.get(WEEKDAYS[day.weekday()], []))


def is_open(hours: BusinessHours, at: dt.datetime, default_tz: str) -> bool:
    """True when ``at`` (aware) falls in an opening range of its local day and is no holiday."""
    local = _local(hours, at, default_tz)
    second = local.hour * 3600 + local.minute * 60 + local.second
    return any(start <= second < end for start, end in opening_ranges(hours, local.date()))


def next_opening(hours: BusinessHours, at: dt.datetime, default_tz: str) -> dt.datetime | None:
    """The first instant at or after ``at`` when it is open (UTC), or None within ~a year."""
    if is_open(hours, at, default_tz):
        return at.astimezone(dt.UTC)
    local = _local(hours, at, default_tz)
    zone = local.tzinfo
    assert zone is not None
    for offset in range(_SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for start, _end in opening_ranges(hours, day):
            wall = dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(seconds=start)
            opening = _first_open_instant(hours, wall, default_tz)
            if opening is not None and opening > at:
                return opening
    return None


def _first_open_instant(
    hours: BusinessHours, wall: dt.datetime, default_tz: str
) -> dt.datetime | None:
    """When a range starting at local ``wall`` really opens, in UTC.

    A wall time in a spring-forward gap (e.g. 01:30 on the night clocks jump 01:00 -> 02:00)
    does not exist: the range opens at the jump. Between the two readings of the gap time
    (``fold=1`` is the earlier instant there), look minute by minute for the first open one.
    """
    later = wall.replace(fold=0).astimezone(dt.UTC)
    earlier = wall.replace(fold=1).astimezone(dt.UTC)
    if earlier == later or earlier > later:
        # An ordinary time, or an ambiguous one (fall back): the first reading opens.
        first = min(earlier, later)
        return first if is_open(hours, first, default_tz) else None
    instant = earlier
    while instant <= later:
        if is_open(hours, instant, default_tz):
            return instant
        instant += dt.timedelta(minutes=1)
    return None
