"""Agents' phones as Asterisk sees them: an offline phone is not rung, and comes back online.

Asterisk sends endpoint events only to apps subscribed to the endpoint
(``POST /applications/{app}/subscription?eventSource=endpoint:PJSIP/1001``): at each
(re)connection ``AgentPhones.refresh`` subscribes the app to every agent's endpoint (a
subscription made before a reconnect may be gone with the app) and reads their current
state (``GET /endpoints``), since events only tell changes. Then EndpointStateChange,
ContactStatusChange and PeerStatusChange (all parsed into ``EndpointStateChange``, each with
the endpoint's new state) keep it current.

An ``offline`` phone (unregistered, or its contact stopped answering qualify: on Asterisk
22.10.1 ``channels/create`` to it then fails with 500 "Allocation failed") makes its agent
unreachable in the ACD service: paused with reason ``unreachable`` (``callcenter status`` and
the wallboard show it), skipped by dispatch, until the phone is ``online`` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from callcenter.asterisk.ari import AriRequestError
from callcenter.asterisk.events import AriEvent, EndpointStateChange

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriClient
    from callcenter.routing.service import AcdService

log = logging.getLogger(__name__)

OFFLINE = "offline"
ONLINE = "online"


class AgentPhones:
    """Follows the agents' endpoints for one worker's ACD service."""

    def __init__(self, service: AcdService, ari: AriClient) -> None:
        self.service = service
        self.ari = ari
        self.agent_of = {agent.endpoint: agent.id for agent in service.config.agents}
        self.states: dict[str, str] = {}
        """Last known state per endpoint (``PJSIP/1001`` -> online/offline/unknown)."""
        self.subscribed: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def connected(self, *_: object) -> None:
        """The ARI WebSocket is (back) up: subscribe and read the states again (in a task)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.create_task(self._refresh_logged(), name="agent-phones")

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Events still tell changes; a failed create still pauses an unreachable agent.
            log.exception("reading the agents' phone states failed")

    async def refresh(self) -> None:
        """Subscribe the app to every agent endpoint and apply their current states (each
        (re)connection: after an Asterisk restart the app's subscriptions are gone)."""
        await self._subscribe(sorted(self.agent_of))
        try:
            endpoints = await self.ari.list_endpoints()
        except AriRequestError as exc:
            log.warning("agents' phone states not read (%s): events will tell changes", exc)
            return
        for endpoint in endpoints:
            if endpoint.name in self.agent_of:
                self._apply(endpoint.name, endpoint.state)

    async def _subscribe(self, endpoints: list[str]) -> None:
        sources = [f"endpoint:{name}" for name in endpoints]
        try:
            await self.ari.subscribe(sources)
            self.subscribed = set(endpoints)
            return
        except AriRequestError as exc:
            # 422 "Event source does not exist" for one of them fails them all: one by one.
            log.warning("subscribing to agents' endpoints at once failed: %s", exc)
        self.subscribed = set()
        for name in endpoints:
            try:
                await self.ari.subscribe(f"endpoint:{name}")
                self.subscribed.add(name)
            except AriRequestError as exc:
                log.warning("agent=%s endpoint %s: no events (%s)", self.agent_of[name], name, exc)

    def on_event(self, event: AriEvent) -> None:
        """A worker event listener: endpoint changes of our agents' phones (never awaits)."""
        if isinstance(event, EndpointStateChange) and event.endpoint in self.agent_of:
            self._apply(event.endpoint, event.state)

    def _apply(self, endpoint: str, state: str) -> None:
        previous = self.states.get(endpoint)
        self.states[endpoint] = state
        agent_id = self.agent_of[endpoint]
        if state == OFFLINE and previous != OFFLINE:
            log.info("agent=%s phone %s is offline: not rung until it is back", agent_id, endpoint)
            self.service.agent_unreachable(agent_id, until_online=True)
        elif state == ONLINE and previous != ONLINE:
            if previous == OFFLINE:
                log.info("agent=%s phone %s is online again", agent_id, endpoint)
            self.service.agent_reachable(agent_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
