"""Conversations that outlive their worker: what a restarted worker needs to carry them on.

A worker killed (SIGKILL, power) while a caller talks to an agent leaves both legs in our ARI
app and in their mixing bridge: real Asterisk keeps them, sends no new StasisStart, and the
bridge recording goes on. The successor sees them in ``GET /channels`` / ``GET /bridges``.
To carry the call on it must know its call id, queue, agent and answer time, so the queue
driver names each conversation bridge after them when it creates it (``talk_bridge_name``):
no extra request on the call's path, and ``GET /bridges`` returns them all in one answer. The
agent leg's own ``CALLCENTER_*`` variables and its app arguments (``agent,<call id>``) say the
same for the screen pop.

``AdoptedTalk`` is what the successor hands the inbound flow (``CallSession.resume``); the
queue driver then waits for the end of the talk as if it had bridged the call itself, deletes
the bridge, completes the CDR with the whole talk time, and the recorder fetches the
recording when Asterisk reports it finished.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.asterisk.ari import AriNotFound, AriRequestError
from callcenter.asterisk.events import BridgeSnapshot, ChannelSnapshot
from callcenter.asterisk.ids import BridgeId, RecordingName
from callcenter.cdr.queries import StoredCall
from callcenter.recording.policy import recording_name

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient

TALK_BRIDGE = "callcenter-talk"
"""First field of a conversation bridge's name."""

MAX_RECORDING_PARTS = 20
"""Names ``<call id>``, ``<call id>-2``... probed for the talk's live recording."""


@dataclass(frozen=True, slots=True)
class TalkFacts:
    """What a conversation bridge's name says about its call."""

    call_id: str
    agent_id: str
    queue_id: str
    answered_at: float
    """Wall-clock epoch seconds when the agent answered."""
    waited: float
    """PBX seconds the caller waited in the queue."""
    priority: int = 0

    def talking_for(self, now: float) -> float:
        """Wall seconds since the agent answered."""
        return max(0.0, now - self.answered_at)


def talk_bridge_name(facts: TalkFacts) -> str:
    """``callcenter-talk;call=...;agent=...;queue=...;answered=...;waited=...;priority=...``
    (ids are config identifiers: no ';' nor '=' in them)."""
    return ";".join(
        (
            TALK_BRIDGE,
            f"call={facts.call_id}",
            f"agent={facts.agent_id}",
            f"queue={facts.queue_id}",
            f"answered={facts.answered_at:.3f}",
            f"waited={facts.waited:.3f}",
            f"priority={facts.priority}",
        )
    )


def parse_talk_bridge(name: str) -> TalkFacts | None:
    """The facts in a conversation bridge's name; None for any other bridge."""
    kind, _, rest = name.partition(";")
    if kind != TALK_BRIDGE:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
    try:
        return TalkFacts(
            call_id=fields["call"],
            agent_id=fields["agent"],
            queue_id=fields["queue"],
            answered_at=float(fields["answered"]),
            waited=float(fields.get("waited", "0")),
            priority=int(fields.get("priority", "0")),
        )
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class AdoptedTalk:
    """A caller found talking to an agent after a restart (``CallSession.resume``)."""

    facts: TalkFacts
    bridge: BridgeSnapshot
    agent_leg: ChannelSnapshot | None
    """None: the agent's leg was already gone (the talk is over, the caller is hung up)."""
    recording: RecordingName | None = None
    """The bridge's recording still running, to fetch when Asterisk reports it finished."""
    stored: StoredCall | None = None
    """The call's CDR so far, when the database had it."""

    @property
    def bridge_id(self) -> BridgeId:
        return self.bridge.id

    @property
    def answered_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.facts.answered_at, dt.UTC)


async def live_recording_of(
    ari: AriClient, call_id: str, bridge_id: BridgeId
) -> RecordingName | None:
    """The recording of ``bridge_id`` still running under one of the call's names (ARI lists
    no live recordings: each name is asked for, first to last, until one records the bridge);
    None when there is none."""
    target = f"bridge:{bridge_id}"
    misses = 0
    for part in range(1, MAX_RECORDING_PARTS + 1):
        name = RecordingName(recording_name(call_id, part))
        try:
            live = await ari.get_live_recording(name)
        except AriNotFound:
            misses += 1
            if misses >= 3:
                return None  # names are taken in order: three gaps in a row end the search
            continue
        except AriRequestError:
            return None
        misses = 0
        if live.target_uri == target:
            return name
    return None
