"""The ARI queue driver through the simulated Asterisk: ring, bridge, hang-ups, clean-up."""

from __future__ import annotations

from pathlib import Path

from callcenter.ivr.machine import QueueRequest
from callcenter.routing.testing import direct_to_queue, make_config, running_center
from callcenter.sim.pbx import EndpointBehaviour

ROUTES = {
    "201": QueueRequest("billing"),
    "202": QueueRequest("sales"),
    "209": QueueRequest("billing", priority=10),
}


async def test_caller_is_bridged_with_an_agent_who_has_the_skill(tmp_path: Path) -> None:
    config = make_config()
    async with running_center(config, tmp_path, ivr=direct_to_queue(ROUTES)) as center:
        caller = center.pbx.place_inbound_call("201", "+15550001", caller_name="Alice")
        await caller.wait_for("bridged", timeout=5)
        agent_ids = [a for a in ("bill1", "bill2") if center.phone(a).calls]
        assert len(agent_ids) == 1
        agent_call = center.phone(agent_ids[0]).calls[0]
        assert caller.bridged_with == [agent_call.channel_id]
        assert center.agent_state(agent_ids[0]) == "on_call"
        assert not center.phone("sale1").calls and not center.phone("both1").calls
        # The agent leg carried the call's context.
        channel = center.pbx.channels[agent_call.channel_id]
        assert channel.variables["CALLCENTER_QUEUE"] == "billing"
        assert channel.variables["CALLCENTER_CALLER"] == "+15550001"

        agent_call.hangup()
        await caller.wait_for("hangup", timeout=5)
        await center.settle()
        assert center.pbx.bridges == {}
        await center.wait_until(lambda: center.agent_state(agent_ids[0]) == "available")


async def test_caller_hanging_up_in_the_bridge_ends_the_agent_leg_and_the_bridge(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, ivr=direct_to_queue(ROUTES)) as center:
        caller = center.pbx.place_inbound_call("202", "+15550002")
        await caller.wait_for("bridged", timeout=5)
        agent_id = next(a for a in ("sale1", "both1") if center.phone(a).calls)
        agent_call = center.phone(agent_id).calls[0]
        caller.hangup()
        await agent_call.wait_for("hangup", timeout=5)
        await center.settle()
        assert center.pbx.bridges == {}
        assert not center.pbx.channels


async def test_busy_agent_requeues_the_caller_to_another_agent(tmp_path: Path) -> None:
    config = make_config()
    behaviours = {"bill1": EndpointBehaviour.busy(0.2)}
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), behaviours=behaviours, login=["bill1"]
    ) as center:
        caller = center.pbx.place_inbound_call("201", "+15550003")
        await center.wait_until(lambda: any(d.cause for d in center.dials_to("bill1")))
        assert center.dials_to("bill1")[0].cause == 17
        # bill1 is busy: the caller waits (not rung again at once); bill2 logs in and gets it.
        await center.service.login("bill2")
        await caller.wait_for("bridged", timeout=5)
        assert center.phone("bill2").calls
        caller.hangup()
        await center.settle()
        assert center.pbx.bridges == {}


async def test_no_answer_requeues_and_autopauses_after_the_limit(tmp_path: Path) -> None:
    config = make_config()
    behaviours = {"bill1": EndpointBehaviour.never_answer()}
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), behaviours=behaviours, login=["bill1"]
    ) as center:
        center.service.dispatcher.no_answer_pause_seconds = 0.5
        caller = center.pbx.place_inbound_call("201", "+15550004")
        # autopause_after_no_answers defaults to 2: two missed rings, then paused.
        await center.wait_until(lambda: len(center.phone("bill1").calls) >= 2, within=10)
        await center.wait_until(lambda: center.agent_state("bill1") == "paused", within=10)
        status = center.service.dispatcher.agent_status("bill1")
        assert status.reason == "autopause"
        for call in center.phone("bill1").calls:
            await call.wait_for("hangup", timeout=5)
            assert call.hangup_cause == 19
        assert not caller.ended  # still waiting in the queue
        await center.service.login("bill2")
        await caller.wait_for("bridged", timeout=5)
        caller.hangup()
        await center.settle()


async def test_caller_hanging_up_while_the_agent_rings_cancels_the_agent_leg(
    tmp_path: Path,
) -> None:
    config = make_config()
    behaviours = {"sale1": EndpointBehaviour.manual()}
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), behaviours=behaviours, login=["sale1"]
    ) as center:
        caller = center.pbx.place_inbound_call("202", "+15550005")
        agent_call = await center.phone("sale1").next_call(timeout=5)
        await agent_call.wait_for("ringing", timeout=5)
        caller.hangup()
        await agent_call.wait_for("hangup", timeout=5)
        await center.settle()
        assert not center.pbx.channels
        assert center.pbx.bridges == {}
        await center.wait_until(lambda: center.agent_state("sale1") == "available")


