"""The facts of one call, accumulated as it goes, turned into ``calls`` / ``call_legs`` /
``call_events`` rows (pure: no I/O; a moment not given as ``at`` is read from ``clock``).

Usage by the inbound flow::

    record = CallRecordBuilder(session.call_id, started_at=session.started_at,
                               caller_number="0601", dialled_number="100", worker_id="w1",
                               channel_uniqueid=caller.id, linkedid=caller.id)
    record.ivr_entered("main")            # every IVR node, in order
    record.digit("1")
    record.queue_entered("sales")
    leg = record.leg_ringing("a7", "PJSIP/1007", agent_channel_id)
    record.leg_answered(leg)              # the caller is now talking to a7
    record.leg_ended(leg, "answered", cause=16)
    record.ended(side="caller", cause=16)  # disposition inferred: answered
    writer.submit(record)                  # hands the changed rows to the CdrWriter

``submit`` may be called as often as you like (at start, on each step, at the end): each call
row is a full snapshot stamped with ``updated_at`` and the writer keeps the newest one, legs are
upserted by (call_id, seq), events are inserted once by (call_id, seq).

Times are timezone-aware UTC datetimes; floats (``time.time()``) are accepted everywhere.
Durations (wait, talk, hold, wrap-up) are differences of these times, so they count the seconds
of the ``clock`` the moments come from: give the builder the PBX's clock (``SimulatedClock``
for the simulated PBX at speed N, whose recordings and ACD count simulated seconds; the system
clock on a real Asterisk).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Disposition = Literal[
    "answered",
    "abandoned_ivr",
    "abandoned_queue",
    "overflowed",
    "voicemail",
    "callback",
    "failed",
    "in_progress",
]
DISPOSITIONS: tuple[str, ...] = (
    "answered",
    "abandoned_ivr",
    "abandoned_queue",
    "overflowed",
    "voicemail",
    "callback",
    "failed",
    "in_progress",
)
LegOutcome = Literal[
    "ringing", "answered", "no_answer", "busy", "rejected", "cancelled", "failed", "transfer"
]
HangupSide = Literal["caller", "agent", "system", "unknown"]

Moment = dt.datetime | float | int


def system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(moment: Moment | None = None) -> dt.datetime:
    """A timezone-aware UTC datetime from a datetime, an epoch float, or now."""
    if moment is None:
        return system_now()
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return moment.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(float(moment), dt.UTC)


def _utc_or_none(moment: Any) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite gives naive UTC datetimes back)."""
    if moment is None:
        return None
    if isinstance(moment, dt.datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return utc(moment)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, round((end - start).total_seconds(), 3))


@dataclass
class _Leg:
    seq: int
    agent_id: str | None
    endpoint: str | None
    channel_id: str | None
    rang_at: dt.datetime
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    outcome: str = "ringing"
    hangup_cause: int | None = None

    def row(self, call_id: str) -> dict[str, Any]:
        return {
            "call_id": call_id,
            "seq": self.seq,
            "agent_id": self.agent_id,
            "endpoint": self.endpoint,
            "channel_id": self.channel_id,
            "rang_at": self.rang_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
            "hangup_cause": self.hangup_cause,
        }


