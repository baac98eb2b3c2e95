"""The IVR's ARI driver: session events in, machine decisions out as ARI requests. Nothing else.

``run_ivr(session, ...)`` runs in the call's own task (the worker's flow task) and returns where
the caller goes next (an ``IvrOutcome``); the session's ``CallerContext`` holds the path, the
digits and the variables by then. Timers are deadlines on the event loop's clock, checked
between events, so no task exists per timer; each lookup runs in a task the session owns.

Asterisk facts this relies on (see /work/shared/asterisk/README.md):

- ``play`` has no barge-in option: to let a digit cut a prompt we ``DELETE /playbacks/{id}``;
  a 404 means it had already ended. We choose the playback id, so the events of a playback
  that ends at once (a missing sound file: PlaybackStarted + PlaybackFinished "failed" right
  after the 201) find their prompt.
- A caller who hangs up in no bridge sends ChannelHangupRequest then StasisEnd; either ends
  the IVR (``CallerHungUp`` saying at which node).
- Events sent while our WebSocket was down are lost. After a reconnect (the ``Reconnected``
  snapshot in the call's inbox) each prompt we still think is playing is asked for
  (``GET /playbacks/{id}``): a 404 means its PlaybackFinished fell in the gap, so the prompt is
  finished here and the machine starts its digit timer (or goes on) instead of waiting in
  silence for an event that will never come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from callcenter.asterisk.ari import AriRequestError
from callcenter.asterisk.events import (
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    Reconnected,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
)
from callcenter.asterisk.ids import PlaybackId, RecordingName, new_playback_id
from callcenter.call.messages import CallMessage, InboxItem
from callcenter.call.session import CallEnded, CallSession
from callcenter.clock import Clock
from callcenter.config import BusinessHours, IvrSettings
from callcenter.ivr.lookups import LookupFailedError, LookupRegistry
from callcenter.ivr.machine import (
    CallerHungUp,
    CancelLookup,
    CancelTimer,
    Decision,
    Digit,
    Finish,
    Hangup,
    HungUp,
    IvrEvent,
    IvrMachine,
    IvrOutcome,
    LookupAnswered,
    LookupFailed,
    PlayPrompts,
    PromptFinished,
    QueueRequest,
    RecordingEnded,
    RunLookup,
    Started,
    StartRecording,
    StartTimer,
    StopPrompt,
    StopRecording,
    TimerExpired,
    Transfer,
    Voicemail,
)

__all__ = ["IvrDriver", "LookupDone", "describe_outcome", "run_ivr"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupDone(CallMessage):
    """A lookup task's result, posted to the call's inbox to keep one queue."""

    result: LookupAnswered | LookupFailed


def describe_outcome(outcome: IvrOutcome) -> str:
    """A short text for the CDR: ``queue:sales``, ``transfer:2001``, ``caller-hung-up:main``."""
    match outcome:
        case QueueRequest(queue_id=queue_id):
            return f"queue:{queue_id}"
        case Transfer(extension=extension):
            return f"transfer:{extension}"
        case Voicemail(box=box):
            return f"voicemail:{box}"
        case Hangup():
            return "hangup"
        case CallerHungUp(at_node=node, stage=stage):
            return f"caller-hung-up:{node}:{stage}"


async def run_ivr(
    session: CallSession,
    ivr: IvrSettings,
    hours: Mapping[str, BusinessHours],
    lookups: LookupRegistry,
    clock: Clock,
    default_timezone: str,
    *,
    speed: float = 1.0,
) -> IvrOutcome:
    """Answer the call, walk it through the menus of its dialled number, say where it goes.

    ``speed`` divides every IVR time-out (the simulated PBX's speed factor in tests and demos).
    """
    driver = IvrDriver(session, ivr, hours, lookups, clock, default_timezone, speed=speed)
    return await driver.run()


class IvrDriver:
    """One call's IVR: feeds the machine, carries out its decisions on ARI."""

    def __init__(
        self,
        session: CallSession,
        ivr: IvrSettings,
        hours: Mapping[str, BusinessHours],
        lookups: LookupRegistry,
        clock: Clock,
        default_timezone: str,
        *,
        speed: float = 1.0,
        entry_menu: str | None = None,
    ) -> None:
        self.session = session
        self.ari = session.ari
        self.channel = session.caller_channel_id
        self.lookups = lookups
        self.clock = clock
        self.speed = speed
        dialled = session.context.dialled
        self.entry_menu = entry_menu or ivr.numbers.get(dialled) or _first_menu(ivr)
        if entry_menu is None and dialled not in ivr.numbers:
            log.warning(
                "call=%s dialled %r is not in ivr.numbers: starting at %s",
                session.call_id,
                dialled,
                self.entry_menu,
            )
        self.machine = IvrMachine(
            ivr,
            self.entry_menu,
            hours,
            default_timezone,
            call_id=session.call_id,
            context=session.context,
        )
        self._loop = asyncio.get_running_loop()
        self._timers: dict[int, float] = {}  # token -> loop-time deadline
        self._playbacks: dict[PlaybackId, int] = {}  # ours still playing -> prompt id
        self._prompt_playback: dict[int, PlaybackId] = {}
        self._lookup_tasks: dict[int, asyncio.Task[None]] = {}
        self._internal: deque[IvrEvent] = deque()
        self.decisions = 0

    async def run(self) -> IvrOutcome:
        """Run the IVR to its end; the session's context is filled on the way."""
        log.debug("call=%s ivr starts at %s", self.session.call_id, self.entry_menu)
        try:
            if not await self._answer():
                self._internal.append(HungUp())
            self._internal.appendleft(Started())
            while not self.machine.finished:
                await self._feed_internal()
                if self.machine.finished:
                    break
                event = await self._next_event()
                if event is None:
                    self._fire_due_timers()
                    continue
                if isinstance(event, Reconnected):
                    await self._after_reconnect()
                    continue
                ivr_event = self._translate(event)
                if ivr_event is not None:
                    await self._feed(ivr_event)
                self._fire_due_timers()
        finally:
            self._cancel_lookups()
        outcome = self.machine.outcome
        assert outcome is not None
        self._record_outcome(outcome)
        log.debug("call=%s ivr done: %s", self.session.call_id, describe_outcome(outcome))
        return outcome

    # --- events in ---------------------------------------------------------------------------

    async def _answer(self) -> bool:
        # Not awaited here: a caller whose first node sends them straight to a queue has the
        # agent's phone ringing while Asterisk answers; prompts await the answer (_play).
        self.session.answer_soon()
        return True

    async def _next_event(self) -> InboxItem | None:
        timeout = None
        if self._timers:
            timeout = max(0.0, min(self._timers.values()) - self._loop.time())
        return await self.session.next_event(timeout)

    def _translate(self, event: InboxItem) -> IvrEvent | None:
        match event:
            case ChannelDtmfReceived(digit=digit) if event.channel_id == self.channel:
                return Digit(digit)
            case PlaybackFinished(playback_id=playback_id):
                prompt = self._playbacks.pop(playback_id, None)
                if prompt is None:
                    return None
                self._prompt_playback.pop(prompt, None)
                return PromptFinished(prompt)
            case ChannelHangupRequest() | StasisEnd() if event.channel_id == self.channel:
                return HungUp()
            case RecordingFinished(name=name, state=state):
                return RecordingEnded(name, ok=state == "done")
            case RecordingFailed(name=name):
                return RecordingEnded(name, ok=False)
            case LookupDone(result=result):
                return result
        return None

    async def _after_reconnect(self) -> None:
        """Prompts that ended while the WebSocket was down are finished now (see above)."""
        for playback, prompt in list(self._playbacks.items()):
            try:
                state = await self.ari.playback_state(playback)
            except AriRequestError as exc:
                log.info("call=%s playback %s unknown: %s", self.session.call_id, playback, exc)
                continue
            if state is None and self._playbacks.pop(playback, None) is not None:
                log.info(
                    "call=%s prompt %s ended while ARI was away", self.session.call_id, playback
                )
                self._prompt_playback.pop(prompt, None)
                self._internal.append(PromptFinished(prompt))

    def _fire_due_timers(self) -> None:
        now = self._loop.time()
        for token, deadline in sorted(self._timers.items(), key=lambda item: item[1]):
            if deadline <= now:
                del self._timers[token]
                self._internal.append(TimerExpired(token))

    async def _feed_internal(self) -> None:
        while self._internal and not self.machine.finished:
            await self._feed(self._internal.popleft())

    async def _feed(self, event: IvrEvent) -> None:
        decisions = self.machine.handle(event, self.clock.now())
        for decision in decisions:
            await self._carry_out(decision)

    # --- decisions out -----------------------------------------------------------------------

    async def _carry_out(self, decision: Decision) -> None:
        self.decisions += 1
        match decision:
            case PlayPrompts(prompt_id=prompt_id, media=media):
                await self._play(prompt_id, media)
            case StopPrompt(prompt_id=prompt_id):
                await self._stop(prompt_id)
            case StartTimer(token=token, seconds=seconds, caller_time=caller_time):
                scale = self.speed if caller_time else 1.0
                self._timers[token] = self._loop.time() + seconds / scale
            case CancelTimer(token=token):
                self._timers.pop(token, None)
            case RunLookup(token=token, lookup=name, value=value):
                self._start_lookup(token, name, value)
            case CancelLookup(token=token):
                task = self._lookup_tasks.pop(token, None)
                if task is not None:
                    task.cancel()
            case StartRecording():
                await self._record(decision)
            case StopRecording(name=name):
                with contextlib.suppress(AriRequestError):
                    await self.ari.stop_recording(RecordingName(name))
            case Finish():
                pass

    async def _play(self, prompt_id: int, media: tuple[str, ...]) -> None:
        # Our own playback id is registered before the POST: its events may beat the reply.
        playback = new_playback_id()
        self._playbacks[playback] = prompt_id
        self._prompt_playback[prompt_id] = playback
        try:
            await self.session.answered()  # False: gone; the play's 404 says so below
            await self.ari.play(self.channel, list(media), playback_id=playback)
        except AriRequestError as exc:
            # The channel is gone (its StasisEnd follows) or Asterisk refused: do not wait for
            # a playback that will never finish.
            log.warning("call=%s play %s failed: %s", self.session.call_id, media, exc)
            self._playbacks.pop(playback, None)
            self._prompt_playback.pop(prompt_id, None)
            self._internal.append(PromptFinished(prompt_id))

    async def _stop(self, prompt_id: int) -> None:
        playback = self._prompt_playback.pop(prompt_id, None)
        if playback is None:
            return
        self._playbacks.pop(playback, None)
        try:
            await self.ari.stop_playback(playback)  # False: it had just ended (404)
        except AriRequestError as exc:
            log.info("call=%s stopping playback %s: %s", self.session.call_id, playback, exc)

    def _start_lookup(self, token: int, name: str, value: str) -> None:
        lookup = self.lookups.get(name)
        if lookup is None:
            self._internal.append(LookupFailed(token, "unknown-lookup"))
            return
        call_id = self.session.call_id
        inbox = self.session.inbox

        async def ask() -> None:
            try:
                answer = await lookup.lookup(value)
                result: LookupAnswered | LookupFailed = LookupAnswered(token, answer.value)
            except LookupFailedError as exc:
                log.warning("call=%s lookup %s failed: %s", call_id, name, exc)
                result = LookupFailed(token, exc.reason)
            except Exception as exc:  # a plug-in lookup's own bug must not end the call
                log.exception("call=%s lookup %s raised", call_id, name)
                result = LookupFailed(token, f"error:{type(exc).__name__}")
            inbox.put_nowait(LookupDone(result=result))

        try:
            task = self.session.spawn(ask(), name=f"lookup-{call_id}-{name}")
        except CallEnded:
            self._internal.append(LookupFailed(token, "caller-left"))
            return
        self._lookup_tasks[token] = task
        task.add_done_callback(lambda _task: self._lookup_tasks.pop(token, None))

    def _cancel_lookups(self) -> None:
        for task in self._lookup_tasks.values():
            task.cancel()
        self._lookup_tasks.clear()

    async def _record(self, decision: StartRecording) -> None:
        try:
            await self.session.answered()
            await self.ari.record_channel(
                self.channel,
                decision.name,
                "wav",
                if_exists="overwrite",
                beep=True,
                max_duration_seconds=decision.max_seconds,
                max_silence_seconds=decision.max_silence_seconds,
                terminate_on=decision.terminate_on,
            )
        except AriRequestError as exc:
            log.warning("call=%s recording %s failed: %s", self.session.call_id, decision.name, exc)
            self._internal.append(RecordingEnded(decision.name, ok=False))

    # --- the end -----------------------------------------------------------------------------

    def _record_outcome(self, outcome: IvrOutcome) -> None:
        context = self.session.context
        context.variables["ivr_outcome"] = describe_outcome(outcome)
        if isinstance(outcome, QueueRequest):
            context.queue = outcome.queue_id


def _first_menu(ivr: IvrSettings) -> str:
    """Entry menu for a number the IVR does not list: the first number's menu."""
    return next(iter(ivr.numbers.values()), next(iter(ivr.menus)))
