"""One inbound call while our app handles it: its events, its tasks, what we learnt about it.

A ``CallSession`` is made by the worker when a new call's StasisStart arrives. A ``CallFlow``
(the IVR, then the queue) runs with it::

    class MyFlow:
        async def run(self, session: CallSession) -> None:
            await session.ari.answer(session.caller_channel_id)
            event = await session.next_event(timeout=5.0)   # None after 5 s of silence

- ``next_event`` returns the call's events in order; after the caller's StasisEnd has been
  read it raises ``CallEnded`` so no flow can wait for ever on a caller who is gone. After an
  ARI reconnect a ``Reconnected`` snapshot arrives too (events of the outage are lost).
- ``watch(channel_id)`` / ``watch_bridge(bridge_id)`` route more channels (agent legs, snoop
  channels) and bridges into this call's inbox. Claim a channel *before* creating it
  (``ids.new_channel_id``): its StasisStart can arrive before ``create_channel`` returns.
- ``spawn(coro)`` starts a helper task owned by the session: all of them are cancelled when
  the caller's StasisEnd arrives or the session closes.
- ``context`` (``CallerContext``) is filled by the IVR and ACD drivers: caller id, dialled
  number, IVR path, digits, variables, queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from callcenter.asterisk.ari import AriNotFound
from callcenter.asterisk.events import AriEvent, ChannelSnapshot, StasisEnd
from callcenter.asterisk.ids import BridgeId, CallId, ChannelId, new_call_id
from callcenter.call.messages import InboxItem
from callcenter.errors import CallCenterError

if TYPE_CHECKING:
    from callcenter.asterisk.ami import AmiClient
    from callcenter.asterisk.ari import AriClient
    from callcenter.call.router import EventRouter

log = logging.getLogger("callcenter.call")


class CallEnded(CallCenterError):
    """The caller left our app (StasisEnd read) and no event is left to read."""

    code = "call-ended"


class CallFlow(Protocol):
    """What the worker runs for a call: the IVR, the queue, or the built-in demo flow."""

    async def run(self, session: CallSession) -> None: ...


@dataclass
class CallerContext:
    """What we know about the caller; the IVR and ACD drivers fill it as the call goes."""

    caller_number: str = ""
    caller_name: str = ""
    dialled: str = ""
    ivr_path: list[tuple[str, float]] = field(default_factory=list)
    """(IVR node id, time.time() when entered), in order."""
    digits: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    queue: str | None = None

    def enter_node(self, node_id: str, at: float | None = None) -> None:
        """Record that the call reached an IVR node."""
        self.ivr_path.append((node_id, time.time() if at is None else at))


class _SessionInbox(asyncio.Queue[InboxItem]):
    """The call's queue; notices the caller's StasisEnd the moment it is routed."""

    def __init__(self, session: CallSession) -> None:
        super().__init__()
        self._session = session

    def put_nowait(self, item: InboxItem) -> None:
        super().put_nowait(item)
        self._session._event_arrived(item)


class CallSession:
    """A call in progress: inbox, owned tasks, context. Made by the worker, not by flows."""

    def __init__(
        self,
        caller: ChannelSnapshot,
        ari: AriClient,
        router: EventRouter,
        *,
        args: tuple[str, ...] = (),
        call_id: CallId | None = None,
        resume: object | None = None,
    ) -> None:
        self.call_id: CallId = call_id or new_call_id()
        self.resume = resume
        """For a call an earlier run of this worker left waiting: what the flow needs to carry
        it on (see ``Worker.on_orphan_caller``); None for a new call."""
        self.caller: ChannelSnapshot = caller
        self.caller_channel_id: ChannelId = caller.id
        self.args = args
        self.ari = ari
        self.ami: AmiClient | None = None
        """The worker's AMI client when it has one (MixMonitor and the like)."""
        self.started_at = time.time()
        self.context = CallerContext(
            caller_number=caller.caller_number,
            caller_name=caller.caller_name,
            dialled=caller.exten,
        )
        self.inbox: asyncio.Queue[InboxItem] = _SessionInbox(self)
        self.log = logging.LoggerAdapter(log, {"call_id": self.call_id})
        self._router = router
        self._channels: set[ChannelId] = set()
        self._bridges: set[BridgeId] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._caller_left = asyncio.Event()
        self._answering: asyncio.Task[bool] | None = None
        self._ended_read = False
        self.closed = False
        self.watch(caller.id)

    # --- events ------------------------------------------------------------------------------

    @property
    def caller_left(self) -> bool:
        """True once the caller's StasisEnd has arrived (hung up, or left to the dialplan)."""
        return self._caller_left.is_set()

    async def wait_caller_left(self) -> None:
        await self._caller_left.wait()

    async def next_event(self, timeout: float | None = None) -> InboxItem | None:  # noqa: ASYNC109
        """The next event of this call, or None after ``timeout`` seconds without one.

        Raises ``CallEnded`` once the caller's StasisEnd was read and the inbox is empty.
        """
        if self._ended_read and self.inbox.empty():
            raise CallEnded("the caller has left", call_id=self.call_id)
        try:
            async with asyncio.timeout(timeout):
                event = await self.inbox.get()
        except TimeoutError:
            return None
        if isinstance(event, StasisEnd) and event.channel.id == self.caller_channel_id:
            self._ended_read = True
        return event

    def _event_arrived(self, event: InboxItem) -> None:
        # One line per call event, at DEBUG only: the hot path never waits on a log handler.
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "call=%s event=%s channels=%s",
                self.call_id,
                type(event).__name__,
                ",".join(event.channel_ids) if isinstance(event, AriEvent) else "",
            )
        if isinstance(event, StasisEnd) and event.channel.id == self.caller_channel_id:
            self._caller_left.set()
            self._cancel_tasks()

    # --- answering ---------------------------------------------------------------------------

    def answer_soon(self) -> None:
        """Send the caller's answer without waiting for Asterisk's reply: what needs no media
        (ringing an agent: ``channels/create``) goes out at once, beside it; anything that
        plays to the caller or bridges them awaits ``answered()`` first."""
        if self._answering is None and self.caller.state != "Up" and not self.caller_left:
            self._answering = asyncio.ensure_future(self._answer())
            self._answering.add_done_callback(_retrieve)

    async def answered(self) -> bool:
        """True once the caller is answered (at once if nobody asked); False when they were
        already gone (Asterisk answered 404: their StasisEnd is on its way)."""
        if self._answering is None:
            return True
        return await asyncio.shield(self._answering)

    async def _answer(self) -> bool:
        try:
            await self.ari.answer(self.caller_channel_id)
        except AriNotFound:
            return False
        return True

    # --- channels and bridges ----------------------------------------------------------------

    def watch(self, channel_id: ChannelId) -> None:
        """Route this channel's events to this call (claim it before creating it)."""
        self._channels.add(channel_id)
        self._router.claim(channel_id, self.inbox)

    def unwatch(self, channel_id: ChannelId) -> None:
        self._channels.discard(channel_id)
        if self._router.owner_of(channel_id) is self.inbox:
            self._router.release(channel_id)

    def watch_bridge(self, bridge_id: BridgeId) -> None:
        """Route events about this bridge (playbacks, recordings on it) to this call."""
        self._bridges.add(bridge_id)
        self._router.claim_bridge(bridge_id, self.inbox)

    def unwatch_bridge(self, bridge_id: BridgeId) -> None:
        self._bridges.discard(bridge_id)
        self._router.release_bridge(bridge_id)

    @property
    def channels(self) -> frozenset[ChannelId]:
        """Channels routed to this call (the caller first among them)."""
        return frozenset(self._channels)

    @property
    def bridges(self) -> frozenset[BridgeId]:
        return frozenset(self._bridges)

    # --- tasks -------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Start a helper task owned by this call (cancelled when the caller leaves)."""
        if self.caller_left or self.closed:
            coro.close()
            raise CallEnded("the caller has left", call_id=self.call_id)
        task = asyncio.create_task(coro, name=name or f"call-{self.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error(
                "call=%s helper task %s failed: %r",
                self.call_id,
                task.get_name(),
                task.exception(),
            )

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """Cancel the helper tasks and release every claim (called by the worker)."""
        self.closed = True
        if self._answering is not None and not self._answering.done():
            self._answering.cancel()
        tasks = list(self._tasks)
        self._cancel_tasks()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for channel_id in list(self._channels):
            self.unwatch(channel_id)
        for bridge_id in list(self._bridges):
            self.unwatch_bridge(bridge_id)


def _retrieve(task: asyncio.Task[bool]) -> None:
    """An answer nobody awaited must not leave "exception never retrieved" behind (whoever
    awaits ``answered()`` sees the error)."""
    if not task.cancelled():
        task.exception()
