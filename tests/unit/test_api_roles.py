"""Users' own bearer tokens on the JSON API: roles apply, as on the web pages.

Over HTTP on loopback (aiohttp test server), with the real ACD service built from the example
callcenter.yaml and real users in a migrated SQLite database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api import make_api_app
from callcenter.auth.model import Role
from callcenter.config import load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.users import SignInRefused, UserStore
from callcenter.routing.service import AcdService

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
SHARED = "shared-service-token"
PASSWORD = "correct horse battery"
TTL = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    store = UserStore(make_engine(url))
    store.add("ann", PASSWORD, Role.AGENT, agent_id="alice")
    store.add("quinn", PASSWORD, Role.QA)
    store.add("sam", PASSWORD, Role.SUPERVISOR)
    store.add("ada", PASSWORD, Role.ADMIN)
    return store


@pytest.fixture
async def service() -> AsyncIterator[AcdService]:
    service = AcdService(load_config(EXAMPLE, env={}))
    await service.start()
    yield service
    await service.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(
    service: AcdService, users: UserStore, clock: FakeClock
) -> AsyncIterator[TestClient[Any, Any]]:
    app = make_api_app(service, SHARED, users, token_ttl_seconds=TTL, clock=clock)
    async with TestClient(TestServer(app)) as client:
        yield client


def state(service: AcdService, agent_id: str) -> str:
    return service.dispatcher.agent_status(agent_id).state.value


async def test_an_agent_controls_themselves_only(
    client: TestClient[Any, Any], service: AcdService, users: UserStore
) -> None:
    ann = bearer(users.issue_token("ann"))
    reply = await client.post("/api/agents/alice/login", headers=ann)
    assert reply.status == 200
    assert (await reply.json())["state"] == "available"
    reply = await client.post("/api/agents/alice/pause", headers=ann, json={"reason": "lunch"})
    assert ((await reply.json())["state"], state(service, "alice")) == ("paused", "paused")
    reply = await client.post("/api/agents/alice/unpause", headers=ann)
    assert reply.status == 200
    reply = await client.post("/api/agents/alice/logout", headers=ann)
    assert reply.status == 200
    assert state(service, "alice") == "logged_out"

    for action in ("login", "logout", "pause", "unpause"):
        reply = await client.post(f"/api/agents/bob/{action}", headers=ann)
        assert reply.status == 403, action
        body = await reply.json()
        assert body["code"] == "forbidden"
        assert body["details"] == {"agent": "bob"}
    assert state(service, "bob") == "logged_out"

    # An agent does not see the whole floor either.
    reply = await client.get("/api/status", headers=ann)
    assert reply.status == 403
    assert (await reply.json())["details"] == {"permission": "wallboard"}


async def test_a_refused_pause_is_refused_before_its_body_is_read(
    client: TestClient[Any, Any], users: UserStore
) -> None:
    ann = bearer(users.issue_token("ann"))
    reply = await client.post(
        "/api/agents/bob/pause", headers={**ann, "Content-Type": "application/json"}, data="{"
    )
    assert reply.status == 403


async def test_qa_may_neither_control_nor_see_status(
    client: TestClient[Any, Any], service: AcdService, users: UserStore
) -> None:
    quinn = bearer(users.issue_token("quinn"))
    for action in ("login", "pause", "unpause", "logout"):
        reply = await client.post(f"/api/agents/alice/{action}", headers=quinn)
        assert reply.status == 403, action
        assert (await reply.json())["code"] == "forbidden"
    assert state(service, "alice") == "logged_out"
    reply = await client.get("/api/status", headers=quinn)
    assert reply.status == 403
    assert (await reply.json())["code"] == "forbidden"


@pytest.mark.parametrize("username", ["sam", "ada"])
async def test_supervisors_and_admins_see_status_and_control_anyone(
    client: TestClient[Any, Any], service: AcdService, users: UserStore, username: str
) -> None:
    token = bearer(users.issue_token(username))
    for agent_id in ("alice", "bob"):
        reply = await client.post(f"/api/agents/{agent_id}/login", headers=token)
        assert reply.status == 200
    reply = await client.post("/api/agents/bob/pause", headers=token, json={"reason": "coaching"})
    assert reply.status == 200
    reply = await client.get("/api/status", headers=token)
    assert reply.status == 200
    agents = {a["id"]: a for a in (await reply.json())["agents"]}
    assert agents["alice"]["state"] == "available"
    assert (agents["bob"]["state"], agents["bob"]["reason"]) == ("paused", "coaching")
    assert agents["carla"]["state"] == "logged_out"
    # Domain errors keep their codes for users too.
    reply = await client.post("/api/agents/nobody/login", headers=token)
    assert (reply.status, (await reply.json())["code"]) == (404, "agent-not-found")


async def test_a_new_token_revokes_the_old_one_at_once(
    client: TestClient[Any, Any], users: UserStore
) -> None:
    old = bearer(users.issue_token("sam"))
    assert (await client.get("/api/status", headers=old)).status == 200
    new = bearer(users.issue_token("sam"))
    assert (await client.get("/api/status", headers=new)).status == 200
    reply = await client.get("/api/status", headers=old)
    assert reply.status == 401
    assert (await reply.json())["code"] == "unauthorized"
    assert (await client.get("/api/status", headers=new)).status == 200


async def test_a_change_made_by_another_process_applies_within_the_cache_time(
    client: TestClient[Any, Any], users: UserStore, clock: FakeClock
) -> None:
    """The CLI (or another worker) changes the database, not this process's cache."""
    token = bearer(users.issue_token("sam"))
    assert (await client.get("/api/status", headers=token)).status == 200
    UserStore(users.engine).set_disabled("sam", True)  # as `callcenter users disable sam`
    assert (await client.get("/api/status", headers=token)).status == 200
    clock.now += TTL + 0.1
    assert (await client.get("/api/status", headers=token)).status == 401


