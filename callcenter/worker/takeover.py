"""Taking over what a worker that died left in our ARI app (``Worker``'s first connection).

Real Asterisk keeps a dead worker's channels in the app, and their bridges, and sends no
StasisStart again for them (``../shared/asterisk/README.md``, failure paths). At the first
connection the worker finds them in the ``Reconnected`` snapshot (``initial=True``):

- each caller goes to ``Worker.on_orphan_caller`` (the inbound flow sets it) with the bridge it
  is in and our own channels beside it: a ``ResumedCall`` carries the call on under its old call
  id (back in its queue, or a conversation adopted with its agent leg); otherwise a caller in no
  bridge starts again as a new call (the IVR from the top rather than silence) and a bridged
  one is left alone;
- agent legs and snoops that no adopted conversation holds are hung up;
- the app's bridges nobody is left in are deleted (Asterisk keeps bridges until the app deletes
  them; a recording still running in one ends with it and is fetched by its name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callcenter.asterisk.ari import AriRequestError
from callcenter.asterisk.events import BridgeSnapshot, ChannelSnapshot, Reconnected, StasisStart
from callcenter.asterisk.ids import BridgeId, CallId, ChannelId
from callcenter.call.messages import InboxItem

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient
    from callcenter.asterisk.events import AriEvent
    from callcenter.call.router import EventRouter
    from callcenter.call.session import CallSession

log = logging.getLogger("callcenter.worker.app")

OWN_LEG_ARGS = frozenset({"leg", "agent", "snoop", "originated"})
"""First app argument of channels the app creates itself (never a new inbound call)."""
_OWN_LEGS = frozenset((arg,) for arg in OWN_LEG_ARGS)


def _app_args(channel: ChannelSnapshot) -> tuple[str, ...]:
    """The Stasis arguments of a channel found in the app (``app_data`` = ``app,arg1,...``)."""
    return tuple(channel.app_data.split(",")[1:]) if channel.app_data else ()


@dataclass(frozen=True)
class OrphanCaller:
    """A caller a worker that died left in our app, as found at the first connection."""

    channel: ChannelSnapshot
    bridge: BridgeSnapshot | None = None
    """The bridge the caller is in, if any (a conversation, when ``partners`` is not empty)."""
    partners: tuple[ChannelSnapshot, ...] = ()
    """Our own channels (agent legs) in that bridge."""


@dataclass(frozen=True)
class ResumedCall:
    """What ``Worker.on_orphan_caller`` answers for an orphan caller whose call can carry on."""

    call_id: CallId
    resume: object
    """Handed to the flow as ``CallSession.resume``."""


OrphanCallerHook = Callable[[OrphanCaller], Awaitable[ResumedCall | None]]

ORPHAN_LOOKUP_TIMEOUT = 10.0
"""Seconds ``on_orphan_caller`` may take before the caller is started again as a new call."""


class OrphanTakeover:
    """The takeover part of ``Worker`` (a mixin: it uses the worker's router, ARI client and
    call starting)."""

    if TYPE_CHECKING:
        router: EventRouter
        ari: AriClient
        on_orphan_caller: OrphanCallerHook | None
        takeover_done: asyncio.Event
        _draining: bool

        def _side_task(self, coro: Any, name: str) -> None: ...

        def _unclaimed_event(self, event: AriEvent) -> None: ...

        async def _turn_away(self, channel: ChannelSnapshot) -> None: ...

        def _start_call(
            self, event: StasisStart, resumed: ResumedCall | None = None
        ) -> CallSession: ...

    def _take_over_orphans(self, snapshot: Reconnected) -> None:
        """Channels already in our app when this process starts belong to a worker that died.

        Real Asterisk keeps them in the app, and their bridges, and sends no StasisStart again.
        Callers go to ``on_orphan_caller`` (see the module docstring); agent legs and snoops
        beside no caller are hung up; the app's bridges left with nobody are deleted.
        """
        orphans = {
            channel.id: channel
            for channel in snapshot.channels
            if channel.id in snapshot.app_channel_ids and not self.router.owner_of(channel.id)
        }
        own = {cid for cid, channel in orphans.items() if _app_args(channel)[:1] in _OWN_LEGS}
        bridge_of = {cid: bridge for bridge in snapshot.bridges for cid in bridge.channels}
        callers: list[OrphanCaller] = []
        for channel in orphans.values():
            if channel.id in own:
                continue
            bridge = bridge_of.get(channel.id)
            partners = tuple(
                orphans[cid] for cid in (bridge.channels if bridge else ()) if cid in own
            )
            callers.append(OrphanCaller(channel, bridge, partners))
        kept = {c.channel.id for c in callers} | {p.id for c in callers for p in c.partners}
        for channel_id in sorted(own - kept):
            log.warning(
                "orphan %s channel %s of a previous worker: hanging up",
                _app_args(orphans[channel_id])[0],
                channel_id,
            )
            self._side_task(self._hang_up_quietly(channel_id), f"orphan-{channel_id}")
        deserted = [
            bridge.id
            for bridge in snapshot.bridges
            if bridge.id in snapshot.app_bridge_ids and kept.isdisjoint(bridge.channels)
        ]
        if deserted:
            self._side_task(self._delete_bridges(deserted, own - kept), "orphan-bridges")
        if self.on_orphan_caller is None or not callers:
            for orphan in callers:
                self._restart_orphan(orphan)
            self.takeover_done.set()
            return
        # Claimed now, so that what happens meanwhile (a hang-up) waits for the call's session.
        held: dict[ChannelId, asyncio.Queue[InboxItem]] = {}
        for orphan in callers:
            inbox: asyncio.Queue[InboxItem] = asyncio.Queue()
            held[orphan.channel.id] = inbox
            for channel_id in (orphan.channel.id, *(p.id for p in orphan.partners)):
                self.router.claim(channel_id, inbox)
        self._side_task(
            self._take_over_callers(callers, held, self.on_orphan_caller), "orphan-callers"
        )

    def _restart_orphan(self, orphan: OrphanCaller) -> None:
        """An orphan caller nobody resumed: a new call (the IVR again), unless bridged."""
        channel = orphan.channel
        if orphan.bridge is not None:
            log.warning(
                "orphan channel %s is bridged in %s (a call in progress): left alone",
                channel.id,
                orphan.bridge.id,
            )
            return
        log.warning("orphan caller channel %s: starting its call again", channel.id)
        self._unclaimed_event(StasisStart(channel=channel, args=_app_args(channel)))

    async def _take_over_callers(
        self,
        callers: list[OrphanCaller],
        held: dict[ChannelId, asyncio.Queue[InboxItem]],
        hook: OrphanCallerHook,
    ) -> None:
        try:
            for orphan in callers:
                channel = orphan.channel
                resumed: ResumedCall | None = None
                try:
                    resumed = await asyncio.wait_for(hook(orphan), ORPHAN_LOOKUP_TIMEOUT)
                except Exception:
                    # Without the answer the caller still gets a call: the IVR from the top.
                    log.exception(
                        "orphan caller channel %s: looking up its call failed", channel.id
                    )
                for channel_id in (channel.id, *(p.id for p in orphan.partners)):
                    self.router.release(channel_id)
                if self._draining and orphan.bridge is None:
                    # Not talking to anyone yet: a draining worker sends them on.
                    self._side_task(self._turn_away(channel), f"turn-away-{channel.id}")
                    continue
                if resumed is None:
                    self._restart_orphan(orphan)
                    continue
                log.warning(
                    "orphan caller channel %s: resuming call %s", channel.id, resumed.call_id
                )
                event = StasisStart(channel=channel, args=_app_args(channel))
                session = self._start_call(event, resumed)
                for partner in orphan.partners:
                    session.watch(partner.id)
                waiting = held[channel.id]
                while not waiting.empty():
                    session.inbox.put_nowait(waiting.get_nowait())
        finally:
            self.takeover_done.set()

    async def _delete_bridges(self, bridge_ids: list[BridgeId], legs_first: set[ChannelId]) -> None:
        """Bridges of our app a dead worker left with nobody in: deleted (a recording still
        running in one ends with it and is fetched by its name)."""
        for channel_id in legs_first:
            await self._hang_up_quietly(channel_id)
        for bridge_id in bridge_ids:
            log.warning("bridge %s of a previous worker has nobody left: deleting it", bridge_id)
            with contextlib.suppress(AriRequestError):
                await self.ari.destroy_bridge(bridge_id)

    async def _hang_up_quietly(self, channel_id: ChannelId) -> None:
        with contextlib.suppress(AriRequestError):
            await self.ari.hangup(channel_id)
