"""``InboundCallFlow``: the whole life of an inbound call, IVR -> queue -> agent -> the end.

The worker runs it for every new caller. It

1. runs the IVR (:func:`callcenter.ivr.driver.run_ivr`), which fills ``session.context``
   (skipped for a call a restarted worker resumes, see :func:`resume_orphan_calls`:
   ``session.resume`` is then the :class:`~callcenter.cdr.queries.WaitingCall` it left, and
   the caller goes back to its queue at its old place, or the
   :class:`~callcenter.routing.adoption.AdoptedTalk` of a conversation still going on, which
   the queue driver carries to its end);
2. for a queue request, runs :class:`~callcenter.routing.driver.QueueCall` (wait, ring, talk),
   following overflows to other queues; voicemail, callback and hang-up targets end here (a
   voicemail message is recorded here and stored by the recorder whenever Asterisk says it
   finished, see :mod:`callcenter.voicemail`);
3. keeps a :class:`~callcenter.cdr.record.CallRecordBuilder` up to date and hands it to the CDR
   writer when the call is over (``cdr.submit``; the writer batches and spools).

``build_inbound(config, worker)`` wires the ACD service and this flow into a ``Worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from callcenter.asterisk.ari import AriRequestError
from callcenter.asterisk.events import (
    PlaybackFinished,
    Reconnected,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
)
from callcenter.asterisk.ids import CallId, new_playback_id
from callcenter.call.messages import InboxItem
from callcenter.call.session import CallEnded, CallSession
from callcenter.cdr.queries import WaitingCall, stored_call, waiting_call
from callcenter.cdr.record import CallRecordBuilder
from callcenter.clock import Clock, SystemClock
from callcenter.config import CallCenterConfig, Mailbox, OverflowTarget, SkillRequirement
from callcenter.hours import is_open
from callcenter.ivr.driver import run_ivr
from callcenter.ivr.lookups import LookupRegistry
from callcenter.ivr.machine import (
    CallerHungUp,
    Hangup,
    IvrOutcome,
    QueueRequest,
    Transfer,
    Voicemail,
)
from callcenter.recording.policy import policy_for_queue
from callcenter.routing.adoption import AdoptedTalk, live_recording_of, parse_talk_bridge
from callcenter.routing.driver import AGENT_LEG_ARG, QueueCall, QueueResult
from callcenter.routing.endpoints import AgentPhones
from callcenter.routing.service import AcdService
from callcenter.voicemail.messages import LeftMessage, message_name, voicemail_policy
from callcenter.worker.app import OrphanCaller, ResumedCall

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callcenter.recording.recorder import Recorder
    from callcenter.voicemail.service import VoicemailService
    from callcenter.worker.app import Worker

log = logging.getLogger("callcenter.call")

IvrRunner = Callable[[CallSession], Awaitable[IvrOutcome]]

CALLBACK_CONFIRMATION = "sound:queue-thankyou"
VOICEMAIL_GREETING = Mailbox.model_fields["greeting"].default
"""A box's greeting unless it names its own."""
MAX_OVERFLOW_HOPS = 5
"""Overflow chains longer than this end (a loop of queues would keep a caller for ever)."""


class CdrSink(Protocol):
    """What the flow needs from ``callcenter.cdr.writer.CdrWriter``."""

    def submit(self, record: CallRecordBuilder) -> None: ...


