"""Words a person reads for the ACD's states and durations, shared by the pages and the demo.

The dispatcher's states are identifiers (``on_call``, ``wrapup``); a supervisor reads
"On call" and "Wrap-up", each with its own colour class on the wallboard.
"""

from __future__ import annotations

AGENT_STATE_LABELS = {
    "logged_out": "Logged out",
    "available": "Available",
    "reserved": "Being offered",
    "ringing": "Ringing",
    "on_call": "On call",
    "wrapup": "Wrap-up",
    "paused": "Paused",
}
"""Agent state -> label (the wallboard's colour class is the state itself)."""


def state_label(state: str | None, reason: str | None = None) -> str:
    """``On call``, ``Paused (lunch)``; an unknown state is shown as it is."""
    label = AGENT_STATE_LABELS.get(state or "", state or "Unknown")
    return f"{label} ({reason})" if reason else label


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``3 min``, ``1 h 5 min``; empty when unknown."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def clock_text(seconds: float | None) -> str:
    """``0:42``, ``3:05``, ``1:05:00``: a duration as a wallboard ticks it; empty when unknown."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
