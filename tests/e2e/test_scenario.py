"""Scenarios: validated YAML, a reproducible plan, and synthetic callers/agents on the PBX core
talking to a real worker over ARI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.ari import AriRequestError, AriSettings
from callcenter.asterisk.events import (
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Dial,
    StasisEnd,
)
from callcenter.asterisk.ids import new_channel_id
from callcenter.errors import ConfigError
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import DeviceStateChanged, PlayThenHangup, SimulatedAsterisk, Stasis
from callcenter.sim.scenario import load_scenario, parse_scenario, plan_callers
from callcenter.sim.synthetic import SyntheticRun
from callcenter.worker import CallEnded, CallSession, Worker, WorkerSettings

APP = "cc-scenario"
REPO = Path(__file__).resolve().parents[2]


def test_demo_scenario_loads_and_plans_the_same_callers_for_the_same_seed() -> None:
    scenario = load_scenario(REPO / "examples" / "scenario-demo.yaml")
    first = plan_callers(scenario)
    second = plan_callers(scenario)
    assert first == second
    assert len(first) == 16 + 6  # Poisson arrivals + the fixed callers
    assert [c.at for c in first] == sorted(c.at for c in first)
    assert first[0].caller_id == "+15550001"
    reseeded = plan_callers(scenario.model_copy(update={"seed": 8}))
    assert [c.at for c in reseeded] != [c.at for c in first]


def test_distributions_and_digit_presses_parse() -> None:
    scenario = parse_scenario(
        {
            "seed": 3,
            "callers": {
                "fixed": [
                    {
                        "at": 1,
                        "caller_id": "+1",
                        "digits": [{"after": 0.5, "press": "12#"}],
                        "patience": {"uniform": [5, 6]},
                    }
                ]
            },
            "agents": [
                {"endpoint": "PJSIP/1001", "talk_time": {"normal": {"mean": 3, "stddev": 1}}},
                {"endpoint": "PJSIP/1002", "ring_delay": {"exponential": 2}},
            ],
        }
    )
    (caller,) = plan_callers(scenario)
    assert 5 <= caller.patience <= 6
    assert caller.digits[0].press == "12#"
    assert scenario.agents[0].talk_time.kind == "normal"
    assert scenario.agents[1].ring_delay.mean == 2


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"agents": [{"endpoint": "PJSIP/1", "busy_probability": 2}]}, "agents.0.busy_probability"),
        ({"agents": [{"endpoint": "SIP/1"}]}, "agents.0.endpoint"),
        ({"agents": [{"endpoint": "PJSIP/1"}, {"endpoint": "PJSIP/1"}]}, "listed twice"),
        ({"callers": {"fixed": [{"at": 0, "caller_id": "1", "digits": [{"after": 1}]}]}}, "press"),
        ({"callers": {"arrival": {"rate_per_minute": 0, "count": 1}}}, "rate_per_minute"),
        ({"agents": [{"endpoint": "PJSIP/1", "talk_time": {"gamma": 1}}]}, "unknown distribution"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_scenario_errors_name_the_key(raw: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_scenario(raw, source="s.yaml")
    assert where in error.value.message
    assert error.value.message.startswith("s.yaml: ")


class AgentQueueFlow:
    """A minimal stand-in for the ACD: first digit picks nothing, the caller goes to the first
    agent that answers (agents tried in order), both are bridged until one hangs up."""

    def __init__(self, agents: list[str]) -> None:
        self.agents = agents
        self.hangup_causes: list[int | None] = []
        self.digits: list[str] = []

    async def run(self, session: CallSession) -> None:
        ari = session.ari
        caller = session.caller_channel_id
        await ari.answer(caller)
        try:
            event = await session.next_event(timeout=5)
            while not isinstance(event, ChannelDtmfReceived):
                event = await session.next_event(timeout=5)
            self.digits.append(event.digit)
            await ari.start_moh(caller)
            for endpoint in self.agents:
                if await self._try_agent(session, endpoint):
                    return
            await ari.hangup(caller)
        except CallEnded:
            return

    async def _try_agent(self, session: CallSession, endpoint: str) -> bool:
        ari = session.ari
        caller = session.caller_channel_id
        leg = new_channel_id()
        session.watch(leg)  # before create: its StasisStart may come first
        await ari.create_channel(endpoint, app_args="agent", channel_id=leg)
        await ari.dial(leg, caller=caller, ring_timeout=5)
        while True:
            event = await session.next_event()
            if isinstance(event, ChannelHangupRequest) and event.channel.id == leg:
                self.hangup_causes.append(event.cause)
                return False
            if isinstance(event, Dial) and event.peer_id == leg and event.dialstatus == "ANSWER":
                break
        await ari.stop_moh(caller)
        bridge = await ari.create_bridge("mixing")
        session.watch_bridge(bridge)
        try:
            await ari.add_to_bridge(bridge, [caller, leg])
            while True:
                event = await session.next_event()
                if isinstance(event, StasisEnd) and event.channel.id in (caller, leg):
                    other = leg if event.channel.id == caller else caller
                    with contextlib.suppress(AriRequestError):
                        await ari.hangup(other)
                    return True
        finally:
            with contextlib.suppress(AriRequestError):
                await ari.destroy_bridge(bridge)


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    pbx = SimulatedAsterisk(speed=50.0, recordings_dir=tmp_path)
    pbx.dialplan.route("100", Stasis(APP))
    pbx.dialplan.route("555", Stasis(APP))
    yield pbx
    await pbx.close()


@pytest.fixture
async def server(pbx: SimulatedAsterisk) -> AsyncIterator[AriServer]:
    server = await start_ari_server(pbx, "127.0.0.1", 0, "u", "p")
    yield server
    await server.close()


@pytest.fixture
async def worker(server: AriServer) -> AsyncIterator[Worker]:
    settings = WorkerSettings(
        ari=AriSettings(url=server.url, username="u", password="p", app=APP),
        http_port=None,
        end_grace=0.5,
    )
    worker = Worker(settings)
    await worker.start()
    await worker.ari.wait_connected(within=5)
    yield worker
    await worker.stop(grace=1.0)


class SilentFlow:
    """Never answers: callers to it run out of patience."""

    async def run(self, session: CallSession) -> None:
        with contextlib.suppress(CallEnded):
            while True:
                await session.next_event()


SCENARIO: dict[str, Any] = {
    "seed": 11,
    "callers": {
        "fixed": [
            {"at": 0.0, "caller_id": "+15550001", "digits": [{"after": 0.5, "press": "1"}]},
            {"at": 0.2, "caller_id": "+15550002", "digits": [{"after": 0.5, "press": "2"}]},
            {"at": 0.4, "caller_id": "+15550003", "dialled": "555", "patience": 3},
        ]
    },
    "agents": [
        {"endpoint": "PJSIP/1001", "busy_probability": 1.0},
        {
            "endpoint": "PJSIP/1002",
            "ring_delay": {"uniform": [0.5, 1.0]},
            "talk_time": {"normal": {"mean": 2, "stddev": 0.5}},
        },
    ],
}


async def run_scenario(pbx: SimulatedAsterisk, worker: Worker) -> tuple[Any, AgentQueueFlow]:
    scenario = parse_scenario(SCENARIO)
    flow = AgentQueueFlow(["PJSIP/1001", "PJSIP/1002"])
    worker.register_flow(flow, exten="100")
    worker.register_flow(SilentFlow(), exten="555")
    run = SyntheticRun(pbx, scenario)
    run.register_agents()
    report = await asyncio.wait_for(run.run(), 20)
    return report, flow


async def test_synthetic_callers_and_agents_through_a_worker(
    pbx: SimulatedAsterisk, worker: Worker
) -> None:
    report, flow = await run_scenario(pbx, worker)
    by_caller = {r.caller.caller_id: r for r in report.callers}
    # Both callers to 100 pressed their digit, met the busy agent, then talked to 1002,
    # who hung up after the talk time.
    for number, digit in (("+15550001", "1"), ("+15550002", "2")):
        result = by_caller[number]
        assert result.answered and result.digits_sent == digit
        assert result.outcome == "connected"
    assert sorted(flow.digits) == ["1", "2"]
    assert flow.hangup_causes == [17, 17]  # busy: read the cause, no Dial BUSY event
    assert report.agents["PJSIP/1001"].busy == 2
    assert report.agents["PJSIP/1002"].talked == 2
    # Nobody answers 555: that caller gives up when its patience runs out.
    assert by_caller["+15550003"].outcome == "abandoned"
    assert report.outcomes == {"connected": 2, "abandoned": 1}


async def test_the_same_seed_gives_the_same_run(pbx: SimulatedAsterisk, worker: Worker) -> None:
    def summary(report: Any) -> Any:
        return (
            [(r.caller, r.outcome, r.digits_sent) for r in report.callers],
            {endpoint: vars(stats) for endpoint, stats in report.agents.items()},
        )

    first, _ = await run_scenario(pbx, worker)
    second, _ = await run_scenario(pbx, worker)
    assert summary(first) == summary(second)


async def test_a_scenario_takes_an_agent_phone_offline_for_a_while() -> None:
    scenario = parse_scenario(
        {
            "callers": {"fixed": [{"at": 0, "caller_id": "+15550009", "dialled": "900"}]},
            "agents": [{"endpoint": "PJSIP/1003", "offline": [{"at": 1, "seconds": 2}]}],
        }
    )
    pbx = SimulatedAsterisk(speed=20.0)
    pbx.dialplan.route("900", PlayThenHangup("silence/10"))  # keeps the run going 10 s
    states: list[str] = []
    pbx.add_listener(
        lambda e: (
            states.append(e.state)
            if isinstance(e, DeviceStateChanged) and e.device == "PJSIP/1003"
            else None
        )
    )
    run = SyntheticRun(pbx, scenario)
    run.register_agents()
    try:
        await asyncio.wait_for(run.run(), 10)
    finally:
        await pbx.close()
    # Registered, then unreachable for 2 s, then back (Asterisk's device states).
    assert states == ["NOT_INUSE", "UNAVAILABLE", "NOT_INUSE"]
