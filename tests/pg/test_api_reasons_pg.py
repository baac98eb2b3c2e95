"""A pause answered 200 is kept in PostgreSQL; one PostgreSQL could not hold is refused first.

The ACD service with its real reservations on a real PostgreSQL, driven over HTTP (issue 19:
a reason with NUL was accepted, then refused by the database and the pause came undone).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, text

from callcenter.api import make_api_app
from callcenter.config import load_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.routing.reservations import AgentReservations
from callcenter.routing.service import AcdService

pytestmark = pytest.mark.pg

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
TOKEN = "pg-reasons-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def agent_row(engine: Engine, agent_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT state, pause_reason FROM agents WHERE agent_id = :a"), {"a": agent_id}
        ).one()
    return row[0], row[1]


async def until(condition: Any) -> None:
    """Poll the database (the service writes from its own thread; nothing signals it)."""
    async with asyncio.timeout(15):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_pause_is_kept_and_a_reason_postgresql_cannot_hold_is_refused(
    engine: Engine,
) -> None:
    service = AcdService(
        load_config(EXAMPLE, env={}),
        reservations=AgentReservations(engine, "w1"),
        sync_seconds=0.05,
    )
    await service.start()
    try:
        async with TestClient(TestServer(make_api_app(service, TOKEN))) as client:
            assert (await client.post("/api/agents/femi/login", headers=AUTH)).status == 200
            await until(lambda: agent_row(engine, "femi")[0] == "available")
            for bad in ('"night\\u0000shift"', '"\\ud800"', json.dumps("é" * 65)):
                reply = await client.post(
                    "/api/agents/femi/pause",
                    headers={**AUTH, "Content-Type": "application/json"},
                    data='{"reason": ' + bad + "}",
                )
                assert reply.status == 400
                assert (await reply.json())["details"] == {"field": "reason"}
            assert agent_row(engine, "femi") == ("available", None)

            reason = "Mittagspause ☕ " + "ü" * 49  # 64 characters, 114 bytes in UTF-8
            reply = await client.post(
                "/api/agents/femi/pause", headers=AUTH, json={"reason": reason}
            )
            assert reply.status == 200
            await until(lambda: agent_row(engine, "femi") == ("paused", reason))
            with engine.connect() as conn:
                history = conn.execute(
                    text(
                        "SELECT reason FROM agent_state_changes WHERE agent_id = 'femi' "
                        "AND state = 'paused'"
                    )
                ).scalars()
                assert list(history) == [reason]
            # The shared row is read back every sync round: the pause stays.
            for _ in range(10):
                await asyncio.sleep(0.05)
                assert agent_row(engine, "femi") == ("paused", reason)
            assert service.agent_view("femi")["state"] == "paused"
    finally:
        await service.close()
