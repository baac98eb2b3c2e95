"""KPI maths against examples computed by hand (see docs/kpis.md for the same example)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.cdr.kpis import (
    CallFacts,
    LegFacts,
    compute_kpis,
    group_key,
    intervals_from_changes,
    occupancy,
)

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def call(n: int, disposition: str, wait: float | None, **kw: object) -> CallFacts:
    queue = kw.pop("queue", "sales")
    return CallFacts(
        f"c{n}",
        T0 + dt.timedelta(minutes=n),
        disposition,
        queue_id=queue,  # type: ignore[arg-type]
        wait_seconds=wait,
        **kw,  # type: ignore[arg-type]
    )


CALLS = [
    call(1, "answered", 10, agent_id="a1", talk_seconds=100, hold_seconds=20, wrapup_seconds=30),
    call(2, "answered", 30, agent_id="a2", talk_seconds=200, hold_seconds=0, wrapup_seconds=10),
    call(3, "abandoned_queue", 3),
    call(4, "abandoned_queue", 40),
    call(5, "overflowed", 600),
    call(6, "abandoned_ivr", None, queue=None),
    call(7, "answered", 20, agent_id="a1", talk_seconds=50, wrapup_seconds=10, transfers=1),
]


def test_queue_kpis_match_the_hand_computed_example() -> None:
    [sales] = compute_kpis(CALLS, "queue", service_level_seconds={"sales": 20})
    assert sales.group == "sales"
    assert (sales.offered, sales.answered, sales.abandoned, sales.short_abandoned) == (6, 3, 2, 1)
    assert sales.overflowed == 1
    assert sales.answered_within_sl == 2  # waits 10 and 20 (exactly T counts)
    assert sales.service_level == 40.0  # 2 / (6 - 1)
    assert sales.abandon_rate == 20.0  # (2 - 1) / (6 - 1)
    assert sales.asa_seconds == 20.0  # (10 + 30 + 20) / 3
    assert sales.aht_seconds == 140.0  # (150 + 210 + 60) / 3
    assert sales.longest_wait_seconds == 600
    assert sales.transfers == 1


def test_service_level_threshold_is_per_queue() -> None:
    [sales] = compute_kpis(CALLS, "queue", service_level_seconds={"sales": 30})
    assert sales.answered_within_sl == 3 and sales.service_level == 60.0
    [sales] = compute_kpis(CALLS, "queue", default_service_level_seconds=5)
    assert sales.service_level == 0.0


def test_per_agent_and_total_with_occupancy() -> None:
    changes = [
        ("a1", T0, "available"),
        ("a1", T0 + dt.timedelta(minutes=10), "on_call"),
        ("a1", T0 + dt.timedelta(minutes=15), "wrapup"),
        ("a1", T0 + dt.timedelta(minutes=16), "paused"),
        ("a1", T0 + dt.timedelta(minutes=20), "logged_out"),
    ]
    intervals = intervals_from_changes(changes, until=T0 + dt.timedelta(hours=1))
    rows = {r.group: r for r in compute_kpis(CALLS, "agent", agent_intervals=intervals)}
    assert sorted(rows) == ["a1", "a2"]
    assert rows["a1"].answered == 2 and rows["a1"].aht_seconds == 105.0  # (150 + 60) / 2
    assert rows["a1"].occupancy == 37.5  # busy 360 s / staffed 960 s
    assert rows["a2"].occupancy is None  # no state history: unknown, not 0
    [total] = compute_kpis(CALLS, "total", agent_intervals=intervals)
    assert total.offered == 6 and total.occupancy == 37.5


def test_hour_and_day_groups_use_the_time_zone() -> None:
    late = CallFacts("late", dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC), "answered")
    assert group_key(late, "day") == "2026-11-25"
    assert group_key(late, "day", dt.timezone(dt.timedelta(hours=2))) == "2026-11-26"
    rows = compute_kpis(CALLS, "hour", timezone="Europe/Paris")
    assert [r.group for r in rows] == ["2026-11-25 10:00"]


def test_empty_denominators_are_none_not_zero() -> None:
    [row] = compute_kpis([call(1, "abandoned_queue", 2)], "queue")
    assert row.offered == 1 and row.short_abandoned == 1
    assert row.service_level is None and row.abandon_rate is None and row.asa_seconds is None
    assert occupancy(0, 0) is None
    assert compute_kpis([], "day") == []


def test_unknown_grouping_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown grouping"):
        compute_kpis(CALLS, "week")


def test_per_agent_legs_give_rung_and_ring_no_answer() -> None:
    legs = [
        LegFacts("a1", "no_answer"),
        LegFacts("a1", "answered"),
        LegFacts("a1", "answered"),
        LegFacts("a2", "busy"),
        LegFacts("a2", "answered"),
        LegFacts("a3", "rejected"),  # rung, never answered a call
    ]
    rows = {r.group: r for r in compute_kpis(CALLS, "agent", legs=legs)}
    assert (rows["a1"].rung, rows["a1"].ring_no_answer, rows["a1"].answered) == (3, 1, 2)
    assert (rows["a2"].rung, rows["a2"].ring_no_answer) == (2, 1)
    assert (rows["a3"].rung, rows["a3"].ring_no_answer, rows["a3"].answered) == (1, 1, 0)
    [queue] = compute_kpis(CALLS, "queue", legs=legs)
    assert queue.rung is None  # only meaningful per agent
