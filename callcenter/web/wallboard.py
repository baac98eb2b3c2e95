"""The wallboard's view model: what a supervisor reads across a room (pure: no I/O).

Per queue a tile, coloured against the queue's service level target (``service_level_target``
percent answered within ``service_level_seconds``, T):

- red (``alert``): a caller has already waited longer than T (the target is being missed right
  now), or today's service level is more than ``ALERT_MARGIN`` points under the target;
- amber (``warn``): a caller has waited more than half of T, or today's service level is under
  the target;
- green (``ok``) otherwise.

Each tile lists its callers in the order they are served (caller, wait, priority) and has a
small chart of the last hour: waiting callers (bars) and today's service level (line) against
the target (dashed), drawn as inline SVG from ``WallboardHistory`` samples. Agents get a
readable state with its own colour, the time in it, and their call: caller, queue, talk time.

Durations are the PBX's seconds (the ACD service's clock), as in the call records.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from callcenter.config import CallCenterConfig
from callcenter.web.labels import clock_text, state_label

ALERT_MARGIN = 10.0
"""Points under the service level target from which a queue is red."""
LEVEL_LABELS = {"ok": "On target", "warn": "At risk", "alert": "Missing target"}
HISTORY_WINDOW = 3600.0
"""The chart's span: the last hour (PBX seconds)."""
SAMPLE_EVERY = 30.0
"""PBX seconds between two samples of the chart."""
MAX_CALLERS_SHOWN = 8
"""Waiting callers listed on a tile (the count above says how many there are)."""
CHART_WIDTH, CHART_HEIGHT = 300.0, 60.0


def queue_level(
    service_level: float | None, target: float, longest_wait: float, answer_within: float
) -> str:
    """``ok``, ``warn`` or ``alert`` for a queue (see the module docstring)."""
    if longest_wait > answer_within or (
        service_level is not None and service_level < target - ALERT_MARGIN
    ):
        return "alert"
    if longest_wait > answer_within / 2 or (service_level is not None and service_level < target):
        return "warn"
    return "ok"


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    """PBX seconds (the ACD service's monotonic clock)."""
    waiting: int
    service_level: float | None


class WallboardHistory:
    """The last hour of each queue: waiting callers and today's service level, sampled every
    ``every`` PBX seconds (in memory: a restarted worker starts a new hour)."""

    def __init__(self, window: float = HISTORY_WINDOW, every: float = SAMPLE_EVERY) -> None:
        self.window = window
        self.every = every
        self._samples: dict[str, deque[Sample]] = {}
        self._last: float | None = None

    def due(self, now: float) -> bool:
        return self._last is None or now - self._last >= self.every

    def record(self, now: float, queues: Mapping[str, tuple[int, float | None]]) -> None:
        """Add one sample per queue: ``queue id -> (waiting, service level)``."""
        self._last = now
        for queue_id, (waiting, service_level) in queues.items():
            samples = self._samples.setdefault(queue_id, deque())
            samples.append(Sample(now, waiting, service_level))
            while samples and samples[0].at < now - self.window:
                samples.popleft()

    def samples(self, queue_id: str, now: float) -> list[Sample]:
        return [s for s in self._samples.get(queue_id, ()) if s.at >= now - self.window]


