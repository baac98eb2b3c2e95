"""Agents shared with other workers: the background side of :mod:`callcenter.routing.leases`.

``AgentSharing`` runs one :meth:`~callcenter.routing.leases.AgentLeases.sync` every
``sync_seconds`` (``alone_sync_seconds`` while no other worker shows up), in a thread, off the
call path, and applies what it read to the service:

- agents this worker owns are rung by it; the others are held elsewhere (``fence``);
- agents another worker wants and that are idle here are fenced, then handed over;
- agents held elsewhere that a caller waiting here could take are asked for (``wanted_by``);
- logins, logouts and pauses made through another worker (``control_*``) are applied here when
  this worker owns the agent (and mirrored when it does not).

Failure behaviour (see ``docs/acd.md``): with the database away, nothing changes for calls:
every agent owned stays owned. Only while other workers were seen (agents are really shared)
and the lease may have run out (``lease - margin`` after the last sync that worked), the
worker stops ringing its agents, because another worker may by then have taken them over. The
outage is logged once, and its end once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from callcenter.db.threads import DbThreads
from callcenter.errors import CallCenterError
from callcenter.routing.journal import configured_agents
from callcenter.routing.leases import AgentLeases, SharedAgent
from callcenter.routing.model import AgentState

if TYPE_CHECKING:
    from callcenter.routing.service import AcdService

log = logging.getLogger(__name__)

SHARED_PAUSE_REASON = "paused"
"""Shown for a pause made through another worker that gave no reason."""


class AgentSharing:
    """Keeps one worker's share of the agents in step with the others; see the module doc."""

    def __init__(
        self,
        service: AcdService,
        leases: AgentLeases,
        *,
        sync_seconds: float = 0.25,
        alone_sync_seconds: float = 1.0,
        db_timeout: float = 5.0,
    ) -> None:
        self.service = service
        self.leases = leases
        self.worker_id = leases.worker_id
        self.sync_seconds = sync_seconds
        self.alone_sync_seconds = alone_sync_seconds
        self.db_timeout = db_timeout
        lease = leases.lease.total_seconds()
        self.fence_after = lease - max(lease / 4, 2 * sync_seconds)
        """Seconds after a sync that worked when, sharing agents, our leases may be gone."""
        self._threads = DbThreads()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._rows_created = False
        self._wanted_by_others: dict[str, str] = {}
        self._shared: dict[str, tuple[str, str | None]] = {}
        self._control_seen: dict[str, dt.datetime] = {}
        self._last_ok: float | None = None
        self._others_seen = False
        self._down = False
        self._lease_lost = False
        self.syncs = 0
        self.handed_over = 0
        """Agents this worker gave to another worker that wanted them."""
        self.taken_over = 0
        """Agents this worker got from another worker (handed over, or their lease ran out)."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """A first sync (bounded: with the database away the worker starts owning nothing),
        then the background loop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sync_once(), self.db_timeout + 1)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="acd-agent-sharing")

    async def close(self) -> None:
        """Stop; give the leases up so other workers take the agents at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self._down:
            with contextlib.suppress(Exception):
                await self._threads.run(self.db_timeout, self.leases.release_all)
        if not await self._threads.wait(self.db_timeout):
            log.warning("%d database call(s) still running at close", self._threads.running)

    def poke(self) -> None:
        """Sync soon (a caller waits for an agent another worker may give)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            interval = self.sync_seconds if self._others_seen else self.alone_sync_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The loop must outlive one bad round: a bug here must not stop the sharing.
                log.exception("agent sharing round failed")

    # --- one round ---------------------------------------------------------------------------

    async def sync_once(self) -> None:
        service = self.service
        give = [
            agent_id
            for agent_id in self._wanted_by_others
            if service.owns(agent_id)
            and service.dispatcher.agent_state(agent_id) is AgentState.AVAILABLE
        ]
        # Stop offering them here before the database says they are someone else's.
        for agent_id in give:
            service.fence(agent_id)
        want = sorted(service.wanted_agents())
        agents = configured_agents(service.config) if not self._rows_created else []
        started = time.monotonic()
        try:
            rows = await self._threads.run(
                self.db_timeout, self.leases.sync, agents, give=give, want=want
            )
        except Exception as exc:
            # Agents just fenced for a hand-over stay fenced: it may have committed.
            self._failed(exc)
            return
        self.syncs += 1
        self._rows_created = True
        self._last_ok = started
        if self._down or self._lease_lost:
            log.info("agent sharing: database reachable again")
        self._down = False
        self._lease_lost = False
        self._apply(rows, set(give))

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "agent sharing: database unreachable (%s); dispatching with the agents owned",
                " ".join(str(exc).split())[:200] or type(exc).__name__,
            )
        if (
            self._others_seen
            and self._last_ok is not None
            and time.monotonic() - self._last_ok > self.fence_after
            and not self._lease_lost
        ):
            # Another worker may take our agents once our leases run out: stop ringing them.
            self._lease_lost = True
            owned = [a for a in sorted(self.service.agent_ids) if self.service.owns(a)]
            for agent_id in owned:
                self.service.fence(agent_id)
            log.warning(
                "agent sharing: leases may have run out; not ringing %d agents until the "
                "database is back",
                len(owned),
            )

    def _apply(self, rows: list[SharedAgent], given: set[str]) -> None:
        service = self.service
        others = False
        wanted: dict[str, str] = {}
        for row in rows:
            agent_id = row.agent_id
            if agent_id not in service.agent_ids:
                continue
            if row.owner not in (None, self.worker_id) or row.wanted_by not in (
                None,
                self.worker_id,
            ):
                others = True
            self._shared[agent_id] = (row.state, row.pause_reason)
            self._follow_control(row)
            if row.owner == self.worker_id:
                if not service.owns(agent_id):
                    if agent_id not in given and self.syncs > 1:
                        self.taken_over += 1
                    service.unfence(agent_id)
            else:
                if agent_id in given:
                    self.handed_over += 1
                if service.owns(agent_id):
                    service.fence(agent_id)
            if row.wanted_by is not None and row.wanted_by != self.worker_id:
                wanted[agent_id] = row.wanted_by
        self._wanted_by_others = wanted
        if others and not self._others_seen:
            log.info("agent sharing: other workers share these agents")
        self._others_seen = others
        service._dispatch()

    # --- logins and pauses made elsewhere ------------------------------------------------------

    def control_applied(self, agent_id: str, at: dt.datetime) -> None:
        """This worker applied (and journals) a control of its own: do not apply it again."""
        self._control_seen[agent_id] = at

    def shared_state(self, agent_id: str) -> tuple[str, str | None]:
        """The agent's state and pause reason as their owner last wrote them."""
        return self._shared.get(agent_id, (AgentState.AVAILABLE.value, None))

    def _follow_control(self, row: SharedAgent) -> None:
        if row.control_at is None or row.control_state is None:
            return
        seen = self._control_seen.get(row.agent_id)
        if seen is not None and row.control_at <= seen:
            return
        dispatcher = self.service.dispatcher
        agent_id = row.agent_id
        now = self.service.now()
        local = dispatcher.agent_state(agent_id)
        try:
            if row.control_state == AgentState.AVAILABLE.value:
                if local is AgentState.LOGGED_OUT:
                    dispatcher.log_in(agent_id, now)
                else:
                    dispatcher.unpause(agent_id, now)
            elif row.control_state == AgentState.PAUSED.value:
                if local is AgentState.LOGGED_OUT:
                    dispatcher.log_in(agent_id, now)
                dispatcher.pause(agent_id, row.control_reason or SHARED_PAUSE_REASON, now)
            elif row.control_state == AgentState.LOGGED_OUT.value:
                dispatcher.log_out(agent_id, now)
        except CallCenterError:
            return  # busy on a call here (a logout): tried again at the next sync
        self._control_seen[agent_id] = row.control_at
        if row.control_by != self.worker_id:
            log.info(
                "agent=%s now %s (changed through %s)",
                agent_id,
                row.control_state,
                row.control_by or "another worker",
            )
