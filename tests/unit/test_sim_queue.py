"""app_queue in the simulated PBX: the listener events the AMI server turns into Queue* frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from callcenter.sim import pbx as sim
from callcenter.sim.pbx import EndpointBehaviour, Queue, SimulatedAsterisk

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls


class QueueHarness:
    def __init__(self) -> None:
        self.pbx = SimulatedAsterisk(speed=200.0)
        self.events: list[sim.PbxEvent] = []
        self.pbx.add_listener(self.events.append)
        self.pbx.dialplan.route("300", Queue("baseline"))

    def kinds(self, *names: str) -> list[str]:
        wanted = set(names)
        return [type(e).__name__ for e in self.events if not wanted or type(e).__name__ in wanted]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 (polls plain sim state)
                await asyncio.sleep(0.002)


@pytest.fixture
async def q() -> Any:
    harness = QueueHarness()
    yield harness
    await harness.pbx.close()


QUEUE_KINDS = (
    "QueueCallerJoined",
    "QueueAgentCalled",
    "DialBegan",
    "DialEnded",
    "QueueCallerLeft",
    "QueueAgentConnected",
    "QueueAgentCompleted",
    "QueueAgentRingNoAnswer",
    "QueueCallerAbandoned",
)


async def test_caller_is_answered_queued_and_connected_to_the_first_member(q: QueueHarness) -> None:
    agent = q.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(1.0))
    q.pbx.register_endpoint("PJSIP", "agent2", EndpointBehaviour.answer_after(1.0))
    q.pbx.add_queue("baseline", ["PJSIP/agent1", "PJSIP/agent2"])
    call = q.pbx.place_inbound_call("300", "+15550001", "Caller")
    assert call.answered  # Answer() before Queue()
    agent_call = await agent.next_call(timeout=2)
    await q.until(lambda: agent_call.answered and call.bridged_with == [agent_call.channel_id])
    assert q.kinds(*QUEUE_KINDS) == [
        "QueueCallerJoined",
        "QueueAgentCalled",
        "DialBegan",
        "DialEnded",
        "QueueCallerLeft",
        "QueueAgentConnected",
    ]
    joined = q.of(sim.QueueCallerJoined)[0]
    assert (joined.queue, joined.position, joined.count) == ("baseline", 1, 1)
    called = q.of(sim.QueueAgentCalled)[0]
    assert called.interface == "PJSIP/agent1" and called.member.linkedid == call.channel_id
    began = q.of(sim.DialBegan)[0]
    assert began.caller is not None and began.caller.uniqueid == call.channel_id
    assert [e.playing for e in q.of(sim.MusicOnHoldChanged)] == [True, False]
    assert call.history[0].kind == "answered" and "moh_started" in [e.kind for e in call.history]

    call.hangup()
    await q.until(lambda: agent_call.ended)
    completed = q.of(sim.QueueAgentCompleted)[0]
    assert (completed.reason, completed.interface) == ("caller", "PJSIP/agent1")
    assert q.pbx.queues["baseline"].completed == 1
    assert q.pbx.channels == {}


async def test_no_answer_moves_to_the_next_member_in_list_order(q: QueueHarness) -> None:
    q.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.never_answer())
    second = q.pbx.register_endpoint("PJSIP", "agent2", EndpointBehaviour.answer_after(0.5))
    q.pbx.add_queue("baseline", ["PJSIP/agent1", "PJSIP/agent2"], ring_seconds=2.0)
    call = q.pbx.place_inbound_call("300", "+15550001")
    agent_call = await second.next_call(timeout=2)
    await q.until(lambda: agent_call.answered)
    assert [e.interface for e in q.of(sim.QueueAgentCalled)] == ["PJSIP/agent1", "PJSIP/agent2"]
    assert [e.dialstatus for e in q.of(sim.DialEnded)] == ["NOANSWER", "ANSWER"]
    assert len(q.of(sim.QueueAgentRingNoAnswer)) == 1
    agent_call.hangup()
    await q.until(lambda: call.ended)
    assert q.of(sim.QueueAgentCompleted)[0].reason == "agent"


async def test_caller_hanging_up_while_waiting_is_abandoned_and_the_ringing_stops(
    q: QueueHarness,
) -> None:
    phone = q.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.manual())
    q.pbx.add_queue("baseline", ["PJSIP/agent1"])
    call = q.pbx.place_inbound_call("300", "+15550001")
    ringing = await phone.next_call(timeout=2)
    call.hangup()
    await q.until(lambda: ringing.ended)
    assert q.kinds("QueueCallerAbandoned", "QueueCallerLeft", "DialEnded") == [
        "QueueCallerAbandoned",
        "QueueCallerLeft",
        "DialEnded",
    ]
    assert q.of(sim.DialEnded)[0].dialstatus == "CANCEL"
    assert q.pbx.queues["baseline"].abandoned == 1


async def test_paused_and_busy_members_are_skipped_and_a_freed_member_gets_the_call(
    q: QueueHarness,
) -> None:
    q.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.answer_after(0.1))
    q.pbx.add_queue("baseline", ["PJSIP/agent1"], retry_seconds=1.0)
    q.pbx.set_queue_member_paused("baseline", "PJSIP/agent1", True)
    call = q.pbx.place_inbound_call("300", "+15550001")
    await asyncio.sleep(0.02)
    assert q.of(sim.QueueAgentCalled) == []
    statuses = q.of(sim.QueueMemberStatusChanged)
    assert statuses[-1].paused and statuses[-1].status == 1
    q.pbx.set_queue_member_paused("baseline", "PJSIP/agent1", False)
    await q.until(lambda: bool(call.bridged_with))
    assert 2 in [e.status for e in q.of(sim.QueueMemberStatusChanged)]  # INUSE once connected


async def test_two_callers_queue_in_order(q: QueueHarness) -> None:
    q.pbx.register_endpoint(
        "PJSIP", "agent1", EndpointBehaviour.answer_after(0.1, talk_seconds=1.0)
    )
    q.pbx.add_queue("baseline", ["PJSIP/agent1"])
    first = q.pbx.place_inbound_call("300", "+15550001")
    second = q.pbx.place_inbound_call("300", "+15550002")
    assert [(e.position, e.count) for e in q.of(sim.QueueCallerJoined)] == [(1, 1), (2, 2)]
    await q.until(lambda: first.ended)
    await q.until(lambda: bool(second.bridged_with))
    connected = [e.caller.caller_number for e in q.of(sim.QueueAgentConnected)]
    assert connected == ["+15550001", "+15550002"]


async def test_queue_time_out_and_unknown_queue(q: QueueHarness) -> None:
    q.pbx.add_queue("empty", [], max_wait_seconds=1.0)
    q.pbx.dialplan.route("301", Queue("empty"))
    q.pbx.dialplan.route("302", Queue("nope"))
    waiting = q.pbx.place_inbound_call("301", "1")
    nowhere = q.pbx.place_inbound_call("302", "2")
    assert nowhere.ended
    await q.until(lambda: waiting.ended)
    assert q.of(sim.QueueCallerAbandoned) == []
    assert [e.queue for e in q.of(sim.QueueCallerLeft)] == ["empty"]


async def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError):
        SimulatedAsterisk().add_queue("q", [], strategy="random")


async def test_rrmemory_remembers_who_was_rung_last(q: QueueHarness) -> None:
    for name in ("agent1", "agent2"):
        q.pbx.register_endpoint(
            "PJSIP", name, EndpointBehaviour.answer_after(0.1, talk_seconds=0.5)
        )
    q.pbx.add_queue("baseline", ["PJSIP/agent1", "PJSIP/agent2"], strategy="rrmemory")
    first = q.pbx.place_inbound_call("300", "1")
    await q.until(lambda: first.ended)
    second = q.pbx.place_inbound_call("300", "2")
    await q.until(lambda: second.ended)
    assert [e.interface for e in q.of(sim.QueueAgentConnected)] == ["PJSIP/agent1", "PJSIP/agent2"]