@dataclass
class InboundCallFlow:
    """The CallFlow for inbound calls; see the module docstring."""

    config: CallCenterConfig
    service: AcdService
    ivr: IvrRunner | None = None
    cdr: CdrSink | None = None
    worker_id: str = "worker"
    recorder: Recorder | None = None
    clock: Clock = field(default_factory=SystemClock)
    """The PBX's clock: queue opening hours and every time of the call records."""
    lookups: LookupRegistry | None = None
    """The IVR's lookups when the flow builds its own IVR runner (closed by ``close``)."""
    phones: AgentPhones | None = None
    """The agents' phones as Asterisk sees them (set by ``build_inbound``; closed by
    ``close``)."""
    voicemail: VoicemailService | None = None
    """Turns a message the recorder stored into a ``voicemail_messages`` row, a webhook and
    e-mails (without it, or without a recorder, messages stay in Asterisk's spool)."""

    def __post_init__(self) -> None:
        if self.ivr is None:
            # One runner (and one set of lookup connections) for every call, not one per call.
            self.lookups = LookupRegistry.from_config(self.config.ivr.lookups)
            self.ivr = ivr_runner(self.config, lookups=self.lookups, speed=self.service.speed)

    async def close(self) -> None:
        """Close what the flow opened (the IVR's lookups, the phones' watch) at shutdown."""
        if self.lookups is not None:
            await self.lookups.close()
        if self.phones is not None:
            await self.phones.close()

    async def run(self, session: CallSession) -> None:
        """IVR, queue(s), talk; the CDR is handed over whatever happens."""
        waiting = session.resume if isinstance(session.resume, WaitingCall) else None
        talk = session.resume if isinstance(session.resume, AdoptedTalk) else None
        if waiting is not None:
            # The same CDR row carries on: IVR path, digits and variables as stored.
            record = CallRecordBuilder.resume(
                waiting.call,
                legs=waiting.legs,
                events=waiting.events,
                worker_id=self.worker_id,
                clock=self.clock.now,
            )
            _restore_context(session, record)
        elif talk is not None:
            record = self._adopted_record(session, talk)
            _restore_context(session, record)
        else:
            # Every time of the record is on the PBX's clock (simulated in the demo), so its
            # wait and talk count the seconds the recordings and the live pages count.
            record = self._new_record(session, session.call_id, self.clock.now())
        if self.cdr is not None:
            # A start row lets the writer's crash recovery finish a call this worker lost.
            self.cdr.submit(record)
        disposition: str | None = None
        side: str | None = None
        try:
            if waiting is not None:
                disposition, side = await self._resume_queue(session, record, waiting)
            elif talk is not None:
                disposition, side = await self._resume_talk(session, record, talk)
            else:
                outcome = await self._run_ivr(session)
                _copy_context(session, record)
                disposition, side = await self._after_ivr(session, record, outcome)
        except CallEnded:
            side = "caller"
        finally:
            if session.caller_left and side is None:
                side = "caller"
            record.ended(disposition=disposition, side=side)
            if self.cdr is not None:
                self.cdr.submit(record)

    async def _run_ivr(self, session: CallSession) -> IvrOutcome:
        assert self.ivr is not None  # set in __post_init__
        return await self.ivr(session)

    async def _after_ivr(
        self, session: CallSession, record: CallRecordBuilder, outcome: IvrOutcome
    ) -> tuple[str | None, str | None]:
        """Where the caller goes after the IVR; returns (disposition, who hung up)."""
        if isinstance(outcome, CallerHungUp):
            return "abandoned_ivr", "caller"
        if isinstance(outcome, Hangup):
            await _hang_up(session)
            return None, "system"
        if isinstance(outcome, Voicemail):
            await self._leave_voicemail(session, record, outcome.box, None)
            return "voicemail", None
        if isinstance(outcome, Transfer):
            record.transferred(outcome.extension)
            with contextlib.suppress(AriRequestError):
                await session.ari.continue_in_dialplan(
                    session.caller_channel_id, extension=outcome.extension, priority=1
                )
            return None, "system"
        return await self._queue(session, record, outcome)

    async def _resume_queue(
        self, session: CallSession, record: CallRecordBuilder, waiting: WaitingCall
    ) -> tuple[str | None, str | None]:
        """A caller the previous run of this worker left waiting: back in their queue, at
        their place (priority, then the time they first joined), without the IVR."""
        session.log.info(
            "call=%s resumed in queue %s (waiting since %s)",
            session.call_id,
            waiting.queue_id,
            waiting.entered_at.isoformat(),
        )
        extra = tuple(
            SkillRequirement(skill=skill, min_level=level) for skill, level in waiting.extra_skills
        )
        request = QueueRequest(waiting.queue_id, waiting.priority, extra)
        return await self._queue(session, record, request, entered_at=waiting.entered_at)

    def _new_record(
        self, session: CallSession, call_id: str, started_at: dt.datetime | float
    ) -> CallRecordBuilder:
        caller = session.caller
        return CallRecordBuilder(
            call_id,
            started_at=started_at,
            caller_number=caller.caller_number or None,
            caller_name=caller.caller_name or None,
            dialled_number=caller.exten or None,
            worker_id=self.worker_id,
            channel_uniqueid=caller.id,
            linkedid=caller.id,
            clock=self.clock.now,
        )

    def _adopted_record(self, session: CallSession, talk: AdoptedTalk) -> CallRecordBuilder:
        """The CDR of a conversation adopted after a restart: the stored one carried on, or,
        when the database did not have it yet, one rebuilt from what the bridge says."""
        if talk.stored is not None:
            return CallRecordBuilder.resume(
                talk.stored.call,
                legs=talk.stored.legs,
                events=talk.stored.events,
                worker_id=self.worker_id,
                clock=self.clock.now,
            )
        facts, answered = talk.facts, talk.answered_at
        entered = answered - dt.timedelta(seconds=facts.waited / self.service.speed)
        record = self._new_record(session, facts.call_id, entered)
        record.queue_entered(facts.queue_id, at=entered, priority=facts.priority)
        record.queue_left("answered", at=answered)
        record.event("resumed", None, worker=self.worker_id)
        return record

    async def _resume_talk(
        self, session: CallSession, record: CallRecordBuilder, talk: AdoptedTalk
    ) -> tuple[str | None, str | None]:
        """A conversation the previous run of this worker left going: the recording (still
        running in Asterisk) is fetched when it finishes, the talk is carried to its end."""
        facts = talk.facts
        session.log.info(
            "call=%s adopted: talking to agent %s in queue %s since %s",
            session.call_id,
            facts.agent_id,
            facts.queue_id,
            talk.answered_at.isoformat(),
        )
        if talk.recording is not None and self.recorder is not None:
            self.recorder.track(
                talk.recording,
                facts.call_id,
                target="bridge",
                policy=policy_for_queue(self.config, facts.queue_id),
                started_at=talk.answered_at,
                agent_id=facts.agent_id,
                queue_id=facts.queue_id,
            )
            if record.recording_name is None:
                record.recording_started(talk.recording, talk.answered_at)
        result = await QueueCall(
            session,
            self.service,
            facts.queue_id,
            priority=facts.priority,
            record=record,
            recorder=self.recorder,
            cdr=self.cdr,
        ).carry_on_talk(talk)
        return await self._queue_ended(session, record, result)

    async def _queue(
        self,
        session: CallSession,
        record: CallRecordBuilder,
        request: QueueRequest,
        *,
        entered_at: dt.datetime | None = None,
    ) -> tuple[str | None, str | None]:
        queue_id, priority = request.queue_id, request.priority
        extra: tuple[SkillRequirement, ...] = tuple(request.extra_skills)
        for _ in range(MAX_OVERFLOW_HOPS):
            closed = self._closed_target(queue_id)
            if closed is not None:
                record.queue_entered(queue_id, priority=priority)
                record.queue_left("overflowed", to=f"closed:{queue_id}")
                if closed.queue:
                    queue_id = closed.queue
                    continue
                return await self._queue_ended(
                    session,
                    record,
                    QueueResult("overflowed", queue_id, 0.0, target=closed, priority=priority),
                )
            result = await QueueCall(
                session,
                self.service,
                queue_id,
                priority=priority,
                extra_skills=extra,
                record=record,
                recorder=self.recorder,
                cdr=self.cdr,
                entered_at=entered_at,
            ).run()
            entered_at = None  # an overflow queue is joined afresh
            if result.outcome == "overflowed" and result.target and result.target.queue:
                queue_id, priority = result.target.queue, result.priority
                continue
            return await self._queue_ended(session, record, result)
        await _hang_up(session)
        return "overflowed", "system"

    def _closed_target(self, queue_id: str) -> OverflowTarget | None:
        """Where callers go while the queue is closed (its ``hours``), else None."""
        queue = self.config.queues[queue_id]
        if not queue.hours or queue.closed is None:
            return None
        hours = self.config.business_hours[queue.hours]
        if is_open(hours, self.clock.now(), self.config.timezone):
            return None
        return queue.closed

    async def _leave_voicemail(
        self,
        session: CallSession,
        record: CallRecordBuilder,
        box_id: str,
        queue_id: str | None,
    ) -> None:
        """The box's greeting, then record the caller into ``voicemail-<box>-<call id>``
        until they hang up, press #, stay silent ``max_silence_seconds`` or talk
        ``max_seconds``. The recorder stores the message when Asterisk reports it finished,
        however late (after the caller's StasisEnd): the call does not wait for that."""
        box = self.config.mailbox(box_id)
        await _play_to_end(session, box.greeting)
        if session.caller_left or not await session.answered():
            return
        caller = session.caller
        left = LeftMessage(
            name=message_name(box_id, session.call_id),
            call_id=session.call_id,
            box_id=box_id,
            queue_id=queue_id,
            caller_number=caller.caller_number or None,
            caller_name=caller.caller_name or None,
            left_at=dt.datetime.now(dt.UTC),
        )
        if self.recorder is not None:
            # Tracked before the request: its RecordingFinished may come at any moment after.
            self.recorder.track(
                left.name,
                session.call_id,
                target="channel",
                policy=voicemail_policy(self.config, box_id),
                started_at=left.left_at,
                queue_id=box.queue or queue_id,
                follow_up=self.voicemail.follow_up(left) if self.voicemail else None,
            )
        try:
            await session.ari.record_channel(
                session.caller_channel_id,
                left.name,
                "wav",
                beep=True,
                max_duration_seconds=box.max_seconds,
                max_silence_seconds=box.max_silence_seconds or None,
                terminate_on="#",
            )
        except AriRequestError as exc:
            session.log.warning("call=%s voicemail recording failed: %s", session.call_id, exc)
            if self.recorder is not None:
                self.recorder.give_up(left.name)
            await _hang_up(session)
            return
        record.recording_started(left.name, left.left_at)
        while True:
            event = await session.next_event(box.max_seconds + 10)
            if event is None or _caller_gone(session, event):
                break
            if isinstance(event, RecordingFinished | RecordingFailed) and event.name == left.name:
                break
        await _hang_up(session)

    async def _queue_ended(
        self, session: CallSession, record: CallRecordBuilder, result: QueueResult
    ) -> tuple[str | None, str | None]:
        if result.outcome == "answered":
            return "answered", result.ended_by
        if result.outcome == "abandoned":
            return "abandoned_queue", "caller"
        if result.outcome == "callback":
            await _say_and_hang_up(session, CALLBACK_CONFIRMATION)
            return "callback", "system"
        target = result.target or OverflowTarget(hangup=True)
        if target.voicemail:
            await self._leave_voicemail(session, record, target.voicemail, result.queue_id)
            return "voicemail", None
        if target.callback:
            await _say_and_hang_up(session, target.prompt or CALLBACK_CONFIRMATION)
            return "callback", "system"
        await _say_and_hang_up(session, target.prompt)
        return "overflowed", "system"


