"""Fire the call hooks from the CDR as it is submitted: no extra calls in the call flow.

``CdrWithHooks(writer, hooks)`` is a drop-in for the ``CdrWriter`` the inbound flow is given
(``submit(record)``): it writes the rows as before and emits ``call_start``, ``queue_entry``,
``agent_connect`` and ``call_end`` for the builder's new events of those kinds. Hooks fire when
the flow submits: a flow that submits at each step gets them live, one that submits at the end
gets them all then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from callcenter.cdr.record import CallRecordBuilder
from callcenter.hooks import HOOK_EVENTS

CALL_END_FIELDS = (
    "caller_number",
    "dialled_number",
    "started_at",
    "answered_at",
    "ended_at",
    "queue_id",
    "wait_seconds",
    "agent_id",
    "talk_seconds",
    "hold_seconds",
    "disposition",
    "hangup_side",
    "hangup_cause",
    "transfers",
    "recording_name",
)


class RowSink(Protocol):
    def submit_call(self, row: dict[str, Any]) -> None: ...
    def submit_leg(self, row: dict[str, Any]) -> None: ...
    def submit_event(self, row: dict[str, Any]) -> None: ...
    def submit_recording(self, row: dict[str, Any]) -> None: ...
    def submit_voicemail(self, row: dict[str, Any]) -> None: ...

    async def flush(self) -> None: ...


class HookEmitter(Protocol):
    def emit(self, event: str, payload: dict[str, Any]) -> None: ...


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


class CdrWithHooks:
    """Writes a call's rows and fires the matching hooks (see the module docstring)."""

    def __init__(self, writer: RowSink, hooks: HookEmitter) -> None:
        self.writer = writer
        self.hooks = hooks

    def submit(self, record: CallRecordBuilder) -> None:
        call, legs, events = record.take_changes()
        self.writer.submit_call(call)
        for leg in legs:
            self.writer.submit_leg(leg)
        for event in events:
            self.writer.submit_event(event)
        for event in events:
            if event["kind"] in HOOK_EVENTS:
                self.hooks.emit(event["kind"], self._payload(event, call))

    def submit_recording(self, row: dict[str, Any]) -> None:
        self.writer.submit_recording(row)

    def submit_voicemail(self, row: dict[str, Any]) -> None:
        self.writer.submit_voicemail(row)

    async def flush(self) -> None:
        await self.writer.flush()

    @staticmethod
    def _payload(event: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "call_id": call["call_id"],
            "at": _jsonable(event["at"]),
            "caller_number": call["caller_number"],
            **{k: _jsonable(v) for k, v in event["detail"].items()},
        }
        if event["kind"] == "call_end":
            payload.update({k: _jsonable(call[k]) for k in CALL_END_FIELDS})
        return payload
