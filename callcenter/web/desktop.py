"""The agent desktop's view model: the agent's state and call as an agent reads them.

Durations are the PBX's seconds (the ACD service's clock), as in the call records; stored
times are shown in the call center's time zone.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from callcenter.config import CallCenterConfig
from callcenter.web.labels import clock_text, state_label
from callcenter.web.links import crm_url

if TYPE_CHECKING:
    from callcenter.web.app import LiveCallCenter


def agent_view(
    live: LiveCallCenter | None, config: CallCenterConfig, agent_id: str
) -> dict[str, Any]:
    """The agent's state (with its label, time in it and wrap-up left) and their call (with
    the queue's name, the wait and the talk time so far)."""
    state: dict[str, Any] = {"agent_id": agent_id, "state": "unknown", "call": None}
    if live is not None:
        for agent in live.status().get("agents", []):
            if agent.get("agent_id", agent.get("id")) == agent_id:
                state.update({k: v for k, v in agent.items() if k != "call"})
    state["label"] = state_label(state["state"], state.get("reason"))
    state["for"] = clock_text(state.get("seconds_in_state"))
    state["wrapup_left"] = clock_text(state.get("wrapup_seconds_left"))
    call = live.agent_call(agent_id) if live is not None else None
    if call is not None:
        queue = config.queues.get(str(call.get("queue_id") or ""))
        call = {
            **call,
            "queue_name": queue.name if queue else call.get("queue_id") or "",
            "wait": clock_text(call.get("wait_seconds")),
            "talk": clock_text(state.get("talk_seconds")),
        }
        if queue and queue.crm_link:
            call["crm_url"] = crm_url(queue.crm_link, call)
        state["call"] = call
    return state


def local_time(
    value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S %Z", *, zone: dt.tzinfo
) -> str:
    """A stored time in the call center's zone (a naive value from SQLite is UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).strftime(fmt)