def _copy_context(session: CallSession, record: CallRecordBuilder) -> None:
    context = session.context
    for node_id, at in context.ivr_path:
        record.ivr_entered(node_id, at)
    for digit in context.digits:
        record.digits.append(digit)
    for name, value in context.variables.items():
        record.variable(name, value)


def _restore_context(session: CallSession, record: CallRecordBuilder) -> None:
    """A resumed call's context as its previous run left it (times of the path are lost)."""
    context, started = session.context, record.started_at
    at = started.timestamp() if isinstance(started, dt.datetime) else float(started)
    context.ivr_path = [(node_id, at) for node_id in record.ivr_path]
    context.digits = list(record.digits)
    context.variables = dict(record.variables)


async def _hang_up(session: CallSession) -> None:
    if not session.caller_left:
        with contextlib.suppress(AriRequestError):
            await session.ari.hangup(session.caller_channel_id)


async def _play_to_end(session: CallSession, media: str, within: float = 30.0) -> None:
    """Play one prompt and wait for its end (or the caller leaving)."""
    if session.caller_left or not await session.answered():
        return
    playback = new_playback_id()
    try:
        await session.ari.play(session.caller_channel_id, media, playback_id=playback)
    except AriRequestError:
        return
    while True:
        event = await session.next_event(within)
        if event is None or _caller_gone(session, event):
            return
        if isinstance(event, PlaybackFinished) and event.playback_id == playback:
            return
        if isinstance(event, Reconnected):
            # Its PlaybackFinished may have been lost while the WebSocket was down.
            with contextlib.suppress(AriRequestError):
                if await session.ari.playback_state(playback) is None:
                    return


