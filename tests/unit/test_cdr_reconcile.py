"""Reconciling Asterisk's cdr rows with ours (pure comparison, hand-made rows)."""

from __future__ import annotations

import datetime as dt

from callcenter.cdr.reconcile import AsteriskCdr, OurCall, compare

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def ast(linkedid: str, uniqueid: str, start: float, duration: int, src: str = "100") -> AsteriskCdr:
    return AsteriskCdr(
        T0 + dt.timedelta(seconds=start),
        src,
        "300",
        duration,
        duration,
        "ANSWERED",
        uniqueid,
        linkedid,
    )


def ours(call_id: str, linkedid: str, start: float, end: float, caller: str = "100") -> OurCall:
    return OurCall(
        call_id,
        T0 + dt.timedelta(seconds=start),
        T0 + dt.timedelta(seconds=end),
        caller,
        linkedid,
        linkedid,
    )


def test_the_caller_row_is_compared_not_the_agent_leg() -> None:
    asterisk = [ast("1.1", "1.1", 0, 60), ast("1.1", "1.2", 10, 45)]  # caller + agent leg
    report = compare(asterisk, [ours("c1", "1.1", 0.4, 60.9)])
    assert report.matched == 1 and report.differences == []


def test_every_kind_of_difference() -> None:
    asterisk = [
        ast("1.1", "1.1", 0, 60),
        ast("2.1", "2.1", 100, 30, src="200"),
        ast("3.1", "3.1", 200, 10),
    ]
    mine = [
        ours("c1", "1.1", 5, 65),  # started 5 s later
        ours("c2", "2.1", 100, 150),  # 50 s vs 30 s, and another caller number
        ours("c4", "4.1", 300, 310),  # Asterisk never saw it
    ]
    report = compare(asterisk, mine, tolerance_seconds=2)
    kinds = sorted((d.kind, d.call_id) for d in report.differences)
    assert kinds == [
        ("asterisk_only", None),
        ("caller", "c2"),
        ("duration", "c2"),
        ("ours_only", "c4"),
        ("start", "c1"),
    ]
    assert report.matched == 2 and report.asterisk_calls == 3 and report.our_calls == 3