def chart_svg(
    samples: list[Sample], now: float, target: float, window: float = HISTORY_WINDOW
) -> Markup:
    """Waiting callers (bars) and service level (line) over ``window`` up to ``now``, with the
    target (dashed), as inline SVG (no script, no external file)."""
    w, h = CHART_WIDTH, CHART_HEIGHT
    top = max([4, *(s.waiting for s in samples)])

    def x(at: float) -> float:
        return round(w * (1 - (now - at) / window), 1)

    def y_level(level: float) -> float:
        return round(h - 2 - level / 100 * (h - 4), 1)

    bar = max(1.5, w * SAMPLE_EVERY / window - 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {w:g} {h:g}" preserveAspectRatio="none" role="img" '
        f'aria-label="Last hour: waiting callers (most {top}) and service level">',
        f"<title>Last hour: waiting callers (bars, most {top}) and service level today "
        f"(line) against the {target:g}% target (dashed)</title>",
        f'<line class="chart-target" x1="0" x2="{w:g}" y1="{y_level(target)}" '
        f'y2="{y_level(target)}"/>',
    ]
    for s in samples:
        if s.waiting:
            height = round(s.waiting / top * (h - 4), 1)
            parts.append(
                f'<rect class="chart-waiting" x="{round(x(s.at) - bar, 1)}" '
                f'y="{round(h - height, 1)}" width="{bar:.1f}" height="{height}"/>'
            )
    points = " ".join(
        f"{x(s.at)},{y_level(s.service_level)}" for s in samples if s.service_level is not None
    )
    if points:
        parts.append(f'<polyline class="chart-level" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _number(value: float | int | None, unit: str = "") -> str:
    """As ``callcenter report`` prints it: ``-`` when undefined, one decimal for ratios."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def queue_tiles(
    status: Mapping[str, Any],
    kpis: Mapping[str, Mapping[str, Any]],
    config: CallCenterConfig,
    history: WallboardHistory | None,
    now: float,
) -> list[dict[str, Any]]:
    """One tile per queue of the live status, with today's KPIs and the chart."""
    tiles = []
    for q in status.get("queues", []):
        queue_id = str(q.get("queue_id", q.get("id")))
        spec = config.queues.get(queue_id)
        answer_within = float(spec.service_level_seconds if spec else 20)
        target = float(spec.service_level_target if spec else 80)
        k = kpis.get(queue_id, {})
        longest = float(q.get("longest_wait", q.get("longest_wait_seconds", 0.0)) or 0.0)
        level = queue_level(k.get("service_level"), target, longest, answer_within)
        callers = [
            {
                "caller": c.get("caller_number") or "unknown",
                "wait": clock_text(c.get("wait_seconds")),
                "priority": c.get("priority", 0),
                "ringing": bool(c.get("offered")),
                "late": (c.get("wait_seconds") or 0) > answer_within,
            }
            for c in q.get("callers", [])
        ]
        samples = history.samples(queue_id, now) if history is not None else []
        tiles.append(
            {
                "id": queue_id,
                "name": q.get("name") or (spec.name if spec else queue_id),
                "level": level,
                "level_label": LEVEL_LABELS[level],
                "target": f"{target:g}% in {answer_within:g} s",
                "waiting": int(q.get("waiting", 0)),
                "longest": clock_text(longest),
                "ringing": int(q.get("offered", 0)),
                "agents_free": q.get("agents_available"),
                "agents_in": q.get("agents_logged_in"),
                "offered": _number(k.get("offered", 0)),
                "answered": _number(k.get("answered", 0)),
                "service_level": _number(k.get("service_level"), "%"),
                "asa": _number(k.get("asa")),
                "abandon_rate": _number(k.get("abandon_rate"), "%"),
                "callers": callers[:MAX_CALLERS_SHOWN],
                "more_callers": max(0, len(callers) - MAX_CALLERS_SHOWN),
                "chart": chart_svg(samples, now, target),
            }
        )
    return tiles


def agent_rows(status: Mapping[str, Any], config: CallCenterConfig) -> list[dict[str, Any]]:
    """Agents as the wallboard lists them: label and colour of the state, time in it, and the
    call (caller, queue, talk time) without its internal id."""
    rows = []
    for a in status.get("agents", []):
        agent_id = str(a.get("agent_id", a.get("id")))
        state = str(a.get("state") or "unknown")
        queue_id = a.get("queue_id")
        queue = config.queues.get(str(queue_id)) if queue_id else None
        call = None
        if a.get("call_id") and state in {"reserved", "ringing", "on_call", "wrapup"}:
            call = {
                "caller": a.get("caller_number") or "unknown caller",
                "queue": queue.name if queue else (queue_id or ""),
                "talk": clock_text(a.get("talk_seconds")),
            }
        rows.append(
            {
                "id": agent_id,
                "name": a.get("name", agent_id),
                "state": state,
                "label": state_label(state, a.get("reason")),
                "for": clock_text(a.get("seconds_in_state")),
                "calls_today": a.get("calls_today", 0),
                "call": call,
                "call_id": a.get("call_id") if state == "on_call" else None,
                "wrapup_left": clock_text(a.get("wrapup_seconds_left")),
            }
        )
    return rows


def local_clock(config: CallCenterConfig, now: dt.datetime) -> str:
    """``10:32:05 GMT``: the time in the call center's zone."""
    return now.astimezone(zoneinfo.ZoneInfo(config.timezone)).strftime("%H:%M:%S %Z")


def wallboard_view(
    status: Mapping[str, Any],
    kpis: Mapping[str, Mapping[str, Any]],
    config: CallCenterConfig,
    history: WallboardHistory | None,
    now: float,
    wall_now: dt.datetime,
) -> dict[str, Any]:
    """Everything the wallboard shows: tiles, agents, the local time and today's period."""
    zone = zoneinfo.ZoneInfo(config.timezone)
    midnight = wall_now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "clock": local_clock(config, wall_now),
        "period": f"today since {midnight:%H:%M %Z} ({config.timezone})",
        "tiles": queue_tiles(status, kpis, config, history, now),
        "agents": agent_rows(status, config),
    }


def chart_samples(
    status: Mapping[str, Any], kpis: Mapping[str, Mapping[str, Any]]
) -> dict[str, tuple[int, float | None]]:
    """What ``WallboardHistory.record`` takes from the live status and today's KPIs."""
    return {
        str(q.get("queue_id", q.get("id"))): (
            int(q.get("waiting", 0)) + int(q.get("offered", 0)),
            kpis.get(str(q.get("queue_id", q.get("id"))), {}).get("service_level"),
        )
        for q in status.get("queues", [])
    }
