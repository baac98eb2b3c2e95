"""``WorkerLiveView``: what the web pages need from the running worker (``LiveCallCenter``).

It reads the ACD service (agents, queues), the worker's call sessions (the caller's context:
IVR path, digits, variables) and uses the ARI client for supervision:

- ``listen`` (spy both ways), ``barge`` (spy both, whisper both: caller and agent hear the
  supervisor) snoop the caller's channel; ``whisper`` snoops the agent's channel with
  whisper ``out`` so only the agent hears the supervisor (on the caller's channel, ``out``
  would go to the caller).
- The snoop channel goes into a mixing bridge of its own; a channel to the supervisor's
  endpoint is created (claimed first: its StasisStart can come before the POST returns),
  dialled once it is in the app, and bridged when it answers.
- A real Asterisk ends a snoop channel with the channel it spies on (StasisEnd only). When the
  snoop or the supervisor's leg ends, the other is hung up and the bridge deleted (bridges
  outlive their channels).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from callcenter.asterisk.ari import AriConflict, AriRequestError
from callcenter.asterisk.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelStateChange,
    Dial,
    StasisEnd,
    StasisStart,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, new_bridge_id, new_channel_id
from callcenter.call.messages import InboxItem
from callcenter.errors import CallCenterError, ConflictError, NotFoundError
from callcenter.routing.model import AgentState
from callcenter.web.labels import duration_text

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient
    from callcenter.call.session import CallSession
    from callcenter.routing.service import AcdService
    from callcenter.worker.app import Worker

log = logging.getLogger("callcenter.web.live")

Mode = Literal["listen", "whisper", "barge"]
SNOOP_DIRECTIONS: dict[str, tuple[str, str]] = {
    "listen": ("both", "none"),
    "whisper": ("both", "out"),
    "barge": ("both", "both"),
}
"""Mode -> (spy, whisper) of ARI's snoop operation."""

SUPERVISOR_LEG_ARG = "leg"
"""First app argument of the supervisor's channel (in the worker's OWN_LEG_ARGS)."""
SNOOP_ARG = "snoop"
STASIS_START_TIMEOUT = 5.0
"""Real seconds for a created channel to enter the app."""
RING_TIMEOUT = 30
"""Seconds the supervisor's phone rings (Asterisk's dial timeout)."""
DIAL_CONFLICT_RETRIES = 3
SESSION_CHECK_SECONDS = 5.0
"""How often a supervision checks that its call still exists (events lost in an outage)."""
REQUEST_TIMEOUT = 10.0
REMEMBERED_CALLERS = 1000
"""Callers of recent answered calls kept for wrap-up (one entry per call)."""
"""Longest a page waits for the supervision to be set up."""
_CALL_STATES = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL})


def _answered(event: InboxItem, leg: ChannelId) -> bool:
    """The supervisor picked up: Dial ANSWER on their leg, or the leg going Up."""
    if isinstance(event, Dial):
        return event.peer_id == leg and event.dialstatus == "ANSWER"
    return isinstance(event, ChannelStateChange) and event.state == "Up"


class SupervisionError(CallCenterError):
    code = "supervision-failed"


@dataclass
class Supervision:
    """One supervisor listening to (whispering on, barging into) one call."""

    call_id: str
    mode: str
    endpoint: str
    target: ChannelId
    snoop: ChannelId
    leg: ChannelId
    bridge: BridgeId
    inbox: asyncio.Queue[InboxItem] = field(default_factory=asyncio.Queue)
    answered: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "mode": self.mode,
            "endpoint": self.endpoint,
            "snoop_channel": self.snoop,
            "supervisor_channel": self.leg,
            "bridge": self.bridge,
        }


