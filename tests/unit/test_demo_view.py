"""The demo's live view and summary fit an 80x24 terminal and read as words, not identifiers."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from rich.console import Console

from callcenter.demo_view import DemoResult, print_summary, view_that_fits

NAMES = ["Alice Martin", "Bob Chen", "Carla Rossi", "Dev Patel"]
NAMES += ["Erin Walsh", "Femi Adeyemi", "Gina Dubois", "Hugo Lindqvist"]
STATES = ["on_call", "wrapup", "available", "paused", "ringing", "logged_out"]


def busy_status() -> dict[str, Any]:
    queues = [
        {
            "name": name,
            "waiting": 8,
            "longest_wait_seconds": 76.0,
            "offered": 1,
            "agents_available": 1,
            "agents_logged_in": 3,
        }
        for name in ("Sales", "Support", "Billing")
    ]
    agents = [
        {
            "name": name,
            "state": state,
            "reason": "lunch" if state == "paused" else None,
            "seconds_in_state": 3725.0,
            "calls_today": 12,
        }
        for name, state in zip(NAMES, STATES * 2, strict=False)
    ]
    return {"queues": queues, "agents": agents}


def call(n: int) -> dict[str, Any]:
    return {
        "caller_number": f"+1555000{n:04d}",
        "ivr_path": [["main", ""], ["existing", ""], ["billing", ""]],
        "queue_id": "billing",
        "wait_seconds": 76.3,
        "talk_seconds": 184.0,
        "agent_id": "femi",
        "disposition": "abandoned_queue",
    }


def rendered(console: Console, renderable: Any) -> list[str]:
    console.print(renderable)
    return console.export_text().splitlines()


def test_the_live_view_fits_80_by_24_without_cutting_anything() -> None:
    console = Console(width=80, height=24, record=True, file=io.StringIO())
    header = "21 s (209 s on the PBX) · callers placed 22/22 · abandoned 2, connected 20"
    lines = rendered(
        console, view_that_fits(console, busy_status(), [call(n) for n in range(20)], header)
    )
    assert len(lines) < 24
    assert all(len(line) <= 80 for line in lines), lines
    text = "\n".join(lines)
    assert "…" not in text
    # States are words; the first call rows are there, whole.
    for label in ("On call", "Wrap-up", "Paused (lunch)", "Logged out", "Available"):
        assert label in text
    assert "on_call" not in text and "wrapup" not in text
    assert "main→existing→billing" in text
    assert text.count("+1555000") >= 3
    assert "ringing now" in text and "offered" not in text


def test_a_wider_terminal_shows_more_calls() -> None:
    status = busy_status()
    calls = [call(n) for n in range(20)]
    small = Console(width=80, height=24, file=io.StringIO())
    tall = Console(width=120, height=50, file=io.StringIO())
    few = len(small.render_lines(view_that_fits(small, status, calls, "h"), pad=False))
    many = len(tall.render_lines(view_that_fits(tall, status, calls, "h"), pad=False))
    assert few < 24 < many < 50


def test_the_summary_fits_80_columns_and_says_what_happened(tmp_path: Path) -> None:
    console = Console(width=80, record=True, file=io.StringIO())
    result = DemoResult(
        outcomes={"connected": 7, "interrupted": 14, "abandoned": 1},
        dispositions={"answered": 9, "abandoned_queue": 12, "abandoned_ivr": 1},
        kpis=[
            {
                "group": "sales",
                "offered": 17,
                "answered": 6,
                "abandoned": 11,
                "service_level": 66.7,
                "asa_seconds": 15.2,
                "aht_seconds": 31.0,
            }
        ],
        calls=22,
        config_file=Path("var/demo/callcenter.yaml"),
        interrupted=True,
        day=dt.date(2026, 12, 1),
    )
    print_summary(console, result, 10.0, Path("var/demo"))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Callers so far (interrupted): 22 callers: 14 hung up by Ctrl-C, 7 talked" in text
    assert "22 calls (12 abandoned queue, 9 answered, 1 abandoned ivr)" in text
    assert "callcenter report -c var/demo/callcenter.yaml --since 2026-12-01" in text
    assert "Times are the simulated PBX's (x10 on Tue 01 Dec)" in text
