"""The ARI queue driver: one caller's time in a queue, from joining to the end of the talk.

``QueueCall(session, service, queue_id).run()`` puts the caller in the queue, plays the wait
(:mod:`callcenter.routing.wait`), rings the agents the service offers, bridges the first who
answers and returns a :class:`QueueResult` when the conversation (or the wait) is over.

How a real Asterisk 22 behaves, and what this code does about it
(/work/shared/asterisk/README.md):

- ``channels/create`` puts the agent channel in our app at once (StasisStart, state Down); a
  ``dial`` sent before that StasisStart once got 409 "Channel not in Stasis application". So we
  claim the channel id before creating it and dial only when its StasisStart arrives.
- A busy agent gives Dial "" then ChannelHangupRequest cause 17, StasisEnd, ChannelDestroyed 17;
  an agent who never answers gives Dial "" / "RINGING" and, at the dial time-out, the same with
  cause 19. No Dial BUSY/NOANSWER reaches the app: the hang-up cause tells what happened.
- A created-not-dialled channel stays Down for ever when the caller leaves: we hang every agent
  leg up ourselves. Bridges outlive their channels: we always delete the bridge we made.
- ``channels/create`` to an endpoint that does not exist (or is offline) answers 500
  "Allocation failed": the agent is paused as unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from callcenter.asterisk.ari import AriConflict, AriRequestError
from callcenter.asterisk.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    ChannelStateChange,
    Dial,
    PlaybackFinished,
    Reconnected,
    StasisEnd,
    StasisStart,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, new_bridge_id, new_channel_id
from callcenter.call.messages import InboxItem
from callcenter.config import OverflowTarget, SkillRequirement
from callcenter.errors import CallCenterError
from callcenter.routing.adoption import AdoptedTalk, TalkFacts, talk_bridge_name
from callcenter.routing.model import FailureReason
from callcenter.routing.service import AcdService, AgentOffered, OverflowDue, RingTimeUp
from callcenter.routing.wait import CallerWait

if TYPE_CHECKING:
    from callcenter.call.session import CallSession
    from callcenter.cdr.record import CallRecordBuilder
    from callcenter.recording.recorder import Recorder

log = logging.getLogger("callcenter.call")

AGENT_LEG_ARG = "agent"
"""First app argument of agent channels (the worker never takes them for inbound calls)."""

STASIS_START_TIMEOUT = 5.0
"""Real seconds we wait for a created agent channel to enter the app before giving up."""

DIAL_CONFLICT_RETRIES = 3

MUSIC_AFTER_RINGING = 1.0
"""PBX seconds an agent rung at once may take to answer before the caller hears music."""

BROKEN_BRIDGE_PATIENCE = 5.0
"""Real seconds we wait for a hang-up after bridging failed because one side had left."""


class RecordSink(Protocol):
    """Where the call's record goes as it changes (``callcenter.cdr.writer.CdrWriter``)."""

    def submit(self, record: CallRecordBuilder) -> None: ...


QueueOutcome = Literal["answered", "abandoned", "overflowed", "callback"]


def failure_reason(cause: int | None) -> FailureReason:
    """Why an agent leg ended unanswered, from its Q.850 hang-up cause (Asterisk 22 sends no
    Dial BUSY/NOANSWER to the app)."""
    if cause == 17:
        return "busy"
    if cause == 21:
        return "rejected"
    if cause in (1, 3, 20, 27, 38, 34, 66):
        return "unavailable"
    return "no_answer"  # 19 at the dial time-out, 18, 16 or none


LEG_OUTCOME = {
    "busy": "busy",
    "rejected": "rejected",
    "unavailable": "failed",
    "no_answer": "no_answer",
}
"""Our failure reason -> the CDR's leg outcome."""


@dataclass(frozen=True, slots=True)
class QueueResult:
    """How the caller's time in the queue ended.

    ``answered``: talked to ``agent_id`` (the call is over: caller or agent hung up);
    ``abandoned``: the caller hung up waiting; ``overflowed``: send them to ``target``;
    ``callback``: they pressed the callback digit and left a callback request.
    """

    outcome: QueueOutcome
    queue_id: str
    wait_seconds: float
    agent_id: str | None = None
    talk_seconds: float | None = None
    ended_by: Literal["caller", "agent", "system"] | None = None
    target: OverflowTarget | None = None
    priority: int = 0