class WorkerLiveView:
    """``LiveCallCenter`` over the worker, its ACD service and its ARI client."""

    def __init__(self, service: AcdService, worker: Worker, ari: AriClient | None = None) -> None:
        self.service = service
        self.worker = worker
        self.ari = ari or worker.ari
        self.supervisions: dict[ChannelId, Supervision] = {}
        """Live supervisions by their snoop channel."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._callers: dict[str, str | None] = {}
        """call id -> caller number of the latest calls answered by an agent."""
        self._stop_listening = worker.add_event_listener(self._remember_caller)
        self._last_call: dict[str, dict[str, Any]] = {}
        """agent id -> their call with its context, kept for wrap-up (the session is gone)."""

    # --- reading -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The service's status, with the field names the pages read, each queue's callers
        (caller, wait, priority) and each agent's call (caller, talk time, wrap-up left).
        Durations are PBX seconds, like the call records'."""
        status = self.service.status()
        dispatcher = self.service.dispatcher
        now = self.service.now()
        for queue in status["queues"]:
            queue["queue_id"] = queue["id"]
            queue["longest_wait"] = queue["longest_wait_seconds"]
            queue["callers"] = [
                {
                    "caller_number": self._caller_number(caller.call_id),
                    "wait_seconds": round(max(0.0, now - caller.entered_at), 1),
                    "priority": caller.priority,
                    "offered": offered,
                }
                for caller, offered in dispatcher.callers(queue["id"])
            ]
        for agent in status["agents"]:
            agent["agent_id"] = agent["id"]
            live = dispatcher.agent_status(agent["id"])
            # since 0: no change since the worker started (the state is the initial one).
            agent["since"] = duration_text(now - live.since) if live.since else ""
            if not live.since:
                agent["seconds_in_state"] = None
            if live.call_id is not None:
                agent["caller_number"] = self._caller_number(live.call_id, agent["id"])
            if live.state is AgentState.ON_CALL and live.answered_at is not None:
                agent["talk_seconds"] = round(max(0.0, now - live.answered_at), 1)
            if live.state is AgentState.WRAPUP and live.timer_until is not None:
                agent["wrapup_seconds_left"] = round(max(0.0, live.timer_until - now), 1)
        return status

    def _caller_number(self, call_id: str, agent_id: str | None = None) -> str | None:
        """Who is calling: from the call's session, or (wrap-up, the session is gone) as
        remembered during the call."""
        session = self.worker.sessions.get(call_id)
        if session is not None:
            return session.context.caller_number
        if call_id in self._callers:
            return self._callers[call_id]
        last = self._last_call.get(agent_id or "")
        if last is not None and last.get("call_id") == call_id:
            return str(last.get("caller_number") or "") or None
        return None

    def _remember_caller(self, event: AriEvent) -> None:
        """A channel entered a call's bridge (an agent joined): remember that call's caller,
        so the agent's wrap-up still says who it was once the call (its session) is gone."""
        if not isinstance(event, ChannelEnteredBridge):
            return
        for session in self.worker.sessions.values():
            if event.bridge_id in session.bridges:
                self._callers[session.call_id] = session.context.caller_number
                while len(self._callers) > REMEMBERED_CALLERS:
                    del self._callers[next(iter(self._callers))]  # the oldest first
                return

    def agent_call(self, agent_id: str) -> dict[str, Any] | None:
        """The agent's ringing or connected call with the caller's context (the last call
        through wrap-up), or None."""
        status = self.service.dispatcher.agent_status(agent_id)
        if status.state is AgentState.WRAPUP:
            return self._wrapup_call(agent_id, status.call_id)
        if status.state not in _CALL_STATES or status.call_id is None:
            return None
        session = self.worker.sessions.get(status.call_id)
        if session is None:
            return None
        call = self._describe(session, agent_id, status.state, status.queue_id)
        if status.state is AgentState.ON_CALL:
            self._last_call[agent_id] = {**call, "state": AgentState.WRAPUP.value}
        return call

    def _wrapup_call(self, agent_id: str, call_id: str | None) -> dict[str, Any] | None:
        last = self._last_call.get(agent_id)
        if last is not None and last["call_id"] == call_id:
            return last
        answered = self.service.agent_call(agent_id)
        if answered is None or answered.call_id != call_id:
            return None
        # No page asked during the call: what the service remembers is enough to dispose it.
        return {
            "call_id": answered.call_id,
            "state": AgentState.WRAPUP.value,
            "queue_id": answered.queue_id,
            "wait_seconds": round(answered.waited_seconds, 1),
            "caller_number": self._caller_number(answered.call_id) or "",
            "ivr_path": [],
            "digits": [],
            "variables": {},
        }

    def _waited(self, agent_id: str, call_id: str, state: AgentState) -> float | None:
        """PBX seconds the caller waited (so far, while the agent's phone rings)."""
        if state is AgentState.ON_CALL:
            answered = self.service.agent_call(agent_id)
            if answered is not None and answered.call_id == call_id:
                return answered.waited_seconds
            return None
        try:
            entered = self.service.dispatcher.waiting_caller(call_id).entered_at
        except CallCenterError:
            return None  # no longer in the queue (answered or gone a moment ago)
        return self.service.now() - entered

    def _describe(
        self, session: CallSession, agent_id: str, state: AgentState, queue_id: str | None
    ) -> dict[str, Any]:
        context = session.context
        wait = self._waited(agent_id, session.call_id, state)
        return {
            "call_id": session.call_id,
            "state": state.value,
            "caller_number": context.caller_number,
            "caller_name": context.caller_name,
            "dialled": context.dialled,
            "queue_id": context.queue or queue_id,
            "wait_seconds": round(wait, 1) if wait is not None else None,
            "ivr_path": [node for node, _ in context.ivr_path],
            "digits": list(context.digits),
            "variables": dict(context.variables),
            "started_at": session.started_at,
        }

    # --- agent control -----------------------------------------------------------------------

    async def login(self, agent_id: str) -> dict[str, Any]:
        return await self.service.login(agent_id)

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        return await self.service.logout(agent_id, reason)

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        return await self.service.pause(agent_id, reason)

    async def unpause(self, agent_id: str) -> dict[str, Any]:
        return await self.service.unpause(agent_id)

    # --- supervision -------------------------------------------------------------------------

    async def listen(self, call_id: str, endpoint: str, mode: str) -> dict[str, Any]:
        """Ring ``endpoint`` and bridge it to a snoop on the call (listen, whisper, barge)."""
        if mode not in SNOOP_DIRECTIONS:
            raise SupervisionError(f"unknown mode {mode!r}", mode=mode)
        session = self.worker.sessions.get(call_id)
        if session is None or session.caller_left:
            raise NotFoundError(f"no call {call_id!r} in progress", call_id=call_id)
        target = session.caller_channel_id
        if mode == "whisper":
            agent_leg = await self._agent_leg(session)
            if agent_leg is None:
                raise ConflictError("the call has no agent to whisper to yet", call_id=call_id)
            target = agent_leg
        spy, whisper = SNOOP_DIRECTIONS[mode]
        sup = Supervision(
            call_id=call_id,
            mode=mode,
            endpoint=endpoint,
            target=target,
            snoop=new_channel_id("snoop"),
            leg=new_channel_id("supervisor"),
            bridge=new_bridge_id("supervise"),
        )
        router = self.worker.router
        # Claim before creating: a StasisStart can arrive before the POST returns.
        router.claim(sup.snoop, sup.inbox)
        router.claim(sup.leg, sup.inbox)
        router.claim_bridge(sup.bridge, sup.inbox)
        self.supervisions[sup.snoop] = sup
        log.info("call=%s %s by %s: snooping on %s", call_id, mode, endpoint, target)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await self.ari.snoop(
                    target,
                    spy=spy,
                    whisper=whisper,
                    app_args=[SNOOP_ARG, call_id],
                    snoop_id=sup.snoop,
                )
                await self.ari.create_bridge("mixing", sup.bridge)
                await self.ari.add_to_bridge(sup.bridge, sup.snoop)
                await self.ari.create_channel(
                    endpoint,
                    app_args=[SUPERVISOR_LEG_ARG, "supervisor", call_id],
                    caller_id=f'"{mode.capitalize()}" <{session.context.caller_number}>',
                    channel_id=sup.leg,
                )
        except (AriRequestError, TimeoutError) as exc:
            await self._clean_up(sup, f"set-up failed: {exc}")
            raise SupervisionError(
                f"cannot {mode} on call {call_id}: {exc}", call_id=call_id, endpoint=endpoint
            ) from exc
        task = asyncio.create_task(self._supervise(sup), name=f"supervise-{call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sup.as_dict()

    async def _agent_leg(self, session: CallSession) -> ChannelId | None:
        """The agent's channel: the other channel in the call's bridge."""
        for bridge in session.bridges:
            with contextlib.suppress(AriRequestError):
                snapshot = await self.ari.get_bridge(bridge)
                for channel in snapshot.channels:
                    if channel != session.caller_channel_id:
                        return channel
        return None

    async def _supervise(self, sup: Supervision) -> None:
        """Dial the supervisor when their channel is in the app, bridge them on answer, and
        end everything when the snoop (the call) or the supervisor's leg ends."""
        reason = "ended"
        try:
            reason = await self._follow(sup)
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        except AriRequestError as exc:
            reason = f"asterisk error: {exc}"
        finally:
            await self._clean_up(sup, reason)

    async def _follow(self, sup: Supervision) -> str:
        deadline: float | None = time.monotonic() + STASIS_START_TIMEOUT
        dialled = False
        while True:
            timeout = SESSION_CHECK_SECONDS
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    event = await sup.inbox.get()
            except TimeoutError:
                if deadline is not None:
                    return "the supervisor's channel never entered the app"
                if sup.call_id not in self.worker.sessions:
                    # The snoop's StasisEnd was lost (an ARI outage): the call is over anyway.
                    return "the call ended"
                continue
            if not isinstance(event, AriEvent):
                continue  # only Asterisk's events reach a supervision
            ids = event.channel_ids
            if isinstance(event, StasisEnd | ChannelDestroyed | ChannelHangupRequest):
                if sup.snoop in ids:
                    return "the call ended"
                if sup.leg in ids:
                    return "the supervisor hung up" if sup.answered else "the supervisor missed it"
            if sup.leg not in ids:
                continue
            if isinstance(event, StasisStart) and not dialled:
                deadline = None
                dialled = True
                await self._dial(sup)
            elif not sup.answered and _answered(event, sup.leg):
                sup.answered = True
                await self.ari.add_to_bridge(sup.bridge, sup.leg)
                log.info("call=%s %s: %s answered", sup.call_id, sup.mode, sup.endpoint)

    async def _dial(self, sup: Supervision) -> None:
        for attempt in range(DIAL_CONFLICT_RETRIES):
            try:
                await self.ari.dial(sup.leg, ring_timeout=RING_TIMEOUT)
                return
            except AriConflict:
                # 409 "Channel not in Stasis application": seen once right after create.
                await asyncio.sleep(0.01 * (attempt + 1))
        await self.ari.dial(sup.leg, ring_timeout=RING_TIMEOUT)

    async def _clean_up(self, sup: Supervision, reason: str) -> None:
        """Hang up the snoop and the supervisor's leg, delete the bridge, release the claims."""
        if sup.ended.is_set():
            return
        sup.end_reason = reason
        log.info("call=%s %s by %s over: %s", sup.call_id, sup.mode, sup.endpoint, reason)
        for channel in (sup.leg, sup.snoop):
            # 404: already gone (the caller hung up and took the snoop along).
            with contextlib.suppress(AriRequestError, TimeoutError):
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    await self.ari.hangup(channel)
        with contextlib.suppress(AriRequestError, TimeoutError):
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await self.ari.destroy_bridge(sup.bridge)
        router = self.worker.router
        for channel in (sup.leg, sup.snoop):
            if router.owner_of(channel) is sup.inbox:
                router.release(channel)
        router.release_bridge(sup.bridge)
        self.supervisions.pop(sup.snoop, None)
        sup.ended.set()

    async def close(self) -> None:
        """End every supervision (hang-ups, bridges deleted)."""
        self._stop_listening()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