async def _say_and_hang_up(session: CallSession, media: str | None) -> None:
    if media:
        await _play_to_end(session, media)
    await _hang_up(session)


def _caller_gone(session: CallSession, event: InboxItem) -> bool:
    return isinstance(event, StasisEnd) and event.channel.id == session.caller_channel_id


# --- wiring into a worker ---------------------------------------------------------------------


def ivr_runner(
    config: CallCenterConfig,
    *,
    lookups: LookupRegistry | None = None,
    clock: Clock | None = None,
    speed: float = 1.0,
) -> IvrRunner:
    """The configured IVR (menus, hours, lookups) as the flow's first step."""
    registry = lookups or LookupRegistry.from_config(config.ivr.lookups)
    wall_clock = clock or SystemClock()

    async def run(session: CallSession) -> IvrOutcome:
        return await run_ivr(
            session,
            config.ivr,
            config.business_hours,
            registry,
            wall_clock,
            config.timezone,
            speed=speed,
        )

    return run


def watch_agent_phones(service: AcdService, worker: Worker) -> AgentPhones:
    """Follow the agents' phones (ARI endpoint state): an offline phone's agent is skipped by
    dispatch until it is back online (see :mod:`callcenter.routing.endpoints`)."""
    phones = AgentPhones(service, worker.ari)
    worker.add_event_listener(phones.on_event)
    worker.add_connect_listener(phones.connected)
    return phones