@dataclass
class CallRecordBuilder:
    """Everything we learn about one call; produces the rows the CDR writer stores."""

    call_id: str
    started_at: Moment
    caller_number: str | None = None
    caller_name: str | None = None
    dialled_number: str | None = None
    worker_id: str | None = None
    channel_uniqueid: str | None = None
    linkedid: str | None = None

    ivr_path: list[str] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    queue_id: str | None = None
    priority: int = 0
    queue_entered_at: dt.datetime | None = None
    queue_left_at: dt.datetime | None = None
    agent_id: str | None = None
    connected_at: dt.datetime | None = None
    agent_released_at: dt.datetime | None = None
    hold_seconds: float = 0.0
    wrapup_seconds: float | None = None
    transfers: int = 0
    recording_name: str | None = None
    agent_disposition: str | None = None
    notes: str | None = None
    ended_at: dt.datetime | None = None
    disposition: str = "in_progress"
    hangup_side: str | None = None
    hangup_cause: int | None = None

    _legs: list[_Leg] = field(default_factory=list, repr=False)
    _events: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _events_taken: int = field(default=0, repr=False)
    _dirty_legs: set[int] = field(default_factory=set, repr=False)
    _hold_since: dt.datetime | None = field(default=None, repr=False)
    _last_change: dt.datetime | None = field(default=None, repr=False)
    _legs_before: int = field(default=0, repr=False)
    """Legs (and below, events) an earlier run of the worker stored: new ones follow them."""
    _events_before: int = field(default=0, repr=False)
    clock: Callable[[], dt.datetime] = field(default=system_now, repr=False, compare=False)
    """Where a moment not given comes from: the PBX's clock (``Clock.now``)."""

    def __post_init__(self) -> None:
        self.started_at = utc(self.started_at)
        self._event("call_start", self.started_at, caller=self.caller_number)

    @classmethod
    def resume(
        cls,
        row: Mapping[str, Any],
        *,
        legs: int,
        events: int,
        worker_id: str | None = None,
        clock: Callable[[], dt.datetime] = system_now,
    ) -> CallRecordBuilder:
        """Carry on the record of a call a restarted worker takes over, from its stored ``calls``
        row: IVR path, digits and variables are kept; new legs and events follow the
        ``legs``/``events`` already stored (they are keyed by sequence number)."""
        record = cls(
            row["call_id"],
            started_at=row["started_at"],
            caller_number=row.get("caller_number"),
            caller_name=row.get("caller_name"),
            dialled_number=row.get("dialled_number"),
            worker_id=worker_id or row.get("worker_id"),
            channel_uniqueid=row.get("channel_uniqueid"),
            linkedid=row.get("linkedid"),
            clock=clock,
        )
        record.ivr_path = list(row.get("ivr_path") or [])
        record.digits = list(row.get("digits") or [])
        record.variables = dict(row.get("variables") or {})
        record.transfers = int(row.get("transfers") or 0)
        # Where the call had got to: its queue, and its agent when it was answered (a
        # conversation the restarted worker adopts keeps its answer time and talk time).
        record.queue_id = row.get("queue_id")
        record.priority = int(row.get("priority") or 0)
        record.queue_entered_at = _utc_or_none(row.get("queue_entered_at"))
        record.connected_at = _utc_or_none(row.get("answered_at"))
        record.agent_id = row.get("agent_id")
        record.recording_name = row.get("recording_name")
        wait = row.get("wait_seconds")
        if record.connected_at is not None and record.queue_entered_at is not None:
            record.queue_left_at = (
                record.queue_entered_at + dt.timedelta(seconds=float(wait))
                if wait is not None
                else record.connected_at
            )
        record._legs_before, record._events_before = legs, events
        record._events.clear()  # no second call_start
        record._event("resumed", None, worker=record.worker_id)
        return record

    # --- facts -------------------------------------------------------------------------------

    def ivr_entered(self, node_id: str, at: Moment | None = None) -> None:
        """The caller reached an IVR node (menu, collect, play...)."""
        self.ivr_path.append(node_id)
        self._event("ivr_node", at, node=node_id)

    def digit(self, digit: str, at: Moment | None = None) -> None:
        self.digits.append(digit)
        self._event("digit", at, digit=digit)

    def variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    def queue_entered(self, queue_id: str, at: Moment | None = None, priority: int = 0) -> None:
        """The caller started waiting in a queue (a later queue replaces an earlier one)."""
        moment = self._at(at)
        self.queue_id, self.priority = queue_id, priority
        self.queue_entered_at, self.queue_left_at = moment, None
        self._event("queue_entry", moment, queue=queue_id, priority=priority)

    def queue_left(self, outcome: str, at: Moment | None = None, to: str | None = None) -> None:
        """The caller left the queue: ``answered``, ``abandoned``, ``overflowed``, ``callback``,
        ``voicemail``. ``overflowed``/``callback``/``voicemail`` set the disposition."""
        moment = self._at(at)
        self.queue_left_at = moment
        if outcome in {"overflowed", "callback", "voicemail"}:
            self.disposition = outcome
        self._event("queue_left", moment, queue=self.queue_id, outcome=outcome, to=to)

    def leg_ringing(
        self,
        agent_id: str | None,
        endpoint: str | None = None,
        channel_id: str | None = None,
        at: Moment | None = None,
    ) -> int:
        """An agent is being rung; returns the leg's ``seq`` for the calls below."""
        leg = _Leg(self._next_leg_seq(), agent_id, endpoint, channel_id, self._at(at))
        self._legs.append(leg)
        self._dirty_legs.add(leg.seq)
        self._event("agent_ringing", leg.rang_at, leg=leg.seq, agent=agent_id)
        return leg.seq

    def leg_adopted(
        self,
        agent_id: str | None,
        endpoint: str | None,
        channel_id: str | None,
        answered_at: Moment,
        *,
        seq: int | None = None,
        rang_at: Moment | None = None,
    ) -> int:
        """An agent leg answered under an earlier run of the worker (a conversation adopted
        after a restart): ``seq`` is its stored number (a new leg if None). The call is
        connected since ``answered_at``; returns the leg's seq for ``leg_ended``."""
        answered = utc(answered_at)
        number = seq if seq is not None else self._next_leg_seq()
        rang = _utc_or_none(rang_at) or answered
        leg = _Leg(number, agent_id, endpoint, channel_id, rang, answered_at=answered)
        leg.outcome = "answered"
        self._legs = [other for other in self._legs if other.seq != number] + [leg]
        self._dirty_legs.add(number)
        if self.connected_at is None:
            self.connected_at = answered
        self.agent_id = agent_id
        self._event("agent_adopted", None, leg=number, agent=agent_id)
        return number

    def leg_answered(self, seq: int, at: Moment | None = None) -> None:
        """The agent answered: the caller is connected to this agent."""
        leg = self._leg(seq)
        leg.answered_at = self._at(at)
        leg.outcome = "answered"
        self._dirty_legs.add(seq)
        if self.connected_at is None:
            self.connected_at = leg.answered_at
        self.agent_id = leg.agent_id
        if self.queue_entered_at is not None and self.queue_left_at is None:
            self.queue_left_at = leg.answered_at
        self._event("agent_connect", leg.answered_at, leg=seq, agent=leg.agent_id)

    def leg_ended(
        self,
        seq: int,
        outcome: str | None = None,
        at: Moment | None = None,
        cause: int | None = None,
    ) -> None:
        """An agent leg ended: ``no_answer``, ``busy``, ``rejected``, ``cancelled``, ``failed``,
        ``transfer``; ``None`` keeps ``answered`` for an answered leg."""
        leg = self._leg(seq)
        leg.ended_at = self._at(at)
        leg.hangup_cause = cause
        if outcome is not None:
            leg.outcome = outcome
        elif leg.outcome == "ringing":
            leg.outcome = "cancelled"
        self._dirty_legs.add(seq)
        if leg.answered_at is not None and leg.agent_id == self.agent_id:
            self.agent_released_at = leg.ended_at
        self._event("agent_leg_end", leg.ended_at, leg=seq, outcome=leg.outcome, cause=cause)

    def hold_started(self, at: Moment | None = None) -> None:
        if self._hold_since is None:
            self._hold_since = self._at(at)
            self._event("hold", self._hold_since)

    def hold_ended(self, at: Moment | None = None) -> None:
        if self._hold_since is not None:
            moment = self._at(at)
            self.hold_seconds += _seconds(self._hold_since, moment) or 0.0
            self._hold_since = None
            self._event("unhold", moment)

    def transferred(self, to: str, at: Moment | None = None, kind: str = "blind") -> None:
        self.transfers += 1
        self._event("transfer", at, to=to, kind=kind)

    def recording_started(self, name: str, at: Moment | None = None) -> None:
        self.recording_name = name
        self._event("recording_started", at, name=name)

    def event(self, kind: str, at: Moment | None = None, /, **detail: Any) -> None:
        """Any other fact worth keeping in the call's timeline."""
        self._event(kind, at, **detail)

    def ended(
        self,
        at: Moment | None = None,
        *,
        disposition: str | None = None,
        side: str | None = None,
        cause: int | None = None,
    ) -> None:
        """The caller's channel is gone. The disposition is inferred unless given."""
        moment = self._at(at)
        self.hold_ended(moment)
        self.ended_at = moment
        if disposition is not None:
            self.disposition = disposition
        elif self.disposition == "in_progress":
            self.disposition = self.infer_disposition()
        if self.queue_entered_at is not None and self.queue_left_at is None:
            self.queue_left_at = moment
        if self.connected_at is not None and self.agent_released_at is None:
            self.agent_released_at = moment
        self.hangup_side, self.hangup_cause = side, cause
        self._event("call_end", moment, disposition=self.disposition, side=side, cause=cause)

    def wrapup_done(self, at: Moment | None = None) -> None:
        """The agent finished after-call work (wrap-up counts from the agent's release)."""
        moment = self._at(at)
        self.wrapup_seconds = _seconds(self.agent_released_at or self.ended_at, moment)
        self._event("wrapup_done", moment, seconds=self.wrapup_seconds)

    def infer_disposition(self) -> str:
        if self.connected_at is not None:
            return "answered"
        if self.queue_entered_at is not None:
            return "abandoned_queue"
        return "abandoned_ivr"

    # --- rows --------------------------------------------------------------------------------

    @property
    def wait_seconds(self) -> float | None:
        """Time in queue until an agent answered or the caller left."""
        return _seconds(self.queue_entered_at, self.queue_left_at)

    @property
    def talk_seconds(self) -> float | None:
        """Time connected to the agent, without hold."""
        total = _seconds(self.connected_at, self.agent_released_at)
        if total is None:
            return None
        return max(0.0, round(total - self.hold_seconds, 3))

    def call_row(self, now: Moment | None = None) -> dict[str, Any]:
        """The ``calls`` row as it stands (``updated_at`` orders snapshots of one call)."""
        assert isinstance(self.started_at, dt.datetime)
        return {
            "call_id": self.call_id,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "dialled_number": self.dialled_number,
            "started_at": self.started_at,
            "answered_at": self.connected_at,
            "ended_at": self.ended_at,
            "ivr_path": list(self.ivr_path),
            "digits": list(self.digits),
            "variables": dict(self.variables),
            "queue_id": self.queue_id,
            "priority": self.priority,
            "queue_entered_at": self.queue_entered_at,
            "wait_seconds": self.wait_seconds,
            "agent_id": self.agent_id,
            "talk_seconds": self.talk_seconds,
            "hold_seconds": round(self.hold_seconds, 3) if self.connected_at else None,
            "wrapup_seconds": self.wrapup_seconds,
            "disposition": self.disposition,
            "hangup_side": self.hangup_side,
            "hangup_cause": self.hangup_cause,
            "transfers": self.transfers,
            "channel_uniqueid": self.channel_uniqueid,
            "linkedid": self.linkedid,
            "recording_name": self.recording_name,
            "agent_disposition": self.agent_disposition,
            "notes": self.notes,
            "worker_id": self.worker_id,
            "updated_at": self._updated_at(now),
        }

    def leg_rows(self) -> list[dict[str, Any]]:
        return [leg.row(self.call_id) for leg in self._legs]

    def event_rows(self) -> list[dict[str, Any]]:
        return list(self._events)

    def take_changes(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """(call row, legs changed since last time, events new since last time)."""
        legs = [self._leg(seq).row(self.call_id) for seq in sorted(self._dirty_legs)]
        events = self._events[self._events_taken :]
        self._dirty_legs.clear()
        self._events_taken = len(self._events)
        return self.call_row(), legs, list(events)

    # --- internals ---------------------------------------------------------------------------

    def _updated_at(self, now: Moment | None) -> dt.datetime:
        # A strictly increasing stamp, so the newest snapshot of a call always wins the upsert
        # even when two snapshots are taken in the same microsecond.
        moment = self._at(now)
        if self._last_change is not None and moment <= self._last_change:
            moment = self._last_change + dt.timedelta(microseconds=1)
        self._last_change = moment
        return moment

    def _at(self, moment: Moment | None) -> dt.datetime:
        """``moment`` as UTC, or now on the builder's clock."""
        return utc(moment) if moment is not None else utc(self.clock())

    def _leg(self, seq: int) -> _Leg:
        for leg in self._legs:
            if leg.seq == seq:
                return leg
        raise KeyError(f"call {self.call_id} has no leg {seq}")

    def _next_leg_seq(self) -> int:
        return max([self._legs_before, *(leg.seq for leg in self._legs)]) + 1

    def _event(self, kind: str, at: Moment | None, /, **detail: Any) -> None:
        self._events.append(
            {
                "call_id": self.call_id,
                "seq": self._events_before + len(self._events) + 1,
                "at": self._at(at),
                "kind": kind,
                "detail": {k: v for k, v in detail.items() if v is not None},
            }
        )
