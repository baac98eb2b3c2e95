"""The database cut for 30 (PBX) seconds while callers keep arriving at a steady rate.

The whole runtime (IVR, ACD, routing journal and agent leases, CDR writer) runs as ``callcenter
run`` builds it, against PostgreSQL behind a TCP proxy that the test cuts (every connection
reset, new ones refused) and restores. Callers for whom an agent is free are answered as
usual during the outage; agents' states, queue entries and CDRs all land exactly once when the
database is back; the outage is logged once per writer, not on every retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callcenter.cdr.testing import CuttableProxy
from callcenter.config import CallCenterConfig
from callcenter.db.engine import make_engine, upgrade
from callcenter.runtime import CallCenterRuntime, RuntimeOptions
from callcenter.sim.ari_server import start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimCall, SimulatedAsterisk, Stasis

pytestmark = pytest.mark.pg

APP = "cc-outage"
PASSWORD = "outage-secret"
SPEED = 5.0
OUTAGE_PBX_SECONDS = float(os.environ.get("CALLCENTER_OUTAGE_SECONDS", "30"))
"""How long the database is away, in PBX seconds (6 s real at SPEED 5)."""
CALLS_PER_PBX_SECOND = 1.0
"""Steady arrivals: 30 callers during a 30 s outage, plus some before and after."""
AGENTS = 8


def via(url: str, port: int) -> str:
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


def build_config(ari_url: str, db_url: str, tmp_path: Path) -> CallCenterConfig:
    return CallCenterConfig.model_validate(
        {
            "asterisk": {
                "ari": {"url": ari_url, "password": PASSWORD, "app": APP},
                "ami": {"port": 1, "secret": "x"},  # no AMI: the worker copes
                "request_timeout": 5,
            },
            "database": {
                "url": db_url,
                "spool_dir": str(tmp_path / "spool"),
                "flush_interval_ms": 50,
            },
            "recordings": {"directory": str(tmp_path / "rec"), "default": {"record": "none"}},
            "skills": ["sales"],
            "agents": [
                {
                    "id": f"s{n}",
                    "name": f"Sale {n}",
                    "endpoint": f"PJSIP/{1000 + n}",
                    "skills": {"sales": 5},
                }
                for n in range(AGENTS)
            ],
            "queues": {
                "sales": {
                    "name": "Sales",
                    "skills": [{"skill": "sales"}],
                    "wrapup_seconds": 1,
                    "announce_position_every": 0,
                }
            },
            "ivr": {
                "numbers": {"100": "main"},
                "operator_queue": "sales",
                "menus": {"main": {"type": "play", "next": {"queue": "sales"}}},
            },
        }
    )


async def place_calls(pbx: SimulatedAsterisk, count: int, calls: list[SimCall]) -> None:
    """``count`` callers, one every 1/CALLS_PER_PBX_SECOND PBX seconds."""
    for _ in range(count):
        calls.append(pbx.place_inbound_call("100", f"+1555{len(calls):04d}"))
        await asyncio.sleep(1 / CALLS_PER_PBX_SECOND / SPEED)


def count(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


async def test_database_outage_delays_writes_never_calls(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(pg_url)
    proxy = CuttableProxy(5432)
    await proxy.start()
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path / "ast")
    pbx.dialplan.route("100", Stasis(APP))
    for n in range(AGENTS):
        pbx.register_endpoint(
            "PJSIP", str(1000 + n), EndpointBehaviour.answer_after(0.5, talk_seconds=3.0)
        )
    server = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", PASSWORD)
    config = build_config(server.url, via(pg_url, proxy.port), tmp_path)
    runtime = CallCenterRuntime(
        config,
        RuntimeOptions(speed=SPEED, worker_id="w1", http_port=None, serve_api=False),
    )
    calls: list[SimCall] = []
    caplog.set_level(logging.INFO, logger="callcenter")
    try:
        await runtime.start()
        await runtime.login_all_agents()
        assert runtime.worker is not None and runtime.service is not None
        assert runtime.cdr is not None and runtime.service.journal is not None
        await runtime.worker.ari.wait_connected(within=10)
        journal, cdr = runtime.service.journal, runtime.cdr

        await place_calls(pbx, 5, calls)
        await proxy.cut()
        during = len(calls)
        # A pause asked for during the outage is answered once durable (spooled), and lands.
        async with asyncio.timeout(5):
            paused = await runtime.service.pause(f"s{AGENTS - 1}", "lunch")
        assert paused["state"] in ("paused", "on_call", "ringing", "reserved", "wrapup")
        await place_calls(pbx, int(OUTAGE_PBX_SECONDS * CALLS_PER_PBX_SECOND), calls)
        # Everyone who came during the outage talked to an agent: nothing waited on it.
        for call in calls[during:]:
            await call.wait_for("bridged", timeout=10)
        assert journal.stats.spooled > 0 and cdr.stats.spooled > 0
        assert not journal.database_up and not cdr.database_up
        await proxy.start()
        await place_calls(pbx, 5, calls)
        for call in calls:
            await call.wait_for("bridged", timeout=10)
        async with asyncio.timeout(30):
            while runtime.worker.sessions:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert await journal.drain_spool(within=20)
        assert await cdr.drain_spool(within=20)
    finally:
        await runtime.close()
        await server.close()
        await pbx.close()
        await proxy.cut()

    engine = make_engine(pg_url)
    try:
        total = len(calls)
        # CDRs: one per call, every one answered, each with its one agent leg.
        assert count(engine, "select disposition, count(*) from calls group by 1") == [
            ("answered", total)
        ]
        assert count(engine, "select count(*), count(distinct call_id) from call_legs") == [
            (total, total)
        ]
        # Queue entries: exactly one per call, closed as answered.
        assert count(
            engine,
            "select count(*), count(distinct call_id), count(left_at) from queue_entries"
            " where outcome = 'answered'",
        ) == [(total, total, total)]
        # Agents' states: each call's on_call change exactly once, and each counted once.
        assert count(
            engine,
            "select count(*), count(distinct call_id) from agent_state_changes"
            " where state = 'on_call'",
        ) == [(total, total)]
        assert count(engine, "select sum(calls_today) from agents") == [(total,)]
        assert count(
            engine, "select count(distinct event_id) = count(*) from agent_state_changes"
        ) == [(True,)]
        waits = [w for (w,) in count(engine, "select wait_seconds from calls")]
        assert count(
            engine,
            f"select control_state, control_reason from agents where agent_id = 's{AGENTS - 1}'",
        ) == [("paused", "lunch")]
    finally:
        engine.dispose()
    # Nobody waited in the queue because the database was away.
    assert len(waits) == total and max(waits) < 2.0
    # The outage, once per writer (not once per retry), and its end, once.
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    failed = [r.getMessage() for r in warnings if "database write failed" in r.getMessage()]
    assert sorted(m.split()[0] for m in failed) == ["cdr", "routing"]
    assert sum("agent sharing: database unreachable" in r.getMessage() for r in warnings) == 1
    back = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
    assert sorted(m.split()[0] for m in back) == ["agent", "cdr", "routing"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
