"""Bad input to the JSON API gets a JSON error and changes nothing (fuzzing findings, issue 19).

Over HTTP on loopback (aiohttp test server) with the real ACD service; the persistence tests
add its real reservations on SQLite. Requests an HTTP client library would not send (bytes
that are not UTF-8 in a header) are written on a raw socket.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, text

from callcenter.api import make_api_app
from callcenter.config import load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.routing.journal import RoutingJournal
from callcenter.routing.leases import AgentLeases
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config

TOKEN = "input-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


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


async def raw_request(client: TestClient[Any, Any], request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is; the status and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(head.split(b" ", 2)[1]), body


async def expect_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, await reply.text()
    assert reply.content_type == "application/json"
    body: dict[str, Any] = await reply.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "details"}
    return body


# --- authentication ---------------------------------------------------------------------------


async def test_a_token_that_is_not_utf8_gets_401(client: TestClient[Any, Any]) -> None:
    for token in (b"\xff\xfe", b"abc\x80def", b"\xc3"):
        status, body = await raw_request(
            client,
            b"GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + token
            + b"\r\nConnection: close\r\n\r\n",
        )
        assert status == 401, body
        assert json.loads(body)["code"] == "unauthorized"


# --- bodies -----------------------------------------------------------------------------------


async def test_a_charset_other_than_utf8_gets_400(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    for charset in ("bogus", "utf-16", "latin-1"):
        reply = await client.post(
            "/api/agents/bill1/pause",
            headers={**AUTH, "Content-Type": f"application/json; charset={charset}"},
            data=b'{"reason": "lunch"}',
        )
        body = await expect_error(reply, 400, "invalid-request")
        assert "UTF-8" in body["message"]
    reply = await client.post(
        "/api/agents/bill1/pause",
        headers={**AUTH, "Content-Type": "application/json; charset=UTF-8"},
        data=b'{"reason": "lunch"}',
    )
    assert reply.status == 200


async def test_a_body_that_is_not_utf8_gets_400(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    reply = await client.post("/api/agents/bill1/pause", headers=JSON, data=b'{"reason": "\xff"}')
    await expect_error(reply, 400, "invalid-request")


async def test_a_deeply_nested_body_gets_400(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    for body in ("[" * 200_000 + "]" * 200_000, '{"reason": ' + "[" * 17 + "]" * 17 + "}"):
        reply = await client.post("/api/agents/bill1/pause", headers=JSON, data=body)
        assert "deeper" in (await expect_error(reply, 400, "invalid-request"))["message"]
    status = await (await client.get("/api/status", headers=AUTH)).json()
    assert {a["id"]: a["state"] for a in status["agents"]}["bill1"] == "available"


def test_nesting_is_counted_outside_strings_only() -> None:
    from callcenter.api.body import MAX_NESTING, nesting_exceeds

    assert not nesting_exceeds('{"reason": "' + "[" * 100 + '"}', MAX_NESTING)
    assert not nesting_exceeds('{"a": "\\"[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}', 3)
    assert nesting_exceeds('{"a": "\\"", "b": [[[[1]]]]}', 3)


@pytest.mark.parametrize("body", ["null", "[]", '"lunch"', "7", "true"])
async def test_a_body_that_is_not_an_object_gets_400(
    client: TestClient[Any, Any], body: str
) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    reply = await client.post("/api/agents/bill1/pause", headers=JSON, data=body)
    assert "object" in (await expect_error(reply, 400, "invalid-request"))["message"]


async def test_an_unknown_field_gets_400(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    reply = await client.post("/api/agents/bill1/pause", headers=AUTH, json={"reasn": "lunch"})
    body = await expect_error(reply, 400, "invalid-request")
    assert body["details"] == {"field": "reasn"}


async def test_bodies_over_one_mib_get_413(client: TestClient[Any, Any]) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    big = json.dumps({"reason": "x" * (1024 * 1024)}).encode()
    reply = await client.post("/api/agents/bill1/pause", headers=JSON, data=io.BytesIO(big))
    await expect_error(reply, 413, "http-error")


# --- text fields ------------------------------------------------------------------------------

BAD_REASONS = [
    pytest.param('"\\ud800"', "surrogate", id="lone-surrogate"),
    pytest.param('"a\\u0000b"', "control character", id="nul"),
    pytest.param('"lunch\\nbreak"', "control character", id="newline"),
    pytest.param('"tab\\there"', "control character", id="tab"),
    pytest.param('"\\u2028"', "line separator", id="line-separator"),
    pytest.param('"\\u0085x"', "control character", id="c1-control"),
    pytest.param(json.dumps("x" * 65), "too long", id="65-characters"),
    pytest.param("7", "must be a string", id="number"),
    pytest.param('{"a": 1}', "must be a string", id="object"),
]


@pytest.mark.parametrize(("reason", "says"), BAD_REASONS)
async def test_a_bad_reason_gets_400_and_changes_nothing(
    client: TestClient[Any, Any], reason: str, says: str
) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    for action in ("pause", "logout"):
        reply = await client.post(
            f"/api/agents/bill1/{action}", headers=JSON, data='{"reason": ' + reason + "}"
        )
        body = await expect_error(reply, 400, "invalid-request")
        assert says in body["message"]
        assert body["details"] == {"field": "reason"}
    status = await (await client.get("/api/status", headers=AUTH)).json()
    bill1 = next(a for a in status["agents"] if a["id"] == "bill1")
    assert (bill1["state"], bill1["reason"]) == ("available", None)


async def test_a_reason_of_64_characters_of_any_script_is_kept(
    client: TestClient[Any, Any],
) -> None:
    await client.post("/api/agents/bill1/login", headers=AUTH)
    reason = ("Déjeuner ☕ 昼食 " * 8)[:64]
    reply = await client.post("/api/agents/bill1/pause", headers=AUTH, json={"reason": reason})
    assert reply.status == 200
    assert (await reply.json())["reason"] == reason


# --- methods and the document -----------------------------------------------------------------


async def test_an_unsupported_method_gets_405_with_allow(client: TestClient[Any, Any]) -> None:
    for method, path, allowed in (
        ("TRACE", "/api/agents/bill1/pause", "POST"),
        ("PUT", "/api/agents/bill1/pause", "POST"),
        ("TRACE", "/api/status", "GET"),
        ("DELETE", "/api/openapi.json", "GET"),
    ):
        reply = await client.request(method, path, headers=AUTH)
        await expect_error(reply, 405, "method-not-allowed")
        assert reply.headers["Allow"] == allowed, (method, path)


async def test_the_openapi_document_lists_itself(client: TestClient[Any, Any]) -> None:
    # On purpose: the document describes every route served under /api/, itself included
    # (served without a token: ``security: []``).
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/openapi.json"]["get"]
    assert operation["security"] == []
    assert "200" in operation["responses"]


# --- accepted means kept (the real journal and leases, on SQLite and on PostgreSQL) -----------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'callcenter.db'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


async def wait_for(condition: Any) -> None:
    """Poll the database (nothing signals a row the journal wrote from its thread)."""
    async with asyncio.timeout(15):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def agent_row(engine: Engine, agent_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT state, pause_reason FROM agents WHERE agent_id = :a"), {"a": agent_id}
        ).one()
    return row[0], row[1]


def pause_reasons_written(engine: Engine, agent_id: str) -> list[str | None]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT reason FROM agent_state_changes WHERE agent_id = :a "
                    "AND state = 'paused'"
                ),
                {"a": agent_id},
            ).scalars()
        )


class CountingLeases(AgentLeases):
    """The real leases, counting the rounds in which the service reads the shared rows back."""

    rounds = 0

    def sync(self, *args: Any, **kwargs: Any) -> Any:
        self.rounds += 1
        return super().sync(*args, **kwargs)


async def test_pauses_answered_200_are_kept_and_refused_ones_leave_no_trace(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    # It used to answer 200 to '\\ud800' (and NUL, which PostgreSQL refuses), fail the write
    # and put the agent back to available a few seconds later.
    journal = RoutingJournal(database_url, tmp_path / "spool", "w1")
    leases = CountingLeases(engine, "w1")
    service = AcdService(
        load_config(EXAMPLE, env={}),
        journal=journal,
        leases=leases,
        worker_id="w1",
        sync_seconds=0.05,
        alone_sync_seconds=0.05,
    )
    await service.start()
    try:
        async with TestClient(TestServer(make_api_app(service, TOKEN))) as client:
            assert (await client.post("/api/agents/femi/login", headers=AUTH)).status == 200
            await wait_for(lambda: agent_row(engine, "femi")[0] == "available")
            for bad in ('"\\ud800"', '"night\\u0000shift"', json.dumps("é" * 65)):
                reply = await client.post(
                    "/api/agents/femi/pause", headers=JSON, data='{"reason": ' + bad + "}"
                )
                body = await expect_error(reply, 400, "invalid-request")
                assert body["details"] == {"field": "reason"}
            reason = "Pause café ☕ " + "é" * 51  # 64 characters, 117 bytes in UTF-8
            reply = await client.post(
                "/api/agents/femi/pause", headers=AUTH, json={"reason": reason}
            )
            assert reply.status == 200
            await wait_for(lambda: agent_row(engine, "femi") == ("paused", reason))
            assert pause_reasons_written(engine, "femi") == [reason]
            # Ten rounds of reading the shared rows back later, the pause still stands.
            rounds = leases.rounds
            await wait_for(lambda: leases.rounds >= rounds + 10)
            assert agent_row(engine, "femi") == ("paused", reason)
            femi = service.agent_view("femi")
            assert (femi["state"], femi["reason"]) == ("paused", reason)
            assert journal.stats.rejected == 0  # nothing was set aside as unwritable
    finally:
        await service.close()
