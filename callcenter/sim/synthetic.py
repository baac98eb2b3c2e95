"""Synthetic callers and agents playing a ``Scenario`` against the simulated PBX core.

In-process, through the PBX core's own API (``place_inbound_call``, ``register_endpoint`` with
a behaviour), not through ARI::

    pbx = SimulatedAsterisk(speed=20)
    run = SyntheticRun(pbx, load_scenario("examples/scenario-demo.yaml"))
    run.register_agents()                    # PJSIP/1001... with their behaviour
    report = await run.run()                 # places every caller, waits until all ended
    print(report.outcomes)                   # {"connected": 14, "abandoned": 3, ...}

Callers: each calls at its planned time, presses its digits ``after`` seconds from the answer,
and hangs up when its patience runs out before it is bridged with someone (``abandoned``).
Once bridged it stays until the other side ends the call. Outcomes: ``connected`` (was
bridged with another channel), ``abandoned``, ``ended-by-system`` (hung up by the PBX/app
without being bridged), ``interrupted`` (hung up by ``hang_up_callers``, the demo's Ctrl-C).

Agents: on each dial a seeded draw decides busy (``busy_probability``), no answer
(``no_answer_probability``) or an answer after ``ring_delay``; an agent who answered hangs
up ``talk_time`` after being bridged with the caller. All durations are simulated seconds
(the PBX's ``speed`` divides them). The same seed and the same order of dials give the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from callcenter.sim.pbx import EndpointBehaviour, EndpointHandle, SimCall, SimulatedAsterisk
from callcenter.sim.scenario import (
    AgentBehaviour,
    OfflinePeriod,
    PlannedCaller,
    Scenario,
    plan_callers,
)

log = logging.getLogger(__name__)


@dataclass
class CallerResult:
    """What happened to one synthetic caller."""

    caller: PlannedCaller
    channel_id: str = ""
    outcome: str = "pending"
    answered: bool = False
    digits_sent: str = ""
    hangup_cause: int | None = None


@dataclass
class AgentStats:
    endpoint: str
    rung: int = 0
    answered: int = 0
    busy: int = 0
    no_answer: int = 0
    talked: int = 0


@dataclass
class SyntheticReport:
    callers: list[CallerResult] = field(default_factory=list)
    agents: dict[str, AgentStats] = field(default_factory=dict)

    @property
    def outcomes(self) -> dict[str, int]:
        """How many callers ended each way."""
        return dict(Counter(result.outcome for result in self.callers))


class SyntheticRun:
    """Plays one scenario on one PBX; owns every task it starts."""

    def __init__(self, pbx: SimulatedAsterisk, scenario: Scenario) -> None:
        self.pbx = pbx
        self.scenario = scenario
        self.plan = plan_callers(scenario, random.Random(scenario.seed))
        self.report = SyntheticReport(callers=[CallerResult(caller=c) for c in self.plan])
        self.agents: dict[str, EndpointHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[SyntheticReport] | None = None
        self._calls: dict[int, SimCall] = {}
        """Planned caller number -> their call, once placed."""
        self._stopped = False

    # --- agents ------------------------------------------------------------------------------

    def register_agents(self) -> dict[str, EndpointHandle]:
        """Declare every scenario agent's phone on the PBX with its behaviour."""
        for agent in self.scenario.agents:
            rng = random.Random(f"{self.scenario.seed}:{agent.endpoint}")
            stats = self.report.agents[agent.endpoint] = AgentStats(agent.endpoint)
            self.agents[agent.endpoint] = self.pbx.register_endpoint(
                agent.technology,
                agent.resource,
                self._agent_behaviour(agent, rng, stats),
            )
        return self.agents

    def _agent_behaviour(self, agent: AgentBehaviour, rng: random.Random, stats: AgentStats) -> Any:
        def decide(call: SimCall) -> EndpointBehaviour:
            # Called by the PBX when the agent's phone is dialled: draw the outcome now.
            stats.rung += 1
            draw = rng.random()
            ring_delay = agent.ring_delay.sample(rng)
            talk_time = agent.talk_time.sample(rng)
            if draw < agent.busy_probability:
                stats.busy += 1
                return EndpointBehaviour.busy(after=min(ring_delay, 0.5))
            if draw < agent.busy_probability + agent.no_answer_probability:
                stats.no_answer += 1
                return EndpointBehaviour.never_answer()
            stats.answered += 1
            self._spawn(self._agent_talks(call, talk_time, stats), f"agent-{call.channel_id}")
            return EndpointBehaviour.answer_after(ring_delay)

        return decide

    async def _agent_talks(self, call: SimCall, talk_time: float, stats: AgentStats) -> None:
        """Once bridged with someone, talk for ``talk_time`` then hang up."""
        while True:
            event = await call.next_event(timeout=3600.0)
            if event.kind == "hangup":
                return
            if event.kind == "bridged" and event.peers:
                stats.talked += 1
                await asyncio.sleep(talk_time / self.pbx.speed)
                call.hangup()
                return

    # --- callers -----------------------------------------------------------------------------

    async def run(self) -> SyntheticReport:
        """Place every planned caller at its time; returns when all have ended."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        callers = [
            self._spawn(self._caller(result, start), f"caller-{result.caller.n}")
            for result in self.report.callers
        ]
        for agent in self.scenario.agents:
            for period in agent.offline:
                self._spawn(self._offline(agent, period, start), f"offline-{agent.endpoint}")
        try:
            await asyncio.gather(*callers)
        finally:
            await self.close()
        return self.report

    def start(self) -> asyncio.Task[SyntheticReport]:
        """Run in the background (``callcenter sim``); ``close()`` stops it."""
        if self._runner is None:
            self._runner = asyncio.create_task(self.run(), name="synthetic-run")
        return self._runner

    async def close(self) -> None:
        """Cancel every caller and agent task still running."""
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None and self._runner is not current:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    def hang_up_callers(self) -> int:
        """Place no more callers and hang up those still on the line (outcome
        ``interrupted``): the demo's Ctrl-C. Returns how many were hung up."""
        self._stopped = True
        hung_up = 0
        for result in self.report.callers:
            call = self._calls.get(result.caller.n)
            if call is not None and not call.ended:
                result.outcome = "interrupted"
                call.hangup()
                hung_up += 1
        return hung_up

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _offline(self, agent: AgentBehaviour, period: OfflinePeriod, start: float) -> None:
        """Take the agent's phone offline for a while (``offline`` in the scenario)."""
        phone = self.agents.get(agent.endpoint)
        if phone is None:
            return
        loop, speed = asyncio.get_running_loop(), self.pbx.speed
        await asyncio.sleep(max(0.0, start + period.at / speed - loop.time()))
        phone.set_online(False)
        await asyncio.sleep(period.seconds / speed)
        phone.set_online(True)

    async def _caller(self, result: CallerResult, start: float) -> None:
        loop = asyncio.get_running_loop()
        speed = self.pbx.speed
        planned = result.caller
        await asyncio.sleep(max(0.0, start + planned.at / speed - loop.time()))
        if self._stopped:
            return
        call = self.pbx.place_inbound_call(planned.dialled, planned.caller_id)
        self._calls[planned.n] = call
        result.channel_id = call.channel_id
        deadline = loop.time() + planned.patience / speed
        connected = False
        presses: asyncio.Task[None] | None = None
        try:
            while True:
                remaining = 3600.0 if connected else deadline - loop.time()
                if remaining <= 0:
                    result.outcome = "abandoned"
                    call.hangup()
                    return
                try:
                    event = await call.next_event(timeout=remaining)
                except TimeoutError:
                    continue
                if event.kind == "answered" and not result.answered:
                    result.answered = True
                    presses = self._spawn(self._press_digits(call, result), "digits")
                elif event.kind == "bridged" and event.peers:
                    connected = True
                elif event.kind == "hangup":
                    result.hangup_cause = call.hangup_cause
                    if result.outcome != "interrupted":
                        result.outcome = "connected" if connected else "ended-by-system"
                    return
        finally:
            if presses is not None:
                presses.cancel()

    async def _press_digits(self, call: SimCall, result: CallerResult) -> None:
        elapsed = 0.0
        for press in result.caller.digits:
            await asyncio.sleep(max(0.0, press.after - elapsed) / self.pbx.speed)
            elapsed = max(elapsed, press.after)
            if call.ended:
                return
            for digit in press.press:
                call.send_dtmf(digit)
                result.digits_sent += digit
