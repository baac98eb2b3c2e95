"""The ACD service decides on events, in memory: no polling round, no database before a ring."""

from __future__ import annotations

import asyncio

from callcenter.call.messages import InboxItem
from callcenter.routing.service import AcdService, AgentOffered
from callcenter.routing.testing import make_config


class Inbox:
    def __init__(self) -> None:
        self.items: list[InboxItem] = []

    def put_nowait(self, item: InboxItem, /) -> None:
        self.items.append(item)


def offers(inbox: Inbox) -> list[AgentOffered]:
    return [item for item in inbox.items if isinstance(item, AgentOffered)]


async def test_a_caller_joining_with_a_free_agent_is_offered_them_before_join_returns() -> None:
    service = AcdService(make_config())
    await service.login("bill1")
    inbox = Inbox()
    service.join_queue("c1", "billing", inbox)
    offer = service.take_early_offer("c1")
    assert offer is not None and offer.agent_ids == ("bill1",)
    assert not inbox.items  # handed straight back, not through the inbox
    assert service.take_early_offer("c1") is None


async def test_an_agent_freeing_up_is_offered_the_waiting_caller_at_once() -> None:
    service = AcdService(make_config())
    await service.login("bill1")
    first, second = Inbox(), Inbox()
    service.join_queue("c1", "billing", first)
    assert service.take_early_offer("c1") is not None
    service.agent_ringing("c1", "bill1")
    assert service.agent_answered("c1", "bill1")
    service.join_queue("c2", "billing", second)
    assert service.take_early_offer("c2") is None  # bill1 is on a call
    service.call_finished("bill1")  # wrap-up 0: free again, in the same step
    assert [o.agent_ids for o in offers(second)] == [("bill1",)]


async def test_wrap_up_ends_on_a_loop_timer_not_a_polling_round() -> None:
    base = make_config()
    billing = base.queues["billing"].model_copy(update={"wrapup_seconds": 2.0})
    # 2 PBX seconds: 0.1 s real at speed 20.
    config = base.model_copy(update={"queues": {**base.queues, "billing": billing}})
    service = AcdService(config, speed=20.0)
    await service.login("bill1")
    waiting = Inbox()
    service.join_queue("c1", "billing", Inbox())
    service.take_early_offer("c1")
    service.agent_answered("c1", "bill1")
    service.join_queue("c2", "billing", waiting)
    service.call_finished("bill1")
    assert service.dispatcher.agent_state("bill1").value == "wrapup" and not waiting.items
    async with asyncio.timeout(2):
        while not offers(waiting):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert offers(waiting)[0].agent_ids == ("bill1",)
    await service.close()


async def test_an_agent_another_worker_owns_is_never_offered_even_after_a_login_here() -> None:
    service = AcdService(make_config())
    service.fence("bill1")
    await service.login("bill1")  # through this worker's API: the owner applies it
    service.join_queue("c1", "billing", Inbox())
    assert service.take_early_offer("c1") is None
    assert service.wanted_agents() == {"bill1"}
    service.unfence("bill1")  # handed over to this worker
    assert service.dispatcher.agent_status("bill1").call_id == "c1"