def resume_orphan_calls(
    worker: Worker,
    config: CallCenterConfig,
    worker_id: str,
    engine: Engine | None = None,
) -> None:
    """After a restart, carry on the calls this worker (same ``worker_id``) left in Asterisk:

    - a caller talking to an agent (both in a bridge our queue driver named, see
      :mod:`callcenter.routing.adoption`) keeps the conversation, its call id and its CDR;
    - with the database (``engine``), a caller whose call has an open queue entry keeps their
      place in the queue;
    - any other orphan caller starts again as a new call (the IVR).
    """

    async def find_call(orphan: OrphanCaller) -> ResumedCall | None:
        if orphan.bridge is not None:
            return await _adopt_talk(worker, config, worker_id, engine, orphan)
        if engine is None:
            return None
        found = await asyncio.to_thread(waiting_call, engine, worker_id, orphan.channel.id)
        if found is None:
            return None
        if found.queue_id not in config.queues:
            log.warning(
                "call=%s waited in queue %s, no longer configured: its caller starts again",
                found.call_id,
                found.queue_id,
            )
            return None
        return ResumedCall(CallId(found.call_id), found)

    worker.on_orphan_caller = find_call


async def _adopt_talk(
    worker: Worker,
    config: CallCenterConfig,
    worker_id: str,
    engine: Engine | None,
    orphan: OrphanCaller,
) -> ResumedCall | None:
    """The conversation a bridged orphan caller is in, if our queue driver made its bridge."""
    assert orphan.bridge is not None
    facts = parse_talk_bridge(orphan.bridge.name)
    if facts is None:
        return None
    if facts.queue_id not in config.queues or all(a.id != facts.agent_id for a in config.agents):
        log.warning(
            "call=%s talks to agent %s of queue %s, no longer configured: left alone",
            facts.call_id,
            facts.agent_id,
            facts.queue_id,
        )
        return None
    leg_args = (AGENT_LEG_ARG, facts.call_id)
    agent_leg = next(
        (p for p in orphan.partners if tuple(p.app_data.split(",")[1:3]) == leg_args),
        orphan.partners[0] if orphan.partners else None,
    )
    recording = await live_recording_of(worker.ari, facts.call_id, orphan.bridge.id)
    stored = None
    if engine is not None:
        try:
            stored = await asyncio.to_thread(stored_call, engine, worker_id, facts.call_id)
        except Exception:
            # Without it the CDR is rebuilt from the bridge's facts: the call goes on.
            log.exception("call=%s reading its stored record failed", facts.call_id)
    adopted = AdoptedTalk(facts, orphan.bridge, agent_leg, recording=recording, stored=stored)
    return ResumedCall(CallId(facts.call_id), adopted)


def build_inbound(
    config: CallCenterConfig,
    worker: Worker,
    *,
    service: AcdService | None = None,
    ivr: IvrRunner | None = None,
    cdr: CdrSink | None = None,
    recorder: Recorder | None = None,
    worker_id: str = "worker",
    voicemail: VoicemailService | None = None,
) -> tuple[InboundCallFlow, AcdService]:
    """The inbound flow as the worker's default flow, with its ACD service (start it; close
    the flow at shutdown)."""
    service = service or AcdService(config, worker_id=worker_id)
    flow = InboundCallFlow(
        config,
        service,
        ivr=ivr,
        cdr=cdr,
        worker_id=worker_id,
        recorder=recorder,
        voicemail=voicemail,
        clock=service.clock,  # one clock: the ACD's waits and the call records agree
    )
    worker.register_flow(flow)
    if recorder is not None:
        # Every event, before any call sees it: a RecordingFinished comes after its call's
        # channels are gone (Asterisk 22), often when no call owns its bridge any more.
        worker.add_event_listener(recorder.on_event)
    flow.phones = watch_agent_phones(service, worker)
    # Queue entries are saved only with a database: then waiting callers can be resumed too;
    # conversations are adopted from what Asterisk holds in any case.
    engine = service.engine if service.journal is not None else None
    resume_orphan_calls(worker, config, worker_id, engine)
    return flow, service