async def test_lockout_disabling_and_revoking_stop_a_token_at_once(
    client: TestClient[Any, Any], users: UserStore
) -> None:
    token = bearer(users.issue_token("ann"))

    async def status_of_pause() -> int:
        """200 while ann's token works (login first: only a logged-in agent pauses)."""
        reply = await client.post("/api/agents/alice/login", headers=token)
        if reply.status != 200:
            return reply.status
        reply = await client.post("/api/agents/alice/pause", headers=token, json={"reason": "x"})
        await client.post("/api/agents/alice/logout", headers=bearer(SHARED))
        return reply.status

    assert await status_of_pause() == 200
    for _ in range(users.lockout.max_failures):  # someone guesses ann's password
        with pytest.raises(SignInRefused):
            users.sign_in("ann", "not the password")
    assert await status_of_pause() == 401
    users.set_password("ann", PASSWORD)  # an admin unlocks her
    assert await status_of_pause() == 200
    users.set_disabled("ann", True)
    assert await status_of_pause() == 401
    users.set_disabled("ann", False)
    assert await status_of_pause() == 200
    users.revoke_token("ann")
    assert await status_of_pause() == 401


async def test_lookups_are_remembered_so_requests_do_not_hit_the_database(
    client: TestClient[Any, Any], users: UserStore, clock: FakeClock, monkeypatch: Any
) -> None:
    token = users.issue_token("sam")
    lookups: list[str] = []
    by_token = users.by_token

    def counting_by_token(given: str) -> Any:
        lookups.append(given)
        return by_token(given)

    monkeypatch.setattr(users, "by_token", counting_by_token)
    for _ in range(5):
        assert (await client.get("/api/status", headers=bearer(token))).status == 200
        assert (await client.get("/api/status", headers=bearer("unknown"))).status == 401
    assert lookups == [token, "unknown"]
    clock.now += TTL + 0.1
    assert (await client.get("/api/status", headers=bearer(token))).status == 200
    assert lookups == [token, "unknown", token]


async def test_bad_or_missing_tokens_get_401(client: TestClient[Any, Any]) -> None:
    for headers in (
        {},
        bearer("not-a-token"),
        {"Authorization": f"Basic {SHARED}"},
        {"Authorization": "Bearer "},
    ):
        reply = await client.post("/api/agents/alice/login", headers=headers)
        assert reply.status == 401
        assert (await reply.json())["code"] == "unauthorized"


async def test_the_shared_token_still_opens_everything(
    client: TestClient[Any, Any], service: AcdService
) -> None:
    shared = bearer(SHARED)
    reply = await client.post("/api/agents/bob/login", headers=shared)
    assert reply.status == 200
    assert state(service, "bob") == "available"
    reply = await client.get("/api/status", headers=shared)
    assert reply.status == 200
    assert {q["id"] for q in (await reply.json())["queues"]} == set(service.config.queues)


async def test_without_a_user_store_only_the_shared_token_works(
    service: AcdService, users: UserStore
) -> None:
    token = users.issue_token("sam")
    async with TestClient(TestServer(make_api_app(service, SHARED))) as client:
        assert (await client.get("/api/status", headers=bearer(token))).status == 401
        assert (await client.get("/api/status", headers=bearer(SHARED))).status == 200


async def test_a_disabled_user_token_is_refused(
    client: TestClient[Any, Any], users: UserStore
) -> None:
    from sqlalchemy import text

    token = bearer(users.issue_token("sam"))
    with users.engine.begin() as conn:
        conn.execute(text("update users set disabled = true where username = 'sam'"))
    assert (await client.get("/api/status", headers=token)).status == 401


async def test_the_openapi_document_needs_no_token(client: TestClient[Any, Any]) -> None:
    reply = await client.get("/api/openapi.json")
    assert reply.status == 200
    assert reply.content_type == "application/json"
    document = await reply.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/status" in document["paths"]