@dataclass
class AgentLeg:
    """One agent's phone being rung for this caller."""

    agent_id: str
    endpoint: str
    channel_id: ChannelId
    created_at: float
    in_stasis: bool = False
    dialled: bool = False
    hangup_cause: int | None = None
    ended: bool = False
    cdr_leg: int | None = None


@dataclass
class _Talk:
    leg: AgentLeg
    bridge: BridgeId
    answered_at: float
    """``time.monotonic()`` when the agent answered."""
    wait_seconds: float
    answered_wall: float = field(default_factory=time.time)


@dataclass
class QueueCall:
    """One caller in one queue; see the module docstring."""

    session: CallSession
    service: AcdService
    queue_id: str
    priority: int = 0
    extra_skills: tuple[SkillRequirement, ...] = ()
    record: CallRecordBuilder | None = None
    recorder: Recorder | None = None
    cdr: RecordSink | None = None
    """Gets ``record`` at queue entry and agent connect (the CDR writer folds snapshots)."""
    entered_at: dt.datetime | None = None
    """When the caller first joined this queue, for a call resumed after a worker restart:
    they keep their place and their wait counts from then (their entry is still saved)."""
    legs: dict[ChannelId, AgentLeg] = field(default_factory=dict)
    bridges_made: list[BridgeId] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ari = self.session.ari
        self.caller = self.session.caller_channel_id
        self.call_id = self.session.call_id
        self.queue = self.service.config.queues[self.queue_id]
        self.wait = CallerWait(
            self.ari,
            self.caller,
            self.queue,
            speed=self.service.speed,
            position=self._position,
            estimated_wait=self._estimated_wait,
        )
        self._entered = time.monotonic()
        self._media_started = False
        self._media_due = 0.0

    # --- helpers -----------------------------------------------------------------------------

    def _position(self) -> int | None:
        if not self.service.in_queue(self.call_id):
            return None
        return self.service.position(self.call_id)

    def _estimated_wait(self) -> float | None:
        if not self.service.in_queue(self.call_id):
            return None
        return self.service.estimated_wait(self.call_id)

    def _waited(self) -> float:
        """PBX seconds since the caller joined."""
        return (time.monotonic() - self._entered) * self.service.speed

    def _result(self, outcome: QueueOutcome, **extra: object) -> QueueResult:
        return QueueResult(
            outcome=outcome,
            queue_id=self.queue_id,
            wait_seconds=round(self._waited(), 3),
            priority=self.priority,
            **extra,  # type: ignore[arg-type]
        )

    def _log(self, message: str, *args: object) -> None:
        """Something out of the ordinary (a failed ring, an overflow): INFO."""
        log.info("call=%s queue=%s " + message, self.call_id, self.queue_id, *args)

    def _debug(self, message: str, *args: object) -> None:
        """A step every call takes: DEBUG (at INFO a call logs at most a few lines)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("call=%s queue=%s " + message, self.call_id, self.queue_id, *args)

    # --- the run -----------------------------------------------------------------------------

    async def run(self) -> QueueResult:
        """Wait, ring, talk; always leaves no agent leg and no bridge behind."""
        self.session.context.queue = self.queue_id
        self._joined_at = self.service.now()
        if self.entered_at is not None:
            waited = max(0.0, (self.service.clock.now() - self.entered_at).total_seconds())
            self._entered -= waited
            self._joined_at -= waited * self.service.speed
        position = self.service.join_queue(
            self.call_id,
            self.queue_id,
            self.session.inbox,
            priority=self.priority,
            extra_skills=self.extra_skills,
            entered_at=self._joined_at if self.entered_at is not None else None,
            already_saved=self.entered_at is not None,
        )
        if self.record is not None:
            self.record.queue_entered(self.queue_id, at=self.entered_at, priority=self.priority)
        self._debug("joined at position %d (priority %d)", position, self.priority)
        try:
            offer = self.service.take_early_offer(self.call_id)
            if offer is not None:
                # An agent was free: their phone rings first (app_queue rings within ~3 ms).
                # Music only if they take more than a moment to answer: a caller connected
                # at once never hears it (and Asterisk is spared starting and stopping it).
                self._media_due = time.monotonic() + self.service.real_seconds(MUSIC_AFTER_RINGING)
                await self._ring(offer.agent_ids)
            if self.record is not None and self.cdr is not None:
                self.cdr.submit(self.record)  # bookkeeping: after the ring, not before it
            if offer is None:
                await self._start_media()
            return await self._wait_loop()
        finally:
            await self._clean_up()

    async def _rejoin(self) -> None:
        """Back in the queue at the caller's first place (their agent left before the bridge)."""
        self._log("agent left before the bridge: caller back in the queue")
        self.service.join_queue(
            self.call_id,
            self.queue_id,
            self.session.inbox,
            priority=self.priority,
            extra_skills=self.extra_skills,
            entered_at=self._joined_at,
        )
        if self.record is not None:
            self.record.event("requeued", queue=self.queue_id)
        self._media_started = True
        offer = self.service.take_early_offer(self.call_id)
        if offer is not None:
            await self._ring(offer.agent_ids)  # another agent was free: ring at once
        await self.wait.start_music()
        if not self.legs:
            self.wait.resume_announcements()

    async def _start_media(self) -> None:
        """The wait's entry prompt or music (once), and its announcements unless a leg rings."""
        if self._media_started:
            return
        self._media_started = True
        await self.session.answered()
        await self.wait.begin()
        if self.legs:
            self.wait.hold_announcements()

    async def _wait_loop(self) -> QueueResult:
        while True:
            if not self._media_started and (not self.legs or time.monotonic() >= self._media_due):
                await self._start_media()
            timeout = self._next_timeout()
            event = await self.session.next_event(timeout)
            if event is None:
                await self._on_timer()
                continue
            result = await self._on_event(event)
            if result is not None:
                return result

    def _next_timeout(self) -> float | None:
        candidates = [t for t in (self.wait.due_in(),) if t is not None]
        now = time.monotonic()
        if not self._media_started:
            candidates.append(max(0.0, self._media_due - now))
        for leg in self.legs.values():
            if not leg.in_stasis:
                candidates.append(max(0.0, leg.created_at + STASIS_START_TIMEOUT - now))
        return min(candidates) if candidates else None

    async def _on_timer(self) -> None:
        now = time.monotonic()
        for leg in list(self.legs.values()):
            if not leg.in_stasis and now - leg.created_at >= STASIS_START_TIMEOUT:
                self._log("agent=%s leg %s never entered the app", leg.agent_id, leg.channel_id)
                await self._hang_up_leg(leg)
                self._leg_failed(leg, "unavailable")
        if not self.legs:
            await self.wait.announce_if_due()

    async def _on_event(self, event: InboxItem) -> QueueResult | None:
        if isinstance(event, StasisEnd) and event.channel.id == self.caller:
            return self._caller_left()
        if isinstance(event, AgentOffered):
            if event.call_id == self.call_id:
                await self._ring(event.agent_ids)
            return None
        if isinstance(event, OverflowDue):
            if event.call_id != self.call_id:
                return None
            self._log("max wait reached: overflow")
            await self.wait.stop()
            if self.record is not None:
                self.record.queue_left("overflowed", to=_describe(event.target))
            return self._result("overflowed", target=event.target)
        if isinstance(event, RingTimeUp):
            for leg in list(self.legs.values()):
                if leg.agent_id == event.agent_id:
                    await self._hang_up_leg(leg)
            return None
        if isinstance(event, PlaybackFinished):
            await self.wait.playback_finished(event.playback_id)
            return None
        if isinstance(event, Reconnected):
            return await self._after_reconnect(event)
        if isinstance(event, ChannelDtmfReceived) and event.channel.id == self.caller:
            return await self._caller_pressed(event.digit)
        if not isinstance(event, AriEvent):
            return None
        for channel_id in event.channel_ids:
            ringing = self.legs.get(channel_id)
            if ringing is not None:
                talk = await self._on_leg_event(ringing, event)
                if talk is None:
                    return None
                result = await self._talk(talk)
                if result is None:
                    await self._rejoin()
                return result
        return None

    async def _after_reconnect(self, snapshot: Reconnected) -> QueueResult | None:
        """Events of the WebSocket outage are lost: the music comes back if a prompt ended in
        the gap, and each ringing agent leg is matched with what Asterisk holds now (a leg
        that entered the app is dialled, one that went Up is answered; one that vanished gets
        the worker's synthetic StasisEnd)."""
        await self.wait.resync()
        channels = {channel.id: channel for channel in snapshot.channels}
        for leg in list(self.legs.values()):
            channel = channels.get(leg.channel_id)
            if channel is None or leg.ended:
                continue
            missed: AriEvent | None = None
            if not leg.in_stasis and leg.channel_id in snapshot.app_channel_ids:
                missed = StasisStart(channel=channel, args=(AGENT_LEG_ARG, self.call_id))
            elif leg.dialled and channel.state == "Up":
                missed = ChannelStateChange(channel=channel, state="Up")
            if missed is not None:
                self._log(
                    "agent=%s leg %s: %s missed while ARI was away",
                    leg.agent_id,
                    leg.channel_id,
                    type(missed).__name__,
                )
                result = await self._on_event(missed)
                if result is not None:
                    return result
        return None

    def _caller_left(self) -> QueueResult:
        # The queue forgets the caller in _clean_up, after the agent legs are hung up, so
        # the freed agents are not offered a new call while their phone still rings.
        self._debug("caller hung up after %.1fs", self._waited())
        if self.record is not None:
            self.record.queue_left("abandoned")
        return self._result("abandoned", ended_by="caller")

    async def _caller_pressed(self, digit: str) -> QueueResult | None:
        if self.record is not None:
            self.record.digit(digit)
        if digit != self.queue.callback_digit or self.legs:
            return None
        self._log("caller asked for a callback")
        self.service.leave_queue(self.call_id, "callback")
        await self.wait.stop()
        if self.record is not None:
            self.record.queue_left("callback")
        return self._result("callback")

    # --- ringing -----------------------------------------------------------------------------

    async def _ring(self, agent_ids: Iterable[str]) -> None:
        """Create one channel per offered agent; each is dialled when it enters the app."""
        self.wait.hold_announcements()
        for agent_id in agent_ids:
            if not self.service.offer_stands(self.call_id, agent_id):
                # The dispatcher already gave up on this offer (its ring timer ran out
                # before we read it): the agent may belong to another call by now.
                self._log("agent=%s offer expired before ringing", agent_id)
                continue
            agent = self.service.config.agent(agent_id)
            leg = AgentLeg(agent_id, agent.endpoint, new_channel_id("agent"), time.monotonic())
            # Claim before create: the StasisStart can arrive before the POST returns.
            self.session.watch(leg.channel_id)
            self.legs[leg.channel_id] = leg
            try:
                await self.ari.create_channel(
                    agent.endpoint,
                    app_args=[AGENT_LEG_ARG, self.call_id],
                    caller_id=self._caller_id(),
                    variables=self._leg_variables(),
                    channel_id=leg.channel_id,
                    originator=self.caller,
                )
            except AriRequestError as exc:
                self._log("agent=%s cannot be rung at %s: %s", agent_id, agent.endpoint, exc)
                leg.ended = True
                # 500 "Allocation failed": the endpoint does not exist or is not registered;
                # anything else (a time-out, the caller's channel gone) is not the agent's
                # doing: "busy" rests them briefly without counting a missed call.
                self._leg_failed(leg, "unavailable" if exc.status == 500 else "busy")
                continue
            if self.record is not None:
                leg.cdr_leg = self.record.leg_ringing(agent_id, agent.endpoint, leg.channel_id)
            self._debug("agent=%s leg %s created", agent_id, leg.channel_id)
        if not self.legs:
            self.wait.resume_announcements()

    def _caller_id(self) -> str:
        context = self.session.context
        name = context.caller_name.replace('"', "")
        return f'"{name}" <{context.caller_number}>' if name else context.caller_number

    def _leg_variables(self) -> dict[str, str]:
        """The call's context for the agent's phone and screen pop."""
        context = self.session.context
        variables = {
            "CALLCENTER_CALL_ID": self.call_id,
            "CALLCENTER_QUEUE": self.queue_id,
            "CALLCENTER_CALLER": context.caller_number,
            "CALLCENTER_DIALLED": context.dialled,
            "CALLCENTER_IVR_PATH": ">".join(node for node, _ in context.ivr_path),
            "CALLCENTER_DIGITS": "".join(context.digits),
            "CALLCENTER_PRIORITY": str(self.priority),
        }
        for name, value in context.variables.items():
            variables[f"CALLCENTER_VAR_{name.upper()}"] = value
        return variables

    async def _dial(self, leg: AgentLeg) -> None:
        for attempt in range(DIAL_CONFLICT_RETRIES):
            try:
                await self.ari.dial(leg.channel_id, self.caller, int(self.queue.ring_timeout))
                leg.dialled = True
                self.service.agent_ringing(self.call_id, leg.agent_id)
                return
            except AriConflict:
                # 409 "Channel not in Stasis application": seen once right after create.
                await asyncio.sleep(0.01 * (attempt + 1))
            except AriRequestError as exc:
                self._log("agent=%s dial failed: %s", leg.agent_id, exc)
                break
        await self._hang_up_leg(leg)
        self._leg_failed(leg, "busy")

    async def _on_leg_event(self, leg: AgentLeg, event: AriEvent) -> _Talk | None:
        if isinstance(event, StasisStart):
            leg.in_stasis = True
            if not leg.dialled and not leg.ended:
                await self._dial(leg)
            return None
        if isinstance(event, Dial) and event.peer_id == leg.channel_id:
            if event.dialstatus == "ANSWER":
                return await self._leg_answered(leg)
            return None
        if isinstance(event, ChannelStateChange) and event.state == "Up" and leg.dialled:
            return await self._leg_answered(leg)
        if isinstance(event, ChannelHangupRequest):
            if event.cause is not None:
                leg.hangup_cause = event.cause
            return None
        if isinstance(event, StasisEnd | ChannelDestroyed):
            if isinstance(event, ChannelDestroyed) and event.cause:
                leg.hangup_cause = event.cause
            if leg.channel_id in self.legs:
                leg.ended = True
                self._leg_failed(leg, failure_reason(leg.hangup_cause))
            return None
        return None

    def _leg_failed(self, leg: AgentLeg, reason: FailureReason) -> None:
        if self.legs.pop(leg.channel_id, None) is None:
            return
        self._log(
            "agent=%s did not take the call: %s (cause %s)", leg.agent_id, reason, leg.hangup_cause
        )
        if self.record is not None and leg.cdr_leg is not None:
            self.record.leg_ended(leg.cdr_leg, LEG_OUTCOME[reason], cause=leg.hangup_cause)
        self.service.agent_failed(self.call_id, leg.agent_id, reason)
        if reason == "unavailable":
            # Cause 20/27/38...: the phone is not registered or unreachable, not just busy.
            self.service.agent_unreachable(leg.agent_id)
        if not self.legs:
            self.wait.resume_announcements()

    async def _leg_answered(self, leg: AgentLeg) -> _Talk | None:
        if leg.channel_id not in self.legs:
            return None
        if not self.service.agent_answered(self.call_id, leg.agent_id):
            # The offer is void (the dispatcher gave up on this ring): drop the leg.
            self.legs.pop(leg.channel_id, None)
            await self._hang_up_leg(leg)
            return None
        self.legs.pop(leg.channel_id, None)
        for other in list(self.legs.values()):  # ring_all: the others stop ringing
            self.legs.pop(other.channel_id, None)
            await self._hang_up_leg(other)
            if self.record is not None and other.cdr_leg is not None:
                self.record.leg_ended(other.cdr_leg, "cancelled")
        self._debug("agent=%s answered after %.1fs", leg.agent_id, self._waited())
        if self.record is not None:
            self.record.queue_left("answered")
            if leg.cdr_leg is not None:
                self.record.leg_answered(leg.cdr_leg)
            if self.cdr is not None:
                self.cdr.submit(self.record)
        bridge = new_bridge_id("call")
        return _Talk(
            leg=leg, bridge=bridge, answered_at=time.monotonic(), wait_seconds=self._waited()
        )

    async def _bridge(self, talk: _Talk) -> bool:
        """Caller and agent into one mixing bridge; False when one of them is already gone
        (Asterisk answers 400 "Channel not found"): their StasisEnd is on its way."""
        # Music must stop before the bridge, or the caller hears it over the agent.
        await self.wait.stop()
        await self.session.answered()
        self.session.watch_bridge(talk.bridge)
        self.bridges_made.append(talk.bridge)
        # The name carries what a restarted worker needs to adopt the conversation.
        name = talk_bridge_name(
            TalkFacts(
                call_id=self.call_id,
                agent_id=talk.leg.agent_id,
                queue_id=self.queue_id,
                answered_at=talk.answered_wall,
                waited=talk.wait_seconds,
                priority=self.priority,
            )
        )
        try:
            await self.ari.create_bridge("mixing", talk.bridge, name=name)
            await self.ari.add_to_bridge(talk.bridge, [self.caller, talk.leg.channel_id])
        except AriRequestError as exc:
            self._log("agent=%s bridge failed: %s", talk.leg.agent_id, exc)
            return False
        await self._start_recording(talk)
        return True

    async def _start_recording(self, talk: _Talk) -> None:
        """Record the conversation when the queue's policy asks for it (the recorder stores
        the file when Asterisk reports RecordingFinished, after the bridge is gone)."""
        if self.recorder is None:
            return
        policy = self.service.config.queue_recording(self.queue_id)
        try:
            await self.recorder.start_for_call(
                self.call_id,
                policy=policy,
                bridge_id=talk.bridge,
                agent_id=talk.leg.agent_id,
                queue_id=self.queue_id,
                record=self.record,
            )
        except CallCenterError as exc:
            # A call without its recording still goes on; the failure is in the log.
            self._log("agent=%s recording not started: %s", talk.leg.agent_id, exc)

    # --- talking -----------------------------------------------------------------------------

    async def carry_on_talk(self, adopted: AdoptedTalk) -> QueueResult:
        """A conversation a restarted worker found in Asterisk (caller and agent in their
        bridge): wait for its end as if we had bridged it, then the same clean-up (the other
        side hung up, the bridge deleted, the agent into wrap-up)."""
        facts = adopted.facts
        self.session.context.queue = self.queue_id
        agent = self.service.config.agent(facts.agent_id)
        channel_id = adopted.agent_leg.id if adopted.agent_leg else new_channel_id("agent")
        leg = AgentLeg(facts.agent_id, agent.endpoint, channel_id, time.monotonic())
        leg.in_stasis = leg.dialled = True
        leg.ended = adopted.agent_leg is None
        if adopted.agent_leg is not None:
            self.session.watch(leg.channel_id)
        if self.record is not None:
            stored = adopted.stored.leg_by_channel.get(leg.channel_id) if adopted.stored else None
            leg.cdr_leg = self.record.leg_adopted(
                facts.agent_id,
                agent.endpoint,
                leg.channel_id,
                adopted.answered_at,
                seq=stored["seq"] if stored else None,
                rang_at=stored["rang_at"] if stored else None,
            )
        talking_for = facts.talking_for(time.time())
        self.service.agent_on_adopted_call(
            self.call_id,
            facts.agent_id,
            self.queue_id,
            talking_for=talking_for * self.service.speed,
            waited=facts.waited,
        )
        self.session.watch_bridge(adopted.bridge_id)
        self.bridges_made.append(adopted.bridge_id)
        talk = _Talk(
            leg=leg,
            bridge=adopted.bridge_id,
            answered_at=time.monotonic() - talking_for,
            wait_seconds=facts.waited,
            answered_wall=facts.answered_at,
        )
        self._log("agent=%s conversation adopted after %.1fs", facts.agent_id, talking_for)
        try:
            result = await self._talk(talk, adopted=True)
        finally:
            await self._clean_up()
        assert result is not None  # an adopted talk is bridged: never back to the queue
        return result

    async def _talk(self, talk: _Talk, *, adopted: bool = False) -> QueueResult | None:
        """Until one side hangs up; then the other side is hung up and the bridge deleted.

        None when the agent hung up before the bridge was made: the caller, who never heard
        them, goes back to the queue. ``adopted``: the bridge was made by an earlier worker."""
        leg = talk.leg
        ended_by: Literal["caller", "agent"] = "agent"
        bridged = False
        try:
            # Without a bridge, only the hang-up of one side can still come: wait for it a
            # little, never for ever.
            bridged = True if adopted else await self._bridge(talk)
            patience = None if bridged else BROKEN_BRIDGE_PATIENCE
            while not leg.ended:
                event = await self.session.next_event(timeout=patience)
                if event is None:
                    if patience is None:
                        continue
                    break
                if not isinstance(event, AriEvent):
                    continue
                if isinstance(event, StasisEnd) and event.channel.id == self.caller:
                    ended_by = "caller"
                    break
                if leg.channel_id in event.channel_ids and isinstance(
                    event, ChannelHangupRequest | StasisEnd | ChannelDestroyed
                ):
                    if isinstance(event, ChannelHangupRequest | ChannelDestroyed) and event.cause:
                        leg.hangup_cause = event.cause
                    # The agent's side is hanging up already: Asterisk ends the leg itself.
                    leg.ended = True
                    break
        finally:
            talk_seconds = (time.monotonic() - talk.answered_at) * self.service.speed
            await self._hang_up_leg(leg)
            requeue = not bridged and ended_by == "agent" and not self.session.caller_left
            if ended_by == "agent" and not requeue:
                with contextlib.suppress(AriRequestError):
                    await self.ari.hangup(self.caller)
            await self._destroy_bridge(talk.bridge)
            if self.record is not None and leg.cdr_leg is not None:
                self.record.leg_ended(leg.cdr_leg, None, cause=leg.hangup_cause)
            self.service.call_finished(leg.agent_id)
            self._debug(
                "agent=%s call ended by the %s after %.1fs", leg.agent_id, ended_by, talk_seconds
            )
        if requeue:
            return None
        return QueueResult(
            outcome="answered",
            queue_id=self.queue_id,
            wait_seconds=round(talk.wait_seconds, 3),
            agent_id=leg.agent_id,
            talk_seconds=round(talk_seconds, 3),
            ended_by=ended_by,
            priority=self.priority,
        )

    # --- cleaning up -------------------------------------------------------------------------

    async def _hang_up_leg(self, leg: AgentLeg) -> None:
        if leg.ended:
            return
        leg.ended = True
        try:
            await self.ari.hangup(leg.channel_id)
        except AriRequestError as exc:
            # 404: it was already gone (hung up by the phone at the same moment).
            self._log("agent=%s leg %s hang-up: %s", leg.agent_id, leg.channel_id, exc)

    async def _destroy_bridge(self, bridge: BridgeId) -> None:
        if bridge not in self.bridges_made:
            return
        self.bridges_made.remove(bridge)
        try:
            await self.ari.destroy_bridge(bridge)
        except AriRequestError as exc:
            self._log("bridge %s delete: %s", bridge, exc)
        self.session.unwatch_bridge(bridge)

    async def _clean_up(self) -> None:
        """Whatever path we leave by (caller gone, cancelled, an ARI error): no agent leg
        stays Down or ringing, no bridge stays, the queue forgets the caller."""
        legs = list(self.legs.values())
        self.legs.clear()
        for leg in legs:
            await self._hang_up_leg(leg)
            if self.record is not None and leg.cdr_leg is not None:
                self.record.leg_ended(leg.cdr_leg, "cancelled", cause=leg.hangup_cause)
        # Frees the agents still offered this caller, without counting a no-answer; a caller
        # still listed here hung up (or the flow was cancelled) while waiting.
        self.service.leave_queue(self.call_id, "abandoned")
        for bridge in list(self.bridges_made):
            await self._destroy_bridge(bridge)


def _describe(target: OverflowTarget) -> str:
    if target.queue:
        return f"queue:{target.queue}"
    if target.voicemail:
        return f"voicemail:{target.voicemail}"
    if target.callback:
        return "callback"
    return "hangup"
