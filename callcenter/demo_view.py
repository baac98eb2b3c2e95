"""What ``callcenter demo`` prints: the live view while callers call, and the summary.

Both fit the terminal, 80 columns included: columns that can grow (the IVR path) fold
instead of being cut to "…", and the list of latest calls is as long as the screen allows.
Times are the simulated PBX's, as in the call records.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from callcenter.web.labels import clock_text, state_label

STATE_STYLES = {
    "available": "green",
    "reserved": "yellow",
    "ringing": "yellow",
    "on_call": "red",
    "wrapup": "cyan",
    "paused": "magenta",
    "logged_out": "dim",
}
OUTCOME_WORDS = {
    "connected": "talked to an agent",
    "abandoned": "hung up waiting",
    "ended-by-system": "ended by the call center",
    "interrupted": "hung up by Ctrl-C",
    "pending": "never called",
}
"""Synthetic callers' outcomes as the summary says them."""
DISPOSITION_WORDS = {
    "abandoned_queue": "abandoned",
    "abandoned_ivr": "left IVR",
    "in_progress": "in progress",
}
"""Call records' dispositions in the live view's narrow outcome column."""
TWO_UP_AGENTS = 5
"""From this many agents on, the live view lists them in two columns (an 80x24 terminal)."""


@dataclass
class DemoResult:
    """What a demo run did (also printed by ``print_summary``)."""

    outcomes: dict[str, int] = field(default_factory=dict)
    dispositions: dict[str, int] = field(default_factory=dict)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    web_url: str | None = None
    config_file: Path | None = None
    interrupted: bool = False
    """Ctrl-C (or SIGTERM) ended the run before every caller was done."""
    day: dt.date | None = None
    """The simulated PBX's day (its records are dated then)."""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} s"


def _table(title: str) -> Table:
    # No blank edge rows and no padding (the box's divider leaves a space between columns):
    # the three tables fit an 80x24 terminal.
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=True,
        padding=0,
    )


def _agent_rows(status: Mapping[str, Any]) -> int:
    agents = len(status.get("agents", []))
    return (agents + 1) // 2 if agents >= TWO_UP_AGENTS else agents


def view_that_fits(
    console: Console,
    status: Mapping[str, Any],
    calls: Sequence[Mapping[str, Any]],
    header: str,
) -> Group:
    """``render_view`` with as many of ``calls`` (newest first) as the terminal's height
    leaves room for: a taller view would be cut by rich with a line of "..."."""
    shown = list(calls)
    while True:
        view = render_view(status, shown, header)
        height = len(console.render_lines(view, console.options, pad=False))
        if height < console.size.height or not shown:
            return view
        shown.pop()


def render_view(
    status: Mapping[str, Any], calls: Sequence[Mapping[str, Any]], header: str
) -> Group:
    """The live view: a header line, queues, agents, and the latest call records."""
    queues = _table("Queues")
    queues.add_column("queue")
    queues.add_column("waiting", justify="right")
    queues.add_column("longest wait", justify="right")
    # "offered" is the KPI (calls offered to the queue); these are agents ringing right now.
    queues.add_column("ringing now", justify="right")
    queues.add_column("agents free / in", justify="right")
    for q in status.get("queues", []):
        queues.add_row(
            q["name"],
            str(q["waiting"]),
            _seconds(q["longest_wait_seconds"]),
            str(q["offered"]),
            f"{q['agents_available']} / {q['agents_logged_in']}",
        )
    agent_list = list(status.get("agents", []))
    halves = 2 if len(agent_list) >= TWO_UP_AGENTS else 1
    agents = _table("Agents")
    for half in range(halves):
        if half:
            agents.add_column("", width=2)  # between the two halves
        agents.add_column("agent", no_wrap=True)
        agents.add_column("state", no_wrap=True)
        agents.add_column("for", justify="right", no_wrap=True)
        agents.add_column("calls", justify="right", no_wrap=True)
    rows = _agent_rows(status)
    for index in range(rows):
        cells: list[Any] = []
        for half, a in enumerate(agent_list[index::rows][:halves]):
            cells += [""] if half else []
            cells += [
                a["name"].split()[0] if halves > 1 else a["name"],
                Text(
                    state_label(a["state"], a.get("reason")),
                    style=STATE_STYLES.get(a["state"], ""),
                ),
                clock_text(a["seconds_in_state"]),
                str(a["calls_today"]),
            ]
        agents.add_row(*cells)
    records = _table("Latest calls (CDR)")
    records.add_column("caller", no_wrap=True)
    records.add_column("IVR path", overflow="fold", ratio=1)
    records.add_column("queue", no_wrap=True)
    records.add_column("wait", justify="right", no_wrap=True)
    records.add_column("talk", justify="right", no_wrap=True)
    records.add_column("agent", no_wrap=True)
    records.add_column("outcome", overflow="fold")
    for c in calls:
        path = "→".join(step[0] if isinstance(step, list) else str(step) for step in c["ivr_path"])
        records.add_row(
            c.get("caller_number") or "",
            path,
            c.get("queue_id") or "",
            _seconds(c.get("wait_seconds")),
            _seconds(c.get("talk_seconds")),
            c.get("agent_id") or "",
            DISPOSITION_WORDS.get(c["disposition"], c["disposition"]),
        )
    return Group(Text(header, style="bold"), queues, agents, records)


def outcome_text(outcomes: Mapping[str, int]) -> str:
    """``22 callers: 20 talked to an agent, 2 hung up waiting``."""
    total = sum(outcomes.values())
    parts = [
        f"{count} {OUTCOME_WORDS.get(outcome, outcome)}"
        for outcome, count in Counter(outcomes).most_common()
    ]
    return f"{total} callers: " + ", ".join(parts)


def print_summary(console: Console, result: DemoResult, speed: float, state_dir: Path) -> None:
    """The run's outcome and its KPIs per queue, as ``callcenter report`` computes them."""
    so_far = " so far (interrupted)" if result.interrupted else ""
    console.print(f"\n[bold]Callers{so_far}[/]: {outcome_text(result.outcomes)}")
    dispositions = ", ".join(
        f"{count} {name.replace('_', ' ')}"
        for name, count in Counter(result.dispositions).most_common()
    )
    console.print(f"[bold]Call records[/]: {result.calls} calls ({dispositions or 'none'})")
    table = Table(title="KPIs per queue (callcenter report)")
    for column in ("queue", "offered", "answered", "abandoned", "service level", "ASA", "AHT"):
        table.add_column(column, no_wrap=True)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    for row in result.kpis:
        table.add_row(
            str(row["group"]),
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            pct(row["service_level"]),
            secs(row["asa_seconds"]),
            secs(row["aht_seconds"]),
        )
    console.print(table)
    day = f" on {result.day:%a %d %b}" if result.day else ""
    console.print(
        f"Times are the simulated PBX's (x{speed:g}{day}), as in the recordings. Records "
        f"and recordings stay in {state_dir}/ until the next demo; for example:",
        highlight=False,
    )
    if result.config_file is not None:
        since = f" --since {result.day.isoformat()}" if result.day else ""
        console.print(
            f"  .venv/bin/callcenter report -c {result.config_file}{since}\n"
            f"  .venv/bin/callcenter recordings list -c {result.config_file}",
            highlight=False,
            soft_wrap=True,
        )
