"""Business hours: weekly ranges, holidays, time zones and daylight-saving changes."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.clock import FixedClock, SystemClock
from callcenter.config import BusinessHours
from callcenter.hours import is_open, next_opening, opening_ranges

UTC = dt.UTC

OFFICE = BusinessHours.model_validate(
    {
        "weekly": {
            "mon": ["09:00-17:30"],
            "tue": ["09:00-12:00", "13:00-17:30"],
            "wed": ["09:00-17:30"],
            "thu": ["09:00-17:30"],
            "fri": ["09:00-17:00"],
            "sat": ["10:00-14:00"],
        },
        "holidays": ["2026-12-25", "2026-12-28"],
    }
)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 11, 23, 8, 59, 59), False),  # Monday before opening (London = UTC in winter)
        (utc(2026, 11, 23, 9, 0), True),  # opening minute is open
        (utc(2026, 11, 23, 17, 29, 59), True),
        (utc(2026, 11, 23, 17, 30), False),  # the end is exclusive
        (utc(2026, 11, 24, 12, 30), False),  # Tuesday lunch break
        (utc(2026, 11, 24, 13, 0), True),
        (utc(2026, 11, 28, 11, 0), True),  # Saturday
        (utc(2026, 11, 29, 11, 0), False),  # Sunday: no ranges at all
        (utc(2026, 12, 25, 11, 0), False),  # Friday, but a holiday
        (utc(2026, 12, 28, 11, 0), False),  # Monday holiday
    ],
)
def test_weekly_ranges_and_holidays(at: dt.datetime, expected: bool) -> None:
    assert is_open(OFFICE, at, "Europe/London") is expected


def test_summer_time_shifts_the_utc_opening_hour() -> None:
    # In July London is UTC+1: 09:00 local is 08:00 UTC.
    assert is_open(OFFICE, utc(2026, 7, 6, 8, 0), "Europe/London")
    assert not is_open(OFFICE, utc(2026, 7, 6, 7, 59), "Europe/London")
    assert not is_open(OFFICE, utc(2026, 7, 6, 16, 30), "Europe/London")


def test_hours_own_time_zone_beats_the_default() -> None:
    new_york = OFFICE.model_copy(update={"timezone": "America/New_York"})
    at = utc(2026, 11, 23, 14, 0)  # 09:00 in New York (EST, UTC-5)
    assert is_open(new_york, at, "Europe/London")
    assert not is_open(new_york, utc(2026, 11, 23, 13, 59), "Europe/London")


def test_holiday_is_a_local_date() -> None:
    # 2026-12-24 23:30 in New York is 2026-12-25 04:30 UTC: still the 24th there.
    hours = BusinessHours.model_validate(
        {"timezone": "America/New_York", "weekly": {"thu": ["00:00-24:00"]}, "holidays": []}
    )
    assert is_open(hours, utc(2026, 12, 25, 4, 30), "UTC")
    closed = hours.model_copy(update={"holidays": [dt.date(2026, 12, 24)]})
    assert not is_open(closed, utc(2026, 12, 25, 4, 30), "UTC")


def test_whole_day_range_ends_at_midnight() -> None:
    hours = BusinessHours.model_validate({"weekly": {"mon": ["00:00-24:00"]}})
    assert is_open(hours, utc(2026, 11, 23, 23, 59, 59), "UTC")
    assert not is_open(hours, utc(2026, 11, 24, 0, 0), "UTC")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, dt.datetime(2026, 11, 23, 10, 0), "UTC")


def test_opening_ranges_are_sorted_seconds() -> None:
    assert opening_ranges(OFFICE, dt.date(2026, 11, 24)) == [(32400, 43200), (46800, 63000)]
    assert opening_ranges(OFFICE, dt.date(2026, 12, 25)) == []


def test_next_opening_when_open_is_now() -> None:
    at = utc(2026, 11, 23, 10, 0)
    assert next_opening(OFFICE, at, "Europe/London") == at


def test_next_opening_later_the_same_day_and_after_lunch() -> None:
    assert next_opening(OFFICE, utc(2026, 11, 23, 7, 0), "Europe/London") == utc(2026, 11, 23, 9, 0)
    assert next_opening(OFFICE, utc(2026, 11, 24, 12, 15), "Europe/London") == utc(
        2026, 11, 24, 13, 0
    )


def test_next_opening_skips_sunday_and_holidays() -> None:
    # Thursday 24 Dec after closing -> Friday 25 holiday -> Saturday 26 10:00.
    assert next_opening(OFFICE, utc(2026, 12, 24, 18, 0), "Europe/London") == utc(
        2026, 12, 26, 10, 0
    )
    # Saturday 26 after closing -> Sunday -> Monday 28 holiday -> Tuesday 29 09:00.
    assert next_opening(OFFICE, utc(2026, 12, 26, 15, 0), "Europe/London") == utc(
        2026, 12, 29, 9, 0
    )


def test_next_opening_across_the_spring_forward_night() -> None:
    # Europe/London jumps 01:00 GMT -> 02:00 BST on 2026-03-29 (a Sunday).
    hours = BusinessHours.model_validate({"weekly": {"sun": ["09:00-10:00"]}})
    assert next_opening(hours, utc(2026, 3, 28, 23, 0), "Europe/London") == utc(2026, 3, 29, 8, 0)


def test_opening_inside_the_skipped_hour_opens_at_the_jump() -> None:
    hours = BusinessHours.model_validate({"weekly": {"sun": ["01:30-03:00"]}})
    # 01:30 local does not exist that night; the clocks read 02:00 BST at 01:00 UTC: open.
    assert next_opening(hours, utc(2026, 3, 29, 0, 0), "Europe/London") == utc(2026, 3, 29, 1, 0)
    assert is_open(hours, utc(2026, 3, 29, 1, 0), "Europe/London")
    assert not is_open(hours, utc(2026, 3, 29, 0, 59), "Europe/London")


def test_fall_back_night_opens_at_the_first_reading() -> None:
    # 2026-10-25: 02:00 BST -> 01:00 GMT, so 01:30 local happens twice (00:30 and 01:30 UTC).
    hours = BusinessHours.model_validate({"weekly": {"sun": ["01:30-01:45"]}})
    assert next_opening(hours, utc(2026, 10, 25, 0, 0), "Europe/London") == utc(2026, 10, 25, 0, 30)
    assert is_open(hours, utc(2026, 10, 25, 1, 35), "Europe/London")  # the second reading too


def test_never_open_has_no_next_opening() -> None:
    hours = BusinessHours.model_validate({"weekly": {}})
    assert next_opening(hours, utc(2026, 11, 23, 10, 0), "UTC") is None


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(utc(2026, 11, 23, 8, 0), monotonic=5.0)
    assert clock.now() == utc(2026, 11, 23, 8, 0)
    clock.advance(3600)
    assert clock.now() == utc(2026, 11, 23, 9, 0)
    assert clock.monotonic() == 3605.0
    clock.set(dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert clock.now() == utc(2026, 11, 23, 10, 0)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    assert clock.monotonic() <= clock.monotonic()
