"""The agent-control API over HTTP (aiohttp test server, the real ACD service, no PBX)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api import make_api_app
from callcenter.errors import ConfigError
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def service() -> AsyncIterator[AcdService]:
    service = AcdService(make_config())
    await service.start()
    yield service
    await service.close()


@pytest.fixture
async def client(service: AcdService) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_api_app(service, TOKEN))) as client:
        yield client


async def test_requests_without_the_token_are_refused(client: TestClient[Any, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        reply = await client.get("/api/status", headers=headers)
        assert reply.status == 401
        assert (await reply.json())["code"] == "unauthorized"


async def test_login_pause_unpause_logout(client: TestClient[Any, Any]) -> None:
    reply = await client.post("/api/agents/bill1/login", headers=AUTH)
    assert reply.status == 200
    assert (await reply.json())["state"] == "available"

    reply = await client.post("/api/agents/bill1/pause", headers=AUTH, json={"reason": "lunch"})
    body = await reply.json()
    assert (body["state"], body["reason"]) == ("paused", "lunch")

    reply = await client.post("/api/agents/bill1/unpause", headers=AUTH)
    assert (await reply.json())["state"] == "available"

    reply = await client.post("/api/agents/bill1/logout", headers=AUTH)
    assert (await reply.json())["state"] == "logged_out"


async def test_status_shows_queues_and_agents(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    await client.post("/api/agents/sale1/login", headers=AUTH)
    await client.post("/api/agents/sale1/pause", headers=AUTH, json={"reason": "training"})
    reply = await client.get("/api/status", headers=AUTH)
    assert reply.status == 200
    status = await reply.json()
    queues = {q["id"]: q for q in status["queues"]}
    assert queues["billing"]["agents_available"] == 1
    assert queues["billing"]["waiting"] == 0
    assert queues["sales"]["agents_available"] == 0
    assert queues["sales"]["agents_logged_in"] == 2 - 1  # sale1 paused counts, both1 is out
    agents = {a["id"]: a for a in status["agents"]}
    assert agents["sale1"]["state"] == "paused"
    assert agents["sale1"]["reason"] == "training"
    assert agents["bill2"]["state"] == "logged_out"


async def test_errors_have_a_stable_code_and_status(client: TestClient[Any, Any]) -> None:
    reply = await client.post("/api/agents/nobody/login", headers=AUTH)
    assert reply.status == 404
    body = await reply.json()
    assert body["code"] == "agent-not-found"
    assert body["details"] == {"agent": "nobody"}

    reply = await client.post("/api/agents/bill1/pause", headers=AUTH)
    assert reply.status == 409
    assert (await reply.json())["code"] == "agent-not-logged-in"

    reply = await client.post(
        "/api/agents/bill1/pause", headers={**AUTH, "Content-Type": "application/json"}, data="{"
    )
    assert reply.status == 400
    assert (await reply.json())["code"] == "invalid-request"

    reply = await client.post("/api/agents/bill1/pause", headers=AUTH, json={"reason": 7})
    assert reply.status == 400

    reply = await client.get("/api/agents/bill1/login", headers=AUTH)
    assert reply.status == 405
    assert (await reply.json())["code"] == "method-not-allowed"

    reply = await client.get("/api/nothing-here", headers=AUTH)
    assert reply.status == 404
    assert (await reply.json())["code"] == "not-found"


async def test_logout_during_a_call_is_refused(
    client: TestClient[Any, Any], service: AcdService
) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    service.dispatcher.enqueue("call-1", "billing", service.now())
    service.dispatcher.next_assignments(service.now())
    reply = await client.post("/api/agents/bill1/logout", headers=AUTH)
    assert reply.status == 409
    assert (await reply.json())["code"] == "agent-busy"


def test_the_api_needs_a_token() -> None:
    with pytest.raises(ConfigError):
        make_api_app(AcdService(make_config()), "")
