"""Which recording policy applies to a call, and what a recording is called.

Policies come from the config (``RecordingPolicy``: record none|agent|call, consent prompt,
format, retention days): per queue (``config.queue_recording(queue_id)``), for the IVR
(``ivr.recording``), else ``recordings.default``.
"""

from __future__ import annotations

import datetime as dt
import re

from callcenter.config import CallCenterConfig, RecordingPolicy

_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")  # fullmatch: no trailing newline
_CALL_ID_IN_NAME = re.compile(r"(?:[A-Za-z0-9_-]*-)?([0-9a-f]{32})(?:-[0-9]+)?")  # fullmatch


def policy_for_queue(config: CallCenterConfig, queue_id: str | None) -> RecordingPolicy:
    """The policy of calls answered in ``queue_id`` (the default one outside any queue)."""
    if queue_id is not None and queue_id in config.queues:
        return config.queue_recording(queue_id)
    return config.recordings.default


def policy_for_ivr(config: CallCenterConfig) -> RecordingPolicy:
    """The policy of calls from answer (``record: call``) while they are in the IVR."""
    return config.ivr.recording or config.recordings.default


def records_agent_leg(policy: RecordingPolicy) -> bool:
    return policy.record in {"agent", "call"}


def recording_name(call_id: str, part: int = 1) -> str:
    """``<call id>`` for the first recording of a call, ``<call id>-2``... for later ones."""
    name = call_id if part == 1 else f"{call_id}-{part}"
    if not _NAME.fullmatch(name):
        raise ValueError(f"unusable recording name {name!r}")
    return name


def call_id_of(name: str) -> str | None:
    """The call id a recording name carries (``<call id>``, ``<call id>-2``, and names that
    end with one, e.g. ``voicemail-<box>-<call id>``), or None: not one of ours."""
    found = _CALL_ID_IN_NAME.fullmatch(name)
    return found.group(1) if found else None


def expires_at(started_at: dt.datetime, policy: RecordingPolicy) -> dt.datetime:
    return started_at + dt.timedelta(days=policy.retention_days)
