"""Contact-center KPIs from call facts (pure: plain data in, numbers out).

The definitions (see docs/kpis.md for the prose and a worked example):

- offered: calls that entered a queue (IVR-only calls are not offered to agents);
- answered: offered calls connected to an agent;
- abandoned: offered calls where the caller hung up while waiting (``abandoned_queue``);
  short abandons are those that waited less than ``short_abandon_seconds`` (default 5 s);
- service level: answered within T / (offered - short abandons), T = the queue's
  ``service_level_seconds``, as a percentage;
- abandon rate: (abandoned - short abandons) / (offered - short abandons), as a percentage;
- ASA (average speed of answer): total queue wait of answered calls / answered;
- AHT (average handle time): (talk + hold + wrap-up) of answered calls / answered;
- occupancy: agents' handle time / their staffed time (handle + available); needs agent state
  intervals, else ``None``;
- longest wait: the longest queue wait of any offered call (answered or not);
- transfers: the number of transfers;
- per agent only: rung (agent legs rung) and ring-no-answer (legs not answered: no answer,
  busy, rejected, failed).

A ratio whose denominator is 0 is ``None`` (shown as "-"), never 0.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

GroupBy = Literal["queue", "agent", "hour", "day", "total"]
GROUPINGS: tuple[str, ...] = ("queue", "agent", "hour", "day", "total")
DEFAULT_SERVICE_LEVEL_SECONDS = 20
DEFAULT_SHORT_ABANDON_SECONDS = 5.0
BUSY_STATES = frozenset({"reserved", "ringing", "on_call", "wrapup"})
STAFFED_STATES = BUSY_STATES | {"available"}


@dataclass(frozen=True)
class CallFacts:
    """What the KPIs need of one call (a projection of the ``calls`` row)."""

    call_id: str
    started_at: dt.datetime
    disposition: str
    queue_id: str | None = None
    agent_id: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    wrapup_seconds: float | None = None
    transfers: int = 0

    @property
    def offered(self) -> bool:
        return self.queue_id is not None

    @property
    def answered(self) -> bool:
        return self.disposition == "answered" and self.agent_id is not None

    @property
    def handle_seconds(self) -> float:
        return (
            (self.talk_seconds or 0.0) + (self.hold_seconds or 0.0) + (self.wrapup_seconds or 0.0)
        )


@dataclass(frozen=True)
class LegFacts:
    """One agent leg (a ``call_legs`` row): the agent was rung, and what came of it."""

    agent_id: str
    outcome: str


NOT_ANSWERED = frozenset({"no_answer", "busy", "rejected", "failed"})


@dataclass(frozen=True)
class AgentInterval:
    """An agent spent [start, end) in ``state`` (from ``agent_state_changes``)."""

    agent_id: str
    state: str
    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass
class Kpis:
    """One row of the report."""

    group: str
    offered: int = 0
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed: int = 0
    rung: int | None = None
    ring_no_answer: int | None = None
    service_level: float | None = None
    abandon_rate: float | None = None
    asa_seconds: float | None = None
    aht_seconds: float | None = None
    occupancy: float | None = None
    longest_wait_seconds: float | None = None
    transfers: int = 0
    _wait_answered: float = field(default=0.0, repr=False)
    _handle: float = field(default=0.0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole > 0 else None


def _avg(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


def group_key(call: CallFacts, by: str, tz: dt.tzinfo = dt.UTC) -> str | None:
    """The report row a call belongs to (``None``: not in this grouping)."""
    if by == "queue":
        return call.queue_id
    if by == "agent":
        return call.agent_id
    local = call.started_at.astimezone(tz)
    if by == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if by == "day":
        return local.strftime("%Y-%m-%d")
    if by == "total":
        return "total"
    raise ValueError(f"unknown grouping {by!r}; choose one of {', '.join(GROUPINGS)}")


def compute_kpis(
    calls: Iterable[CallFacts],
    by: str = "queue",
    *,
    service_level_seconds: Mapping[str, int] | None = None,
    default_service_level_seconds: int = DEFAULT_SERVICE_LEVEL_SECONDS,
    short_abandon_seconds: float = DEFAULT_SHORT_ABANDON_SECONDS,
    agent_intervals: Iterable[AgentInterval] = (),
    legs: Iterable[LegFacts] = (),
    timezone: str | dt.tzinfo = "UTC",
) -> list[Kpis]:
    """KPIs per group (queue, agent, hour, day, total), sorted by group. Per agent, a call
    counts for the agent who answered it; ``legs`` add how often each agent was rung and
    did not answer."""
    tz = zoneinfo.ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    sl_of = service_level_seconds or {}
    rows: dict[str, Kpis] = {}
    for call in calls:
        key = group_key(call, by, tz)
        if key is None:
            continue
        row = rows.setdefault(key, Kpis(key))
        row.transfers += call.transfers
        if not call.offered:
            continue
        row.offered += 1
        wait = call.wait_seconds or 0.0
        if call.wait_seconds is not None:
            row.longest_wait_seconds = max(row.longest_wait_seconds or 0.0, wait)
        if call.answered:
            row.answered += 1
            row._wait_answered += wait
            row._handle += call.handle_seconds
            threshold = sl_of.get(call.queue_id or "", default_service_level_seconds)
            if wait <= threshold:
                row.answered_within_sl += 1
        elif call.disposition == "abandoned_queue":
            row.abandoned += 1
            if wait < short_abandon_seconds:
                row.short_abandoned += 1
        elif call.disposition == "overflowed":
            row.overflowed += 1

    for row in rows.values():
        counted = row.offered - row.short_abandoned
        row.service_level = _pct(row.answered_within_sl, counted)
        row.abandon_rate = _pct(row.abandoned - row.short_abandoned, counted)
        row.asa_seconds = _avg(row._wait_answered, row.answered)
        row.aht_seconds = _avg(row._handle, row.answered)

    if by == "agent":
        _add_occupancy(rows, agent_intervals)
        for leg in legs:
            row = rows.setdefault(leg.agent_id, Kpis(leg.agent_id))
            row.rung = (row.rung or 0) + 1
            row.ring_no_answer = (row.ring_no_answer or 0) + (leg.outcome in NOT_ANSWERED)
    elif by == "total":
        _add_occupancy(rows, agent_intervals, lambda _agent: "total")
    return [rows[k] for k in sorted(rows)]


def occupancy(handle_seconds: float, available_seconds: float) -> float | None:
    """Handle time / (handle time + available time), as a percentage."""
    return _pct(handle_seconds, handle_seconds + available_seconds)


def _add_occupancy(
    rows: dict[str, Kpis],
    intervals: Iterable[AgentInterval],
    key: Callable[[str], str] = lambda agent: agent,
) -> None:
    # Busy time comes from the agent's states (ringing, on_call, wrapup count as busy) so that
    # occupancy stays consistent with staffed time even when a call spans the period's edges.
    busy: dict[str, float] = {}
    staffed: dict[str, float] = {}
    for interval in intervals:
        group = key(interval.agent_id)
        if interval.state in BUSY_STATES:
            busy[group] = busy.get(group, 0.0) + interval.seconds
        if interval.state in STAFFED_STATES:
            staffed[group] = staffed.get(group, 0.0) + interval.seconds
    for group, total in staffed.items():
        row = rows.setdefault(group, Kpis(group))
        row.occupancy = _pct(busy.get(group, 0.0), total)


def intervals_from_changes(
    changes: Iterable[tuple[str, dt.datetime, str]],
    until: dt.datetime,
    since: dt.datetime | None = None,
) -> list[AgentInterval]:
    """Turn (agent, at, new state) changes into intervals clipped to [since, until)."""
    ordered = sorted(changes, key=lambda c: (c[0], c[1]))
    intervals: list[AgentInterval] = []
    for i, (agent, at, state) in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        end = nxt[1] if nxt is not None and nxt[0] == agent else until
        start = max(at, since) if since else at
        end = min(end, until)
        if end > start:
            intervals.append(AgentInterval(agent, state, start, end))
    return intervals
