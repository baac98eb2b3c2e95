"""Self-service lookups against real servers: an aiohttp app on loopback, a hanging TCP server,
and a real SQLite database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.config import IvrSettings
from callcenter.ivr.lookups import (
    HttpJsonLookup,
    LookupAnswer,
    LookupFailedError,
    LookupRegistry,
    SqlLookup,
)

ORDERS = {
    "1234": {"status": "shipped", "eta_days": 2, "order": {"carrier": "ups"}},
    "42 7": {"status": "pending"},
}


async def _order(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    if number == "500":
        return web.json_response({"error": "boom"}, status=500)
    if number == "list":
        return web.json_response(["not", "an", "object"])
    if number == "text":
        return web.Response(text="<html>not json</html>")
    if number not in ORDERS:
        return web.json_response({"error": "no such order"}, status=404)
    return web.json_response(ORDERS[number])


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 with an /orders/{number} endpoint."""
    app = web.Application()
    app.router.add_get("/orders/{number}", _order)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def hanging_server() -> AsyncIterator[str]:
    """Accepts connections, reads the request, never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_http_lookup_reads_the_result_field(shop: str) -> None:
    lookup = HttpJsonLookup(f"{shop}/orders/{{value}}", "status", timeout_seconds=2)
    try:
        answer = await lookup.lookup("1234")
        assert answer.value == "shipped"
        assert answer.fields == {"status": "shipped", "eta_days": "2"}
        assert (await lookup.lookup("42 7")).value == "pending"  # quoted as one segment
    finally:
        await lookup.close()


async def test_http_lookup_dotted_field_and_numbers(shop: str) -> None:
    carrier = HttpJsonLookup(f"{shop}/orders/{{value}}", "order.carrier", timeout_seconds=2)
    eta = HttpJsonLookup(f"{shop}/orders/{{value}}", "eta_days", timeout_seconds=2)
    try:
        assert (await carrier.lookup("1234")).value == "ups"
        assert (await eta.lookup("1234")).value == "2"
        assert (await eta.lookup("42 7")).value is None  # field missing: nothing to say
    finally:
        await carrier.close()
        await eta.close()


async def test_http_lookup_404_is_nothing_found(shop: str) -> None:
    lookup = HttpJsonLookup(f"{shop}/orders/{{value}}", timeout_seconds=2)
    try:
        assert await lookup.lookup("9999") == LookupAnswer(None)
    finally:
        await lookup.close()


@pytest.mark.parametrize(
    ("number", "reason"), [("500", "error"), ("list", "bad-answer"), ("text", "error")]
)
async def test_http_lookup_bad_answers_fail(shop: str, number: str, reason: str) -> None:
    lookup = HttpJsonLookup(f"{shop}/orders/{{value}}", timeout_seconds=2)
    try:
        with pytest.raises(LookupFailedError) as caught:
            await lookup.lookup(number)
        assert caught.value.reason == reason
        assert caught.value.code == "lookup-failed"
    finally:
        await lookup.close()


async def test_http_lookup_hanging_server_times_out(hanging_server: str) -> None:
    lookup = HttpJsonLookup(f"{hanging_server}/orders/{{value}}", timeout_seconds=0.2)
    try:
        with pytest.raises(LookupFailedError) as caught:
            await lookup.lookup("1234")
        assert caught.value.reason == "timeout"
    finally:
        await lookup.close()


async def test_http_lookup_refused_connection_fails() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    lookup = HttpJsonLookup(f"http://127.0.0.1:{port}/{{value}}", timeout_seconds=1)
    try:
        with pytest.raises(LookupFailedError) as caught:
            await lookup.lookup("1")
        assert caught.value.reason == "error"
    finally:
        await lookup.close()


@pytest.fixture
def orders_db(tmp_path: Path) -> str:
    path = tmp_path / "orders.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (number text primary key, status text, total integer)")
        db.executemany(
            "insert into orders values (?, ?, ?)",
            [("1234", "shipped", 120), ("5678", "in transit", 15)],
        )
    return f"sqlite:///{path}"


async def test_sql_lookup_reads_one_row(orders_db: str) -> None:
    lookup = SqlLookup(
        orders_db, "select status, total from orders where number = :value", "status", 2
    )
    try:
        answer = await lookup.lookup("1234")
        assert answer == LookupAnswer("shipped", {"status": "shipped", "total": "120"})
        assert (await lookup.lookup("9999")).value is None
        # The caller's input is a bound parameter, never SQL.
        assert (await lookup.lookup("1234' or '1'='1")).value is None
    finally:
        await lookup.close()


async def test_sql_lookup_bad_query_fails(orders_db: str) -> None:
    lookup = SqlLookup(orders_db, "select status from no_such_table where x = :value")
    try:
        with pytest.raises(LookupFailedError) as caught:
            await lookup.lookup("1234")
        assert caught.value.reason == "error"
    finally:
        await lookup.close()


async def test_sql_lookup_slow_query_times_out(tmp_path: Path) -> None:
    # A recursive CTE that counts to fifty million: seconds of work for SQLite.
    lookup = SqlLookup(
        f"sqlite:///{tmp_path / 'slow.sqlite'}",
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 50000000) "
        "select count(*) as status from n where :value = :value",
        timeout_seconds=0.1,
    )
    try:
        with pytest.raises(LookupFailedError) as caught:
            await lookup.lookup("1")
        assert caught.value.reason == "timeout"
    finally:
        await lookup.close()


async def test_registry_from_config(orders_db: str, shop: str) -> None:
    ivr = IvrSettings.model_validate(
        {
            "numbers": {"100": "main"},
            "operator_queue": "support",
            "menus": {"main": {"choices": {"1": {"queue": "support"}}}},
            "lookups": {
                "web": {"kind": "http", "url": f"{shop}/orders/{{value}}"},
                "db": {
                    "kind": "sql",
                    "url": orders_db,
                    "query": "select status from orders where number = :value",
                },
            },
        }
    )
    registry = LookupRegistry.from_config(ivr.lookups)
    try:
        assert "web" in registry and "db" in registry and "nope" not in registry
        assert isinstance(registry.get("web"), HttpJsonLookup)
        web_lookup, db_lookup = registry.get("web"), registry.get("db")
        assert web_lookup is not None and db_lookup is not None
        assert (await web_lookup.lookup("1234")).value == "shipped"
        assert (await db_lookup.lookup("5678")).value == "in transit"
        assert registry.get("nope") is None
    finally:
        await registry.close()


async def test_sql_lookups_at_once_share_one_engine(orders_db: str) -> None:
    lookup = SqlLookup(orders_db, "select status from orders where number = :value")
    try:
        answers = await asyncio.gather(
            *(lookup.lookup("1234" if n % 2 else "5678") for n in range(12))
        )
        assert [a.value for a in answers] == ["in transit", "shipped"] * 6
    finally:
        await lookup.close()
