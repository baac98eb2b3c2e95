"""The ACD service when Asterisk says an agent's phone is offline or back online (no I/O:
the service's entry points, as the endpoint watcher and the queue driver call them)."""

from __future__ import annotations

from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config


def state(service: AcdService, agent_id: str) -> tuple[str, str | None]:
    view = service.agent_view(agent_id)
    return view["state"], view["reason"]


async def test_an_offline_phone_pauses_its_agent_until_it_is_online_again() -> None:
    service = AcdService(make_config())
    await service.login("bill1")
    service.agent_unreachable("bill1", until_online=True)
    assert state(service, "bill1") == ("paused", "unreachable")
    assert service.agent_view("bill1")["phone"] == "offline"
    # Unpausing or logging in again while the phone is offline keeps them unreachable.
    await service.unpause("bill1")
    assert state(service, "bill1") == ("paused", "unreachable")
    service.agent_reachable("bill1")
    assert state(service, "bill1") == ("available", None)
    assert service.agent_view("bill1")["phone"] == "online"


async def test_a_pause_of_the_agent_own_survives_their_phone_going_off_and_on() -> None:
    service = AcdService(make_config())
    await service.login("bill1")
    await service.pause("bill1", "lunch")
    service.agent_unreachable("bill1", until_online=True)
    assert state(service, "bill1") == ("paused", "lunch")
    service.agent_reachable("bill1")
    assert state(service, "bill1") == ("paused", "lunch")


async def test_an_agent_logging_in_with_an_offline_phone_is_not_offered_calls() -> None:
    service = AcdService(make_config())
    service.agent_unreachable("bill2", until_online=True)  # logged out: nothing to pause yet
    await service.login("bill2")
    assert state(service, "bill2") == ("paused", "unreachable")
    service.agent_reachable("bill2")
    assert state(service, "bill2") == ("available", None)


async def test_a_failed_create_pauses_until_someone_unpauses() -> None:
    # "Allocation failed" with no endpoint event: nothing will say the phone is back.
    service = AcdService(make_config())
    await service.login("bill1")
    service.agent_unreachable("bill1")
    assert state(service, "bill1") == ("paused", "unreachable")
    await service.unpause("bill1")
    assert state(service, "bill1") == ("available", None)
