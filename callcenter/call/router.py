"""Routes each ARI event to the inbox of the call that owns its channel (or bridge).

A call claims the channels it cares about (the caller, then agent legs, snoop channels) and
the bridges it made. ``dispatch`` is synchronous and never raises: it runs inside aioari's
WebSocket read loop, so it only puts events into queues.

- An event is delivered once to each distinct inbox among the claims of its channels
  (``event.channel_ids``); playback and recording events name their target in ``target_uri``
  (``channel:ID`` or ``bridge:ID``), which ``events.py`` turns into those ids.
- Events nobody claimed go to ``default_handler`` (a StasisStart of a new inbound call makes
  the worker start a call).
- After a ChannelDestroyed is delivered its channel's claim is dropped: no event follows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.asterisk.events import AriEvent, ChannelDestroyed
from callcenter.asterisk.ids import BridgeId, ChannelId
from callcenter.call.messages import CallInbox

log = logging.getLogger(__name__)


EventInbox = CallInbox
"""Where a call's events go (a session's inbox)."""


DefaultHandler = Callable[[AriEvent], None]


class EventRouter:
    """Channel/bridge id -> inbox, plus a handler for everything unclaimed."""

    def __init__(self, default_handler: DefaultHandler | None = None) -> None:
        self._channels: dict[ChannelId, EventInbox] = {}
        self._bridges: dict[BridgeId, EventInbox] = {}
        self.default_handler = default_handler
        self.delivered = 0
        self.unclaimed = 0
        self.failures = 0

    def claim(self, channel_id: ChannelId, inbox: EventInbox) -> None:
        """Send this channel's events to ``inbox`` from now on (replaces an earlier claim)."""
        self._channels[channel_id] = inbox

    def release(self, channel_id: ChannelId) -> None:
        """Stop routing this channel (its events go to the default handler again)."""
        self._channels.pop(channel_id, None)

    def claim_bridge(self, bridge_id: BridgeId, inbox: EventInbox) -> None:
        """Send events about this bridge (playbacks, recordings on it) to ``inbox``."""
        self._bridges[bridge_id] = inbox

    def release_bridge(self, bridge_id: BridgeId) -> None:
        self._bridges.pop(bridge_id, None)

    def owner_of(self, channel_id: ChannelId) -> EventInbox | None:
        """The inbox that claimed this channel, if any."""
        return self._channels.get(channel_id)

    @property
    def claimed_channels(self) -> frozenset[ChannelId]:
        return frozenset(self._channels)

    def dispatch(self, event: AriEvent) -> None:
        """Deliver one event; never raises (a failure is logged and counted)."""
        try:
            self._dispatch(event)
        except Exception:
            # The WebSocket read loop must survive anything a handler does.
            self.failures += 1
            log.exception("event routing failed for %s", type(event).__name__)

    def _dispatch(self, event: AriEvent) -> None:
        first: EventInbox | None = None
        others: list[EventInbox] | None = None
        for channel_id in event.channel_ids:
            inbox = self._channels.get(channel_id)
            if inbox is None:
                continue
            if first is None:
                first = inbox
            elif inbox is not first and (others is None or inbox not in others):
                others = [*(others or ()), inbox]
        for bridge_id in event.bridge_ids:
            inbox = self._bridges.get(bridge_id)
            if inbox is None:
                continue
            if first is None:
                first = inbox
            elif inbox is not first and (others is None or inbox not in others):
                others = [*(others or ()), inbox]
        if first is None:
            self.unclaimed += 1
            if self.default_handler is not None:
                self.default_handler(event)
            return
        first.put_nowait(event)
        self.delivered += 1
        if others:
            for inbox in others:
                inbox.put_nowait(event)
                self.delivered += 1
        if isinstance(event, ChannelDestroyed):
            self._channels.pop(event.channel.id, None)
