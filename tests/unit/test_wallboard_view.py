"""The wallboard's view model: colours against the service level target, callers in serving
order, a chart of the last hour, agents in words."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest

from callcenter.routing.testing import make_config
from callcenter.web.wallboard import (
    Sample,
    WallboardHistory,
    agent_rows,
    chart_samples,
    chart_svg,
    queue_level,
    queue_tiles,
    wallboard_view,
)


@pytest.mark.parametrize(
    ("service_level", "longest", "level"),
    [
        (None, 0.0, "ok"),  # nothing yet today, nobody waiting
        (92.0, 9.0, "ok"),
        (92.0, 11.0, "warn"),  # a caller past half of T (20 s)
        (75.0, 0.0, "warn"),  # under the 80% target
        (69.9, 0.0, "alert"),  # more than 10 points under it
        (95.0, 76.0, "alert"),  # a caller already past T: missing it right now
    ],
)
def test_a_queue_is_green_amber_or_red_against_its_target(
    service_level: float | None, longest: float, level: str
) -> None:
    assert queue_level(service_level, 80.0, longest, 20.0) == level


def test_history_keeps_an_hour_of_samples_every_30_pbx_seconds() -> None:
    history = WallboardHistory()
    assert history.due(0.0)
    history.record(0.0, {"sales": (3, 90.0)})
    assert not history.due(29.0) and history.due(30.0)
    for n in range(1, 200):
        history.record(n * 30.0, {"sales": (n % 7, 80.0)})
    samples = history.samples("sales", 199 * 30.0)
    assert len(samples) == 121  # 3600 s / 30 s, both ends
    assert samples[0].at == 199 * 30.0 - 3600 and samples[-1].waiting == 199 % 7
    assert history.samples("billing", 0.0) == []


def test_the_chart_is_plain_inline_svg_of_bars_line_and_target() -> None:
    now = 10_000.0
    samples = [Sample(now - 3000 + 30 * n, n % 5, 70.0 + n % 20) for n in range(100)]
    svg = str(chart_svg(samples, now, 80.0))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "href" not in svg and "style=" not in svg
    assert svg.count('<rect class="chart-waiting"') == sum(1 for s in samples if s.waiting)
    points = re.search(r'<polyline class="chart-level" points="([^"]+)"', svg)
    assert points and len(points.group(1).split()) == 100
    # x runs over the hour up to now (300 wide), y is 0..100% in 60 high, the target dashed.
    xs = [float(p.split(",")[0]) for p in points.group(1).split()]
    assert (
        xs == sorted(xs)
        and 0 < xs[0] < 300
        and xs[-1] == pytest.approx(300 * (1 - 30 / 3600), abs=0.1)
    )
    assert 'class="chart-target"' in svg and "80% target" in svg
    empty = str(chart_svg([], now, 80.0))
    assert "<rect" not in empty and "<polyline" not in empty


def status() -> dict[str, Any]:
    return {
        "queues": [
            {
                "queue_id": "sales",
                "name": "Sales",
                "waiting": 8,
                "offered": 1,
                "longest_wait": 76.0,
                "agents_available": 0,
                "agents_logged_in": 2,
                "callers": [
                    {
                        "caller_number": "+15550100",
                        "wait_seconds": 76.0,
                        "priority": 5,
                        "offered": True,
                    },
                    *[
                        {
                            "caller_number": f"+1555020{n}",
                            "wait_seconds": 60.0 - n,
                            "priority": 0,
                            "offered": False,
                        }
                        for n in range(8)
                    ],
                ],
            },
            {
                "queue_id": "billing",
                "name": "Billing",
                "waiting": 0,
                "offered": 0,
                "longest_wait": 0.0,
            },
        ],
        "agents": [
            {
                "agent_id": "sale1",
                "name": "Sale One",
                "state": "on_call",
                "seconds_in_state": 151.0,
                "call_id": "0" * 32,
                "queue_id": "sales",
                "caller_number": "+15550199",
                "talk_seconds": 151.0,
                "calls_today": 4,
            },
            {
                "agent_id": "bill1",
                "name": "Bill One",
                "state": "wrapup",
                "seconds_in_state": 4.0,
                "call_id": "1" * 32,
                "queue_id": "billing",
                "caller_number": "+15550198",
                "wrapup_seconds_left": 6.0,
            },
            {"agent_id": "bill2", "name": "Bill Two", "state": "paused", "reason": "lunch"},
        ],
    }


def test_tiles_show_callers_in_order_with_wait_priority_and_the_level() -> None:
    config = make_config()
    kpis = {"sales": {"offered": 20, "answered": 15, "service_level": 62.5, "asa": 18.25}}
    history = WallboardHistory()
    history.record(100.0, chart_samples(status(), kpis))
    [sales, billing] = queue_tiles(status(), kpis, config, history, 130.0)
    assert (sales["level"], sales["level_label"]) == ("alert", "Missing target")
    assert (sales["waiting"], sales["longest"], sales["service_level"]) == (8, "1:16", "62.5%")
    assert sales["target"] == "80% in 20 s" and sales["asa"] == "18.2"
    first = sales["callers"][0]
    assert first == {
        "caller": "+15550100",
        "wait": "1:16",
        "priority": 5,
        "ringing": True,
        "late": True,
    }
    assert len(sales["callers"]) == 8 and sales["more_callers"] == 1
    assert "<rect" in str(sales["chart"])  # the sample of 9 callers
    assert (billing["level"], billing["offered"], billing["service_level"]) == ("ok", "0", "-")


def test_agents_read_as_words_with_their_call_and_never_its_id() -> None:
    rows = agent_rows(status(), make_config())
    on_call, wrapup, paused = rows
    assert on_call["label"] == "On call" and on_call["for"] == "2:31"
    assert on_call["call"] == {"caller": "+15550199", "queue": "Sales", "talk": "2:31"}
    assert on_call["call_id"] == "0" * 32  # for the listen form only
    assert wrapup["label"] == "Wrap-up" and wrapup["wrapup_left"] == "0:06"
    assert wrapup["call"]["queue"] == "Billing" and wrapup["call_id"] is None
    assert paused["label"] == "Paused (lunch)" and paused["call"] is None
    # What is shown (not the CSS class nor the form's URL) has no identifiers.
    hidden = {"id", "state", "call_id"}
    shown = " ".join(str(v) for row in rows for k, v in row.items() if k not in hidden)
    assert "0" * 32 not in shown and "on_call" not in shown and "wrapup " not in shown


def test_the_clock_and_the_period_are_in_the_call_centers_zone() -> None:
    config = make_config(timezone="America/New_York")
    view = wallboard_view(
        status(), {}, config, None, 0.0, dt.datetime(2026, 11, 25, 15, 4, 5, tzinfo=dt.UTC)
    )
    assert view["clock"] == "10:04:05 EST"
    assert view["period"] == "today since 00:00 EST (America/New_York)"


def test_stored_times_show_in_the_call_centers_zone() -> None:
    from callcenter.web.desktop import local_time

    zone = zoneinfo.ZoneInfo("Europe/Paris")
    naive_utc = dt.datetime(2026, 7, 1, 12, 0)  # what SQLite gives back
    assert local_time(naive_utc, zone=zone) == "2026-07-01 14:00:00 CEST"
    aware = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert local_time(aware, "%H:%M %Z", zone=zone) == "13:00 CET"
    assert local_time(None, zone=zone) == ""