async def test_priority_caller_is_served_first(tmp_path: Path) -> None:
    config = make_config()
    behaviours = {"bill1": EndpointBehaviour.manual()}
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), behaviours=behaviours, login=[]
    ) as center:
        first = center.pbx.place_inbound_call("201", "+15550006")
        await first.wait_for("moh_started", timeout=5)
        second = center.pbx.place_inbound_call("201", "+15550007")
        await second.wait_for("moh_started", timeout=5)
        vip = center.pbx.place_inbound_call("209", "+15550008")
        await vip.wait_for("moh_started", timeout=5)
        await center.service.login("bill1")
        agent_call = await center.phone("bill1").next_call(timeout=5)
        channel = center.pbx.channels[agent_call.channel_id]
        assert channel.variables["CALLCENTER_CALLER"] == "+15550008"
        assert channel.variables["CALLCENTER_PRIORITY"] == "10"
        for call in (first, second, vip):
            call.hangup()
        await center.settle()
        assert not center.pbx.channels
        assert center.pbx.bridges == {}


async def test_endpoint_that_cannot_be_allocated_pauses_the_agent(tmp_path: Path) -> None:
    config = make_config()
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), login=["bill1"]
    ) as center:
        # The phone's endpoint is removed from Asterisk: channels/create answers 500.
        del center.pbx.endpoints["PJSIP/1001"]
        caller = center.pbx.place_inbound_call("201", "+15550009")
        await center.wait_until(lambda: center.agent_state("bill1") == "paused")
        assert center.service.dispatcher.agent_status("bill1").reason == "unreachable"
        assert not caller.ended
        await center.service.login("bill2")
        await caller.wait_for("bridged", timeout=5)
        caller.hangup()
        await center.settle()
        assert not center.pbx.channels


async def test_agent_wraps_up_for_the_queue_time_before_the_next_call(tmp_path: Path) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["sales"]["wrapup_seconds"] = 4
    config = make_config(queues=queues)
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), login=["sale1"]
    ) as center:
        first = center.pbx.place_inbound_call("202", "+15550010")
        await first.wait_for("bridged", timeout=5)
        second = center.pbx.place_inbound_call("202", "+15550011")
        await second.wait_for("moh_started", timeout=5)
        center.phone("sale1").calls[0].hangup()
        await center.wait_until(lambda: center.agent_state("sale1") == "wrapup")
        assert len(center.dials_to("sale1")) == 1  # not rung during wrap-up
        # 4 PBX seconds later the agent is free and takes the waiting caller.
        await second.wait_for("bridged", timeout=5)
        assert len(center.dials_to("sale1")) == 2
        second.hangup()
        await center.settle()
        assert center.pbx.bridges == {}


async def test_ring_all_rings_every_qualified_agent_and_keeps_the_first_to_answer(
    tmp_path: Path,
) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"]["strategy"] = "ring_all"
    config = make_config(queues=queues)
    behaviours = {"bill1": EndpointBehaviour.manual(), "bill2": EndpointBehaviour.manual()}
    async with running_center(
        config,
        tmp_path,
        ivr=direct_to_queue(ROUTES),
        behaviours=behaviours,
        login=["bill1", "bill2"],
    ) as center:
        caller = center.pbx.place_inbound_call("201", "+15550012")
        first = await center.phone("bill1").next_call(timeout=5)
        other = await center.phone("bill2").next_call(timeout=5)
        await first.wait_for("ringing", timeout=5)
        await other.wait_for("ringing", timeout=5)
        other.answer()
        await caller.wait_for("bridged", timeout=5)
        assert caller.bridged_with == [other.channel_id]
        await first.wait_for("hangup", timeout=5)  # the other phone stops ringing
        assert center.agent_state("bill1") == "available"
        caller.hangup()
        await center.settle()
        assert center.pbx.bridges == {}
        assert not center.pbx.channels


async def test_caller_whose_agent_left_before_the_bridge_rings_the_next_free_agent_at_once(
    tmp_path: Path,
) -> None:
    config = make_config()
    behaviours = {"bill1": EndpointBehaviour.manual()}
    async with running_center(
        config, tmp_path, ivr=direct_to_queue(ROUTES), behaviours=behaviours, login=["bill1"]
    ) as center:
        caller = center.pbx.place_inbound_call("201", "+15550009")
        await center.wait_until(lambda: bool(center.phone("bill1").calls))
        await center.service.login("bill2")
        # bill1 picks up and hangs up at once: no bridge could hold them.
        agent_call = center.phone("bill1").calls[0]
        agent_call.answer()
        agent_call.hangup()
        # Back in the queue, the caller's offer to the free bill2 is rung at once (not left
        # reserved until the ring timer calls it a missed ring).
        await caller.wait_for("bridged", timeout=5)
        assert caller.bridged_with == [center.phone("bill2").calls[0].channel_id]
        assert len(center.dials_to("bill2")) == 1
        assert len(center.dials_to("bill1")) == 1
        # Nobody was charged a missed ring for an offer that was never rung.
        for agent_id in ("bill1", "bill2"):
            assert center.service.dispatcher.agent_status(agent_id).no_answer_count == 0
        caller.hangup()
        await center.settle()
