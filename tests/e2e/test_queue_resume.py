"""Queue state survives a worker restart: a caller waiting in a queue when the worker dies
(SIGKILL) keeps their call id, their place and their CDR once the same worker comes back.

The first worker is ``callcenter run`` in a process of its own, killed with SIGKILL while the
caller waits: Asterisk (simulated) keeps the caller in the app. The second is a
``CallCenterRuntime`` in the test, with the same worker id and the same SQLite database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import CallCenterConfig, parse_config
from callcenter.runtime import CallCenterRuntime, RuntimeOptions
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimCall, SimulatedAsterisk, Stasis

APP = "cc-resume"
PASSWORD = "sekrit-ari"
SPEED = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_config(ari_url: str, tmp_path: Path) -> dict[str, Any]:
    """Two sales agents, one queue that never overflows during the test, SQLite."""
    return {
        "asterisk": {
            "ari": {"url": ari_url, "password": PASSWORD, "app": APP},
            "ami": {"port": 1, "secret": "x"},  # no AMI: the worker copes and retries
        },
        "database": {
            "url": f"sqlite:///{tmp_path / 'cc.db'}",
            "spool_dir": str(tmp_path / "spool"),
            "flush_interval_ms": 20,
        },
        "recordings": {"directory": str(tmp_path / "rec"), "default": {"record": "none"}},
        "api": {
            "host": "127.0.0.1",
            "port": free_port(),
            "token": "t0ken-for-test-0123456789abcdefghijklmnop",
        },
        "skills": ["sales"],
        "agents": [
            {"id": "sale1", "name": "Sale One", "endpoint": "PJSIP/1001", "skills": {"sales": 5}},
            {"id": "sale2", "name": "Sale Two", "endpoint": "PJSIP/1002", "skills": {"sales": 5}},
        ],
        "queues": {
            "sales": {
                "name": "Sales",
                "skills": [{"skill": "sales"}],
                "ring_timeout": 10,
                "wrapup_seconds": 0,
                "announce_position_every": 0,
                "max_wait_seconds": 3600,
            }
        },
        "ivr": {
            "numbers": {"100": "main"},
            "operator_queue": "sales",
            "menus": {
                "main": {
                    "prompts": ["sound:hello-world"],
                    "choices": {"2": {"queue": "sales"}, "3": {"menu": "more"}},
                },
                "more": {"prompts": ["sound:beep"], "choices": {"4": {"queue": "sales"}}},
            },
        },
    }


@dataclass
class Site:
    pbx: SimulatedAsterisk
    server: AriServer
    raw: dict[str, Any]
    config_file: Path
    db_file: Path

    def config(self) -> CallCenterConfig:
        return parse_config(self.raw, str(self.config_file), env={})


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path / "ast")
    pbx.add_sound("hello-world", 1.0)
    pbx.add_sound("beep", 0.5)
    pbx.dialplan.route("100", Stasis(APP))
    for n in (1, 2):
        pbx.register_endpoint("PJSIP", f"100{n}", EndpointBehaviour.answer_after(0.5))
    server = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", PASSWORD)
    raw = raw_config(server.url, tmp_path)
    config_file = tmp_path / "cc.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    yield Site(pbx, server, raw, config_file, tmp_path / "cc.db")
    await server.close()
    await pbx.close()


async def until(condition: Callable[[], object], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def query(db_file: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    if not db_file.exists():
        return []
    db = sqlite3.connect(db_file)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        db.close()


def waiting_entries(db_file: Path) -> list[tuple[Any, ...]]:
    """(call_id, queue_id, entered_at) of the open queue entries, first come first."""
    return query(
        db_file,
        "select call_id, queue_id, entered_at from queue_entries where left_at is null"
        " order by entered_at",
    )


async def start_first_worker(site: Site) -> asyncio.subprocess.Process:
    cli = str(Path(sys.executable).with_name("callcenter"))
    process = await asyncio.create_subprocess_exec(
        cli,
        "run",
        "--config",
        str(site.config_file),
        "--speed",
        str(SPEED),
        "--http-port",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    app = APP
    await until(lambda: app in site.pbx.apps and site.pbx.apps[app].sink is not None, 30)
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    """The worker dies without a word: no drain, no hang-up, nothing more written."""
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def into_queue(site: Site, number: str, *digits: str) -> SimCall:
    caller = site.pbx.place_inbound_call("100", number)
    for digit in digits:
        await caller.wait_for("playback_started", timeout=10)
        caller.send_dtmf(digit)
    return caller


async def second_runtime(site: Site) -> CallCenterRuntime:
    runtime = CallCenterRuntime(
        site.config(), RuntimeOptions(speed=SPEED, http_port=None, serve_api=False)
    )
    await runtime.start()
    return runtime


async def test_a_waiting_caller_keeps_call_place_and_record_across_a_restart(site: Site) -> None:
    first = await start_first_worker(site)
    try:
        caller = await into_queue(site, "+15550001", "3", "4")
        await until(lambda: waiting_entries(site.db_file))
        (call_id, _, _), *_ = waiting_entries(site.db_file)
        await until(lambda: query(site.db_file, "select queue_id from calls") == [("sales",)])
        await asyncio.sleep(0.3)  # some waiting before the crash
    finally:
        await kill(first)
    assert caller.channel_id in site.pbx.apps[APP].channel_ids  # Asterisk keeps the caller

    heard_before = len(caller.history)
    restarted_at = time.time()
    runtime = await second_runtime(site)
    try:
        assert runtime.worker is not None and runtime.service is not None
        await asyncio.wait_for(runtime.worker.takeover_done.wait(), 10)
        assert list(runtime.worker.sessions) == [call_id]  # the same call, not a new one
        assert runtime.service.in_queue(call_id)
        # Music again, from the resumed call.
        await until(lambda: any(e.kind == "moh_started" for e in caller.history[heard_before:]))
        await runtime.service.login("sale1")
        await caller.wait_for("bridged", timeout=10)
        caller.hangup()
        await until(lambda: not runtime.worker.sessions)  # type: ignore[union-attr]
    finally:
        await runtime.close()

    rows = query(
        site.db_file,
        "select call_id, disposition, agent_id, wait_seconds, ivr_path, digits, queue_id,"
        " answered_at from calls",
    )
    assert len(rows) == 1
    row_call, disposition, agent, wait_seconds, ivr_path, digits, queue, answered = rows[0]
    assert (row_call, disposition, agent, queue) == (call_id, "answered", "sale1", "sales")
    assert yaml.safe_load(ivr_path) == ["main", "more"]  # the IVR before the restart
    assert yaml.safe_load(digits) == ["3", "4"]
    # The wait counts from the first entry, before the restart: longer than from the restart to
    # the answer (the worker's own answer time, not when this test noticed the bridge).
    answered_at = dt.datetime.fromisoformat(str(answered)).replace(tzinfo=dt.UTC).timestamp()
    assert wait_seconds > answered_at - restarted_at
    entries = query(site.db_file, "select call_id, outcome, agent_id from queue_entries")
    assert entries == [(call_id, "answered", "sale1")]
    events = query(
        site.db_file, "select kind from call_events where call_id = ? order by seq", call_id
    )
    kinds = [kind for (kind,) in events]
    assert kinds.count("call_start") == 1 and "resumed" in kinds and kinds[-1] == "call_end"
    assert "failed" not in str(events)


async def test_two_waiting_callers_keep_their_order_across_a_restart(site: Site) -> None:
    first = await start_first_worker(site)
    try:
        # The first caller in dials first but chooses later: the second is first in the queue
        # (Asterisk lists the channels the other way round).
        later = site.pbx.place_inbound_call("100", "+15550001")
        await later.wait_for("playback_started", timeout=10)
        sooner = await into_queue(site, "+15550002", "2")
        await until(lambda: len(waiting_entries(site.db_file)) == 1)
        await asyncio.sleep(0.2)
        later.send_dtmf("2")
        await until(lambda: len(waiting_entries(site.db_file)) == 2)
        order = [call_id for call_id, _, _ in waiting_entries(site.db_file)]
    finally:
        await kill(first)

    runtime = await second_runtime(site)
    try:
        assert runtime.worker is not None and runtime.service is not None
        await asyncio.wait_for(runtime.worker.takeover_done.wait(), 10)
        assert set(runtime.worker.sessions) == set(order)
        await runtime.service.login("sale1")
        await sooner.wait_for("bridged", timeout=10)
        assert not later.bridged_with  # still waiting: one agent, and it took the first
        sooner.hangup()
        await later.wait_for("bridged", timeout=10)
        later.hangup()
        await until(lambda: not runtime.worker.sessions)  # type: ignore[union-attr]
    finally:
        await runtime.close()

    rows = query(site.db_file, "select call_id, disposition from calls order by answered_at")
    assert rows == [(order[0], "answered"), (order[1], "answered")]
